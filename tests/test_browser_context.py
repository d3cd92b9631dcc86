"""The agent's context follows the notebook on screen, in a real JupyterLab in headless Chromium:
also inside an iframe of a platform page on another port, switched by URL, by tab clicks and by
postMessage; agents open notebooks in the running browser and their edits appear there."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from conftest import call
from lab_browser import Lab, StaticSite, chromium, prepare
from playwright.async_api import Frame, Page
from support import eventually

ACTIVE_TAB = "#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel"


async def active_tab(target: Page | Frame) -> str | None:
    label = target.locator(ACTIVE_TAB)
    return await label.first.text_content() if await label.count() else None


async def messages(page: Page, type_: str) -> list[dict]:
    """Messages of ``type_`` the page received from JupyterLab, with their origins."""
    received = await page.evaluate("window.received")
    return [m for m in received if isinstance(m["data"], dict) and m["data"].get("type") == type_]


async def lab_frame(page: Page) -> Frame:
    handle = await page.query_selector("#lab")
    frame = await handle.content_frame()
    assert frame is not None
    return frame


async def test_iframe_src_tab_click_and_post_message_move_the_agents_context(
    lab: Lab, platform: StaticSite
):
    for name in ("a.ipynb", "b.ipynb", "c.ipynb"):
        lab.notebook(name, [("markdown", f"# {name}")])
    async with lab.mcp() as client, chromium() as browser:
        page = await browser.new_page()
        await page.goto(
            platform.url("embed.html")
            + "?"
            + urlencode({"src": lab.lab_url("a.ipynb", workspace="embed"), "lab": lab.origin})
        )
        await lab.wait_for_current(client, "a.ipynb", timeout=30)  # cold start of JupyterLab
        ready = await eventually(
            lambda: messages(page, "jupyter-mcp:ready"), what="the frame's ready message"
        )
        assert ready[0]["origin"] == lab.origin
        assert ready[0]["data"]["window"]

        # The platform switches notebooks by changing the iframe's URL (the login cookie carries it).
        await page.evaluate(
            "url => { document.getElementById('lab').src = url; }",
            lab.lab_url("b.ipynb", workspace="embed", token=False),
        )
        took = await lab.wait_for_current(client, "b.ipynb", timeout=5)
        print(f"iframe src a -> b: path-less calls act on b after {took:.2f} s")
        frame = await lab_frame(page)
        assert await eventually(lambda: active_tab(frame), "an active tab") == "b.ipynb"

        # Opening by postMessage: no reload (a mark left in the frame's window survives).
        await eventually(lambda: _ready_count(page, 2), what="the reloaded frame's ready message")
        await frame.evaluate("window.sameDocument = true")
        await page.evaluate(
            "labOrigin => document.getElementById('lab').contentWindow.postMessage("
            "{type: 'jupyter-mcp:open-notebook', path: 'c.ipynb', requestId: 'open-c'}, labOrigin)",
            lab.origin,
        )
        took = await lab.wait_for_current(client, "c.ipynb", timeout=5)
        print(f"postMessage open c: path-less calls act on c after {took:.2f} s")
        (result,) = await eventually(
            lambda: messages(page, "jupyter-mcp:result"), what="the result message"
        )
        assert result["origin"] == lab.origin
        assert result["data"] == {
            "type": "jupyter-mcp:result",
            "request": "open-notebook",
            "requestId": "open-c",
            "ok": True,
            "path": "c.ipynb",
        }
        assert await frame.evaluate("window.sameDocument") is True
        active = await messages(page, "jupyter-mcp:active-notebook")
        assert active[-1]["data"]["path"] == "c.ipynb"

        # A click on the other tab inside the frame moves the context back.
        await frame.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="b.ipynb").click()
        took = await lab.wait_for_current(client, "b.ipynb", timeout=5)
        print(f"tab click c -> b: path-less calls act on b after {took:.2f} s")
        assert (await messages(page, "jupyter-mcp:active-notebook"))[-1]["data"][
            "path"
        ] == "b.ipynb"

        # A request that cannot be served is answered with the reason; the view stays as it was.
        await page.evaluate(
            "labOrigin => document.getElementById('lab').contentWindow.postMessage("
            "{type: 'jupyter-mcp:open-notebook', path: 'missing.ipynb', requestId: 7}, labOrigin)",
            lab.origin,
        )
        failed = await eventually(lambda: _result(page, 7), what="the failed request's result")
        assert failed["ok"] is False and "missing.ipynb" in failed["error"]
        assert await active_tab(frame) == "b.ipynb"
        assert await lab.current_notebook(client) == "b.ipynb"


async def _ready_count(page: Page, count: int) -> bool:
    return len(await messages(page, "jupyter-mcp:ready")) >= count


async def _result(page: Page, request_id: object) -> dict | None:
    for message in await messages(page, "jupyter-mcp:result"):
        if message["data"].get("requestId") == request_id:
            return message["data"]
    return None


async def test_prepare_notebook_opens_it_in_the_running_browser(lab: Lab):
    lab.notebook("first.ipynb")
    lab.notebook("dir/second.ipynb")
    async with lab.mcp() as client, chromium() as browser:
        page = await browser.new_page()
        await lab.show(page, client, "first.ipynb", workspace="prepare")

        started = time.monotonic()
        await prepare(client, "dir/second.ipynb")
        assert await eventually(
            lambda: _is_active(page, "second.ipynb"), timeout=5, what="second.ipynb shown"
        )
        print(f"prepare_notebook → tab active in {time.monotonic() - started:.2f} s")
        # The UI's own report agrees: the context stays on the notebook now on screen.
        await lab.wait_for_current(client, "dir/second.ipynb")


async def test_prepare_notebook_reaches_the_other_windows_once_the_last_used_one_closed(lab: Lab):
    lab.notebook("closing.ipynb")
    lab.notebook("next.ipynb")
    async with lab.mcp() as client, chromium() as browser:
        context = await browser.new_context()
        waiting = await context.new_page()  # a window showing no notebook yet
        await waiting.goto(lab.lab_url(workspace="waiting"))
        await waiting.locator(".jp-Launcher").first.wait_for(timeout=30000)
        used = await context.new_page()
        await lab.show(used, client, "closing.ipynb", workspace="closing", token=False)

        await used.close(run_before_unload=True)  # the window tells the server it is gone
        await eventually(lambda: _last_window_forgotten(lab), what="the closed window forgotten")
        await prepare(client, "next.ipynb")
        assert await eventually(
            lambda: _is_active(waiting, "next.ipynb"), timeout=5, what="next.ipynb opened"
        )


async def _last_window_forgotten(lab: Lab) -> bool:
    async with lab.api() as http:
        return (await http.get(lab.base + "mcp/current-notebook")).json()["window"] is None


async def _is_active(page: Page | Frame, name: str) -> bool:
    return await active_tab(page) == name


async def test_agent_cells_and_outputs_appear_in_the_browser(lab: Lab):
    lab.notebook("shown.ipynb", [("markdown", "# Shown")])
    async with lab.mcp() as client, chromium() as browser:
        page = await browser.new_page()
        await lab.show(page, client, "shown.ipynb", workspace="cells")

        # Path-less: the notebook on screen.
        added = await call(client, "append_code_cell", source="print('from the agent', 6 * 7)")
        assert added["notebook_path"] == "shown.ipynb"
        editor = page.locator(".jp-Notebook .jp-Cell .cm-content", has_text="from the agent")
        await editor.wait_for(timeout=10000)

        ran = await call(client, "execute_cell", cell_id=added["cell_id"], timeout=60)
        assert ran["status"] == "ok"
        output = page.locator(".jp-Notebook .jp-OutputArea-output", has_text="from the agent 42")
        await output.wait_for(timeout=10000)
        prompt = (
            page.locator(".jp-Notebook .jp-Cell")
            .nth(added["cell_index"])
            .locator(".jp-InputPrompt")
        )
        assert "[1]" in (await prompt.text_content() or "")


@pytest.mark.parametrize("scenario", ["following", "turned off", "user typing"])
async def test_the_ui_follows_the_agent_to_a_cell_below_the_fold_unless_turned_off_or_typing(
    lab: Lab, scenario
):
    path = lab.notebook(
        f"long-{scenario.replace(' ', '-')}.ipynb",
        [("markdown", f"## Section {i}\n\ntext") for i in range(60)],
    )
    async with lab.mcp() as client, chromium() as browser:
        await set_follow_agent(lab, scenario != "turned off")
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 700})
            await lab.show(page, client, path, workspace=f"follow-{scenario.replace(' ', '-')}")
        finally:
            await set_follow_agent(lab, True)
        top = page.locator(".jp-Notebook .jp-Cell").first
        await eventually(lambda: _in_view(page, top), what="the notebook shown from the top")
        if scenario == "user typing":
            await top.click()
            await page.keyboard.press("Enter")  # edit mode: the cell's editor has the focus
            await page.keyboard.type("my own words")

        added = await call(
            client, "append_markdown_cell", source=f"**the agent was here ({scenario})**"
        )
        assert added["cell_index"] == 60
        cell = page.locator(".jp-Notebook .jp-Cell", has_text=f"the agent was here ({scenario})")
        if scenario == "following":
            await eventually(
                lambda: _in_view(page, cell), timeout=5, what="the agent's cell scrolled into view"
            )
        else:  # the view stays where the user is
            await cell.wait_for(state="attached", timeout=10000)
            await page.wait_for_timeout(1500)
            assert await _in_view(page, top)
            assert not await _in_view(page, cell)
        if scenario == "user typing":
            assert "my own words" in await top.locator(".cm-content").text_content()


async def _in_view(page: Page, locator) -> bool:
    if not await locator.count():
        return False
    return await locator.first.evaluate(
        """node => {
            const box = node.getBoundingClientRect();
            const view = node.closest('.jp-NotebookPanel').getBoundingClientRect();
            return box.height > 0 && box.top >= view.top - 1 && box.bottom <= view.bottom + 1;
        }"""
    )


async def set_follow_agent(lab: Lab, follow: bool) -> None:
    """Save the setting as the Settings Editor does (JupyterLab's settings API); pages load it at start."""
    async with lab.api() as http:
        response = await http.put(
            lab.base + "lab/api/settings/jupyter-mcp-ext:plugin",
            json={"raw": json.dumps({"followAgent": follow})},
        )
    assert response.status_code == 204, response.text


async def test_renaming_and_closing_the_notebook_on_screen_move_the_context(lab: Lab):
    lab.notebook("draft.ipynb", [("markdown", "# Draft")])
    async with lab.mcp() as client, chromium() as browser:
        page = await browser.new_page()
        await lab.show(page, client, "draft.ipynb", workspace="rename")

        # File > Rename Notebook…, as a user does it.
        await page.locator(".jp-NotebookPanel .jp-Notebook:visible").click()
        await page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
        await page.locator(".lm-Menu-itemLabel", has_text="Rename Notebook").click()
        name = page.locator(".jp-Dialog input")
        await name.fill("final.ipynb")
        await page.locator(".jp-Dialog .jp-mod-accept").click()
        await lab.wait_for_current(client, "final.ipynb", timeout=5)

        # Closing the last notebook leaves no current notebook: path-less calls say what to do.
        tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="final.ipynb")
        # JupyterLab marks the renamed document dirty until its save under the new name; closing
        # before that asks "Save your work?", as it would ask a person.
        await page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-dirty").wait_for(
            state="detached", timeout=10000
        )
        await tab.locator(".lm-TabBar-tabCloseIcon").click()
        try:
            await tab.wait_for(state="detached", timeout=10000)
        except Exception:
            dialog = page.locator(".jp-Dialog")
            raise AssertionError(
                f"the tab did not close; dialog: {await dialog.all_text_contents()}"
            ) from None
        try:
            await eventually(
                lambda: _no_current(lab, client), timeout=10, what="no current notebook"
            )
        except AssertionError as error:
            async with lab.api() as http:
                state = (await http.get(lab.base + "mcp/current-notebook")).json()
            raise AssertionError(f"{error}; server state {state}") from None
        error = (await client.call_tool("get_notebook_info", {})).content[0].text
        assert "no current notebook" in error and "prepare_notebook" in error


async def _no_current(lab: Lab, client) -> bool:
    return await lab.current_notebook(client) is None


async def test_of_two_windows_of_the_same_user_the_most_recently_focused_wins(lab: Lab):
    lab.notebook("left.ipynb")
    lab.notebook("right.ipynb")
    async with lab.mcp() as client, chromium() as browser:
        context = await browser.new_context()
        left = await context.new_page()
        await lab.show(left, client, "left.ipynb", workspace="left")
        right = await context.new_page()
        await lab.show(right, client, "right.ipynb", workspace="right", token=False)

        await turn_to(left)
        await lab.wait_for_current(client, "left.ipynb")
        await turn_to(right)
        await lab.wait_for_current(client, "right.ipynb")

        # An agent's choice is newer than both, and opens in the window the user used last.
        await prepare(client, "left.ipynb")
        await lab.wait_for_current(client, "left.ipynb")
        await eventually(
            lambda: _is_active(right, "left.ipynb"), what="left.ipynb opened in the right window"
        )
        assert await left.locator(".jp-NotebookPanel").count() == 1
        # The user goes back to their tab: the context follows.
        await right.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="right.ipynb").click()
        await lab.wait_for_current(client, "right.ipynb")


async def turn_to(window: Page) -> None:
    """What a user does: bring the window to the front and click into its notebook."""
    await window.bring_to_front()
    await window.locator(".jp-NotebookPanel .jp-Notebook:visible").click()


async def test_messages_from_a_disallowed_origin_are_ignored(
    lab: Lab, platform: StaticSite, stranger: StaticSite
):
    lab.notebook("home.ipynb")
    lab.notebook("target.ipynb")
    open_target = "{type: 'jupyter-mcp:open-notebook', path: 'target.ipynb', requestId: 'x'}"
    async with lab.mcp() as client, chromium() as browser:
        context = await browser.new_context()
        # A stranger's page opens JupyterLab in a window (it may not frame it) and messages it.
        for site in (stranger, platform):
            opener = await context.new_page()
            await opener.goto(site.url("opener.html"))
            async with context.expect_page() as popup_info:
                await opener.evaluate(
                    "url => { window.lab = window.open(url); }",
                    lab.lab_url("home.ipynb", workspace=f"opened-{site.origin[-5:]}"),
                )
            popup = await popup_info.value
            await lab.wait_for_current(client, "home.ipynb", timeout=30)
            await eventually(
                lambda popup=popup: _is_active(popup, "home.ipynb"), what="home.ipynb shown"
            )
            await opener.evaluate(
                f"labOrigin => window.lab.postMessage({open_target}, labOrigin)", lab.origin
            )
            if site is stranger:
                await popup.wait_for_timeout(2000)
                assert await opener.evaluate("window.received") == []
                assert await active_tab(popup) == "home.ipynb"
                assert await lab.current_notebook(client) == "home.ipynb"
            else:  # the same message from an allowed origin is served, and answered to that origin
                await eventually(
                    lambda popup=popup: _is_active(popup, "target.ipynb"),
                    what="target.ipynb opened",
                )
                received = await eventually(
                    lambda opener=opener: opener.evaluate("window.received"), what="the reply"
                )
                assert received[0]["origin"] == lab.origin
                assert received[0]["data"]["ok"] is True
            await popup.close()


async def test_a_page_of_a_disallowed_origin_cannot_frame_jupyterlab(
    lab: Lab, stranger: StaticSite
):
    lab.notebook("framed.ipynb")
    async with chromium() as browser:
        page = await browser.new_page()
        refused = []
        page.on(
            "console",
            lambda message: (
                refused.append(message.text) if "frame-ancestors" in message.text else None
            ),
        )
        await page.goto(
            stranger.url("embed.html")
            + "?"
            + urlencode(
                {"src": lab.lab_url("framed.ipynb", workspace="stranger"), "lab": lab.origin}
            )
        )
        await eventually(lambda: _copy(refused), what="Chromium's frame-ancestors refusal")
        await page.wait_for_timeout(1000)
        assert await page.evaluate("window.received") == []


async def _copy(items: list) -> list:
    return list(items)
