"""Running the extension's servers under JupyterHub: what the hub's configuration plugs in.

Only this package imports JupyterHub, and only in the modules that need it: the extension itself
runs without it.
"""
