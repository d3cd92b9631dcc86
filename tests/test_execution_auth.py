"""Starting a notebook's session (and kernel) through MCP asks Jupyter's authorizer what its REST API
asks (POST /api/sessions: write on sessions); running code in an existing kernel asks execute."""

from __future__ import annotations

import httpx2
import pytest
from conftest import call, call_error
from jupyter_server.auth import Authorizer
from support import read_disk


class RunExistingKernelsAuthorizer(Authorizer):
    """A user who may run code in the kernels that exist (execute), but start no session or kernel."""

    def is_authorized(self, handler, user, action, resource):
        if resource == "kernels":
            return action == "execute"
        if resource == "sessions":
            return action == "read"
        return True


@pytest.fixture
def run_only_config(jp_server_config):
    jp_server_config["ServerApp"]["authorizer_class"] = RunExistingKernelsAuthorizer
    return jp_server_config


async def test_a_user_who_may_only_execute_starts_no_kernel_but_runs_in_an_existing_session(
    run_only_config, jp_serverapp, mcp_client, make_notebook, server_url, token, jp_root_dir
):
    path = make_notebook("shared.ipynb", [("code", "1 + 1")])
    async with httpx2.AsyncClient(headers={"Authorization": f"token {token}"}, timeout=30) as http:
        rest = await http.post(
            f"{server_url}api/sessions",
            json={"path": path, "type": "notebook", "kernel": {"name": "python3"}},
        )
    assert rest.status_code == 403  # what Jupyter's own API answers this user

    async with mcp_client() as client:
        for name, arguments in [
            ("execute_cell", {"cell_index": 0}),
            ("insert_execute_code_cell", {"source": "2"}),
            ("execute_with_progress", {}),
            ("execute_code", {"code": "3"}),
        ]:
            error = await call_error(client, name, notebook_path=path, **arguments)
            assert "Permission denied" in error and "write sessions" in error, (name, error)
        assert await jp_serverapp.session_manager.list_sessions() == []
        assert jp_serverapp.kernel_manager.list_kernel_ids() == []
        assert [
            c["source"] for c in (await call(client, "read_all_cells", notebook_path=path))["cells"]
        ] == ["1 + 1"]

        # An admin starts the notebook's session: now the user's run goes to its kernel.
        session = await jp_serverapp.session_manager.create_session(
            path=path, name="shared.ipynb", type="notebook", kernel_name="python3"
        )
        ran = await call(client, "execute_cell", notebook_path=path, cell_index=0, timeout=60)
    assert ran["status"] == "ok" and ran["kernel_id"] == session["kernel"]["id"]
    assert [o["text"] for o in ran["outputs"]] == ["2"]
    assert jp_serverapp.kernel_manager.list_kernel_ids() == [session["kernel"]["id"]]
    assert len(read_disk(jp_root_dir, path)["cells"]) == 1
