#!/bin/sh
# The local demo hub in one command: http://127.0.0.1:8000 (or $MCP_HUB_PORT), users alice and bob
# (the password is printed at start). State (database, notebooks) goes to $MCP_HUB_STATE_DIR, by default
# ~/.local/state/jupyter-mcp-ext/hub-demo. Extra arguments go to jupyterhub.
# NOT isolated: every user's server runs as you (deploy/README.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v configurable-http-proxy >/dev/null; then
    echo "configurable-http-proxy is missing: npm install -g configurable-http-proxy@5" >&2
    exit 1
fi
state=${MCP_HUB_STATE_DIR:-"${XDG_STATE_HOME:-$HOME/.local/state}/jupyter-mcp-ext/hub-demo"}
mkdir -p "$state"
cd "$state"
exec jupyterhub -f "$here/jupyterhub_config.py" "$@"
