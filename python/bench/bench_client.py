"""Times the Python client's `add_task` and `claim_task` + `complete_task`, one call
after another, against the daemon of one workspace, and prints every sample (in
seconds) as JSON: `{"add_task": [...], "claim_complete": [...]}`.

`tests/src/bin/bench_clients.rs` runs it next to the same work through the CLI and
the Rust client and writes the report; on its own:

    BATON_CLI=target/release/baton python python/bench/bench_client.py --workspace DIR --tasks 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Dict, List

from orchestrator import Orchestrator
from orchestrator.models import TaskResult

#: Calls made before timing starts: the connection and the daemon warm up.
WARMUP = 20


async def measure(workspace: str, tasks: int) -> Dict[str, List[float]]:
    with Orchestrator(working_directory=workspace) as orch:
        for n in range(WARMUP):
            orch.add_task(f"warm-up {n}")
        for _ in range(WARMUP):
            claimed = await orch.claim_task("bench")
            assert claimed is not None, "a warm-up task is ready"
            await orch.complete_task(claimed.id, TaskResult(output="ok"))

        adds: List[float] = []
        for n in range(tasks):
            start = time.perf_counter()
            orch.add_task(f"task {n}")
            adds.append(time.perf_counter() - start)

        pairs: List[float] = []
        for _ in range(tasks):
            start = time.perf_counter()
            claimed = await orch.claim_task("bench")
            assert claimed is not None, "every task added is ready"
            await orch.complete_task(claimed.id, TaskResult(output="ok"))
            pairs.append(time.perf_counter() - start)

        done = orch.get_status()["progress"]["by_status"]["done"]
        assert done == tasks + WARMUP, f"expected {tasks + WARMUP} tasks done, the daemon says {done}"
    return {"add_task": adds, "claim_complete": pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", required=True, help="an empty directory; its daemon is started")
    parser.add_argument("--tasks", type=int, default=2000, help="tasks added, then claimed and completed")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.workspace, args.tasks))))


if __name__ == "__main__":
    main()
