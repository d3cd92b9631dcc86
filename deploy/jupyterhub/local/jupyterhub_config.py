"""The local demo hub: JupyterHub, the npm configurable-http-proxy and one local process per user,
all on 127.0.0.1, each user's JupyterLab serving MCP at /user/<name>/mcp.

NOT ISOLATED: every user's server runs as the hub's own Unix user, on the same files and memory;
the memory limit is only announced to the server (MEM_LIMIT), not enforced. For trying it out and
for tests; deploy/jupyterhub/docker is the one-host production setup.

Run from the directory that keeps the hub's state (database, cookie secret, users' notebooks
under users/<name>): ``deploy/jupyterhub/local/run.sh`` does that. Settings come from the
environment (MCP_HUB_*, below); the hub's and the proxy's internal ports from the command line
(``--JupyterHub.hub_port``, ``--ConfigurableHTTPProxy.api_url``) when 8081 and 8001 are taken.
"""

import os
import secrets
import sys
from pathlib import Path

from jupyter_mcp_ext.hub.admission import MemoryAdmission
from jupyter_mcp_ext.hub.gateway.config import (
    mcp_gateway_roles,
    mcp_gateway_routes,
    mcp_gateway_service,
)

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file


def setting(name: str, default: str) -> str:
    return os.environ.get(f"MCP_HUB_{name}", default)


USERS = [name.strip() for name in setting("USERS", "alice,bob").split(",") if name.strip()]
PASSWORD = setting("PASSWORD", "") or secrets.token_hex(6)
IDLE_TIMEOUT = int(setting("IDLE_TIMEOUT", "600"))  # seconds without activity before a server stops
CULL_EVERY = int(setting("CULL_EVERY", "60"))
# How often activity reaches the hub: from each server (its own API, kernel and MCP activity) and
# from the proxy (traffic). Both must be well under IDLE_TIMEOUT.
ACTIVITY_INTERVAL = int(setting("ACTIVITY_INTERVAL", "60"))

# Hub and proxy: loopback only.
c.JupyterHub.bind_url = f"http://127.0.0.1:{setting('PORT', '8000')}"
# Services learn the public URL from the hub (the MCP gateway names it in its metadata).
c.JupyterHub.public_url = c.JupyterHub.bind_url + "/"
c.JupyterHub.hub_ip = "127.0.0.1"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:8001"
c.JupyterHub.db_url = setting("DB_URL", "sqlite:///jupyterhub.sqlite")
# A hub restart (upgrade, crash) leaves users' servers, their kernels and their agents' runs alone.
c.JupyterHub.cleanup_servers = False
c.JupyterHub.last_activity_interval = ACTIVITY_INTERVAL

# The demo users (MCP_HUB_USERS, comma-separated) sharing one password (printed below).
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = PASSWORD
c.Authenticator.allowed_users = set(USERS)

# Capacity: how many servers run at once, how many start at once, and whether the host has the
# memory for one more (over either limit the hub answers 429; short of memory 503).
c.JupyterHub.active_server_limit = int(setting("ACTIVE_SERVER_LIMIT", "4"))
c.JupyterHub.concurrent_spawn_limit = int(setting("CONCURRENT_SPAWN_LIMIT", "2"))
c.Spawner.mem_limit = setting("MEM_LIMIT", "1G")
c.MemoryAdmission.reserve = setting("MEM_RESERVE", "512M")
c.Spawner.pre_spawn_hook = MemoryAdmission(config=c)

# Each user's server: JupyterLab with this extension, as a local process in users/<name>.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(Path.cwd() / "users" / "{username}")
c.Spawner.default_url = "/lab"
c.Spawner.args = ["--allow-root"] if os.getuid() == 0 else []
c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": str(ACTIVITY_INTERVAL)}

# Idle servers stop; activity is API and MCP requests, and kernels at work (an agent's long run).
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={IDLE_TIMEOUT}",
            f"--cull-every={CULL_EVERY}",
        ],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]

# The MCP gateway: one MCP URL for every user, <hub>/services/mcp/ (deploy/README.md).
c.JupyterHub.services.append(
    mcp_gateway_service(
        port=int(setting("GATEWAY_PORT", "8902")),
        db_url=setting("GATEWAY_DB_URL", "sqlite:///mcp-gateway.sqlite"),
        extra_args=setting("GATEWAY_ARGS", "").split(),  # e.g. --MCPGateway.start_timeout=60
        # Set it to run more gateway processes on one PostgreSQL (GATEWAY_DB_URL) beside the hub's.
        api_token=setting("GATEWAY_API_TOKEN", "") or None,
    )
)
c.JupyterHub.load_roles += mcp_gateway_roles()
c.Proxy.extra_routes = mcp_gateway_routes(port=int(setting("GATEWAY_PORT", "8902")))

# Optionally, a platform's own service (MCP_HUB_PLATFORM_TOKEN): adds and removes users, starts and
# stops their servers and issues their tokens through the REST API, as a portal would.
if platform_token := setting("PLATFORM_TOKEN", ""):
    c.JupyterHub.services.append({"name": "platform", "api_token": platform_token})
    c.JupyterHub.load_roles.append(
        {
            "name": "platform",
            "scopes": ["admin:users", "admin:servers", "tokens"],
            "services": ["platform"],
        }
    )

print(
    "Local demo hub (NOT isolated: every server runs as this Unix user).\n"
    f"  Users: {', '.join(USERS)}; password: {PASSWORD}\n"
    f"  Idle servers stop after {IDLE_TIMEOUT} s; at most "
    f"{c.JupyterHub.active_server_limit} servers run at once.",
    file=sys.stderr,
    flush=True,
)
