"""JupyterHub on one Docker host: one container per user, each a Jupyter server with jupyter-mcp-ext
(MCP at /user/<name>/mcp), reachable only through the hub's proxy.

Build the images with build-images.sh, then run `jupyterhub -f jupyterhub_config.py` on the host
(see the Docker section of deploy/README.md). Read from the environment: JUPYTERHUB_DB_URL (the hub database),
MCP_HUB_IMAGE and MCP_HUB_SCIPY_IMAGE (the templates' images), MCP_HUB_PUBLIC_URL, MCP_GATEWAY_PORT and
MCP_GATEWAY_DB_URL (the MCP gateway). The rest is set here; a site
changes it in this file or in a config that `load_subconfig`s this one.
"""

import logging
import os
import sys

from dockerspawner import DockerSpawner
from jupyterhub.utils import random_port
from traitlets import default

c = get_config()  # noqa: F821 (JupyterHub provides get_config to config files)


class HostNetworkDockerSpawner(DockerSpawner):
    """A DockerSpawner whose containers share the host's network: each server listens on
    127.0.0.1 on a port of its own, picked free at each start (Docker's port mapping does not
    apply to host networking, and every container would otherwise take DockerSpawner's 8888)."""

    @default("use_internal_ip")
    def _no_port_mapping(self):
        return True  # the server's own address is the host's: nothing to map (Docker refuses to)

    async def start(self):
        self.port = random_port()
        return await super().start()

    async def get_ip_and_port(self):
        return self.ip, self.port


# -- Where things listen --------------------------------------------------------------------------
# Users and agents reach the proxy only; the hub API and the servers stay on loopback. Put TLS in
# front (a reverse proxy, or c.JupyterHub.ssl_cert/ssl_key) and bind the public address there.
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.JupyterHub.hub_ip = "127.0.0.1"

# Host networking: every container's server binds 127.0.0.1 on its own port, so nothing but the
# proxy can reach it from outside the host, and the container reaches the hub API on 127.0.0.1.
# Production alternative with network isolation between containers: a user-defined Docker network
# (`docker network create jupyterhub`), the hub itself in a container on it, and
#   c.JupyterHub.spawner_class = DockerSpawner
#   c.DockerSpawner.network_name = "jupyterhub"   # implies use_internal_ip: proxy -> <ip>:8888
#   c.JupyterHub.hub_ip = "0.0.0.0"
#   c.JupyterHub.hub_connect_ip = "jupyterhub"    # the hub container's name on that network
c.JupyterHub.spawner_class = HostNetworkDockerSpawner
c.DockerSpawner.network_name = "host"
c.DockerSpawner.ip = "127.0.0.1"  # DockerSpawner's default, 0.0.0.0, would be every host address

# -- Authentication ---------------------------------------------------------------------------------
# Pick the site's login (e.g. oauthenticator.GenericOAuthenticator) and who may use the hub:
#   c.JupyterHub.authenticator_class = "generic-oauth"
#   c.Authenticator.allowed_users = {...}; c.Authenticator.admin_users = {...}

# -- The user's environment ----------------------------------------------------------------------
# Templates: the spawn page offers these images; an API client passes {"image": "<name>"} in the
# body of POST /hub/api/users/<name>/server. Without a choice the first one starts.
IMAGE = os.environ.get("MCP_HUB_IMAGE", "jupyter-mcp-ext/singleuser:latest")
SCIPY_IMAGE = os.environ.get("MCP_HUB_SCIPY_IMAGE", "jupyter-mcp-ext/singleuser-scipy:latest")
c.DockerSpawner.image = IMAGE
c.DockerSpawner.allowed_images = {"Python": IMAGE, "SciPy (numpy, pandas)": SCIPY_IMAGE}

# Fixed limits per user, enforced by Docker (the kernel that allocates past mem_limit is killed;
# the agent's call says the kernel died). The container also sees MEM_LIMIT, which
# jupyter-resource-usage shows the user next to their memory use.
c.DockerSpawner.mem_limit = "2G"
c.DockerSpawner.cpu_limit = 1.0

# Notebooks live in a named volume per user, kept across stops; the container itself is removed
# when the server stops (a new start gets a fresh container from the current image).
c.DockerSpawner.notebook_dir = "/home/jovyan/work"
c.DockerSpawner.volumes = {"jupyterhub-user-{username}": "/home/jovyan/work"}
c.DockerSpawner.remove = True
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120  # a first start may pull the image
c.Spawner.http_timeout = 60

# -- Capacity -------------------------------------------------------------------------------------
# At most this many running servers; past it the hub answers 429 "Active user limit exceeded".
c.JupyterHub.active_server_limit = 20
# At most this many starts at once; past it 429 with Retry-After.
c.JupyterHub.concurrent_spawn_limit = 5

# Admission by memory: refuse a start when the host's available memory is below the server's
# mem_limit plus a reserve; the hub answers the start request with that message (503). The hook
# ships with jupyter-mcp-ext, which must therefore be installed next to jupyterhub on the hub's
# host. Without it the hub still starts, admitting every start up to active_server_limit.
try:
    from jupyter_mcp_ext.hub.admission import MemoryAdmission
except ImportError:
    logging.getLogger("JupyterHub").warning(
        "jupyter_mcp_ext.hub.admission is not importable: starts are not checked against the "
        "host's free memory (pip install jupyter-mcp-ext where jupyterhub runs)"
    )
else:
    c.MemoryAdmission.reserve = "1G"
    c.Spawner.pre_spawn_hook = MemoryAdmission(config=c)

# -- Idle servers stop, running agents keep theirs ------------------------------------------------
# The culler stops servers without activity for --timeout seconds: activity is what each server
# reports to the hub (requests, MCP calls included, and its kernels' activity) and proxy traffic.
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600"],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]

# -- One MCP URL for every user: <public_url>services/mcp/ -----------------------------------------
# MCP clients sign their person in with the hub's login (OAuth) or bring a hub token; each call
# goes to that person's own container, started when stopped (deploy/README.md, "The MCP gateway").
# public_url is where users reach the hub (the TLS address in production): the gateway's OAuth
# metadata and redirects name it. Its database: SQLite here, PostgreSQL for several replicas.
c.JupyterHub.public_url = os.environ.get("MCP_HUB_PUBLIC_URL", "http://127.0.0.1:8000/")
try:
    from jupyter_mcp_ext.hub.gateway.config import (
        mcp_gateway_roles,
        mcp_gateway_routes,
        mcp_gateway_service,
    )
except ImportError:
    logging.getLogger("JupyterHub").warning(
        "jupyter_mcp_ext.hub.gateway is not importable: no MCP gateway at /services/mcp/ "
        "(pip install 'jupyter-mcp-ext[hub]' where jupyterhub runs)"
    )
else:
    GATEWAY_PORT = int(os.environ.get("MCP_GATEWAY_PORT", "8902"))
    c.JupyterHub.services.append(
        mcp_gateway_service(
            port=GATEWAY_PORT,
            db_url=os.environ.get("MCP_GATEWAY_DB_URL", "sqlite:///mcp-gateway.sqlite"),
        )
    )
    c.JupyterHub.load_roles += mcp_gateway_roles()
    c.Proxy.extra_routes = mcp_gateway_routes(port=GATEWAY_PORT)

# -- The hub's state ------------------------------------------------------------------------------
# SQLite to start; PostgreSQL at scale, e.g.
#   JUPYTERHUB_DB_URL=postgresql+psycopg2://jupyterhub:<password>@127.0.0.1:5432/jupyterhub
c.JupyterHub.db_url = os.environ.get("JUPYTERHUB_DB_URL", "sqlite:///jupyterhub.sqlite")
# A hub restart (upgrade, config change) leaves users' containers, kernels and agents running:
# the hub finds them again from the database. Run configurable-http-proxy as its own service
# (c.ConfigurableHTTPProxy.should_start = False, CONFIGPROXY_AUTH_TOKEN shared) so that routes
# keep answering while the hub is down.
c.JupyterHub.cleanup_servers = False
