"""jupyter-mcp-ext: the Model Context Protocol served inside Jupyter Server."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("jupyter-mcp-ext")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"


def _jupyter_server_extension_points() -> list[dict]:
    from .app import MCPExtensionApp

    return [{"module": "jupyter_mcp_ext", "app": MCPExtensionApp}]
