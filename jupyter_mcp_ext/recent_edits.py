"""Whether a person (in JupyterLab) changed a cell lately: the revisions tracker notes when.

A move deletes a cell and inserts a copy (a Y array has no move): an edit of the old cell still on
its way to the server lands in the deleted cell and is lost. So a cell someone is changing is not
moved until it has been quiet for ``QUIET_SECONDS``.
"""

from __future__ import annotations

import time

from jupyter_ydoc import YNotebook

from . import revisions
from .errors import UsageError

QUIET_SECONDS = 3.0


def check_quiet(nb: YNotebook, cell_id: str, index: int) -> None:
    """Refuse to re-create a cell that another client changed within the last ``QUIET_SECONDS``."""
    changed = revisions.tracker(nb).persons_changes.get(cell_id)
    if changed is None:
        return
    age = time.monotonic() - changed
    if age < QUIET_SECONDS:
        raise UsageError(
            f"Cell {index} (id {cell_id!r}) was changed by someone else {age:.1f} s ago, so they may still be "
            "typing in it: moving a cell re-creates it, and what they type meanwhile would be lost. Nothing was "
            f"moved. Retry when the cell has been left alone for {QUIET_SECONDS:.0f} s (in about "
            f"{QUIET_SECONDS - age:.1f} s), or move the cells around it instead."
        )
