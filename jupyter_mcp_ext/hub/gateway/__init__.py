"""The MCP hub gateway: one MCP URL for every user of a JupyterHub (``python -m
jupyter_mcp_ext.hub.gateway``, run by the hub as a service). app.py assembles it."""
