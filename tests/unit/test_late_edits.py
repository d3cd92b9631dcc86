"""What a person types into a cell while an agent moves it reaches the moved cell (no server)."""

from __future__ import annotations

import asyncio

import pytest
from jupyter_ydoc import YNotebook
from pycrdt import create_update_message

from jupyter_mcp_ext import cells, late_edits


def _notebook(*sources: str) -> YNotebook:
    nb = YNotebook()
    nb.set(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "source": s,
                    "metadata": {},
                    "outputs": [],
                    "execution_count": None,
                    "id": f"c{i}",
                }
                for i, s in enumerate(sources)
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )
    return nb


def _peer_of(server: YNotebook) -> YNotebook:
    peer = YNotebook()
    peer.ydoc.apply_update(server.ydoc.get_update())
    return peer


def _type(peer: YNotebook, cell_id: str, at: int | None, text: str) -> bytes:
    """The person types into ``cell_id`` of their copy; returns the update their client sends."""
    before = peer.ydoc.get_state()
    ytext = next(cell["source"] for cell in peer.ycells if cell["id"] == cell_id)
    ytext.insert(len(ytext) if at is None else at, text)
    return peer.ydoc.get_update(before)


def _deliver(server: YNotebook, update: bytes) -> None:
    """As the room does: the message hook first, then the update is applied."""
    late_edits.on_client_message(server, create_update_message(update))
    server.ydoc.apply_update(update)


def _sources(nb: YNotebook) -> dict[str, str]:
    return {cell["id"]: str(cell["source"]) for cell in nb.ycells}


def _run(test):
    async def main() -> None:
        test()

    asyncio.run(main())


def test_a_keystroke_in_flight_during_a_move_lands_in_the_moved_cell():
    def test() -> None:
        server = _notebook("a = 1", "b = 2", "c = 3")
        peer = _peer_of(server)
        cells.move_cell(server, "c0", 2)
        _deliver(server, _type(peer, "c0", None, "  # typed"))
        assert [cell["id"] for cell in server.ycells] == ["c1", "c2", "c0"]
        assert _sources(server)["c0"] == "a = 1  # typed"

    _run(test)


def test_late_edits_keep_arriving_and_an_agent_edit_of_the_moved_cell_is_kept_too():
    def test() -> None:
        server = _notebook("first line\nsecond line", "other")
        peer = _peer_of(server)
        cells.move_cell(server, "c0", 1)
        cells.set_source(server, "c0", "# agent\nfirst line\nsecond line")
        _deliver(server, _type(peer, "c0", 0, ">"))
        _deliver(server, _type(peer, "c0", None, "!"))
        source = _sources(server)["c0"]
        assert source == "# agent\n>first line\nsecond line!"

    _run(test)


def test_edits_after_the_window_or_of_other_cells_are_left_to_the_document(
    monkeypatch: pytest.MonkeyPatch,
):
    def test() -> None:
        server = _notebook("a", "b")
        peer = _peer_of(server)
        cells.move_cell(server, "c0", 1)
        _deliver(server, _type(peer, "c1", None, "+"))
        assert _sources(server) == {"c1": "b+", "c0": "a"}
        monkeypatch.setattr(late_edits, "CARRY_SECONDS", 0.0)
        cells.move_cell(server, "c0", 0)
        peer2 = _peer_of(server)
        _deliver(server, _type(peer2, "c1", None, "?"))
        assert _sources(server) == {"c0": "a", "c1": "b+?"}

    _run(test)


def test_a_client_that_sends_back_what_it_receives_neither_stops_nor_undoes_the_carry():
    def test() -> None:
        server = _notebook("a = 1", "b = 2")
        typist = _peer_of(server)
        before = server.ydoc.get_state()
        cells.move_cell(server, "c0", 1)
        move = server.ydoc.get_update(before)
        _deliver(server, move)  # the echoing client sends the move back first
        before = server.ydoc.get_state()
        _deliver(server, _type(typist, "c0", None, "  # typed"))
        # The server deleted what landed in the old copy; the echoing client sends that back too.
        _deliver(server, server.ydoc.get_update(before))
        assert _sources(server) == {"c1": "b = 2", "c0": "a = 1  # typed"}

    _run(test)
