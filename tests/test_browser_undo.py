"""In a real JupyterLab (headless Chromium): the person takes an agent's change back with the
notebook toolbar's "Undo agent" button, which says which agent and which step it will undo; the
command palette has "Undo agent change" and "Redo agent change"; a refused undo is explained."""

from __future__ import annotations

import contextlib

from conftest import call
from lab_browser import Lab, chromium
from mcp import Client
from playwright.async_api import Locator, Page
from support import eventually
from test_agents import agent as named_agent

UNDO_BUTTON = '.jp-NotebookPanel-toolbar [data-command="jupyter-mcp-ext:undo-agent-change"]'


def agent(lab: Lab) -> contextlib.AbstractAsyncContextManager[Client]:
    """An MCP client that names itself, as Claude Code does."""
    return named_agent(lab.base + "mcp", lab.token, "Claude Code", "auto")


async def sources_on_screen(page: Page) -> list[str]:
    """The sources of the notebook's cells as JupyterLab shows them."""
    return await page.evaluate(
        "() => [...document.querySelectorAll('.jp-Notebook .jp-Cell .cm-content')]"
        ".map(e => e.innerText)"
    )


async def sources_in_live_doc(client: Client, path: str) -> list[str]:
    cells = await call(client, "read_all_cells", notebook_path=path)
    return [cell["source"] for cell in cells["cells"]]


async def disabled(button: Locator) -> bool:
    """Greyed out (a toolkit <jp-button>: aria-disabled, which Playwright's is_disabled ignores)."""
    return await button.get_attribute("aria-disabled") == "true"


async def run_from_palette(page: Page, label: str) -> None:
    await page.keyboard.press("Control+Shift+C")
    await page.keyboard.type(label)
    item = page.locator(".lm-CommandPalette-item", has_text=label)
    await item.first.wait_for(timeout=10000)
    await page.keyboard.press("Enter")


async def test_the_toolbar_button_names_the_agent_and_step_and_undoes_its_inserted_cell(lab: Lab):
    path = lab.notebook("undo.ipynb", [("code", "x = 1")])
    async with agent(lab) as client, chromium() as browser:
        page = await browser.new_page()
        await lab.show(page, client, path, workspace="undo")
        button = page.locator(UNDO_BUTTON)
        await button.wait_for(timeout=10000)
        assert await disabled(button), "nothing to undo yet"

        inserted = await call(
            client, "insert_execute_code_cell", notebook_path=path, source="y = 2"
        )
        await eventually(
            lambda: sources_on_screen(page),
            "the agent's cell on screen",
            until=lambda sources: sources == ["x = 1", "y = 2"],
        )
        tooltip = await eventually(
            lambda: button.get_attribute("title"),
            "the button naming the agent and its step",
            until=lambda title: (title or "").startswith("Undo Claude Code · agent of "),
        )
        assert ": insert_execute_code_cell" in tooltip and inserted["cell_id"] in tooltip
        assert not await disabled(button)

        await button.click()
        await eventually(
            lambda: sources_on_screen(page),
            "the agent's cell gone from the screen",
            until=lambda sources: sources == ["x = 1"],
        )
        assert await eventually(
            lambda: sources_in_live_doc(client, path),
            "the agent's cell gone from the live notebook",
            until=lambda sources: sources == ["x = 1"],
        )
        await eventually(lambda: disabled(button), "the button greyed out: nothing left to undo")

        await run_from_palette(page, "Redo agent change")
        await eventually(
            lambda: sources_on_screen(page),
            "the agent's cell back on screen",
            until=lambda sources: sources == ["x = 1", "y = 2"],
        )
        await page.keyboard.press("Control+Shift+C")
        await page.keyboard.type("agent change")
        labels = page.locator(".lm-CommandPalette-item .lm-CommandPalette-itemLabel")
        await labels.first.wait_for(timeout=10000)
        assert {"Undo agent change", "Redo agent change"} <= set(await labels.all_inner_texts())


async def test_an_undo_refused_because_the_person_typed_in_the_agents_cell_is_explained(lab: Lab):
    path = lab.notebook("refused.ipynb", [("code", "x = 1")])
    async with agent(lab) as client, chromium() as browser:
        page = await browser.new_page()
        await lab.show(page, client, path, workspace="refused")
        inserted = await call(
            client, "insert_execute_code_cell", notebook_path=path, source="y = 2"
        )
        editor = page.locator(".jp-Notebook .jp-Cell .cm-content").nth(1)
        await editor.wait_for(timeout=10000)
        await editor.click()
        await page.keyboard.press("End")
        await page.keyboard.type("  # mine")
        await eventually(
            lambda: sources_in_live_doc(client, path),
            "the person's typing in the live notebook",
            until=lambda sources: sources == ["x = 1", "y = 2  # mine"],
        )

        button = page.locator(UNDO_BUTTON)
        await eventually(lambda: disabled(button), "the button enabled", until=lambda off: not off)
        await button.click()
        dialog = page.locator(".jp-Dialog")
        await dialog.wait_for(timeout=10000)
        assert "Undo agent change" in await dialog.locator(".jp-Dialog-header").inner_text()
        reason = await dialog.locator(".jp-Dialog-body").inner_text()
        assert "insert_execute_code_cell" in reason and inserted["cell_id"] in reason
        assert await sources_in_live_doc(client, path) == ["x = 1", "y = 2  # mine"]
