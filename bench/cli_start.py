"""How long the ``msp`` command takes to start, beside a bare ``python -c pass`` of the same
interpreter in the same run (each timed run paired with a bare one just before it, as the load
of a shared machine moves every figure):

  --help    ``msp --help``: budget ≤ 300 ms (issue 16)
  check     ``msp check --host H -- CMD`` of a known failure, answered by the running local
            service (as in an agent's loop): budget ≤ 150 ms (issue 16)
  check-alone  the same with no service running: this process loads what was learned itself
  mcp       ``msp mcp`` from spawn to its answer to MCP ``initialize`` (what Claude Code waits
            for when it connects), on an initialised empty database

    python bench/cli_start.py [--runs 15]

Wall time and the child's CPU time (user + system) are both printed: on a loaded machine the
CPU time says what the command costs, the wall time what a person waits.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MSP = str(Path(sys.executable).with_name("msp"))
HELLO = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "b", "version": "1"},
    },
}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``run`` (which waits for its child)."""
    cpu, start = children_cpu(), time.perf_counter()
    run()
    return time.perf_counter() - start, children_cpu() - cpu


def bare() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def help_(env: dict[str, str]) -> Callable[[], None]:
    return lambda: subprocess.run([MSP, "--help"], env=env, check=True, capture_output=True)


HISTORY = [
    {"kind": "host", "hostname": "DC2", "os": "Windows Server"},
    *(
        {
            "kind": "command",
            "host": "DC2",
            "command": "Get-LocalUser -Name jdoe",
            "exit_code": 1,
            "output": "Get-LocalUser : The term 'Get-LocalUser' is not recognized as the name of a cmdlet",
            "at": f"2026-01-0{day}T10:00:00Z",
            "session": f"s{day}",
        }
        for day in (1, 2)
    ),
]


def check(env: dict[str, str]) -> Callable[[], None]:
    def run() -> None:
        argv = [MSP, "check", "--host", "DC2", "--", "Get-LocalUser -Name jdoe"]
        result = subprocess.run(argv, env=env, capture_output=True, check=False)
        assert result.returncode == 2, result.stderr[-300:]  # blocked: the failure was learned

    return run


def mcp(env: dict[str, str]) -> Callable[[], None]:
    def run() -> None:
        proc = subprocess.Popen(
            [MSP, "mcp"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((json.dumps(HELLO) + "\n").encode())
        proc.stdin.flush()
        answer = proc.stdout.readline()
        proc.stdin.close()  # end of input: the server exits
        proc.wait(timeout=60)
        proc.stdout.close()
        assert b"serverInfo" in answer, answer[:200]

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="msp-cli-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MSP_")}
        env["MSP_HOME"] = str(Path(tmp) / "home")
        subprocess.run([MSP, "init"], env=env, check=True, capture_output=True)
        history = Path(tmp) / "history.jsonl"
        history.write_text("".join(json.dumps(line) + "\n" for line in HISTORY))
        subprocess.run([MSP, "import", str(history)], env=env, check=True, capture_output=True)
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
        print(
            f"{'what':<12} {'p50 ms':>8} {'bare p50':>9} {'CPU p50 ms':>11} {'bare CPU':>9}  (n={args.runs})"
        )
        measure("--help", help_(env), args.runs)
        measure("check-alone", check(env), args.runs)
        subprocess.run([MSP, "local-service", "start"], env=env, check=True, capture_output=True)
        try:
            measure("check", check(env), args.runs)
        finally:
            subprocess.run([MSP, "local-service", "stop"], env=env, check=True, capture_output=True)
        measure("mcp", mcp(env), args.runs)


def measure(name: str, run: Callable[[], None], runs: int) -> None:
    rows = []
    for _ in range(runs):
        rows.append((*timed(bare), *timed(run)))
    p50 = [statistics.median(col) * 1000 for col in zip(*rows, strict=True)]
    bare_wall, bare_cpu, wall, cpu = p50
    print(f"{name:<12} {wall:>8.0f} {bare_wall:>9.0f} {cpu:>11.0f} {bare_cpu:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
