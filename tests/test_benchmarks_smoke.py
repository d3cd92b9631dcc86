"""Every benchmark runs end to end and prints its target rows.

Each script runs in quick mode (a few calls per row) as a subprocess on this checkout. Quick mode
never gates on timings: its exit status says that every call worked and every output arrived
where it belongs, so a machine under load cannot fail these tests.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]

# The start of each target row's text, after "PASS: " or "FAIL: ".
TARGET_ROWS = {
    "bench_tools.py": [
        "append_markdown_cell median",
        "overwrite_cell_source median",
        "read_all_cells (1000 cells) median",
    ],
    "bench_execute.py": [
        "insert_execute_code_cell median",
        "every one of the 2,000 lines of each run is in the notebook on disk",
        "ops/s >= 120",
        "0 errors, and every cell in its own notebook",
        "RSS growth",
        "0 errors in the sessions",
    ],
    "bench_gateway.py": [
        "gateway overhead with a hub token",
        "gateway overhead with an OAuth token",
        "every first call through the gateway of a stopped user was answered",
        "0 errors in the agents' edit + execute calls through the gateway",
        "every process started stopped by PID",
    ],
    "bench_notifications.py": [
        "every one of the 5 keystrokes was told",
        "notification latency median",
    ],
    "bench_versions.py": ["append: median", "overwrite: median"],
    "bench_hub.py": [
        "every user's server answered its first MCP call",
        "0 errors in the agents' edit + execute calls through the hub",
        "every process started stopped by PID",
    ],
}


def missing_for(script: str) -> str | None:
    """Why ``script`` cannot run here: the hub benchmarks need JupyterHub, its idle culler (the
    demo hub runs it) and the npm proxy."""
    if script not in ("bench_hub.py", "bench_gateway.py"):
        return None
    for module, package in (
        ("jupyterhub", "jupyterhub"),
        ("jupyterhub_idle_culler", "jupyterhub-idle-culler"),
    ):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (pip install {package})"
    if shutil.which("configurable-http-proxy") is None:
        return "configurable-http-proxy is not installed (npm install -g configurable-http-proxy@5)"
    return None


@pytest.mark.parametrize("script", sorted(TARGET_ROWS))
def test_benchmark_runs_in_quick_mode_and_prints_its_target_rows(script: str) -> None:
    if (reason := missing_for(script)) is not None:
        pytest.skip(reason)
    path = os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(CHECKOUT / "benchmarks" / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=150,
        env={**os.environ, "PYTHONPATH": path},
    )
    output = f"{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}"
    assert done.returncode == 0, output
    verdicts = [line[6:] for line in done.stdout.splitlines() if line[:6] in ("PASS: ", "FAIL: ")]
    assert len(verdicts) == len(TARGET_ROWS[script]), output
    for verdict, row in zip(verdicts, TARGET_ROWS[script], strict=True):
        assert row in verdict, output
