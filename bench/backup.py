"""Backup and restore figures on a fresh SQLite file holding --rows commands.

    python bench/backup.py [--rows 100000]

Prints, for `msp backup`'s path: the online-backup copy, the per-table checksums, the
verification (restore into a scratch file and checksum it again) and the whole backup; then
the restore check (`plan_restore`: file SHA-256, scratch restore, compare) and the overwrite
(`apply_restore`). MB/s is the dump's size over the step's wall time. No budget is set for
backups; these are figures to watch. Numbers on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import random
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
from mspmode.services import backup, dumps
from mspmode.settings import Settings
from mspmode.vault.keyfiles import ensure_key_file


def populate(db: Database, rows: int) -> None:
    rng = random.Random(7)
    with db.write() as s:
        clients = [Client(id=uuid.uuid4(), name=f"client {n}") for n in range(20)]
        s.add_all(clients)
        s.flush()
        sessions = [
            WorkSession(id=uuid.uuid4(), client_id=c.id, session_title="bench", started_at=datetime.now(UTC))
            for c in clients
        ]
        s.add_all(sessions)
    ids = [w.id for w in sessions]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch = 20_000
    for offset in range(0, rows, batch):
        chunk = [
            {
                "id": uuid.uuid4(),
                "session_id": rng.choice(ids),
                "command_text": f"systemctl restart app{i % 300} --flag{i % 50}",
                "host": f"host{i % 2000}",
                "success": i % 3 != 0,
                "exit_code": 0 if i % 3 else 1,
                "error_message": None if i % 3 else "Failed to restart: unit not found",
                "executed_at": start + timedelta(seconds=i),
            }
            for i in range(offset, min(offset + batch, rows))
        ]
        with db.write() as s, search.bulk_indexing(s, "commands_run"):
            s.execute(CommandRun.__table__.insert(), chunk)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = make_url(f"sqlite:///{folder / 'bench.db'}")
        db = Database(url)
        schema.upgrade(db)
        populate(db, args.rows)
        settings = Settings(home=folder / "home", database_url=str(url))
        ensure_key_file("audit", settings.key_path("audit"))  # signs the manifest

        t0 = time.perf_counter()
        copy = folder / "copy.sqlite"
        dumps.dump(url, copy, dumps.no_progress)
        dumped = time.perf_counter() - t0
        t0 = time.perf_counter()
        sums = dumps.database_checksums(url)
        summed = time.perf_counter() - t0
        rows = sum(t["rows"] for t in sums.values())
        size_mb = copy.stat().st_size / 1e6
        print(f"database: {rows:,} rows in {len(sums)} tables, {size_mb:.1f} MB")
        print(f"dump (online backup API + checksums of the copy): {dumped:.2f} s")
        print(
            f"checksums of every table                        : {summed:.2f} s ({rows / summed:,.0f} rows/s)"
        )

        t0 = time.perf_counter()
        result = backup.backup(settings, db, directory=folder / "bk")
        whole = time.perf_counter() - t0
        assert result.verification == "passed", result.problems
        print(f"msp backup (dump + manifest + verify)           : {whole:.2f} s ({size_mb / whole:.1f} MB/s)")

        t0 = time.perf_counter()
        plan = backup.plan_restore(settings, db, result.path)
        planned = time.perf_counter() - t0
        t0 = time.perf_counter()
        problems = backup.apply_restore(db, plan)
        applied = time.perf_counter() - t0
        assert not problems, problems
        print(f"restore checks (sha256, scratch restore, compare): {planned:.2f} s")
        print(f"restore overwrite + compare                      : {applied:.2f} s")
        db.dispose()


if __name__ == "__main__":
    main()
