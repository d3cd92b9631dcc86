import time
from conftest import call, call_error, read_disk

async def test_probe(mcp_client, make_notebook, jp_root_dir, tmp_path):
    make_notebook("u.ipynb", [("markdown", "😀 hi")])
    async with mcp_client() as client:
        t = time.monotonic()
        try:
            r = await client.call_tool("edit_cell_source", {"notebook_path": "u.ipynb", "cell_index": 0, "old_text": "hi", "new_text": "yo"}, read_timeout_seconds=3)
            print("RES", r)
        except BaseException as e:
            print("EXC", type(e), e, time.monotonic() - t)
        r = await client.call_tool("read_cell", {"notebook_path": "u.ipynb", "cell_index": 0})
        print("RES", r.content[0].text)
