#!/usr/bin/env python3
"""baton and task-master side by side; the results are in docs/benchmarks.md.

The same seeded plan (each task depends on up to two earlier ones) goes through
both tools twice:

- through their CLIs: add every task with its dependencies, then take the next
  ready task and mark it done until none is left (baton: `add`, `claim`,
  `complete`; task-master: `add-task --title --description`, `next`,
  `set-status --status done`);
- through their MCP servers, driven by this one MCP client over stdio: `add_task`
  for every task with its dependencies, then `get_task` for each (the calls both
  servers offer; baton's agents do not claim through MCP, the daemon hands them
  their task, so next/done have no MCP counterpart in baton).

Only task-master commands that call no model are used (manual task creation with
--title and --description). Run from the repository, with task-master installed
outside it (its Node dependencies want Node 22 or later):

    npm install --prefix ~/.cache/baton/task-master task-master-ai
    python3 tests/bench/task_master.py --baton target/release/baton \\
        --task-master ~/.cache/baton/task-master/node_modules/.bin/task-master \\
        --cli-tasks 20 --mcp-tasks 200
"""

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time


def plan(seed, count):
    """Each task's dependencies: up to two earlier tasks, by index."""
    rng = random.Random(seed)
    tasks = []
    for i in range(count):
        wanted = min(rng.randint(0, 2), i)
        tasks.append(sorted(rng.sample(range(i), wanted)))
    return tasks


def timed(command, cwd):
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr or done.stdout}")
    return elapsed, done.stdout


def baton_cli(baton, dependencies):
    root = tempfile.mkdtemp(prefix="bench-baton-")
    timed([baton, "-C", root, "status"], root)  # starts the daemon, not counted
    ids, adds, nexts, dones = [], [], [], []
    for i, deps in enumerate(dependencies):
        command = [baton, "-C", root, "add", f"task {i}"]
        for dep in deps:
            command += ["-d", ids[dep]]
        elapsed, out = timed(command, root)
        adds.append(elapsed)
        ids.append(out.strip())
    while True:
        elapsed, out = timed([baton, "-C", root, "claim", "--agent", "bench"], root)
        nexts.append(elapsed)
        task = out.strip()
        if not task:
            break
        elapsed, _ = timed([baton, "-C", root, "complete", task, "--output", "done"], root)
        dones.append(elapsed)
    timed([baton, "-C", root, "daemon", "stop"], root)
    shutil.rmtree(root)
    assert len(dones) == len(dependencies), "every task was done"
    return adds, nexts, dones


def task_master_project(task_master):
    root = tempfile.mkdtemp(prefix="bench-task-master-")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    timed([task_master, "init", "--yes"], root)
    # `init` makes no task list, and the CLI adds to none (its MCP server makes one).
    tasks = os.path.join(root, ".taskmaster", "tasks", "tasks.json")
    if not os.path.exists(tasks):
        with open(tasks, "w") as file:
            json.dump({"master": {"tasks": [], "metadata": {"description": "benchmark"}}}, file)
    return root


def task_master_cli(task_master, dependencies):
    root = task_master_project(task_master)
    adds, nexts, dones = [], [], []
    for i, deps in enumerate(dependencies):
        command = [task_master, "add-task", "--title", f"task {i}", "--description", f"task {i}"]
        if deps:
            command += ["--dependencies", ",".join(str(dep + 1) for dep in deps)]
        elapsed, _ = timed(command, root)
        adds.append(elapsed)
    done = 0
    while True:
        elapsed, out = timed([task_master, "next"], root)
        nexts.append(elapsed)
        found = re.search(r"Next Task: #(\d+)", out)
        if not found:
            break
        elapsed, _ = timed(
            [task_master, "set-status", f"--id={found.group(1)}", "--status=done"], root
        )
        dones.append(elapsed)
        done += 1
    shutil.rmtree(root)
    assert done == len(dependencies), f"task-master did {done} of {len(dependencies)}"
    return adds, nexts, dones


class Mcp:
    """A minimal MCP client over stdio: one JSON-RPC message a line."""

    def __init__(self, command, cwd, env=None):
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.next_id = 0
        self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        )
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, message):
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise SystemExit(f"the MCP server ended during {method}")
            message = json.loads(line)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise SystemExit(f"{method}: {message['error']}")
                return message["result"]

    def call(self, tool, arguments):
        started = time.perf_counter()
        result = self.request("tools/call", {"name": tool, "arguments": arguments})
        elapsed = time.perf_counter() - started
        if result.get("isError"):
            raise SystemExit(f"{tool} failed: {result}")
        return elapsed, result["content"][0]["text"]

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


def baton_mcp(baton, dependencies):
    root = tempfile.mkdtemp(prefix="bench-baton-mcp-")
    timed([baton, "-C", root, "status"], root)
    client = Mcp([baton, "-C", root, "mcp", "--agent", "bench"], root)
    ids, adds, gets = [], [], []
    for i, deps in enumerate(dependencies):
        arguments = {"description": f"task {i}", "dependencies": [ids[dep] for dep in deps]}
        elapsed, text = client.call("add_task", arguments)
        adds.append(elapsed)
        ids.append(json.loads(text)["id"])
    for task in ids:
        elapsed, _ = client.call("get_task", {"id": task})
        gets.append(elapsed)
    client.close()
    timed([baton, "-C", root, "daemon", "stop"], root)
    shutil.rmtree(root)
    return adds, gets


def task_master_mcp(task_master, dependencies):
    root = task_master_project(task_master)
    server = os.path.join(os.path.dirname(os.path.realpath(task_master)), "mcp-server.js")
    # Its default "core" tool set leaves add_task out.
    client = Mcp(["node", server], root, {**os.environ, "TASK_MASTER_TOOLS": "all"})
    adds, gets = [], []
    for i, deps in enumerate(dependencies):
        arguments = {"title": f"task {i}", "description": f"task {i}", "projectRoot": root}
        if deps:
            arguments["dependencies"] = ",".join(str(dep + 1) for dep in deps)
        elapsed, _ = client.call("add_task", arguments)
        adds.append(elapsed)
    for i in range(len(dependencies)):
        elapsed, _ = client.call("get_task", {"id": str(i + 1), "projectRoot": root})
        gets.append(elapsed)
    client.close()
    with open(os.path.join(root, ".taskmaster", "tasks", "tasks.json")) as file:
        added = json.load(file)["master"]["tasks"]
    assert [task["dependencies"] for task in added] == [
        [dep + 1 for dep in deps] for deps in dependencies
    ], "task-master kept every task with its dependencies"
    shutil.rmtree(root)
    return adds, gets


def p99(values):
    ordered = sorted(values)
    return ordered[round((len(ordered) - 1) * 0.99)]


def row(name, baton, task_master):
    b, t = statistics.median(baton), statistics.median(task_master)
    print(
        f"| {name} | {b * 1000:.1f} ms / {p99(baton) * 1000:.1f} ms | "
        f"{t * 1000:.1f} ms / {p99(task_master) * 1000:.1f} ms | {t / b:.1f}× |"
    )


def total(name, baton, task_master):
    b, t = sum(baton), sum(task_master)
    print(f"| {name} | {b:.2f} s | {t:.2f} s | {t / b:.1f}× |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baton", required=True)
    parser.add_argument("--task-master", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cli-tasks", type=int, default=200)
    parser.add_argument("--mcp-tasks", type=int, default=200)
    args = parser.parse_args()
    print(f"Load before: {os.getloadavg()[0]:.2f}.\n")
    print("| what (median / p99 a call) | baton | task-master | task-master ÷ baton |")
    print("|---|---|---|---|")
    mcp_plan = plan(args.seed, args.mcp_tasks)
    baton_adds, baton_gets = baton_mcp(args.baton, mcp_plan)
    tm_adds, tm_gets = task_master_mcp(args.task_master, mcp_plan)
    row(f"MCP add_task with dependencies ({args.mcp_tasks} tasks)", baton_adds, tm_adds)
    row("MCP get_task", baton_gets, tm_gets)
    total("MCP, all calls", baton_adds + baton_gets, tm_adds + tm_gets)
    cli_plan = plan(args.seed, args.cli_tasks)
    baton_cli_times = baton_cli(args.baton, cli_plan)
    tm_cli_times = task_master_cli(args.task_master, cli_plan)
    for name, b, t in zip(
        [f"CLI add with dependencies ({args.cli_tasks} tasks)", "CLI next (baton claim)",
         "CLI done (baton complete)"],
        baton_cli_times,
        tm_cli_times,
    ):
        row(name, b, t)
    total("CLI, the whole workflow", sum(baton_cli_times, []), sum(tm_cli_times, []))
    print(f"\nLoad after: {os.getloadavg()[0]:.2f}.")


if __name__ == "__main__":
    main()
