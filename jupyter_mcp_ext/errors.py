"""The one exception for a problem the caller can fix, raised by every layer (paths, rooms, kernels, tools)."""


class UsageError(Exception):
    """A problem the caller can fix (an agent via MCP, a JupyterLab window or a platform via REST): the
    message names it and says what would be valid. server.py makes it a tool error result, handlers.py
    an HTTP 400."""
