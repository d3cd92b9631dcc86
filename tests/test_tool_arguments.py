"""Property-based: whatever arguments an agent sends, every tool answers — a result that matches its
output schema, or a tool error that names the problem — and a failed call changes nothing.

Arguments are drawn per tool from its advertised input schema: values of the right type with edge
values (paths that try to leave the root, huge or negative numbers, control characters, emoji),
values of the wrong type, and unknown keys (a lone surrogate cannot be sent: JSON over HTTP is
UTF-8; the cell tests try it in process). The calls go through the official SDK client to a real
server; hypothesis runs in a worker thread and submits each call to the server's event loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tool_helpers import output_schemas

NOTEBOOK = "target.ipynb"
CELLS = [("markdown", "# Titel — ünïcode 🎉"), ("code", "x = 1\nprint(x)"), ("raw", "raw\r\ntext")]

# Tools that run code are called only with arguments that fail validation: random code in the
# kernel (an endless loop, a restart) says nothing about argument handling and costs minutes.
RUNS_CODE = {
    "insert_execute_code_cell",
    "execute_cell",
    "execute_with_progress",
    "execute_code",
    "interrupt_kernel",
    "restart_kernel",
}
# Tools that write outside the notebook: their valid calls are left to their own tests.
CREATES_FILES = {"create_notebook", "prepare_notebook"}

EDGE_STRINGS = st.sampled_from(
    [
        "",
        " ",
        ".",
        "..",
        "../escape.ipynb",
        "/etc/passwd",
        "C:\\Windows",
        "a\x00b",
        "x" * 300,
        "é" * 100,
        "🎉",
        "e\u0301",
        NOTEBOOK,
        "missing.ipynb",
        "dir/",
        "*",
        "[",
        "**/*.ipynb",
        "\n",
        "$(id)",
    ]
)
EDGE_INTS = st.sampled_from([0, 1, 2, 3, -1, -3, -4, 10**6, -(10**6), 2**63, -(2**63) - 1])
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values a confused or hostile agent could send for a property with this schema."""
    kinds = {option.get("type") for option in schema.get("anyOf", [schema])}
    choices: list[st.SearchStrategy[Any]] = [ANY_JSON]
    if "string" in kinds:
        choices += [EDGE_STRINGS, st.text(max_size=40)]
        if "enum" in schema:
            choices.append(st.sampled_from(schema["enum"]))
    if "integer" in kinds or "number" in kinds:
        choices += [EDGE_INTS, st.integers()]
    if "boolean" in kinds:
        choices.append(st.booleans())
    if "array" in kinds:
        choices.append(st.lists(EDGE_INTS | EDGE_STRINGS, max_size=4))
    return st.one_of(choices)


def _arguments(tool: Any) -> st.SearchStrategy[dict[str, Any]]:
    properties = tool.input_schema.get("properties", {})
    fields = {
        name: _value(schema) for name, schema in properties.items() if name != "notebook_path"
    }
    notebook = st.sampled_from(
        [NOTEBOOK, NOTEBOOK, "missing.ipynb", "../x.ipynb", "/abs.ipynb", ""]
    )
    return st.tuples(
        st.fixed_dictionaries({}, optional={**fields, "notebook_path": notebook}),
        st.dictionaries(st.sampled_from(["unknown", "cellIndex", "path "]), ANY_JSON, max_size=1),
    ).map(lambda pair: {**pair[0], **pair[1]})


def _is_valid(tool: Any, arguments: dict[str, Any]) -> bool:
    from pydantic import ValidationError

    try:
        tool.params.model_validate(arguments)
    except ValidationError:
        return False
    return True


async def test_any_arguments_get_a_schema_valid_result_or_a_clear_error_and_failures_change_nothing(
    mcp_client, make_notebook, jp_root_dir, jp_serverapp
):
    from jupyter_mcp_ext.app import TOOLS

    make_notebook(NOTEBOOK, CELLS)
    root = str(jp_root_dir)
    loop = asyncio.get_running_loop()
    async with mcp_client() as client:
        schemas = await output_schemas(client)
        offered = [tool for tool in TOOLS if tool.name in schemas]

        async def snapshot() -> str:
            result = await client.call_tool("read_all_cells", {"notebook_path": NOTEBOOK})
            return json.dumps(
                [
                    (c["cell_id"], c["cell_type"], c["source"])
                    for c in result.structured_content["cells"]
                ]
            )

        async def check(name: str, arguments: dict[str, Any]) -> None:
            before = await snapshot()
            result = await client.call_tool(name, arguments)  # a JSON-RPC error would raise here
            text = " ".join(getattr(block, "text", "") for block in result.content)
            assert text.strip(), f"{name}({arguments!r}) answered no text"
            assert root not in text, f"{name} showed the server's path: {text}"
            if result.is_error:
                assert "failed unexpectedly" not in text, f"{name}({arguments!r}): {text}"
                assert await snapshot() == before, (
                    f"the failed {name}({arguments!r}) changed the notebook"
                )
            else:
                jsonschema.validate(
                    result.structured_content, schemas[name], cls=jsonschema.Draft202012Validator
                )

        @settings(
            max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(data=st.data())
        def property_holds(data: st.DataObject) -> None:
            tool = data.draw(st.sampled_from(offered), label="tool")
            arguments = data.draw(_arguments(tool), label="arguments")
            if tool.name in RUNS_CODE | CREATES_FILES and _is_valid(tool, arguments):
                return
            asyncio.run_coroutine_threadsafe(check(tool.name, arguments), loop).result(timeout=60)

        await asyncio.to_thread(property_holds)
        status = await client.call_tool("get_notebook_info", {"notebook_path": NOTEBOOK})
        assert not status.is_error, status.content[0].text
