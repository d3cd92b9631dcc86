"""Edits are whole or nothing: text that cannot be stored (a lone surrogate, half of a UTF-16 pair)
is refused before the first change, so a cell never loses text without getting its replacement.

A lone surrogate cannot arrive over the wire (the server's JSON parser refuses it), so these tests
call the cell operations the tools use, on a live document in process.
"""

from __future__ import annotations

import pytest
from jupyter_ydoc import YNotebook
from pycrdt import Doc

from jupyter_mcp_ext import cells
from jupyter_mcp_ext.errors import UsageError

SOURCE = "é = 1  # café 🎉\nprint(é)"
LONE = "\ud83c"  # the first half of 🎉


@pytest.fixture
def nb() -> YNotebook:
    notebook = YNotebook(Doc())
    notebook.set(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "id": "c1",
                    "source": SOURCE,
                    "metadata": {},
                    "outputs": [],
                    "execution_count": None,
                }
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )
    return notebook


def source(nb: YNotebook) -> str:
    return str(nb.ycells[0]["source"])


@pytest.mark.parametrize("new_text", [LONE, f"café {LONE} ok", f"x{LONE}"])
@pytest.mark.parametrize("replace_all", [False, True])
def test_a_replacement_with_a_lone_surrogate_is_refused_and_changes_nothing(
    nb, new_text, replace_all
):
    with pytest.raises(UsageError, match=r"lone surrogate.*nothing was changed"):
        cells.replace_in_source(nb, "c1", "café", new_text, replace_all)
    assert source(nb) == SOURCE


@pytest.mark.parametrize("new_source", [f"é = 1  # café {LONE}\nprint(é)", LONE, f"{SOURCE}{LONE}"])
def test_a_whole_new_source_with_a_lone_surrogate_is_refused_and_changes_nothing(nb, new_source):
    with pytest.raises(UsageError, match=r"lone surrogate.*nothing was changed"):
        cells.set_source(nb, "c1", new_source)
    assert source(nb) == SOURCE


def test_a_new_cell_with_a_lone_surrogate_is_refused_and_adds_nothing(nb):
    with pytest.raises(UsageError, match="lone surrogate"):
        cells.insert_cell(nb, 1, "markdown", f"# {LONE}")
    assert len(nb.ycells) == 1 and source(nb) == SOURCE


def test_the_message_says_where_the_bad_character_is():
    with pytest.raises(UsageError) as refused:
        cells.check_text(f"abc{LONE}", "new_text")
    assert "new_text is not valid Unicode text: character 3 is a lone surrogate (U+D83C" in str(
        refused.value
    )
