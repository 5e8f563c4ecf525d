"""Finding 3 of issue 15: the newest audit rows could be deleted unseen. Whoever can write to
the database but holds no audit key deletes the last rows and moves ``audit_chain_head`` to
what is left, empties the log, or puts back an older copy of rows and head; each is caught by
``msp audit verify`` (a real process) and by ``GET /api/audit-log/verify``, on every backend.

Two "machines" are two MSP_HOMEs with the same key files over one database, as in team mode:
each keeps its own anchor (the newest head it saw), and one machine's writes never make the
other's verify fail.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, insert, inspect, select, update
from sqlalchemy.engine import URL

from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.models.operations import AuditChainHead, AuditLog
from mspmode.server import create_app
from mspmode.services import audit, auth, crud
from mspmode.services import backup as backups
from mspmode.services.actor import local_actor
from mspmode.services.resources import RESOURCES
from mspmode.services.runtime import ANCHOR_FILE, Anchor, Runtime
from mspmode.settings import Settings
from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file
from tests.servers import serve_in_thread

CLIENTS = next(s for s in RESOURCES if s.name == "clients")
LOG = AuditLog.__table__
HEAD = AuditChainHead.__table__


@dataclass
class Machine:
    """One technician's machine: its own MSP_HOME (keys copied from the first), one database."""

    rt: Runtime

    @property
    def home(self) -> Path:
        return self.rt.settings.home

    def write(self, n: int = 1) -> None:
        for _ in range(n):
            crud.create_row(self.rt, local_actor(), CLIENTS, {"name": f"Client {uuid.uuid4().hex[:8]}"})

    def verify(self, *args: str) -> tuple[int, dict[str, Any]]:
        """``msp audit verify --json`` as a real process on this machine."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MSP_")}
        env.update(
            MSP_HOME=str(self.home), MSP_DATABASE_URL=self.rt.db.url.render_as_string(hide_password=False)
        )
        done = subprocess.run(
            [sys.executable, "-m", "mspmode", "audit", "verify", "--json", *args],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode in (0, 1), done.stderr
        return done.returncode, json.loads(done.stdout)


@pytest.fixture
def db(empty_database_url: URL) -> Iterator[Database]:
    database = Database(empty_database_url)
    schema.upgrade(database)
    yield database
    database.dispose()


def machine(db: Database, home: Path, keys_from: Path | None = None) -> Machine:
    for name in KEY_NAMES:
        if keys_from is not None:
            home.mkdir(mode=0o700, exist_ok=True)
            shutil.copy2(keys_from / f"{name}.key", home / f"{name}.key")
        else:
            ensure_key_file(name, home / f"{name}.key")
    settings = Settings(home=home, database_url=db.url.render_as_string(hide_password=False))
    return Machine(Runtime(settings, db))


@pytest.fixture
def a(db: Database, tmp_path: Path) -> Iterator[Machine]:
    """Machine A, which created a user and a few clients (every one an audit row)."""
    m = machine(db, tmp_path / "a")
    auth.create_user(
        m.rt, local_actor(), username="alice", role="technician", password="quiet harbor lantern 42"
    )
    m.write(5)
    yield m


@pytest.fixture
def b(db: Database, tmp_path: Path, a: Machine) -> Machine:
    """Machine B: the same keys, its own MSP_HOME, nothing seen yet."""
    return machine(db, tmp_path / "b", keys_from=a.home)


def rows(db: Database) -> list[dict[str, Any]]:
    with db.reader.connect() as conn:
        return [dict(r) for r in conn.execute(select(LOG).order_by(LOG.c.sequence)).mappings()]


def head(db: Database) -> dict[str, Any]:
    with db.reader.connect() as conn:
        return dict(conn.execute(select(HEAD)).mappings().one())


def forge_head(db: Database, **values: Any) -> None:
    """Set the head as a forger would: every column this schema has, no key."""
    with db.writer.begin() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("audit_chain_head")}
        conn.execute(update(HEAD).values({k: v for k, v in values.items() if k in columns}))


def truncate(db: Database, keep: int, **head: Any) -> None:
    """Delete every row after the first ``keep`` and move the head to the new last row, as
    the finding did: its sequence, MAC and count set, the rest of the head left alone."""
    kept = rows(db)[:keep]
    with db.writer.begin() as conn:
        conn.execute(delete(LOG).where(LOG.c.sequence > (kept[-1]["sequence"] if kept else 0)))
    last = kept[-1] if kept else {"sequence": 0, "mac": None}
    forge_head(db, sequence=last["sequence"], mac=last["mac"], row_count=len(kept), **head)


def test_deleting_the_newest_rows_and_forging_the_head_is_caught(a: Machine, b: Machine) -> None:
    truncate(a.rt.db, keep=len(rows(a.rt.db)) - 2)
    for m in (a, b):  # B never saw the chain: the signed head alone gives it away
        code, report = m.verify()
        assert code == 1 and not report["ok"], report
        assert "the chain head was altered" in report["problem"], report

    # Without a head MAC at all the head is no better.
    forge_head(a.rt.db, head_mac=None)
    code, report = b.verify()
    assert code == 1 and "is not signed" in report["problem"], report


def test_a_write_after_the_truncation_does_not_launder_it(a: Machine) -> None:
    truncate(a.rt.db, keep=len(rows(a.rt.db)) - 2)
    a.write()  # a legitimate change, appended to the forged head
    code, report = a.verify()
    assert code == 1, report
    new_row = rows(a.rt.db)[-1]
    assert report["sequence"] == new_row["sequence"]
    assert "appended to a chain head that did not verify" in report["problem"]


def test_deleting_every_row_is_caught(a: Machine, b: Machine) -> None:
    truncate(a.rt.db, keep=0, head_mac=None)  # the head of a chain never written to
    assert rows(a.rt.db) == []
    code, report = a.verify()  # A wrote rows: its anchor remembers them
    assert code == 1 and "this machine saw row 6" in report["problem"], report
    code, report = b.verify()  # B saw nothing, but a user exists only through an audited change
    assert code == 1 and "audit log is empty but 1 user(s) exist" in report["problem"], report


def test_rolling_back_to_an_earlier_signed_head_is_caught(a: Machine, b: Machine, tmp_path: Path) -> None:
    earlier_rows, earlier_head = rows(a.rt.db), head(a.rt.db)
    assert b.verify()[0] == 0
    a.write(3)
    assert b.verify()[0] == 0  # A's new rows are fine for B, whose anchor moves on
    newest = rows(a.rt.db)[-1]
    kept = f"{newest['sequence']}:{newest['mac']}"  # what an operator wrote down

    # The forger puts back the older rows and their genuinely signed head.
    with a.rt.db.writer.begin() as conn:
        conn.execute(delete(LOG))
        conn.execute(insert(LOG), earlier_rows)
        conn.execute(update(HEAD).values({k: v for k, v in earlier_head.items() if k != "id"}))

    for m in (a, b):
        code, report = m.verify()
        assert code == 1, report
        assert "this machine saw row 9" in report["problem"] and "ends at row 6" in report["problem"]

    # A machine that never looked has no anchor: only a head kept outside the database helps.
    c = machine(a.rt.db, tmp_path / "c", keys_from=a.home)
    assert c.verify()[0] == 0
    code, report = c.verify("--expect", kept)
    assert code == 1 and "row 9 was expected" in report["problem"], report
    assert c.verify("--expect", f"6:{earlier_rows[-1]['mac']}")[0] == 0


def test_another_machines_rows_never_fail_an_anchor(a: Machine, b: Machine) -> None:
    code, report = b.verify()
    assert code == 0 and report["anchor"] is None and report["head"].startswith("6:"), report
    a.write(3)
    code, report = b.verify()
    assert code == 0 and report["anchor"] == 6 and report["head"].startswith("9:"), report
    code, report = b.verify()
    assert code == 0 and report["anchor"] == 9, report


def test_the_anchor_is_private_and_written_by_writers(a: Machine) -> None:
    last = rows(a.rt.db)[-1]
    entry = audit.read_anchor(a.rt.audit_anchor)
    assert entry is not None and (entry.sequence, entry.mac) == (last["sequence"], last["mac"])
    assert a.verify("--expect", f"{last['sequence']}:{last['mac'][:16]}")[0] == 0
    a.write(40)  # past the journal's length: folded into the checkpoint
    entry = audit.read_anchor(a.rt.audit_anchor)
    assert entry is not None and entry.sequence == rows(a.rt.db)[-1]["sequence"]
    files = sorted(p for p in a.home.iterdir() if "audit-anchor" in p.name)
    assert [p.name for p in files] == [".audit-anchor.json.lock", "audit-anchor.json", "audit-anchor.log"]
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {p.name: "0o600" for p in files}


def test_the_api_says_what_the_cli_says(a: Machine) -> None:
    auth.create_user(a.rt, local_actor(), username="auditor", role="admin", password="amber kettle orbit 97")
    _, key = auth.create_api_key(a.rt, local_actor(), name="auditor key", role="admin", username="auditor")
    with serve_in_thread(create_app(a.rt.settings, a.rt.db)) as base:
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        good = api.get("/api/audit-log/verify").json()
        assert good["ok"] and good["head"] == f"{rows(a.rt.db)[-1]['sequence']}:{rows(a.rt.db)[-1]['mac']}"
        truncate(a.rt.db, keep=3)
        code, cli = a.verify()
        answer = api.get("/api/audit-log/verify").json()
        assert code == 1 and not answer["ok"] and answer["problem"] == cli["problem"]
        expect = api.get("/api/audit-log/verify", params={"expect": good["head"]}).json()
        assert not expect["ok"]
        bad = api.get("/api/audit-log/verify", params={"expect": "nine:zzz"})
        assert bad.status_code == 422 and "SEQ:MAC" in bad.json()["error"]["message"]
        api.close()


def test_a_restore_elsewhere_is_accepted_once_through_its_signed_row(
    a: Machine, b: Machine, tmp_path: Path
) -> None:
    taken = backups.backup(a.rt.settings, a.rt.db, directory=tmp_path / "bk", verify=False)
    a.write(2)
    assert b.verify()[0] == 0  # B has seen the chain up to the newest row
    seen = rows(a.rt.db)[-1]["sequence"]
    plan = backups.plan_restore(a.rt.settings, a.rt.db, taken.path)
    assert backups.apply_restore(a.rt.db, plan) == []
    assert backups.record_restore(a.rt, local_actor(), plan) is True
    restore_row = rows(a.rt.db)[-1]
    assert restore_row["changes"]["replaced_head"]["sequence"] == seen

    code, report = a.verify()  # A did the restore: its anchor starts from the restored chain
    assert code == 0, report
    code, report = b.verify()  # B accepts the rollback because the restore row says what it replaced
    assert code == 0 and report["anchor"] == seen, report
    code, report = b.verify()
    assert code == 0 and report["anchor"] == restore_row["sequence"], report


def test_a_reset_anchor_survives_a_crash_before_its_journal_was_emptied(tmp_path: Path) -> None:
    anchor = Anchor(tmp_path / ANCHOR_FILE, "sqlite:////somewhere/msp.db")
    audit.reset_anchor(anchor, audit.Checkpoint(9, "9" * 64), [])
    journal = anchor.path.with_suffix(".log")
    stale = json.loads(anchor.path.read_text())["generation"] - 1
    # Lines of the generation before the reset (the crash left them), and a line cut short.
    line = {"generation": stale, "database": anchor.database, "sequence": 12, "mac": "c" * 64}
    journal.write_text(json.dumps(line) + '\n{"generation": ')
    entry = audit.read_anchor(anchor)
    assert entry is not None and (entry.sequence, entry.mac) == (9, "9" * 64)


WRITER = """
import sys, uuid
from mspmode.services import crud
from mspmode.services.actor import local_actor
from mspmode.services.resources import RESOURCES
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings

rt = Runtime(Settings())
spec = next(s for s in RESOURCES if s.name == "clients")
for _ in range(int(sys.argv[1])):
    crud.create_row(rt, local_actor(), spec, {"name": f"Client {uuid.uuid4().hex[:8]}"})
"""


def test_a_writer_carries_its_anchor_past_rows_another_machine_wrote(a: Machine, b: Machine) -> None:
    """Rows written elsewhere never advance this machine's anchor by themselves (another
    process's after-commit step, another machine); this machine's next row carries its anchor
    through them as far as the stored chain proves them: linked, and signed with the key."""
    start = audit.read_anchor(a.rt.audit_anchor)
    assert start is not None
    b.write(3)
    assert audit.read_anchor(a.rt.audit_anchor) == start
    a.write()
    entry = audit.read_anchor(a.rt.audit_anchor)
    last = rows(a.rt.db)[-1]
    assert entry is not None and (entry.sequence, entry.mac) == (last["sequence"], last["mac"])

    # One of B's next rows altered by someone without the key: A's anchor stops before it.
    b.write(3)
    altered = entry.sequence + 2
    with a.rt.db.writer.begin() as conn:
        conn.execute(update(LOG).where(LOG.c.sequence == altered).values(actor_name="someone else"))
    a.write()
    stopped = audit.read_anchor(a.rt.audit_anchor)
    assert stopped is not None and stopped.sequence == altered - 1


def test_concurrent_writers_keep_the_anchor_on_the_chain(a: Machine) -> None:
    """Threads of this process and two other processes of the same machine write at once: the
    anchor stays a row of the chain (the processes' after-commit steps interleave), this
    process's own rows carry it to the end, and verify holds throughout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSP_")}
    env.update(MSP_HOME=str(a.home), MSP_DATABASE_URL=a.rt.db.url.render_as_string(hide_password=False))
    others = [
        subprocess.Popen([sys.executable, "-c", WRITER, "15"], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: a.write(10), range(4)))
    for p in others:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err

    chain = {r["sequence"]: r["mac"] for r in rows(a.rt.db)}
    assert len(chain) == 6 + 40 + 30
    entry = audit.read_anchor(a.rt.audit_anchor)
    assert entry is not None and chain.get(entry.sequence) == entry.mac
    a.write()  # this process's next row continues whatever it last anchored
    last = max(chain) + 1
    entry = audit.read_anchor(a.rt.audit_anchor)
    assert entry is not None and (entry.sequence, entry.mac) == (last, rows(a.rt.db)[-1]["mac"])
    code, report = a.verify()
    assert code == 0 and report["anchor"] == last, report
