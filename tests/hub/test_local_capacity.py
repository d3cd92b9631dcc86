"""A full hub says so: over its server limit or short of memory, a start is refused at once with
a status and a message the API client and the person can read — not a hang, not an HTML page."""

from __future__ import annotations

import re

import httpx2

from .local_hub import PASSWORD


async def test_a_start_over_the_server_limit_gets_429_with_a_readable_message(start_hub):
    hub = await start_hub(ACTIVE_SERVER_LIMIT="1")
    await hub.start_server("alice")

    refused = await hub.request_start("bob")

    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/json")
    assert refused.json()["message"] == "Active user limit exceeded. Try again in a few minutes."
    assert not await hub.running("bob")


async def test_a_start_the_host_has_no_memory_for_is_refused_with_what_it_needs(start_hub):
    hub = await start_hub(MEM_LIMIT="1G", MEM_RESERVE="64T")

    refused = await hub.request_start("alice")

    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/json")
    message = refused.json()["message"]
    assert "it needs 65537 GiB (its limit of 1 GiB plus 65536 GiB kept free" in message
    assert re.search(r"and [\d.]+ [GM]iB is available\. Try again later", message), message
    assert not await hub.running("alice")


async def test_a_person_starting_a_server_the_host_has_no_memory_for_sees_the_message(start_hub):
    hub = await start_hub(MEM_RESERVE="64T")
    async with httpx2.AsyncClient(base_url=hub.url, timeout=60) as browser:
        login = await browser.get("hub/login")
        xsrf = browser.cookies["_xsrf"]
        await browser.post(
            "hub/login", data={"username": "alice", "password": PASSWORD, "_xsrf": xsrf}
        )
        page = await browser.get("hub/spawn", follow_redirects=True)

    assert login.status_code == 200
    assert page.status_code == 503
    assert "Not enough memory on this host to start your server now" in page.text
    assert "Try again later" in page.text
