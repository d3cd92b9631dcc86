"""Options given on a real `jupyter server` command line, as the README writes them."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from pathlib import Path

import httpx2
import pytest
from support import free_port, jupyter_server_command

import jupyter_mcp_ext

ORIGINS = "--MCPExtensionApp.allowed_frame_origins"


def start_server(tmp_path: Path, *options: str) -> tuple[subprocess.Popen, str, str]:
    """A `jupyter server` with ``options``; returns the process, its URL and its token."""
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    port, token = free_port(), secrets.token_hex(8)
    server = subprocess.Popen(
        jupyter_server_command(port, token, root, *options),
        cwd=tmp_path / "cwd",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # The server runs the same jupyter_mcp_ext as the tests (a checkout's, not an installed copy).
        env={
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(Path(jupyter_mcp_ext.__file__).parents[1]),
        },
    )
    return server, f"http://127.0.0.1:{port}/", token


def status_once_up(server: subprocess.Popen, url: str, token: str) -> httpx2.Response:
    """The running server's answer to GET api/status."""
    deadline = time.monotonic() + 60
    with httpx2.Client(headers={"Authorization": f"token {token}"}, timeout=10) as http:
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                return http.get(url + "api/status")
            except httpx2.TransportError:
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.2)


def frame_ancestors_once_up(server: subprocess.Popen, url: str, token: str) -> str:
    """The frame-ancestors directive the running server sends."""
    policy = status_once_up(server, url, token).headers["content-security-policy"]
    return next(
        part.strip() for part in policy.split(";") if part.strip().startswith("frame-ancestors")
    )


def refusal_to_start(tmp_path: Path, *options: str) -> str:
    """What a server given ``options`` printed before it exited with an error."""
    server, _, _ = start_server(tmp_path, *options)
    try:
        _, stderr = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode != 0, stderr
    return stderr


@pytest.mark.parametrize(
    "options",
    [
        [
            f'{ORIGINS}=["https://platform.example.com", "http://localhost:3000"]'
        ],  # the README's form
        [f"{ORIGINS}=https://platform.example.com", f"{ORIGINS}=http://localhost:3000"],
    ],
    ids=["list-literal", "repeated"],
)
def test_allowed_frame_origins_from_the_command_line_reach_the_csp_header(tmp_path, options):
    server, url, token = start_server(tmp_path, *options)
    try:
        policy = frame_ancestors_once_up(server, url, token)
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert policy == "frame-ancestors 'self' https://platform.example.com http://localhost:3000"


@pytest.mark.parametrize(
    "value",
    [
        "https://platform.example.com/path",
        '["https://platform.example.com", 3]',
        "platform.example.com",
    ],
    ids=["path", "not-strings", "no-scheme"],
)
def test_an_invalid_allowed_frame_origin_stops_the_server_naming_the_option(tmp_path, value):
    stderr = refusal_to_start(tmp_path, f"{ORIGINS}={value}")
    assert "MCPExtensionApp.allowed_frame_origins" in stderr
    assert "does not start" in stderr
    assert "e.g. 'https://platform.example.com'" in stderr


@pytest.mark.parametrize(
    ("option", "value", "valid"),
    [
        (
            "execution_timeout",
            "0",
            "it must be a finite number greater than 0 (the default is 120)",
        ),
        ("max_images", "-1", "it must be 0 or a larger finite number (the default is 4)"),
    ],
    ids=["timeout-zero", "cap-negative"],
)
def test_a_timeout_or_cap_out_of_range_stops_the_server_naming_the_option(
    tmp_path, option, value, valid
):
    stderr = refusal_to_start(tmp_path, f"--MCPExtensionApp.{option}={value}")
    assert f"MCPExtensionApp.{option}: " in stderr
    assert "does not start" in stderr
    assert valid in stderr


def test_no_image_content_and_no_room_delay_are_valid_settings(tmp_path):
    options = ["--MCPExtensionApp.max_images=0", "--MCPExtensionApp.room_idle_close_delay=0"]
    server, url, token = start_server(tmp_path, *options)
    try:
        status = status_once_up(server, url, token)
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert status.status_code == 200
