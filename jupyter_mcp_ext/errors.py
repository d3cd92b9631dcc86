"""The one exception tools raise for bad input; it becomes an MCP tool error result."""


class ToolError(Exception):
    """A problem the agent can fix: the message names it and says what would be valid."""
