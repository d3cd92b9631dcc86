"""Soak: a person types in a notebook while two agents insert, edit, move, run and delete cells in it.

Afterwards the person's browser, the server's live document and the file on disk hold the same
cells; every token the person typed is still in the cell they typed it in; every agent cell holds
exactly what its agent last wrote; and no call failed except moves refused because the person was
typing in that cell. ``MCP_SOAK_SECONDS`` sets how long the agents work (default: a quick run for
CI; 60 for the full soak).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

from support import eventually
from tool_helpers import wait_for_disk

SOAK_SECONDS = float(os.environ.get("MCP_SOAK_SECONDS", "15"))
PATH = "soak.ipynb"
HUMAN_CELLS = [
    ("markdown", "# Notes"),
    ("code", "total = 0"),
    ("markdown", "Findings:"),
    ("code", "# scratch"),
]


@dataclass
class Person:
    """Types bursts of tokens into one cell at a time, sometimes with its updates held back a while."""

    peer: Any
    cells: list[str]
    rng: random.Random
    typed: dict[str, list[str]] = field(default_factory=dict)
    count: int = 0

    async def type_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            cell_id = self.rng.choice(self.cells)
            burst = self.rng.randint(4, 12)
            hold_at = self.rng.randint(1, burst - 1) if self.rng.random() < 0.3 else None
            for n in range(burst):
                if n == hold_at:
                    async with self.peer.offline():
                        for _ in range(self.rng.randint(1, 3)):
                            self._type(cell_id)
                            await asyncio.sleep(self.rng.uniform(0.05, 0.2))
                    continue
                self._type(cell_id)
                await asyncio.sleep(self.rng.uniform(0.02, 0.08))

    def _type(self, cell_id: str) -> None:
        self.count += 1
        token = f" ✎{self.count}é"
        self.peer.type_at_end(cell_id, token)
        self.typed.setdefault(cell_id, []).append(token)


@dataclass
class Agent:
    """Random tool calls on its own cells and moves of any cell; keeps what each of its cells should hold."""

    name: str
    client: Any
    human_cells: list[str]
    rng: random.Random
    sources: dict[str, str] = field(default_factory=dict)  # own cell id -> expected source
    printed: dict[str, str] = field(
        default_factory=dict
    )  # own cell id -> expected output of its last run
    errors: list[str] = field(default_factory=list)
    moves: int = 0
    moves_refused: int = 0
    calls: int = 0
    count: int = 0

    async def work_until(self, deadline: float) -> None:
        operations = [
            self.insert,
            self.insert_and_run,
            self.overwrite,
            self.edit,
            self.move,
            self.move,
            self.run,
            self.delete,
            self.read,
        ]
        while time.monotonic() < deadline:
            await self.rng.choice(operations)()

    async def _call(self, name: str, **arguments: Any) -> Any:
        self.calls += 1
        result = await self.client.call_tool(name, {"notebook_path": PATH, **arguments})
        if result.is_error:
            text = result.content[0].text
            if name == "move_cell" and "typing" in text:
                self.moves_refused += 1
                return None
            self.errors.append(f"{self.name} {name}({arguments}): {text}")
            return None
        return result.structured_content

    def _text(self) -> str:
        self.count += 1
        return f"{self.name}_{self.count} = {self.count}  # ü🎉"

    async def insert(self) -> None:
        source = self._text()
        result = await self._call(
            "insert_cell",
            cell_index=self.rng.randint(0, 3),
            cell_type=self.rng.choice(["code", "markdown"]),
            source=source,
        )
        if result:
            self.sources[result["cell_id"]] = source

    async def insert_and_run(self) -> None:
        self.count += 1
        source = f"print('{self.name} ran {self.count}')"
        result = await self._call(
            "insert_execute_code_cell",
            source=source,
            cell_index=self.rng.randint(-1, 2),
            timeout=30,
        )
        if result:
            self.sources[result["cell_id"]] = source
            self._check_run(result, f"{self.name} ran {self.count}\n")

    def _check_run(self, result: dict[str, Any], expected: str) -> None:
        text = "".join(output["text"] for output in result["outputs"])
        if result["status"] != "ok" or text != expected or result["execution_count"] is None:
            self.errors.append(
                f"{self.name} run of {result['cell_id']}: {result['status']} {text!r}"
            )
        self.printed[result["cell_id"]] = expected

    def _own(self, runnable: bool | None = None) -> str | None:
        """One of this agent's cells: any, or only those that print (True) or only the others (False)."""
        own = [
            cell_id
            for cell_id, source in self.sources.items()
            if runnable is None or source.startswith("print(") == runnable
        ]
        return self.rng.choice(own) if own else None

    async def overwrite(self) -> None:
        cell_id = self._own()
        if cell_id is None:
            return
        source = self._text() + ("\n" + self.sources[cell_id] if self.rng.random() < 0.5 else "")
        if await self._call("overwrite_cell_source", cell_id=cell_id, source=source):
            self.sources[cell_id] = source
            self.printed.pop(cell_id, None)

    async def edit(self) -> None:
        cell_id = self._own(runnable=False)
        if cell_id is None:
            return
        old = self.sources[cell_id].split("  #")[0]
        new = old + " + 1"
        if await self._call("edit_cell_source", cell_id=cell_id, old_text=old, new_text=new):
            self.sources[cell_id] = self.sources[cell_id].replace(old, new, 1)
            self.printed.pop(cell_id, None)

    async def move(self) -> None:
        cell_id = self.rng.choice(self.human_cells + list(self.sources))
        self.moves += 1
        await self._call("move_cell", cell_id=cell_id, to_index=self.rng.randint(-3, 3))

    async def run(self) -> None:
        cell_id = self._own(runnable=True)
        if cell_id is None:
            return
        result = await self._call("execute_cell", cell_id=cell_id, timeout=30)
        if result:
            self._check_run(result, self.sources[cell_id].split("'")[1] + "\n")

    async def delete(self) -> None:
        cell_id = self._own()
        if (
            cell_id is not None
            and len(self.sources) > 3
            and await self._call("delete_cell", cell_id=cell_id)
        ):
            del self.sources[cell_id]
            self.printed.pop(cell_id, None)

    async def read(self) -> None:
        await self._call("read_notebook", detail="brief", limit=50)


def _cells(notebook: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(id, type, source) of each cell of an nbformat notebook."""
    return [(cell["id"], cell["cell_type"], "".join(cell["source"])) for cell in notebook["cells"]]


async def test_a_person_typing_while_two_agents_edit_move_and_run_loses_nothing_and_all_copies_agree(
    mcp_client, make_notebook, browser, jp_root_dir
):
    make_notebook(PATH, HUMAN_CELLS)
    rng = random.Random(int(os.environ.get("MCP_SOAK_SEED", time.time())))
    async with browser(PATH) as peer, mcp_client() as first, mcp_client("legacy") as second:
        human_cells = peer.cell_ids()
        person = Person(peer, human_cells, random.Random(rng.random()))
        agents = [
            Agent(name, client, human_cells, random.Random(rng.random()))
            for name, client in (("alpha", first), ("beta", second))
        ]
        stop_typing = asyncio.Event()
        typing = asyncio.create_task(person.type_until(stop_typing))
        deadline = time.monotonic() + SOAK_SECONDS
        await asyncio.gather(*(agent.work_until(deadline) for agent in agents))
        stop_typing.set()
        await typing

        async def server_cells() -> list[tuple[str, str, str]]:
            result = await first.call_tool("read_all_cells", {"notebook_path": PATH})
            return [
                (c["cell_id"], c["cell_type"], c["source"])
                for c in result.structured_content["cells"]
            ]

        def peer_cells() -> list[tuple[str, str, str]]:
            return [(str(c["id"]), str(c["cell_type"]), str(c["source"])) for c in peer.nb.ycells]

        live = await eventually(
            server_cells,
            "the browser and the server to agree",
            until=lambda seen: seen == peer_cells(),
            timeout=10,
            interval=0.1,
        )
        disk = await wait_for_disk(jp_root_dir, PATH, lambda nb: _cells(nb) == live, timeout=10)

    errors = [error for agent in agents for error in agent.errors]
    assert not errors, "\n".join(errors)
    sources = {cell_id: source for cell_id, _, source in live}
    for cell_id, tokens in person.typed.items():
        lost = [token for token in tokens if token not in sources[cell_id]]
        assert not lost, (
            f"typed into cell {cell_id} and lost: {lost}; the cell holds {sources[cell_id]!r}"
        )
    for agent in agents:
        assert {cell_id: sources.get(cell_id) for cell_id in agent.sources} == agent.sources
    # On disk, nbformat keeps a stream's text as a list of lines.
    outputs = {
        cell["id"]: "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
        for cell in disk["cells"]
    }
    for agent in agents:
        for cell_id, expected in agent.printed.items():
            if cell_id in agent.sources:
                assert outputs[cell_id] == expected, (
                    f"cell {cell_id} on disk shows {outputs[cell_id]!r}"
                )
    moved = sum(agent.moves - agent.moves_refused for agent in agents)
    assert person.count > 20 and moved > 0 and sum(agent.calls for agent in agents) > 20, (
        f"the soak did too little: {person.count} tokens typed, {moved} moves done"
    )
    print(
        f"soak: {SOAK_SECONDS:g} s, {person.count} tokens typed, "
        f"{sum(a.calls for a in agents)} agent calls, {moved} moves done, "
        f"{sum(a.moves_refused for a in agents)} moves refused while the person typed"
    )
