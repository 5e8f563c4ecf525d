"""How long the first write after a start holds SQLite's writer, on a large history.

    python bench/write_lock.py [--commands 200000] [--hosts 2000] [--patterns 10000]

A 200k-command history is imported (the same generator as ``precheck.py``), then, each in a
new ``Runtime`` (a restarted process):

1. the API's first ``POST /api/commands`` (``learning.record_commands``, no stored state: the
   learning state is rebuilt from the database);
2. the CLI's first recording (the state in the one store under ``MSP_HOME`` loaded, then caught up);
3. ``msp import`` of a ten-line file on that history;
4. ``msp learn``: the whole history replayed, every pattern written back.

For each it prints the wall time of the call and how long the writer was held: from the moment
``BEGIN IMMEDIATE`` got the lock to the ``COMMIT``. Every other process that writes (``msp client
add``, a second import, another API worker) waits that long. Target: the writer is held for the
work of the request, not for the size of the history (milliseconds, whatever the history;
``msp learn``'s request is to rewrite every pattern, and it holds the writer for that only).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from precheck import make_history, runtime

from mspmode.db import schema
from mspmode.services import learning
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime


def writer_holds(rt: Runtime) -> list[float]:
    """Seconds each write transaction of ``rt`` held the writer, appended as they end."""
    holds: list[float] = []
    engine = rt.db.writer
    key = f"msp_bench_begin_{id(holds)}"

    # Registered after the engine's own listener that emits BEGIN IMMEDIATE: the clock starts
    # once the lock is taken.
    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.info[key] = time.perf_counter()

    def _end(conn: Any) -> None:
        began = conn.info.pop(key, None)
        if began is not None:
            holds.append(time.perf_counter() - began)

    event.listen(engine, "commit", _end)
    event.listen(engine, "rollback", _end)
    return holds


def measure(label: str, rt: Runtime, call: Callable[[], object]) -> None:
    holds = writer_holds(rt)
    t0 = time.perf_counter()
    call()
    wall = time.perf_counter() - t0
    longest = max(holds) if holds else 0.0
    print(
        f"{label:<34} call {wall:7.3f} s; writer held {longest * 1000:9.1f} ms "
        f"({len(holds)} write transaction(s))"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200_000)
    parser.add_argument("--hosts", type=int, default=2_000)
    parser.add_argument("--patterns", type=int, default=10_000)
    args = parser.parse_args()
    actor = local_actor()
    with tempfile.TemporaryDirectory(prefix="msp-bench-write-lock-") as tmp:
        home = Path(tmp)
        history_path = home / "history.jsonl"
        history = make_history(history_path, args.commands, args.hosts, args.patterns)
        rt = runtime(home)
        schema.upgrade(rt.db)
        report = learning.import_file(rt, actor, history_path)
        print(
            f"history                            {history['commands']:,} commands imported in "
            f"{report.seconds:.1f} s ({report.per_second:,.0f}/s)"
        )
        learning.use_store(rt)
        rt.db.dispose()
        host = history["hosts"][1]
        one = [learning.CommandIn(command="uptime", host=host, exit_code=0, output="up 3 days")]
        failing = [
            learning.CommandIn(
                command="Get-LocalUser -Name jdoe",
                host=host,
                exit_code=1,
                output="The term 'Get-LocalUser' is not recognized as the name of a cmdlet",
            )
        ]

        api = runtime(home)
        measure("API first write after a start", api, lambda: learning.record_commands(api, actor, one))
        measure("API second write", api, lambda: learning.record_commands(api, actor, failing))
        api.dispose()

        # The stored state as the CLI leaves it, then a new CLI process that loads it.
        saver = runtime(home)
        learning.use_store(saver)
        learning.check(saver, actor, host, "uptime")
        learning.save_state(saver)
        saver.dispose()
        cli = runtime(home)
        learning.use_store(cli)
        measure(
            "CLI first write (stored state loaded)", cli, lambda: learning.record_commands(cli, actor, one)
        )
        cli.dispose()

        small = home / "small.jsonl"
        with small.open("w", encoding="utf-8") as out:
            for i in range(10):
                out.write(
                    json.dumps({"kind": "command", "host": host, "command": f"echo {i}", "exit_code": 0})
                    + "\n"
                )
        importer = runtime(home)
        learning.use_store(importer)
        measure("msp import of 10 lines", importer, lambda: learning.import_file(importer, actor, small))
        importer.dispose()

        learner = runtime(home)
        measure("msp learn (rewrites every pattern)", learner, lambda: learning.relearn(learner, actor))
        learner.dispose()
        rt.dispose()


if __name__ == "__main__":
    main()
