import contextlib, http.cookiejar
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from conftest import call, call_error

async def test_probe(mcp_url, token, make_notebook):
    make_notebook("one.ipynb", [("code", "x")])
    for mode in ["auto", "legacy"]:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
            http.cookies.jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[])) if False else None
            http.cookies.jar.set_policy(__import__("http.cookiejar").cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            try:
                async with Client(streamable_http_client(mcp_url, http_client=http), mode=mode) as client:
                    r = await client.call_tool("prepare_notebook", {"notebook_path": "one.ipynb"})
                    print(mode, "prepare", r.is_error, r.content[0].text)
                    r = await client.call_tool("read_all_cells", {})
                    print(mode, "read", r.is_error, r.content[0].text)
                    print(mode, "cookies", list(http.cookies.jar))
            except BaseException as e:
                print(mode, "EXC", type(e), e); import traceback; traceback.print_exception(e)
