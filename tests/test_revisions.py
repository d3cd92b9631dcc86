"""An agent learns what changed in a notebook since it last looked, and who changed it — a person
in JupyterLab (the pycrdt peer), itself, or another agent — and never overwrites a person's change
blindly: every read and edit gives the notebook's revision, and edits can be made conditional on it."""

from __future__ import annotations

import asyncio

import pytest
from conftest import call, call_error
from mcp import Client
from support import eventually
from test_agents import agent


def number(revision: str) -> int:
    return int(revision.split("@")[0])


def changes_by_cell(changes: dict) -> dict[tuple[str, str], list[str]]:
    return {(c["cell_id"], c["change"]): c["by"] for c in changes["changes"]}


async def persons_edit_arrived(client: Client, path: str, cell_id: str, text: str) -> None:
    await eventually(
        lambda: call(client, "read_cell", notebook_path=path, cell_id=cell_id),
        "the person's edit at the server",
        until=lambda read: text in read["cell"]["source"],
    )


async def test_reads_and_edits_carry_a_revision_that_grows_with_every_change(
    make_notebook, mcp_url, token
):
    path = make_notebook("grows.ipynb", [("code", "x = 1")])
    async with agent(mcp_url, token, "Claude Code", "legacy") as claude:
        read = await call(claude, "read_notebook", notebook_path=path)
        again = await call(claude, "read_all_cells", notebook_path=path)
        appended = await call(claude, "append_code_cell", notebook_path=path, source="y = 2")
        edited = await call(
            claude, "overwrite_cell_source", notebook_path=path, cell_index=0, source="x = 3"
        )
        info = await call(claude, "get_notebook_info", notebook_path=path)
        text = await claude.call_tool("read_cell", {"notebook_path": path, "cell_index": 1})

    assert again["revision"] == read["revision"]  # nothing changed in between
    assert number(read["revision"]) < number(appended["revision"]) < number(edited["revision"])
    assert info["revision"] == edited["revision"]
    assert f"revision {edited['revision']}" in text.content[0].text


async def test_a_persons_edit_shows_in_the_changes_with_its_diff_as_a_persons(
    make_notebook, mcp_url, token, browser
):
    path = make_notebook("person.ipynb", [("code", "total = 0"), ("markdown", "# Notes")])
    async with agent(mcp_url, token, "Claude Code", "legacy") as claude, browser(path) as person:
        read = await call(claude, "read_notebook", notebook_path=path)
        cell_id = read["cells"][0]["cell_id"]
        person.type_at_end(cell_id, "\nfor x in data:\n    total += x")
        await persons_edit_arrived(claude, path, cell_id, "total += x")

        changes = await call(
            claude, "get_notebook_changes", notebook_path=path, since_revision=read["revision"]
        )
        text = (
            (
                await claude.call_tool(
                    "get_notebook_changes",
                    {"notebook_path": path, "since_revision": read["revision"]},
                )
            )
            .content[0]
            .text
        )

    (change,) = changes["changes"]
    assert change["cell_id"] == cell_id and change["change"] == "edited"
    assert change["by"] == ["a person"]
    assert "+for x in data:" in change["diff"] and "+    total += x" in change["diff"]
    assert number(changes["revision"]) > number(read["revision"])
    assert "edited by a person" in text and "+    total += x" in text


async def test_own_edits_show_as_yours_and_another_sessions_as_another_agents(
    make_notebook, mcp_url, token
):
    path = make_notebook("agents.ipynb", [("code", "a = 1"), ("code", "b = 2")])
    async with (
        agent(mcp_url, token, "Claude Code", "legacy") as claude,
        agent(mcp_url, token, "Codex", "legacy") as codex,
    ):
        read = await call(claude, "read_notebook", notebook_path=path)
        first, second = (cell["cell_id"] for cell in read["cells"])
        await call(
            claude, "overwrite_cell_source", notebook_path=path, cell_id=first, source="a = 10"
        )
        await call(
            codex, "overwrite_cell_source", notebook_path=path, cell_id=second, source="b = 20"
        )

        seen_by_claude = await call(
            claude, "get_notebook_changes", notebook_path=path, since_revision=read["revision"]
        )

    by = changes_by_cell(seen_by_claude)
    assert by[first, "edited"] == ["you"]
    (other,) = by[second, "edited"]
    assert other.startswith("another agent: Codex · agent of")


async def test_added_deleted_moved_and_executed_cells_are_reported(make_notebook, mcp_url, token):
    path = make_notebook(
        "kinds.ipynb", [("code", "print('hi')"), ("markdown", "old"), ("code", "1"), ("code", "2")]
    )
    async with agent(mcp_url, token, "Claude Code", "legacy") as claude:
        read = await call(claude, "read_notebook", notebook_path=path)
        ran, doomed, _, moved = (cell["cell_id"] for cell in read["cells"])
        await call(claude, "execute_cell", notebook_path=path, cell_id=ran, timeout=60)
        await call(claude, "delete_cell", notebook_path=path, cell_id=doomed)
        await call(claude, "move_cell", notebook_path=path, cell_id=moved, to_index=0)
        added = await call(claude, "append_markdown_cell", notebook_path=path, source="new")

        changes = await call(
            claude, "get_notebook_changes", notebook_path=path, since_revision=read["revision"]
        )

    by = changes_by_cell(changes)
    assert set(by) == {
        (ran, "executed"),
        (doomed, "deleted"),
        (moved, "moved"),
        (added["cell_id"], "added"),
    }
    assert all(who == ["you"] for who in by.values())
    executed = next(c for c in changes["changes"] if c["change"] == "executed")
    assert executed["execution_count"] == 1 and executed["output_count"] == 1
    assert next(c for c in changes["changes"] if c["change"] == "moved")["cell_index"] == 0
    deleted = next(c for c in changes["changes"] if c["change"] == "deleted")
    assert deleted["cell_index"] is None and deleted["cell_type"] == "markdown"


async def test_a_runs_revision_is_from_before_it_so_a_persons_edit_during_the_run_is_reported(
    make_notebook, mcp_url, token, browser
):
    path = make_notebook(
        "run.ipynb", [("code", "import time; time.sleep(2); 'done'"), ("code", "n = 1")]
    )
    async with agent(mcp_url, token, "Claude Code", "legacy") as claude, browser(path) as person:
        read = await call(claude, "read_notebook", notebook_path=path)
        slow, other = (cell["cell_id"] for cell in read["cells"])

        async def type_during_the_run() -> None:
            await asyncio.sleep(0.8)
            person.type_at_end(other, "\nn += 1")

        typing = asyncio.create_task(type_during_the_run())
        ran = await call(claude, "execute_cell", notebook_path=path, cell_id=slow, timeout=60)
        await typing
        await persons_edit_arrived(claude, path, other, "n += 1")
        changes = await call(
            claude, "get_notebook_changes", notebook_path=path, since_revision=ran["revision"]
        )

    assert ran["status"] == "ok"
    assert number(read["revision"]) <= number(ran["revision"])
    by = changes_by_cell(changes)
    assert by[slow, "executed"] == ["you"]
    assert by[other, "edited"] == ["a person"]


async def test_an_overwrite_with_a_stale_revision_is_refused_and_keeps_the_persons_text(
    make_notebook, mcp_url, token, browser
):
    path = make_notebook("stale.ipynb", [("code", "rate = 0.1"), ("code", "other = 1")])
    async with agent(mcp_url, token, "Claude Code", "legacy") as claude, browser(path) as person:
        read = await call(claude, "read_notebook", notebook_path=path)
        cell_id, other_id = (cell["cell_id"] for cell in read["cells"])
        person.type_at_end(cell_id, "  # checked by Ann")
        await persons_edit_arrived(claude, path, cell_id, "checked by Ann")

        refusal = await call_error(
            claude,
            "overwrite_cell_source",
            notebook_path=path,
            cell_id=cell_id,
            source="rate = 0.2",
            expected_revision=read["revision"],
        )
        assert "changed by a person" in refusal and "nothing was changed" in refusal
        assert "rate = 0.1  # checked by Ann" in refusal  # the cell's current source
        edit_refusal = await call_error(
            claude,
            "edit_cell_source",
            notebook_path=path,
            cell_id=cell_id,
            old_text="0.1",
            new_text="0.2",
            expected_revision=read["revision"],
        )
        assert "changed by a person" in edit_refusal
        assert "changed by a person" in await call_error(
            claude,
            "delete_cell",
            notebook_path=path,
            cell_id=cell_id,
            expected_revision=read["revision"],
        )
        await person.wait_until(lambda: person.source(cell_id) == "rate = 0.1  # checked by Ann")

        # Another cell changing does not refuse an edit of this one.
        await call(
            claude,
            "overwrite_cell_source",
            notebook_path=path,
            cell_id=other_id,
            source="other = 2",
            expected_revision=read["revision"],
        )
        current = (await call(claude, "read_cell", notebook_path=path, cell_id=cell_id))["revision"]
        await call(
            claude,
            "overwrite_cell_source",
            notebook_path=path,
            cell_id=cell_id,
            source="rate = 0.2  # checked by Ann",
            expected_revision=current,
        )
        await person.wait_until(lambda: person.source(cell_id) == "rate = 0.2  # checked by Ann")
        assert person.source(other_id) == "other = 2"


async def test_an_agent_s_own_later_edits_do_not_refuse_its_next_edit(
    make_notebook, mcp_url, token
):
    path = make_notebook("own.ipynb", [("code", "x = 1")])
    async with agent(mcp_url, token, "Claude Code", "legacy") as claude:
        read = await call(claude, "read_notebook", notebook_path=path)
        await call(
            claude, "overwrite_cell_source", notebook_path=path, cell_index=0, source="x = 2"
        )
        await call(
            claude,
            "overwrite_cell_source",
            notebook_path=path,
            cell_index=0,
            source="x = 3",
            expected_revision=read["revision"],
        )
        assert (await call(claude, "read_cell", notebook_path=path, cell_index=0))["cell"][
            "source"
        ] == "x = 3"


@pytest.mark.parametrize(
    "jp_server_config",
    [{"MCPExtensionApp": {"change_history_size": 2, "room_idle_close_delay": 0.2}}],
    indirect=True,
    ids=["history-2"],
)
async def test_unknown_old_and_reloaded_revisions_are_refused_with_read_it_again(
    make_notebook, mcp_url, token
):
    path = make_notebook("old.ipynb", [("code", "x = 1")])
    async with agent(mcp_url, token, "Claude Code", "legacy") as claude:
        oldest = (await call(claude, "read_notebook", notebook_path=path))["revision"]
        for value in ("2", "3", "4"):
            await call(
                claude, "overwrite_cell_source", notebook_path=path, cell_index=0, source=value
            )

        too_old = await call_error(
            claude, "get_notebook_changes", notebook_path=path, since_revision=oldest
        )
        assert "too old" in too_old and "Read the notebook again" in too_old
        malformed = await call_error(
            claude, "get_notebook_changes", notebook_path=path, since_revision="7"
        )
        assert "'7' is not a revision" in malformed and "revisions look like" in malformed

        # Nobody has the notebook open: its live document closes when idle and opens anew.
        latest = (await call(claude, "read_notebook", notebook_path=path))["revision"]

        async def reopened() -> str:
            return (await call(claude, "read_notebook", notebook_path=path))["revision"]

        fresh = await eventually(
            reopened,
            "a new live document",
            until=lambda r: r.split("@")[1] != latest.split("@")[1],
            interval=0.6,  # longer than the idle delay: reading keeps the document open
        )
        reloaded = await call_error(
            claude, "get_notebook_changes", notebook_path=path, since_revision=latest
        )
        assert "reloaded" in reloaded and "Read it again" in reloaded and fresh in reloaded
        assert "reloaded" in await call_error(
            claude,
            "overwrite_cell_source",
            notebook_path=path,
            cell_index=0,
            source="lost?",
            expected_revision=latest,
        )
        source = (await call(claude, "read_cell", notebook_path=path, cell_index=0))["cell"][
            "source"
        ]
        assert source == "4"
