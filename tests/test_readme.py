"""The README's examples work as written."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python_snippet() -> str:
    """The code block under the README's "Python (official SDK)" heading."""
    text = README.read_text()
    section = text.split("**Python (official SDK)**", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


async def test_the_readmes_python_snippet_runs_as_a_script(mcp_url, token, make_notebook, tmp_path):
    make_notebook("analysis.ipynb")
    snippet = readme_python_snippet()
    assert "<token>" in snippet and "http://localhost:8888/mcp" in snippet
    script = tmp_path / "snippet.py"
    script.write_text(
        snippet.replace("<token>", token).replace("http://localhost:8888/mcp", mcp_url)
    )
    # A subprocess of its own, not blocking the loop the test server runs in.
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    assert "analysis.ipynb" in stdout.decode(), stdout.decode()
