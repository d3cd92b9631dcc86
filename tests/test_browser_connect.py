""" "Connect an AI agent…" in JupyterLab (headless Chromium): the person sees this server's MCP URL
and client configurations ready to paste, with the token filled in."""

from __future__ import annotations

import json

from lab_browser import Lab, chromium


async def test_connect_an_ai_agent_shows_the_mcp_url_and_ready_to_paste_configs(lab: Lab):
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(lab.lab_url(workspace="connect"))
        await page.locator(".jp-Launcher").first.wait_for(timeout=30000)
        await page.keyboard.press("Control+Shift+C")  # the command palette
        await page.keyboard.type("Connect an AI agent")
        await page.keyboard.press("Enter")
        dialog = page.locator(".jp-Dialog .jp-mcp-connect")
        await dialog.wait_for(timeout=10000)

        url = f"{lab.base}mcp"
        assert await dialog.locator("code").inner_text() == url
        blocks = dialog.locator("pre")
        assert await blocks.nth(0).inner_text() == (
            f'claude mcp add --transport http jupyter {url} --header "Authorization: Bearer {lab.token}"'
        )
        server = json.loads(await blocks.nth(1).inner_text())["mcpServers"]["jupyter"]
        assert server == {
            "type": "http",
            "url": url,
            "headers": {"Authorization": f"Bearer {lab.token}"},
        }
        assert "not part of a JupyterHub" in await dialog.inner_text()

        await dialog.locator("input").fill("another-token")  # the configs follow the field
        assert "Bearer another-token" in await blocks.nth(0).inner_text()
