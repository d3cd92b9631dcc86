"""The demo page at {base_url}mcp/demo, clicked through in headless Chromium: every button calls the
real MCP endpoint from the page with the user's Jupyter login, and JupyterLab beside it follows."""

from __future__ import annotations

from lab_browser import Lab, chromium
from playwright.async_api import Frame, Page
from support import eventually

ACTIVE_TAB = "#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel"


async def lab_frame(page: Page) -> Frame:
    frame = await (await page.query_selector("#lab")).content_frame()
    assert frame is not None
    return frame


async def log_lines(page: Page) -> list[str]:
    return await page.locator("#log li").all_text_contents()


async def logged(page: Page, *parts: str) -> str | None:
    """The first log line containing every part."""
    return next(
        (line for line in await log_lines(page) if all(part in line for part in parts)), None
    )


async def test_demo_page_buttons_work_end_to_end(lab: Lab):
    lab.notebook("demo-a.ipynb", [("markdown", "# Demo A")])
    lab.notebook("demo-b.ipynb", [("markdown", "# Demo B")])
    async with lab.mcp() as client, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1500, "height": 900})
        page.on("pageerror", lambda error: print("page error:", error))
        await page.goto(f"{lab.base}mcp/demo?token={lab.token}")
        await page.locator("#frame-state", has_text="ready").wait_for(timeout=30000)

        await page.fill("#path", "demo-a.ipynb")
        await page.click("#list-notebooks")
        assert await eventually(
            lambda: logged(page, "← list_notebooks", "demo-a.ipynb", "demo-b.ipynb"),
            "the listing logged",
        )
        options = page.locator("#notebooks option")
        assert "demo-a.ipynb" in [
            await options.nth(i).get_attribute("value") for i in range(await options.count())
        ]

        # Prepare: the notebook opens in the iframe (pushed by the server, no URL change).
        await page.click("#prepare-notebook")
        assert await eventually(
            lambda: logged(page, "← prepare_notebook", "demo-a.ipynb"), "prepare logged"
        )
        frame = await lab_frame(page)
        await frame.locator(ACTIVE_TAB, has_text="demo-a.ipynb").wait_for(timeout=10000)
        await page.locator("#active-notebook", has_text="demo-a.ipynb").wait_for()
        assert await lab.current_notebook(client) == "demo-a.ipynb"

        # Without a path the buttons act on the notebook in view.
        await page.fill("#path", "")
        await page.click("#append-markdown")
        assert await eventually(
            lambda: logged(page, "← append_markdown_cell", "demo-a.ipynb"),
            "the markdown cell logged",
        )
        await frame.locator(".jp-Cell", has_text="Notes from the agent").wait_for(timeout=10000)
        await page.click("#append-code")
        assert await eventually(
            lambda: logged(page, "← append_code_cell", "demo-a.ipynb"), "the code cell logged"
        )
        await frame.locator(
            ".jp-Cell .cm-content", has_text='print("hello from the agent")'
        ).wait_for(timeout=10000)
        await page.click("#run-cell")
        assert await eventually(
            lambda: logged(page, "← execute_cell", "hello from the agent"),
            "the run logged",
            timeout=60,
        )
        await frame.locator(".jp-OutputArea-output", has_text="hello from the agent").wait_for(
            timeout=10000
        )
        await page.click("#read-cells")
        read = await eventually(lambda: logged(page, "← read_all_cells"), "the read logged")
        assert (
            "Demo A" in read and "Notes from the agent" in read and "hello from the agent" in read
        )
        assert not await page.locator("#log li.error").count(), await log_lines(page)

        # Switching by iframe URL (a reload) and by postMessage (no reload); the agent follows both.
        await page.fill("#path", "demo-b.ipynb")
        await page.click("#switch-by-url")
        await page.locator("#active-notebook", has_text="demo-b.ipynb").wait_for(timeout=30000)
        await lab.wait_for_current(client, "demo-b.ipynb")
        frame = await lab_frame(page)
        await page.locator("#frame-state", has_text="ready").wait_for(timeout=30000)
        await frame.evaluate("window.sameDocument = true")
        await page.fill("#path", "demo-a.ipynb")
        await page.click("#switch-by-message")
        await page.locator("#active-notebook", has_text="demo-a.ipynb").wait_for(timeout=10000)
        await lab.wait_for_current(client, "demo-a.ipynb")
        assert await frame.evaluate("window.sameDocument") is True
        assert await eventually(
            lambda: logged(page, "⇠ frame", '"request":"open-notebook"', '"ok":true'),
            "the frame's answer logged",
        )
