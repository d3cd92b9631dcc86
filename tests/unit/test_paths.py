"""Agents' paths: normalised to contents-API form; nothing that leaves the root gets through."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jupyter_server.services.contents.filemanager import FileContentsManager

from jupyter_mcp_ext.errors import UsageError
from jupyter_mcp_ext.paths import ServerPaths


@pytest.fixture
def paths(tmp_path):
    root = tmp_path / "root"
    (root / "inside").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "escape")
    os.symlink(root / "inside", root / "alias")
    return ServerPaths(FileContentsManager(root_dir=str(root)))


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("a/b.ipynb", "a/b.ipynb"),
        ("./a//b.ipynb", "a/b.ipynb"),
        ("a\\b.ipynb", "a/b.ipynb"),
        (" a/b.ipynb ", "a/b.ipynb"),
        ("a/./b/", "a/b"),
        ("", ""),
        ("alias/n.ipynb", "alias/n.ipynb"),
    ],
)
def test_paths_are_normalised_to_the_contents_api_form(paths, raw, normalized):
    assert paths.normalize(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("/etc/passwd", "Absolute path"),
        ("C:\\x.ipynb", "Absolute path"),
        ("\\\\server\\share", "Absolute path"),
        ("../x.ipynb", "'..'"),
        ("a/../../x", "'..'"),
        ("a\x00b", "NUL"),
        ("escape/x.ipynb", "outside the server root"),
    ],
)
def test_paths_that_could_leave_the_root_are_refused_with_the_reason(paths, raw, reason):
    with pytest.raises(UsageError, match=reason):
        paths.normalize(raw)


def test_an_absolute_path_inside_the_root_is_refused_with_its_relative_form(paths):
    inside = os.path.join(paths.cm.root_dir, "inside", "n.ipynb")
    with pytest.raises(UsageError, match=re.escape("Inside the root this is 'inside/n.ipynb'")):
        paths.normalize(inside)


@given(
    st.lists(st.sampled_from(["a", "..", ".", "", "b", "/", "\\", "é", "x.ipynb"]), max_size=8).map(
        "/".join
    )
)
def test_no_accepted_path_resolves_outside_the_root(tmp_path_factory, raw):
    root = tmp_path_factory.getbasetemp() / "property-root"
    root.mkdir(exist_ok=True)
    paths = ServerPaths(FileContentsManager(root_dir=str(root)))
    try:
        normalized = paths.normalize(raw)
    except UsageError:
        return
    resolved = os.path.realpath(os.path.join(root, normalized))
    assert resolved == str(root) or resolved.startswith(str(root) + os.sep)
    assert ".." not in normalized.split("/") and not normalized.startswith("/")
