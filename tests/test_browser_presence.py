"""In a real JupyterLab (headless Chromium): the agent's cursor and name flag show in the cell it
edits and follow it to the next cell; the collaborators panel lists it."""

from __future__ import annotations

from conftest import call
from lab_browser import Lab, chromium
from playwright.async_api import Page
from support import eventually
from test_agents import agent


async def cells_with_a_remote_cursor(page: Page) -> list[int]:
    """Indexes of the notebook's cells in whose editor another collaborator's cursor shows."""
    return await page.evaluate(
        """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].flatMap(
            (cell, index) => cell.querySelector('.jp-remote-cursor') ? [index] : [])"""
    )


async def name_flags(page: Page) -> list[str]:
    """The names on collaborators' cursor flags (tooltips, outside the cells' DOM)."""
    return await page.evaluate(
        "() => [...document.querySelectorAll('.jp-remote-userFlag-name')].map(e => e.textContent)"
    )


async def test_jupyterlab_shows_the_agents_cursor_and_name_in_the_cell_it_edits(lab: Lab):
    path = lab.notebook("presence.ipynb", [("code", "x = 1"), ("code", "y = 2")])
    async with (
        agent(lab.base + "mcp", lab.token, "Claude Code", "auto") as client,
        chromium() as browser,
    ):
        page = await browser.new_page()
        await lab.show(page, client, path, workspace="presence")
        await page.locator(".jp-Notebook .jp-Cell .cm-content").first.wait_for()

        await call(
            client, "overwrite_cell_source", notebook_path=path, cell_index=0, source="x = 3"
        )
        await eventually(
            lambda: cells_with_a_remote_cursor(page),
            "the agent's cursor in the first cell",
            until=lambda cells: cells == [0],
        )
        [name] = await eventually(lambda: name_flags(page), "the agent's name flag")
        assert name.startswith("Claude Code · agent of ")
        await eventually(
            lambda: page.locator(".jp-CollaboratorsList").text_content(),
            "the agent in the collaborators panel",
            until=lambda listed: name in listed,
        )

        await call(
            client, "overwrite_cell_source", notebook_path=path, cell_index=1, source="y = 4"
        )
        await eventually(
            lambda: cells_with_a_remote_cursor(page),
            "the agent's cursor in the second cell",
            until=lambda cells: cells == [1],
        )
