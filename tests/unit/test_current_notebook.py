"""The current notebook of each user: the newest choice wins, windows are remembered, users never mix."""

from __future__ import annotations

from jupyter_mcp_ext.context import AGENT, API, CurrentNotebooks


def test_the_newest_choice_wins_and_keeps_the_window_used_last():
    changes = []
    current = CurrentNotebooks(
        on_change=lambda who, now: changes.append((who, now.path, now.window))
    )
    current.set("alice", "a.ipynb", source="window-1", window="window-1")
    current.set("alice", "b.ipynb", source=AGENT)
    now = current.get("alice")
    assert (now.path, now.source, now.window) == ("b.ipynb", AGENT, "window-1")
    assert changes == [("alice", "a.ipynb", "window-1"), ("alice", "b.ipynb", "window-1")]


def test_users_never_see_each_others_current_notebook():
    current = CurrentNotebooks()
    current.set("alice", "secret.ipynb", source=API)
    assert current.get("bob").path is None
    assert current.get("alice").path == "secret.ipynb"


def test_a_closed_window_is_forgotten_only_if_it_was_the_one_used_last():
    current = CurrentNotebooks()
    current.set("alice", "a.ipynb", source="w1", window="w1")
    current.use_window("alice", "w2")
    assert current.forget_window("alice", "w1").window == "w2"
    assert current.forget_window("alice", "w2").window is None
    assert current.get("alice").path == "a.ipynb"


def test_repeating_the_same_choice_is_not_reported_as_a_change():
    changes = []
    current = CurrentNotebooks(on_change=lambda who, now: changes.append(now.path))
    current.set("alice", "a.ipynb", source="w1", window="w1")
    current.set("alice", "a.ipynb", source="w1", window="w1")
    current.use_window("alice", "w1")
    assert changes == ["a.ipynb"]
