"""Agent edits that cannot be saved (a read-only file, a full disk) are not lost: the agent is told
while saves fail, the live notebook keeps them past its idle delay, and they reach disk once the
disk is writable again.

Tests run as root, who ignores permission bits: the file is made immutable (``chattr +i``), and
the disk is a small tmpfs filled up.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tool_helpers import disk_sources, invoke, wait_for_disk

PATH = "keep.ipynb"
IDLE_CLOSE_DELAY = 0.3
SMALL_DISK = "4m"


def _run(*command: str) -> bool:
    return subprocess.run(command, capture_output=True).returncode == 0


@contextlib.contextmanager
def read_only_file(root: Path) -> Iterator[None]:
    if not _run("chattr", "+i", str(root / PATH)):
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        _run("chattr", "-i", str(root / PATH))


@contextlib.contextmanager
def full_disk(root: Path) -> Iterator[None]:
    filler = root / "filler.bin"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
    try:
        yield
    finally:
        filler.unlink()


FAILURES: dict[str, Callable[[Path], contextlib.AbstractContextManager[None]]] = {
    "read-only file": read_only_file,
    "full disk": full_disk,
}


@pytest.fixture(params=list(FAILURES))
def failure(request) -> str:
    return request.param


@pytest.fixture
def jp_root_dir(tmp_path: Path, failure: str) -> Iterator[Path]:
    """The server root; for a full disk, a small tmpfs of its own."""
    root = tmp_path / "root_dir"
    root.mkdir()
    if failure != "full disk":
        yield root
        return
    if not _run("mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK}", "tmpfs", str(root)):
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        yield root
    finally:
        _run("umount", "-l", str(root))


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config.setdefault("MCPExtensionApp", {})["room_idle_close_delay"] = IDLE_CLOSE_DELAY
    return jp_server_config


async def _warning(client) -> str | None:
    result = await invoke(client, "get_notebook_info", notebook_path=PATH)
    warnings = result.get("warnings") or []
    return warnings[0] if warnings else None


async def test_edits_that_cannot_be_saved_are_reported_kept_and_saved_once_the_disk_is_writable(
    mcp_client, make_notebook, jp_root_dir, failure
):
    make_notebook(PATH, [("markdown", "# Kept")])
    async with mcp_client() as client:
        await invoke(client, "read_notebook", notebook_path=PATH)
        with FAILURES[failure](jp_root_dir):
            appended = await invoke(
                client, "append_code_cell", notebook_path=PATH, source="answer = 42"
            )
            for _ in range(100):  # the room saves a moment after the edit
                if await _warning(client):
                    break
                await asyncio.sleep(0.1)
            warning = await _warning(client)
            assert warning and f"changes to {PATH} are not saved" in warning, warning
            assert ("read-only" if failure == "read-only file" else "disk is full") in warning, (
                warning
            )
            edited = await client.call_tool(
                "edit_cell_source",
                {
                    "notebook_path": PATH,
                    "cell_id": appended["cell_id"],
                    "old_text": "42",
                    "new_text": "43",
                },
            )
            assert (
                not edited.is_error
                and "Warning: the changes to keep.ipynb are not saved" in edited.content[0].text
            )
            assert edited.structured_content["warnings"] == [warning]

            await asyncio.sleep(10 * IDLE_CLOSE_DELAY)  # idle long enough for the room to close
            cells = (await invoke(client, "read_all_cells", notebook_path=PATH))["cells"]
            assert [c["source"] for c in cells] == ["# Kept", "answer = 43"]
            assert disk_sources(await wait_for_disk(jp_root_dir, PATH, lambda nb: True)) == [
                ("markdown", "# Kept")
            ]

        on_disk = await wait_for_disk(
            jp_root_dir, PATH, lambda nb: len(nb["cells"]) == 2, timeout=20
        )
        assert disk_sources(on_disk) == [("markdown", "# Kept"), ("code", "answer = 43")]
        assert await _warning(client) is None
