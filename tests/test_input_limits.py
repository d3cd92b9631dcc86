"""Unbounded string arguments are refused quickly with a clear error (matching a huge glob against
every entry held the server for seconds), and a path the file system cannot hold is refused before
anything is created."""

from __future__ import annotations

import os
import time

from conftest import call_error
from responsiveness import status_waits

# A refusal is an argument check: it takes about as long as reading the request.
REFUSAL_SECONDS = 3.0
# Longest wait for /api/status meanwhile: far below a glob matched in one event-loop turn, above
# what a loaded machine adds to reading a 4 MB request.
STATUS_SECONDS = 1.0


async def test_a_four_million_character_pattern_is_refused_at_once_and_the_server_keeps_answering(
    mcp_client, make_notebook, jp_root_dir, server_url, token
):
    for i in range(50):
        make_notebook(f"folder{i % 5}/nb{i}.ipynb")
    pattern = "*a" * 2_000_000
    async with mcp_client() as client, status_waits(server_url, token) as waits:
        began = time.perf_counter()
        message = await call_error(client, "list_files", max_depth=3, pattern=pattern)
        took = time.perf_counter() - began
    print(
        f"\n4,000,000-character pattern refused in {took:.2f} s; /api/status slowest {max(waits) * 1000:.0f} ms"
    )
    assert "pattern" in message and "1024" in message, message[:300]
    assert len(message) < 2000, "the error repeats the whole argument"
    assert took < REFUSAL_SECONDS
    assert waits and max(waits) < STATUS_SECONDS, f"/api/status waited {max(waits):.2f} s"


def real_path(path: os.PathLike[str]) -> str:
    """A path as the OS resolves it: the form a leaked server path takes."""
    return os.path.realpath(path)


def _too_deep(root_length: int) -> str:
    """A notebook path of names the file system accepts that, under the root, is one byte beyond PATH_MAX."""
    need = 4096 - root_length  # the root, a separator and this path: 4097 bytes
    path = "deep.ipynb"
    while len(path) < need:
        path = "d" * max(1, min(200, need - len(path) - 1)) + "/" + path
    return path


async def test_a_path_beyond_the_file_systems_limits_is_refused_before_any_folder_is_created(
    mcp_client, jp_root_dir
):
    root = real_path(jp_root_dir)
    before = sorted(os.listdir(jp_root_dir))
    too_deep = _too_deep(len(root))
    assert (
        len(too_deep) <= 4096
    )  # within the argument's own cap: the file system's limit is what is hit
    async with mcp_client() as client:
        message = await call_error(client, "create_notebook", notebook_path=too_deep)
        assert "too long" in message and root not in message, message
        message = await call_error(
            client, "create_notebook", notebook_path="ok/" + "é" * 130 + ".ipynb"
        )
        assert "too long" in message and "255 bytes" in message and root not in message, message
        message = await call_error(client, "prepare_notebook", notebook_path=too_deep, create=True)
        assert "too long" in message and root not in message, message
    assert sorted(os.listdir(jp_root_dir)) == before, "folders were left behind"
