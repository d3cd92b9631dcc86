"""What the gateway must remember between requests and across restarts and replicas: registered
clients, sign-ins in progress, authorization codes and tokens, in one SQL database.

Secrets are never stored as they are. A code or token is kept as its SHA-256 (it is 256 random
bits, so the hash cannot be reversed or guessed), and the hub token it stands for is sealed with a
key derived from it (AES-GCM): the database alone neither lets anyone in nor reveals a hub token.
Registered clients' secrets are the exception: the SDK compares them as given.

The database is SQLite by default and PostgreSQL in production (any SQLAlchemy URL works); several
gateway processes may share one. Calls are blocking and short; the app runs them in a thread.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

metadata = sa.MetaData()

clients = sa.Table(
    "mcp_gateway_clients",
    metadata,
    sa.Column("client_id", sa.String(2048), primary_key=True),
    sa.Column("info", sa.Text, nullable=False),  # OAuthClientInformationFull as JSON
    sa.Column("expires_at", sa.Float),  # for client metadata documents fetched and cached
)

# A sign-in between the client's /authorize and the person's consent: the client's request,
# then (after the hub's login) who signed in and their hub token, sealed with the request's key.
sign_ins = sa.Table(
    "mcp_gateway_sign_ins",
    metadata,
    sa.Column("key_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(2048), nullable=False),
    sa.Column("request", sa.Text, nullable=False),  # AuthorizationParams as JSON
    sa.Column("hub_code_verifier", sa.String(128), nullable=False),
    sa.Column("user", sa.String(255)),
    sa.Column("sealed_hub_token", sa.LargeBinary),
    sa.Column("expires_at", sa.Float, nullable=False),
)

codes = sa.Table(
    "mcp_gateway_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(2048), nullable=False),
    sa.Column("grant", sa.Text, nullable=False),  # AuthorizationCode fields but the code, as JSON
    sa.Column("sealed_hub_token", sa.LargeBinary, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

tokens = sa.Table(
    "mcp_gateway_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "access" or "refresh"
    sa.Column("grant_id", sa.String(64), nullable=False, index=True),  # one sign-in's tokens
    sa.Column("client_id", sa.String(2048), nullable=False),
    sa.Column("user", sa.String(255), nullable=False, index=True),
    sa.Column("scopes", sa.Text, nullable=False),  # space-separated
    sa.Column("resource", sa.String(2048)),
    sa.Column("sealed_hub_token", sa.LargeBinary, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)


def new_secret() -> str:
    """A code or token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _key(secret: str) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=b"mcp-gateway hub token").derive(
        secret.encode()
    )


def seal(hub_token: str, secret: str) -> bytes:
    """``hub_token`` encrypted so that only ``secret`` (a code or token we issued) opens it."""
    nonce = os.urandom(12)
    return nonce + AESGCM(_key(secret)).encrypt(nonce, hub_token.encode(), None)


def unseal(sealed: bytes, secret: str) -> str:
    return AESGCM(_key(secret)).decrypt(sealed[:12], sealed[12:], None).decode()


@dataclass(frozen=True)
class SignIn:
    client_id: str
    request: dict[str, Any]
    hub_code_verifier: str
    user: str | None
    hub_token: str | None


@dataclass(frozen=True)
class Grant:
    """What a code or token stands for, with the hub token it opened."""

    client_id: str
    user: str
    scopes: list[str]
    resource: str | None
    expires_at: float
    hub_token: str
    grant_id: str = ""
    details: dict[str, Any] | None = None  # a code's PKCE challenge and redirect URI


class Store:
    """The gateway's tables on one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        options: dict[str, Any] = {"future": True, "pool_pre_ping": True}
        if url.startswith("sqlite"):
            # Calls come from worker threads; SQLite serializes writers itself.
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine = sa.create_engine(url, **options)
        self._create_tables()

    def _create_tables(self) -> None:
        # Replicas starting together may race to create a table: the loser finds it there.
        for attempt in range(3):
            try:
                metadata.create_all(self.engine)
                return
            except (IntegrityError, OperationalError, ProgrammingError):
                if attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as connection:
            yield connection

    # -- clients -------------------------------------------------------------------------------

    def client(self, client_id: str) -> dict[str, Any] | None:
        with self._transaction() as db:
            row = db.execute(
                sa.select(clients.c.info, clients.c.expires_at).where(
                    clients.c.client_id == client_id
                )
            ).first()
        if row is None or (row.expires_at is not None and row.expires_at < time.time()):
            return None
        return json.loads(row.info)

    def save_client(self, client_id: str, info: dict[str, Any], expires_at: float | None) -> None:
        for attempt in range(2):
            try:
                with self._transaction() as db:
                    db.execute(sa.delete(clients).where(clients.c.client_id == client_id))
                    db.execute(
                        sa.insert(clients).values(
                            client_id=client_id, info=json.dumps(info), expires_at=expires_at
                        )
                    )
                return
            except IntegrityError:
                # Another replica saved the same client meanwhile (a client metadata document
                # fetched by both): the second try replaces it.
                if attempt == 1:
                    raise

    # -- sign-ins ------------------------------------------------------------------------------

    def begin_sign_in(
        self, key: str, client_id: str, request: dict[str, Any], verifier: str, ttl: float
    ) -> None:
        with self._transaction() as db:
            db.execute(
                sa.insert(sign_ins).values(
                    key_hash=digest(key),
                    client_id=client_id,
                    request=json.dumps(request),
                    hub_code_verifier=verifier,
                    expires_at=time.time() + ttl,
                )
            )

    def signed_in(self, key: str, user: str, hub_token: str) -> bool:
        """Record who the hub signed in; False when the sign-in is unknown or expired."""
        with self._transaction() as db:
            done = db.execute(
                sa.update(sign_ins)
                .where(
                    sign_ins.c.key_hash == digest(key),
                    sign_ins.c.user.is_(None),
                    sign_ins.c.expires_at > time.time(),
                )
                .values(user=user, sealed_hub_token=seal(hub_token, key))
            )
        return done.rowcount == 1

    def sign_in(self, key: str) -> SignIn | None:
        with self._transaction() as db:
            row = db.execute(
                sa.select(sign_ins).where(
                    sign_ins.c.key_hash == digest(key), sign_ins.c.expires_at > time.time()
                )
            ).first()
        if row is None:
            return None
        return SignIn(
            client_id=row.client_id,
            request=json.loads(row.request),
            hub_code_verifier=row.hub_code_verifier,
            user=row.user,
            hub_token=unseal(row.sealed_hub_token, key) if row.sealed_hub_token else None,
        )

    def end_sign_in(self, key: str) -> bool:
        """Forget a sign-in; False when another request already ended it (a double submit)."""
        with self._transaction() as db:
            done = db.execute(sa.delete(sign_ins).where(sign_ins.c.key_hash == digest(key)))
        return done.rowcount == 1

    # -- codes and tokens ----------------------------------------------------------------------

    def save_code(self, code: str, grant: Grant) -> None:
        details = {**(grant.details or {}), "user": grant.user, "scopes": grant.scopes}
        details["resource"] = grant.resource
        with self._transaction() as db:
            db.execute(
                sa.insert(codes).values(
                    code_hash=digest(code),
                    client_id=grant.client_id,
                    grant=json.dumps(details),
                    sealed_hub_token=seal(grant.hub_token, code),
                    expires_at=grant.expires_at,
                )
            )

    def code(self, code: str, client_id: str) -> Grant | None:
        with self._transaction() as db:
            row = db.execute(
                sa.select(codes).where(
                    codes.c.code_hash == digest(code),
                    codes.c.client_id == client_id,
                    codes.c.expires_at > time.time(),
                )
            ).first()
        if row is None:
            return None
        details = json.loads(row.grant)
        return Grant(
            client_id=row.client_id,
            user=details.pop("user"),
            scopes=details.pop("scopes"),
            resource=details.pop("resource"),
            expires_at=row.expires_at,
            hub_token=unseal(row.sealed_hub_token, code),
            details=details,
        )

    def use_code(self, code: str) -> bool:
        """Spend a code; False when it was spent already (codes are single-use)."""
        with self._transaction() as db:
            done = db.execute(sa.delete(codes).where(codes.c.code_hash == digest(code)))
        return done.rowcount == 1

    def save_tokens(self, issued: dict[str, tuple[str, float]], grant: Grant) -> None:
        """Store ``{"access": (token, expires_at), "refresh": (...)}`` for one grant."""
        with self._transaction() as db:
            self._insert_tokens(db, issued, grant)

    @staticmethod
    def _insert_tokens(
        db: sa.Connection, issued: dict[str, tuple[str, float]], grant: Grant
    ) -> None:
        for kind, (token, expires_at) in issued.items():
            db.execute(
                sa.insert(tokens).values(
                    token_hash=digest(token),
                    kind=kind,
                    grant_id=grant.grant_id,
                    client_id=grant.client_id,
                    user=grant.user,
                    scopes=" ".join(grant.scopes),
                    resource=grant.resource,
                    sealed_hub_token=seal(grant.hub_token, token),
                    expires_at=expires_at,
                )
            )

    def token(self, token: str, kind: str) -> Grant | None:
        with self._transaction() as db:
            row = db.execute(
                sa.select(tokens).where(
                    tokens.c.token_hash == digest(token),
                    tokens.c.kind == kind,
                    tokens.c.expires_at > time.time(),
                )
            ).first()
        if row is None:
            return None
        return Grant(
            client_id=row.client_id,
            user=row.user,
            scopes=row.scopes.split(),
            resource=row.resource,
            expires_at=row.expires_at,
            hub_token=unseal(row.sealed_hub_token, token),
            grant_id=row.grant_id,
        )

    def rotate(
        self, refresh_token: str, grant: Grant, issued: dict[str, tuple[str, float]]
    ) -> bool:
        """Spend ``refresh_token`` and replace its grant's tokens with ``issued``; False when it
        was spent or revoked first, so that of two refreshes with one token only one wins (and
        the loser cannot drop the winner's new tokens)."""
        with self._transaction() as db:
            spent = db.execute(
                sa.delete(tokens).where(
                    tokens.c.token_hash == digest(refresh_token),
                    tokens.c.kind == "refresh",
                    tokens.c.grant_id == grant.grant_id,
                    tokens.c.expires_at > time.time(),
                )
            )
            if spent.rowcount != 1:
                return False
            db.execute(sa.delete(tokens).where(tokens.c.grant_id == grant.grant_id))
            self._insert_tokens(db, issued, grant)
        return True

    def revoke_grant(self, grant_id: str) -> None:
        """Drop every token of one grant (access and refresh alike)."""
        with self._transaction() as db:
            db.execute(sa.delete(tokens).where(tokens.c.grant_id == grant_id))

    def revoke_user(self, user: str) -> int:
        """Drop every token of a user the hub no longer has."""
        with self._transaction() as db:
            return db.execute(sa.delete(tokens).where(tokens.c.user == user)).rowcount

    def clean(self) -> int:
        """Delete what has expired; how many rows went."""
        now = time.time()
        removed = 0
        with self._transaction() as db:
            for table in (sign_ins, codes, tokens, clients):
                removed += db.execute(
                    sa.delete(table).where(
                        table.c.expires_at.is_not(None), table.c.expires_at < now
                    )
                ).rowcount
        return removed


def grant_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(18)).decode()
