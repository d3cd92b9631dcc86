"""Make the Python kernel the process the out-of-memory killer ends first in its container.

All processes of a user's container share its memory limit. When a cell allocates past it, the
kernel must be the one to die (the agent's call then says the kernel died) and not the Jupyter
server, whose end would take the user's other notebooks, kernels and connections with it; left
to itself the killer picks the largest process, often the server. Any process may raise its own
``oom_score_adj``, so the kernelspec starts the kernel through a shell that sets it to the maximum
and then execs the kernel: the same process, so interrupts and restarts work as before.

Run once in the image build, as the user owning the Python environment.
"""

import json
import sys
from pathlib import Path

from ipykernel.kernelspec import install

MARK = "oom_score_adj"
WRAPPER = ["/bin/sh", "-c", 'echo 1000 >/proc/self/oom_score_adj && exec "$@"', "kernel"]

spec_file = Path(install(prefix=sys.prefix)) / "kernel.json"
spec = json.loads(spec_file.read_text())
argv = spec["argv"]
if not any(MARK in arg for arg in argv):
    if argv[0] in ("python", "python3"):
        argv = [sys.executable, *argv[1:]]  # what Jupyter itself would run for "python"
    spec["argv"] = [*WRAPPER, *argv]
    spec_file.write_text(json.dumps(spec, indent=1))
print(f"{spec_file}: {spec['argv']}")
