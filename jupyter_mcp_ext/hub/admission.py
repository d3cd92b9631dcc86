"""Admission by memory: a hub refuses to start a user's server the host has no room for.

JupyterHub counts servers (``active_server_limit``) but not memory. On one host, each server
started past what the memory holds makes every user's kernels slower and then kills some of
them; a clear "try again later" when the user asks to start is better. Plugged in as the
spawner's ``pre_spawn_hook``::

    from jupyter_mcp_ext.hub.admission import MemoryAdmission
    c.MemoryAdmission.reserve = "1G"
    c.Spawner.pre_spawn_hook = MemoryAdmission(config=c)  # reads c.MemoryAdmission.* set above

Servers still starting have not taken their memory yet, so several starting at once could each
pass: ``concurrent_spawn_limit`` bounds how many do. The refusal is a ``SpawnException``
(JupyterHub 6) with status 503: the REST API answers it as JSON (``{"status": 503, "message":
...}``) and the spawn page shows the message. On Kubernetes the
scheduler does this itself (a pod that fits nowhere stays pending): no hook is needed there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyterhub.spawner import SpawnException
from jupyterhub.traitlets import ByteSpecification
from traitlets import Unicode
from traitlets.config import LoggingConfigurable

MEMINFO = "/proc/meminfo"


def mem_available(meminfo: str) -> int:
    """The bytes the kernel says can be given to new processes without swapping (``MemAvailable``
    of ``/proc/meminfo``, which counts reclaimable caches: ``MemFree`` alone would refuse too
    early on any host that has been up for a while)."""
    for line in meminfo.splitlines():
        key, _, value = line.partition(":")
        if key == "MemAvailable":
            amount, _, unit = value.strip().partition(" ")
            if unit != "kB":
                raise ValueError(f"MemAvailable in unknown unit {unit!r} (expected kB)")
            return int(amount) * 1024
    raise ValueError("no MemAvailable line (Linux 3.14 or later has one)")


def human(size: int) -> str:
    """``size`` bytes as people read memory sizes: 1.5 GiB, 512 MiB."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} B"


def refusal(mem_limit: int, reserve: int, available: int) -> str | None:
    """Why a server with ``mem_limit`` cannot start now, or None when it fits: the host must keep
    ``reserve`` free once the server has taken its whole limit."""
    needed = mem_limit + reserve
    if available >= needed:
        return None
    return (
        f"Not enough memory on this host to start your server now: it needs {human(needed)} "
        f"(its limit of {human(mem_limit)} plus {human(reserve)} kept free for the host), "
        f"and {human(available)} is available. Try again later, when other servers have stopped."
    )


class MemoryAdmission(LoggingConfigurable):
    """A ``pre_spawn_hook`` refusing a start when the host's available memory is below the
    server's memory limit plus a reserve."""

    reserve = ByteSpecification(
        "512M",
        help="""Memory the host keeps free beyond the new server's limit: for the hub, the
        proxy and the page cache. Suffixes K, M, G, T (powers of 1024).""",
    ).tag(config=True)

    default_mem_limit = ByteSpecification(
        "1G",
        help="""What a server is expected to take when its spawner has no ``mem_limit``
        (``Spawner.mem_limit`` is None): local spawners enforce no limit, yet a server and its
        kernels still take memory.""",
    ).tag(config=True)

    meminfo_path = Unicode(
        MEMINFO,
        help="""Where the host's memory figures are read (Linux ``/proc/meminfo`` format). In a
        container without its own memory view this is the host's, not the container's limit.""",
    ).tag(config=True)

    def __call__(self, spawner: Any) -> None:
        server = spawner.user.name + (f"/{spawner.name}" if spawner.name else "")
        mem_limit = spawner.mem_limit if spawner.mem_limit else self.default_mem_limit
        available = mem_available(Path(self.meminfo_path).read_text())
        reason = refusal(mem_limit, self.reserve, available)
        if reason is not None:
            raise SpawnException(
                reason,
                reason="memory",
                status_code=503,
                log_message=f"Refused to start {server}: {reason}",
            )
        self.log.debug("Memory admission: %s fits (%s available)", server, human(available))
