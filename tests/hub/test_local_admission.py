"""Admission by memory, the decision alone (no hub): a server starts only if the host's available
memory covers its limit plus the reserve; a refusal says what is needed and what is there."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("jupyterhub", reason="JupyterHub is not installed (pip install jupyterhub)")

from jupyterhub.spawner import SpawnException

from jupyter_mcp_ext.hub.admission import MemoryAdmission, mem_available, refusal

GIB = 1 << 30
MIB = 1 << 20

MEMINFO = """\
MemTotal:       24730864 kB
MemFree:        19942208 kB
MemAvailable:    2097152 kB
Buffers:          104560 kB
"""


def test_available_memory_is_memavailable_not_memfree():
    assert mem_available(MEMINFO) == 2 * GIB


@pytest.mark.parametrize(
    ("meminfo", "problem"),
    [("MemTotal: 1 kB\nMemFree: 1 kB\n", "no MemAvailable line"), ("MemAvailable: 1 MB\n", "'MB'")],
)
def test_unreadable_meminfo_is_an_error_naming_what_is_wrong(meminfo, problem):
    with pytest.raises(ValueError, match=problem):
        mem_available(meminfo)


def test_a_server_starts_when_its_limit_and_the_reserve_fit_exactly():
    assert refusal(GIB, 512 * MIB, GIB + 512 * MIB) is None


def test_a_refusal_says_what_is_needed_what_is_available_and_to_retry_later():
    reason = refusal(GIB, 512 * MIB, GIB + 512 * MIB - 1)
    assert reason == (
        "Not enough memory on this host to start your server now: it needs 1.5 GiB (its limit of "
        "1 GiB plus 512 MiB kept free for the host), and 1.5 GiB is available. Try again later, "
        "when other servers have stopped."
    )


def spawner(mem_limit: int | None) -> SimpleNamespace:
    return SimpleNamespace(mem_limit=mem_limit, name="", user=SimpleNamespace(name="alice"))


@pytest.fixture
def meminfo(tmp_path: Path) -> str:
    path = tmp_path / "meminfo"
    path.write_text(MEMINFO)  # 2 GiB available
    return str(path)


def test_the_hook_refuses_with_status_503_for_the_api_and_the_spawn_page(meminfo):
    admission = MemoryAdmission(reserve="512M", meminfo_path=meminfo)

    with pytest.raises(SpawnException) as refused:
        admission(spawner(2 * GIB))

    assert refused.value.status_code == 503
    assert refused.value.message.startswith("Not enough memory on this host")
    assert "it needs 2.5 GiB" in refused.value.message


def test_the_hook_lets_a_server_that_fits_start(meminfo):
    MemoryAdmission(reserve="512M", meminfo_path=meminfo)(spawner(GIB))


def test_a_server_without_a_limit_counts_as_the_default_limit(meminfo):
    admission = MemoryAdmission(reserve="512M", default_mem_limit="2G", meminfo_path=meminfo)
    with pytest.raises(SpawnException, match=r"its limit of 2 GiB"):
        admission(spawner(None))
    MemoryAdmission(reserve="512M", default_mem_limit="1G", meminfo_path=meminfo)(spawner(None))
