"""Storage figures on a fresh SQLite file: bulk insert rate of commands (with their full-text
triggers) and full-text search latency over them.

    python bench/storage.py [--rows 100000] [--queries 300]

Prints rows/s for the insert, and p50/p95/p99 for searches of one rare word, of two common
words, and of a client-filtered search. Budget context (DESIGN.md): import ≥ 20k commands/s,
search over 1M texts p95 ≤ 50 ms; this measures the storage layer under those budgets.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from mspmode.db import schema, search
from mspmode.db.session import Database
from mspmode.models.core import Client
from mspmode.models.core import Session as WorkSession
from mspmode.models.work import CommandRun

VERBS = [
    "systemctl",
    "Get-LocalUser",
    "docker",
    "grep",
    "ip",
    "service",
    "net",
    "ps",
    "sed",
    "curl",
    "apt-get",
]
ERRORS = [
    "command not found",
    "The term is not recognized as the name of a cmdlet",
    "unrecognized option",
    "Permission denied",
    "Connection timed out",
    "Invalid switch",
    "No such file or directory",
]


def percentiles(samples: list[float]) -> str:
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {qs[49]:.2f} ms  p95 {qs[94]:.2f} ms  p99 {qs[98]:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(7)

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(make_url(f"sqlite:///{Path(tmp) / 'bench.db'}"))
        schema.upgrade(db)
        clients = [uuid.uuid4() for _ in range(20)]
        sessions: dict[uuid.UUID, uuid.UUID] = {}
        with db.write() as s:
            for cid in clients:
                s.add(Client(id=cid, name=f"client {cid}"))
            s.flush()
            for cid in clients:
                sid = uuid.uuid4()
                sessions[sid] = cid
                s.add(WorkSession(id=sid, client_id=cid, session_title="bench", started_at=datetime.now(UTC)))
        session_ids = list(sessions)
        rare_words = [f"zqrare{n}" for n in range(args.queries)]

        start_at = datetime(2026, 1, 1, tzinfo=UTC)
        batch = 5_000

        def make_rows(offset: int) -> list[dict[str, object]]:
            rows = []
            for i in range(offset, min(offset + batch, args.rows)):
                verb = rng.choice(VERBS)
                failed = rng.random() < 0.3
                rare = f" {rare_words[i % len(rare_words)]}" if i % 997 == 0 else ""
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "session_id": rng.choice(session_ids),
                        "command_text": f"{verb} --flag{i % 50} /srv/app{i % 300}/file{i}.conf{rare}",
                        "host": f"host{i % 2000}",
                        "success": not failed,
                        "exit_code": 127 if failed else 0,
                        "error_message": f"{verb}: {rng.choice(ERRORS)}" if failed else None,
                        "executed_at": start_at + timedelta(seconds=i),
                    }
                )
            return rows

        half = args.rows // 2
        t0 = time.perf_counter()
        for offset in range(0, half, batch):
            with db.write() as s:
                s.execute(CommandRun.__table__.insert(), make_rows(offset))
        elapsed = time.perf_counter() - t0
        print(f"insert {half:,} commands, per-row FTS triggers : {half / elapsed:,.0f} rows/s")
        t0 = time.perf_counter()
        for offset in range(half, args.rows, batch * 4):
            with db.write() as s, search.bulk_indexing(s, "commands_run"):
                for sub in range(offset, min(offset + batch * 4, args.rows), batch):
                    s.execute(CommandRun.__table__.insert(), make_rows(sub))
        elapsed = time.perf_counter() - t0
        rate = (args.rows - half) / elapsed
        print(f"insert {args.rows - half:,} commands, bulk_indexing     : {rate:,.0f} rows/s")

        def timed(query: str, **filters: object) -> float:
            t = time.perf_counter()
            with db.read() as s:
                search.search(s, "commands_run", query, limit=20, filters=filters or None)
            return (time.perf_counter() - t) * 1000

        rare = [timed(rng.choice(rare_words)) for _ in range(args.queries)]
        common = [timed(f"{rng.choice(VERBS)} denied") for _ in range(args.queries)]
        filtered = [timed("command found", session_id=rng.choice(session_ids)) for _ in range(args.queries)]
        print(f"search, one rare word      : {percentiles(rare)}")
        print(f"search, two common words   : {percentiles(common)}")
        print(f"search, filtered by session: {percentiles(filtered)}")
        db.dispose()


if __name__ == "__main__":
    main()
