"""Property-based: cell edits through the tools do exactly what Python's ``str.replace`` does, for
texts with accents, emoji, combining marks and ZWJ sequences (a live document counts UTF-8 bytes,
an agent counts characters); a refused call changes nothing.

One server and one notebook for all examples; hypothesis runs in a worker thread and submits each
call to the server's event loop (as in test_tool_arguments.py).
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tool_helpers import wait_for_disk

PATH = "props.ipynb"
# Pieces a person writes: ASCII, accents (precomposed and combining), emoji (astral, with a skin
# tone, a ZWJ family, a flag), CJK, line breaks.
PIECES = [
    "a",
    "x = 1",
    " ",
    "\n",
    "é",
    "e\u0301",
    "ñ",
    "ü",
    "🎉",
    "👍🏽",
    "👩\u200d👩\u200d👧",
    "🇫🇷",
    "中文",
    "\u200d",
    "\u0301",
    "\r\n",
    "#",
]
TEXTS = st.lists(st.sampled_from(PIECES), max_size=8).map("".join) | st.text(max_size=12)
EXAMPLES = 30


async def _source(client) -> str:
    result = await client.call_tool("read_cell", {"notebook_path": PATH, "cell_index": 0})
    assert not result.is_error, result.content[0].text
    return result.structured_content["cell"]["source"]


async def _overwrite(client, text: str) -> None:
    result = await client.call_tool(
        "overwrite_cell_source", {"notebook_path": PATH, "cell_index": 0, "source": text}
    )
    assert not result.is_error, result.content[0].text
    assert await _source(client) == text


def _run(loop, coroutine) -> None:
    asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)


async def test_overwrite_cell_source_leaves_exactly_the_new_text(
    mcp_client, make_notebook, jp_root_dir
):
    make_notebook(PATH, [("code", "")])
    loop = asyncio.get_running_loop()
    async with mcp_client() as client:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(old=TEXTS, new=TEXTS)
        def property_holds(old: str, new: str) -> None:
            _run(loop, _overwrite(client, old))
            _run(loop, _overwrite(client, new))

        await asyncio.to_thread(property_holds)
        last = await _source(client)
    await wait_for_disk(jp_root_dir, PATH, lambda nb: "".join(nb["cells"][0]["source"]) == last)


async def test_edit_cell_source_is_str_replace_and_a_refused_edit_changes_nothing(
    mcp_client, make_notebook
):
    make_notebook(PATH, [("code", "")])
    loop = asyncio.get_running_loop()
    async with mcp_client() as client:

        async def check(source: str, old: str, new: str, replace_all: bool) -> None:
            await _overwrite(client, source)
            result = await client.call_tool(
                "edit_cell_source",
                {
                    "notebook_path": PATH,
                    "cell_index": 0,
                    "old_text": old,
                    "new_text": new,
                    "replace_all": replace_all,
                },
            )
            count = source.count(old) if old else 0
            if count == 1 or (count > 1 and replace_all):
                assert not result.is_error, result.content[0].text
                assert result.structured_content["replacements"] == count
                assert await _source(client) == source.replace(old, new)
            else:  # empty, missing, or ambiguous without replace_all
                assert result.is_error, f"edit of {old!r} in {source!r} was accepted"
                assert await _source(client) == source

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data(), source=TEXTS, new=TEXTS, replace_all=st.booleans())
        def property_holds(data: st.DataObject, source: str, new: str, replace_all: bool) -> None:
            # Mostly a piece of the source (so the edit applies), sometimes any text (so it may not).
            start = data.draw(st.integers(0, len(source)), label="start")
            end = data.draw(st.integers(start, len(source)), label="end")
            old = data.draw(st.just(source[start:end]) | TEXTS, label="old")
            _run(loop, check(source, old, new, replace_all))

        await asyncio.to_thread(property_holds)
