"""Configuration seen through the tools: MCPExtensionApp.max_output_chars caps outputs (with images
summarised and ANSI codes stripped), MCPExtensionApp.disabled_tools removes tools."""

from __future__ import annotations

import base64
import re
from typing import Any

import nbformat
import pytest
from conftest import call_error
from support import write_notebook
from tool_helpers import ALL_TOOLS, invoke, invoke_text

MAX_OUTPUT_CHARS = 80


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    jp_server_config["MCPExtensionApp"] = {
        "max_output_chars": MAX_OUTPUT_CHARS,
        "disabled_tools": ["delete_cell"],
    }
    return jp_server_config


LONG_STREAM = "".join(f"line {i:03d}\n" for i in range(50))  # 450 characters
PNG_B64 = base64.b64encode(bytes(range(256)) * 9).decode()  # 2304 bytes -> 3072 base64 characters
TRACEBACK = [
    "\x1b[0;31mZeroDivisionError\x1b[0m    Traceback",
    "\x1b[1;32m----> 1\x1b[0m \x1b[38;5;241m1\x1b[39m\x1b[38;5;241m/\x1b[39m\x1b[38;5;241m0\x1b[39m",
]


def outputs_notebook(root) -> str:
    return write_notebook(
        root,
        "out.ipynb",
        [
            nbformat.v4.new_markdown_cell("# Outputs"),
            nbformat.v4.new_code_cell(
                "for i in range(50): print(f'line {i:03d}')\n6 * 7\nshow()\n1/0",
                execution_count=5,
                outputs=[
                    nbformat.v4.new_output("stream", name="stdout", text=LONG_STREAM),
                    nbformat.v4.new_output(
                        "execute_result", data={"text/plain": "42"}, execution_count=5
                    ),
                    nbformat.v4.new_output(
                        "display_data",
                        data={"image/png": PNG_B64, "text/plain": "<Figure 640x480>"},
                    ),
                    nbformat.v4.new_output("display_data", data={"image/png": PNG_B64}),
                    nbformat.v4.new_output(
                        "error",
                        ename="ZeroDivisionError",
                        evalue="division by zero",
                        traceback=TRACEBACK,
                    ),
                ],
            ),
        ],
    )


async def test_outputs_are_capped_summarised_and_free_of_ansi(mcp_client, jp_root_dir):
    outputs_notebook(jp_root_dir)
    head, tail = MAX_OUTPUT_CHARS * 2 // 3, MAX_OUTPUT_CHARS - MAX_OUTPUT_CHARS * 2 // 3
    cut = len(LONG_STREAM) - MAX_OUTPUT_CHARS
    async with mcp_client() as client:
        cell = (await invoke(client, "read_all_cells", notebook_path="out.ipynb"))["cells"][1]
        assert (cell["execution_count"], cell["output_count"]) == (5, 5)
        stream, result, figure, image, error = cell["outputs"]

        # Long text keeps its head and tail and says how much was cut.
        assert stream["output_type"] == "stream"
        assert stream["text"] == (
            LONG_STREAM[:head] + f"\n[... {cut} characters omitted ...]\n" + LONG_STREAM[-tail:]
        )
        assert stream["omitted"] == [f"{cut} characters of text"]

        assert result == {"output_type": "execute_result", "text": "42", "omitted": []}

        # Images are never inlined: the text/plain stands in, the image is named by MIME type and size.
        assert figure == {
            "output_type": "display_data",
            "text": "<Figure 640x480>",
            "omitted": ["image/png (3.0 KB)"],
        }
        assert image == {
            "output_type": "display_data",
            "text": "",
            "omitted": ["image/png (3.0 KB)"],
        }
        assert PNG_B64[:40] not in str(cell)

        # Tracebacks arrive without terminal colour codes.
        assert error == {
            "output_type": "error",
            "omitted": [],
            "text": "ZeroDivisionError: division by zero\nZeroDivisionError    Traceback\n----> 1 1/0",
        }

        # The text content the model reads says the same.
        text = await invoke_text(client, "read_all_cells", notebook_path="out.ipynb")
        assert "\x1b" not in text and PNG_B64[:40] not in text
        assert f"[... {cut} characters omitted ...]" in text
        assert "(omitted: image/png (3.0 KB))" in text
        assert ">>> error:\nZeroDivisionError: division by zero" in text

        # read_cell and detailed read_notebook summarise the same way; brief read_notebook only counts.
        one = (await invoke(client, "read_cell", notebook_path="out.ipynb", cell_index=1))["cell"]
        assert one == cell
        detailed = await invoke(
            client, "read_notebook", notebook_path="out.ipynb", offset=1, detail="detailed"
        )
        assert detailed["cells"][0] == cell
        brief = await invoke(client, "read_notebook", notebook_path="out.ipynb", offset=1)
        assert brief["cells"][0]["output_count"] == 5 and brief["cells"][0].get("outputs") is None
        assert brief["cells"][0]["source"] == "for i in range(50): print(f'line {i:03d}') …"

        # Clearing removes them all.
        cleared = await invoke(client, "clear_cell_output", notebook_path="out.ipynb", cell_index=1)
        assert cleared["cleared"][0]["outputs_removed"] == 5


async def test_disabled_tool_is_not_listed_and_refused(mcp_client, make_notebook, jp_root_dir):
    make_notebook("d.ipynb", [("code", "keep")])
    async with mcp_client() as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == ALL_TOOLS - {"delete_cell"}
        message = await call_error(client, "delete_cell", notebook_path="d.ipynb", cell_index=0)
        assert message.startswith("Unknown tool 'delete_cell'.")
        assert "delete_cell" not in message.split("Available tools:")[1]
        cells = (await invoke(client, "read_all_cells", notebook_path="d.ipynb"))["cells"]
        assert [c["source"] for c in cells] == ["keep"]
        # The other editing tools still work.
        await invoke(
            client, "overwrite_cell_source", notebook_path="d.ipynb", cell_index=0, source="kept"
        )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_instructions_name_the_tools_offered_and_not_the_disabled_one(mcp_client, mode):
    async with mcp_client(mode) as client:
        instructions = client.instructions
        offered = {tool.name for tool in (await client.list_tools()).tools}
    assert "delete_cell" not in instructions
    assert set(re.findall(r"\b[a-z]+(?:_[a-z]+)*\b", instructions)) & ALL_TOOLS == offered
