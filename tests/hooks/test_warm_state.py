"""What makes the local service's answers quick keeps them the same, on every backend: the
learning state it starts from (kept in the one store, ``services/learning/cache.py``) packs
the commands' ids (``RowIds``) and still maps every engine record to its row, and the index on
disk is written without holding the learning lock, so a pre-check is answered while that write
waits for the disk."""

from __future__ import annotations

import json
import logging
import pickle
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from mspmode.db.session import Database
from mspmode.hooks import index
from mspmode.models.work import CommandRun
from mspmode.services import hooks as hook_service
from mspmode.services import learning
from mspmode.services.learning import cache
from mspmode.services.learning.state import RowIds
from mspmode.services.runtime import Runtime
from tests.integration.test_learning import ADMIN, cmd, make_rt


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def runtimes(migrated_db: Database, tmp_path: Path) -> Iterator[list[Runtime]]:
    made: list[Runtime] = []
    yield made
    for rt in made:
        cache.invalidate(rt)


def test_row_ids_behave_as_the_list_they_replace() -> None:
    ids = [uuid.uuid4() for _ in range(5)]
    packed = RowIds(ids)
    assert len(packed) == 5 and list(packed) == ids
    assert packed[0] == ids[0] and packed[-1] == ids[-1] and packed[3] == ids[3]
    with pytest.raises(IndexError):
        packed[5]
    assert all(i in packed for i in ids) and uuid.uuid4() not in packed
    # 16 bytes straddling two ids are no id of the list.
    straddling = uuid.UUID(bytes=ids[1].bytes[8:] + ids[2].bytes[:8])
    assert straddling not in packed
    packed.append(straddling)
    assert straddling in packed and packed[5] == straddling
    again = pickle.loads(pickle.dumps(packed, protocol=pickle.HIGHEST_PROTOCOL))
    assert again == packed and list(again) == [*ids, straddling]


def test_a_loaded_state_maps_records_to_their_rows(
    migrated_db: Database, tmp_path: Path, uid: str, runtimes: list[Runtime]
) -> None:
    """A fix recorded after the service started from the stored state resolves the failed row
    the stored record stands for (the record index → row id map survived the round trip)."""
    host = f"warm-{uid}"
    writer = make_rt(migrated_db, tmp_path / "home")
    runtimes.append(writer)
    learning.use_store(writer)
    failed = learning.record_commands(
        writer, ADMIN, [cmd(host, f"grep -P 'x{uid}' /var/log/syslog", 2, "grep: invalid option -- 'P'")]
    )
    learning.record_commands(writer, ADMIN, [cmd(host, f"echo {uid}", 0, uid)])
    before = cache.cached(writer)
    assert before is not None and learning.store_path(writer).exists()

    reader = make_rt(migrated_db, tmp_path / "home")
    runtimes.append(reader)
    learning.use_store(reader)
    with migrated_db.read() as s:
        loaded = cache.load_state(reader, s)  # from the file, not replayed
    assert loaded is not None
    cache.replace(reader, loaded)
    assert learning.check(reader, ADMIN, host, f"grep -P 'x{uid}' /var/log/syslog")["verdict"] == "block"
    assert cache.cached(reader) is loaded
    assert list(loaded.row_ids) == list(before.row_ids)
    assert failed[0].row["id"] in loaded.row_ids

    learning.record_commands(reader, ADMIN, [cmd(host, f"grep -E 'x{uid}' /var/log/syslog", 0, "x")])
    with migrated_db.read() as s:
        row = s.execute(select(CommandRun).where(CommandRun.id == failed[0].row["id"])).scalar_one()
    assert row.resolved is True


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"never {what}")
        time.sleep(0.01)


def test_a_pre_check_is_answered_while_the_index_write_waits(
    migrated_db: Database, tmp_path: Path, uid: str, runtimes: list[Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    """The index write that follows a recording holds the learning lock only while it reads
    the memory: a hook's request does not wait for the index file (here: held by another
    writer until the pre-check has its answer); the write then completes."""
    host = f"idx-{uid}"
    rt = make_rt(migrated_db, tmp_path / "home")
    runtimes.append(rt)
    learning.record_commands(rt, ADMIN, [cmd(host, f"zork{uid} go", 127, f"sh: zork{uid}: not found")])
    hook_service.sync_index(rt, force=True)
    keeper = hook_service.IndexKeeper(rt)
    path = hook_service.index_path(rt)
    before = index.Reader(path)
    old = before.meta["freshness"]
    before.close()

    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer of the index: the keeper's write waits
    caplog.set_level(logging.WARNING, logger="mspmode.hooks")
    try:
        recorded = learning.record_commands(
            rt, ADMIN, [cmd(host, f"frob{uid} now", 127, f"sh: frob{uid}: not found")]
        )
        keeper.note(recorded)
        _wait_for(lambda: keeper._busy, "started the index write")
        assert learning.check(rt, ADMIN, host, f"frob{uid} now")["verdict"] == "block"
        assert learning.check(rt, ADMIN, host, f"zork{uid} again")["verdict"] == "block"
        # Answered while the keeper still waits for the file (it gives up only after 10 s).
        assert not [r for r in caplog.records if "index write failed" in r.getMessage()]
        assert not keeper.flush(0)
    finally:
        blocker.rollback()
        blocker.close()
    assert keeper.close(60)  # what was noted is written, and its thread has ended
    assert "msp-index" not in [t.name for t in threading.enumerate()]
    after = index.Reader(path)
    try:
        assert after.meta["freshness"] != old  # the write waited, then went through
        from mspmode import engine

        assert engine.check(after.memory(), host, f"frob{uid} now").verdict == "block"
    finally:
        after.close()
    assert not [r for r in caplog.records if "index write failed" in r.getMessage()]


def test_replays_at_the_same_time_store_each_journaled_command_once(
    migrated_db: Database, tmp_path: Path, uid: str, runtimes: list[Runtime]
) -> None:
    """The service replays the journal from every recording request and from its watch loop,
    ``msp hooks sync`` from another process: replays that meet store each line once."""
    rt = make_rt(migrated_db, tmp_path / "home")
    runtimes.append(rt)
    host = f"jr-{uid}"
    lines = [
        {"command": f"echo jr{uid}-{i}", "exit_code": 0, "host": host, "at": 1.8e9 + i / 8} for i in range(40)
    ]
    journal = tmp_path / "home" / "journal.jsonl"
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    start = threading.Barrier(4)
    counts: list[int] = []

    def replay() -> None:
        start.wait()
        counts.append(hook_service.replay_journal(rt, ADMIN))

    threads = [threading.Thread(target=replay) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(counts) == [0, 0, 0, 40]
    with rt.db.read() as s:
        stored = list(
            s.scalars(select(CommandRun.command_text).where(CommandRun.command_text.like(f"echo jr{uid}-%")))
        )
    assert sorted(stored) == sorted(line["command"] for line in lines)
    assert not journal.exists() and not journal.with_name("journal.jsonl.replaying").exists()
