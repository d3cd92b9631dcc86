"""Errors say what is wrong in an agent's terms and never show the server's absolute paths; notebooks
that are malformed but loadable (as other tools write them) read sanely."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import KERNELSPEC, call_error
from tool_helpers import invoke


def real_path(path: os.PathLike[str]) -> str:
    """A path as the OS resolves it: the form a leaked server path takes."""
    return os.path.realpath(path)


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``chattr +i``: a file or folder nobody may change, root included (root ignores permission bits)."""
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available on this file system")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


async def test_contents_errors_say_what_is_wrong_and_never_show_the_servers_root(
    mcp_client, jp_root_dir
):
    root = real_path(jp_root_dir)
    (jp_root_dir / "locked").mkdir()
    (jp_root_dir / "data.txt").write_text("not a folder")
    calls = [  # (tool, arguments, what the message must say)
        ("create_notebook", {"notebook_path": "locked/new.ipynb"}, "read-only or protected"),
        (
            "prepare_notebook",
            {"notebook_path": "locked/deeper/new.ipynb", "create": True},
            "read-only or protected",
        ),
        ("create_notebook", {"notebook_path": "data.txt/new.ipynb"}, "data.txt"),
        ("read_notebook", {"notebook_path": "n" * 300 + ".ipynb"}, "255 bytes"),
        ("list_files", {"path": "x" * 300}, "255 bytes"),
        ("list_notebooks", {"path": "data.txt"}, "data.txt"),
    ]
    async with mcp_client() as client:
        with immutable(jp_root_dir / "locked"):
            for name, arguments, reason in calls:
                message = await call_error(client, name, **arguments)
                assert reason in message, f"{name}: {message}"
                assert root not in message and "failed unexpectedly" not in message, (
                    f"{name}: {message}"
                )
    assert os.listdir(jp_root_dir / "locked") == []


MALFORMED = {
    "cells": [
        {
            "cell_type": "code",
            "id": "nan-count",
            "metadata": {},
            "source": "x = 1",
            "execution_count": "NaN",
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}],
        },
        {
            "cell_type": "heading",
            "id": "odd-type",
            "metadata": {},
            "source": "# Old heading",
            "level": 1,
        },
        {
            "cell_type": "code",
            "id": "float-count",
            "metadata": {},
            "source": ["y = ", "2"],
            "execution_count": 2.5,
            "outputs": [],
        },
        {"cell_type": "markdown", "id": "fine", "metadata": {}, "source": "ok"},
    ],
    "metadata": {"kernelspec": KERNELSPEC},
    "nbformat": 4,
    "nbformat_minor": 5,
}


async def test_malformed_but_loadable_notebooks_read_within_the_tools_schemas(
    mcp_client, jp_root_dir
):
    (jp_root_dir / "odd.ipynb").write_text(json.dumps(MALFORMED))
    async with (
        mcp_client() as client
    ):  # invoke validates each result against the tool's output schema
        cells = (await invoke(client, "read_all_cells", notebook_path="odd.ipynb"))["cells"]
        assert [
            (c["cell_id"], c["cell_type"], c["source"], c.get("execution_count")) for c in cells
        ] == [
            ("nan-count", "code", "x = 1", None),
            ("odd-type", "heading", "# Old heading", None),
            ("float-count", "code", "y = 2", None),
            ("fine", "markdown", "ok", None),
        ]
        for index, cell in enumerate(cells):
            one = (await invoke(client, "read_cell", notebook_path="odd.ipynb", cell_index=index))[
                "cell"
            ]
            assert one == cell
        page = await invoke(client, "read_notebook", notebook_path="odd.ipynb", detail="detailed")
        assert [c["cell_id"] for c in page["cells"]] == [c["cell_id"] for c in cells]
        info = await invoke(client, "get_notebook_info", notebook_path="odd.ipynb")
        assert info["cell_count"] == 4
