"""The tamper-evident audit log: one HMAC-chained row per mutation, and its verification.

Each row's MAC covers its own content, its sequence number and the previous row's MAC, under
the installation's audit key (``audit.key``, outside the database). Whoever can write to the
database but does not hold the key cannot edit, delete, insert or reorder rows without
breaking the chain where they did it; ``verify`` walks it and names the first broken row.

The newest rows have no successor to give them away, so the chain's end is protected twice:

- **In the database**, the single ``audit_chain_head`` row (which writers lock to take turns)
  records the last sequence, the row count and the last MAC, signed together (``head_mac``).
  Deleting the newest rows and moving the head back to what is left needs the key. A writer
  checks the head before extending it; one that does not verify is marked in the new row
  (``prev_mac`` starts with ``unverified-head:``), so the next write cannot launder it.
- **Outside it**, for a rollback to an older copy whose head is genuinely signed (and for an
  emptied log): every machine keeps an *anchor*, the newest head it has seen of each database,
  in ``$MSP_HOME/audit-anchor.json`` and its journal ``audit-anchor.log`` (0600; see below;
  never moved back). A writer advances it when its row continues the anchor; ``verify``
  advances it to the head it checked and fails when the chain no longer holds the anchored
  row. Other machines writing newer rows never fail it: the anchored row is still there. An
  operator can also keep a head themselves (``msp audit head``) and check against it
  (``msp audit verify --expect SEQ:MAC``).

``msp restore`` rolls the chain back on purpose: it appends a signed row naming the head it
replaced and resets this machine's anchor; another machine accepts the rollback once, through
that row, when it replaced a head at or past its anchor.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, func, select, update
from sqlalchemy.orm import Session, SessionTransaction

from mspmode.db import redaction
from mspmode.db.base import utcnow
from mspmode.db.session import Database
from mspmode.errors import PermissionDeniedError, ValidationError
from mspmode.models.core import User
from mspmode.models.operations import AuditChainHead, AuditLog
from mspmode.services.actor import Actor
from mspmode.services.runtime import Anchor, AuditKey, Runtime, Signer

log = logging.getLogger(__name__)

# Field names whose values never enter the audit log, whatever table they come from.
SECRET_FIELD_MARKERS = ("password", "secret", "token", "_encrypted", "key_hash", "private_key", "api_key")
MASK = "***"


def is_secret_field(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_FIELD_MARKERS)


def jsonable(value: Any) -> Any:
    """A value as it will be stored in the ``changes`` JSON (and hashed into the MAC)."""
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): MASK if is_secret_field(str(k)) else jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return value


def masked(changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` ready to store: secret-named fields masked, values made JSON."""
    return {k: MASK if is_secret_field(k) else jsonable(v) for k, v in changes.items()}


def _payload(row: AuditLog, sequence: int | None = None) -> bytes:
    doc = {
        "sequence": row.sequence if sequence is None else sequence,
        "occurred_at": row.occurred_at.isoformat(),
        "actor_type": row.actor_type,
        "actor_id": str(row.actor_id) if row.actor_id else None,
        "actor_name": row.actor_name,
        "action": row.action,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
        "changes": row.changes,
        "client_address": row.client_address,
        "request_id": row.request_id,
        "mac_key_id": row.mac_key_id,
        "prev_mac": row.prev_mac,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# ---- the head -----------------------------------------------------------------------------------

# Revisions whose head carried no MAC: upgrading from one signs the head as it stands.
UNSIGNED_HEAD_REVISIONS = frozenset({"0001", "0002", "0003", "0004", "0005", "0006", "0007"})
# Starts the prev_mac of a row appended to a head that did not verify: signed with the row,
# so removing the mark breaks the row.
UNVERIFIED_HEAD = "unverified-head:"
# session.info key: rows this transaction appended, for the anchor once it commits.
_WRITTEN = "msp_audit_rows_written"
_COMMITTED = "msp_audit_rows_committed"


def _head_message(sequence: int, count: int, mac: str | None) -> bytes:
    # Not JSON, unlike a row's payload: the two can never be mistaken for each other.
    return f"msp-audit-head:{sequence}:{count}:{mac or ''}".encode()


def head_holds(key: Signer, sequence: int, count: int, mac: str | None, head_mac: str | None) -> bool:
    """The head is one the key holder wrote: signed, or the empty chain no row was ever added to."""
    if head_mac is None:
        return sequence == 0 and count == 0 and mac is None
    return hmac.compare_digest(key.sign(_head_message(sequence, count, mac)), head_mac)


@dataclass(frozen=True)
class Checkpoint:
    """A row of the chain by its sequence and MAC: ``SEQ:MAC``, what an operator keeps."""

    sequence: int
    mac: str

    @property
    def token(self) -> str:
        return f"{self.sequence}:{self.mac}"

    @classmethod
    def parse(cls, token: str) -> Checkpoint:
        """``SEQ:MAC``; the MAC may be shortened to its first 16 hex digits or more."""
        found = re.fullmatch(r"\s*(\d+):([0-9a-fA-F]{16,64})\s*", token)
        if not found or int(found.group(1)) < 1:
            raise ValidationError(
                f"expected an audit head as SEQ:MAC (as `msp audit head` prints it), not {token[:80]!r}"
            )
        return cls(int(found.group(1)), found.group(2).lower())

    def matches(self, mac: str | None) -> bool:
        return mac is not None and mac.startswith(self.mac)


# ---- writing ------------------------------------------------------------------------------------


def record(
    session: Session,
    signer: Signer,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: Any = None,
    changes: Mapping[str, Any] | None = None,
) -> AuditLog:
    """Append one audit row in the caller's transaction (it commits or rolls back with the
    change it describes)."""
    # The UPDATE takes the head row's lock until commit: audit writers queue here.
    session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(sequence=AuditChainHead.sequence + 1, row_count=AuditChainHead.row_count + 1)
    )
    head = session.get(AuditChainHead, 1, populate_existing=True)
    assert head is not None, "audit_chain_head row missing: run `msp db upgrade`"
    prev_mac = head.mac
    if not head_holds(signer, head.sequence - 1, head.row_count - 1, head.mac, head.head_mac):
        prev_mac = UNVERIFIED_HEAD + (head.mac or "")[:48]
    row = AuditLog(
        id=uuid.uuid4(),
        sequence=head.sequence,
        occurred_at=utcnow(),
        actor_type=actor.type,
        actor_id=actor.api_key_id if actor.type == "api_key" else actor.id,
        actor_name=actor.name,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        changes=masked(changes) if changes is not None else None,
        client_address=actor.client_address,
        request_id=actor.request_id,
        mac_key_id=signer.key_id,
        prev_mac=prev_mac,
        mac="",
    )
    # The write path leaves a signed row alone: its text is redacted here, before it is signed.
    redaction.redact_object(session, row, signing=True)
    row.mac = signer.sign(_payload(row))
    head.mac = row.mac
    head.head_mac = signer.sign(_head_message(head.sequence, head.row_count, row.mac))
    session.add(row)
    session.flush()
    anchor = signer.anchor if isinstance(signer, AuditKey) else None
    if anchor is not None:
        session.info.setdefault(_WRITTEN, []).append((anchor, signer, row.sequence, prev_mac, row.mac))
    return row


@event.listens_for(Session, "after_commit")
def _stage_after_commit(session: Session) -> None:
    # After the commit, never before: an anchor must only ever name rows that exist.
    written = session.info.pop(_WRITTEN, None)
    if written:
        session.info[_COMMITTED] = written


@event.listens_for(Session, "after_transaction_end")
def _advance_once_released(session: Session, transaction: SessionTransaction) -> None:
    # Once the transaction's connection is back in its pool (SQLite's writer pool holds one):
    # carrying the anchor past other processes' rows may read them.
    written = session.info.pop(_COMMITTED, None) if transaction.parent is None else None
    if written:
        bind = session.get_bind()
        engine = bind.engine if isinstance(bind, Connection) else bind
        for anchor in {w[0] for w in written}:
            mine = [w for w in written if w[0] == anchor]
            signer = mine[0][1]
            _advance(
                anchor,
                [w[2:] for w in mine],
                lambda at, upto, signer=signer: _chained(engine, signer, at, upto),
            )


def _chained(engine: Engine, signer: Signer, at: Checkpoint, upto: int) -> Checkpoint:
    """How far the stored chain continues ``at`` towards row ``upto``, each row linked to the
    one before and signed: the rows other processes wrote between this machine's anchor and a
    row of this process (their after-commit steps ran in another order)."""
    if upto - at.sequence > _CATCH_UP_ROWS:
        return at  # left to verify
    try:
        return _chained_rows(engine, signer, at, upto)
    except Exception as exc:  # the write is committed; a stale anchor only protects less
        log.warning("audit anchor not carried past other writers' rows: %s", type(exc).__name__)
        return at


def _chained_rows(engine: Engine, signer: Signer, at: Checkpoint, upto: int) -> Checkpoint:
    with Session(engine) as session:
        rows = session.scalars(
            select(AuditLog)
            .where(AuditLog.sequence >= at.sequence, AuditLog.sequence <= upto)
            .order_by(AuditLog.sequence)
        )
        reached: Checkpoint | None = None
        for row in rows:
            if reached is None:
                if row.sequence != at.sequence or row.mac != at.mac:
                    return at  # the anchored row is not there: verify's business
                reached = at
                continue
            if (
                row.sequence != reached.sequence + 1
                or row.prev_mac != reached.mac
                or not hmac.compare_digest(signer.sign(_payload(row)), row.mac)
            ):
                break
            reached = Checkpoint(row.sequence, row.mac)
    return reached or at


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


# ---- verifying ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """The result of walking the chain: ``ok``, or the first broken row and what broke.

    ``head`` is the last row as ``SEQ:MAC`` (keep it to check against later); ``anchor`` the
    sequence this machine had seen before this check, if any."""

    rows: int
    ok: bool
    problem: str | None = None
    sequence: int | None = None
    row_id: uuid.UUID | None = None
    head: str | None = None
    anchor: int | None = None


@dataclass
class _Walk:
    count: int = 0
    tail: Checkpoint | None = None
    macs: dict[int, str] = field(default_factory=dict)
    # Restore rows: (their MAC, the sequence of the head they replaced).
    restores: list[tuple[str, int]] = field(default_factory=list)
    broken: ChainReport | None = None


def _walk(session: Session, key: Signer, wanted: set[int]) -> _Walk:
    walk = _Walk()
    expected_seq, prev_mac = 1, None
    for row in session.scalars(select(AuditLog).order_by(AuditLog.sequence)).yield_per(1000):
        walk.count += 1
        if row.mac_key_id != key.key_id:
            what = f"was signed with key {row.mac_key_id}, not the current audit key {key.key_id}"
            walk.broken = _broken(walk.count, row, what)
            return walk
        own_mac_valid = hmac.compare_digest(key.sign(_payload(row)), row.mac)
        if row.sequence > expected_seq:
            missing = (
                f"{expected_seq}"
                if row.sequence == expected_seq + 1
                else f"{expected_seq}–{row.sequence - 1}"
            )
            walk.broken = _broken(walk.count, row, f"follows a gap: row(s) {missing} were deleted")
            return walk
        if not own_mac_valid:
            moved = any(
                key.sign(_payload(row, seq)) == row.mac
                for seq in range(max(1, row.sequence - 50), row.sequence + 51)
            )
            what = (
                "was moved: its sequence number was changed (rows reordered)"
                if moved
                else "was edited, or inserted without the audit key: its MAC does not match"
            )
            walk.broken = _broken(walk.count, row, what)
            return walk
        if row.prev_mac is not None and row.prev_mac.startswith(UNVERIFIED_HEAD):
            walk.broken = _broken(
                walk.count,
                row,
                "was appended to a chain head that did not verify: rows before it were deleted "
                "or the head was altered, and the writer marked it",
            )
            return walk
        if row.prev_mac != prev_mac:
            walk.broken = _broken(
                walk.count, row, "does not follow the row before it: rows were inserted, deleted or reordered"
            )
            return walk
        if row.sequence in wanted:
            walk.macs[row.sequence] = row.mac
        replaced = _replaced_sequence(row)
        if replaced is not None:
            walk.restores.append((row.mac, replaced))
        expected_seq, prev_mac = row.sequence + 1, row.mac
    if walk.count:
        walk.tail = Checkpoint(expected_seq - 1, str(prev_mac))
    return walk


def _replaced_sequence(row: AuditLog) -> int | None:
    """For the row `msp restore` appends, the sequence of the head the restore replaced."""
    if row.action != "other" or row.entity_type != "database" or not isinstance(row.changes, dict):
        return None
    replaced = row.changes.get("replaced_head")
    if isinstance(replaced, dict) and isinstance(replaced.get("sequence"), int):
        return int(replaced["sequence"])
    return None


def _head_problem(key: Signer, head: AuditChainHead, walk: _Walk) -> str | None:
    last = walk.tail.sequence if walk.tail else 0
    last_mac = walk.tail.mac if walk.tail else None
    if not head_holds(key, head.sequence, head.row_count, head.mac, head.head_mac):
        if head.head_mac is None:
            return (
                f"the chain head (sequence {head.sequence}) is not signed: it was altered, or the "
                "database was upgraded without the audit key"
            )
        return (
            f"the chain head was altered: its MAC does not match its sequence {head.sequence} "
            f"and count {head.row_count} (the newest rows were deleted and the head moved back)"
        )
    if head.sequence != last or head.mac != last_mac:
        return (
            f"the chain ends at sequence {last} but its head records {head.sequence}: "
            "the newest rows were deleted"
        )
    if head.row_count != walk.count:
        return f"the chain holds {walk.count} rows but its head counts {head.row_count}: rows were deleted"
    return None


def verify(
    session: Session,
    key: Signer,
    *,
    seen: AnchorEntry | None = None,
    expect: Checkpoint | None = None,
) -> ChainReport:
    """Walk the whole chain in sequence order and report the first thing that does not hold:
    a row, the signed head, an expected head (``expect``) or this machine's anchor (``seen``)."""
    return _verify(session, key, seen=seen, expect=expect)[0]


def _verify(
    session: Session, key: Signer, *, seen: AnchorEntry | None, expect: Checkpoint | None
) -> tuple[ChainReport, _Walk]:
    head = session.execute(select(AuditChainHead).where(AuditChainHead.id == 1)).scalar_one()
    walk = _walk(session, key, {c.sequence for c in (seen, expect) if c is not None})
    token = walk.tail.token if walk.tail else None
    anchored = seen.sequence if seen else None

    def failed(problem: str) -> tuple[ChainReport, _Walk]:
        return ChainReport(
            rows=walk.count, ok=False, problem=problem, sequence=head.sequence, head=token, anchor=anchored
        ), walk

    if walk.broken is not None:
        return ChainReport(**{**walk.broken.__dict__, "head": token, "anchor": anchored}), walk
    problem = _head_problem(key, head, walk)
    if problem:
        return failed(problem)
    last = walk.tail.sequence if walk.tail else 0
    if expect is not None and not expect.matches(walk.macs.get(expect.sequence)):
        if expect.sequence > last:
            return failed(
                f"row {expect.sequence} was expected ({expect.token[:30]}…) but the chain ends at "
                f"row {last}: rows were deleted or an older copy of the database was put back"
            )
        return failed(
            f"row {expect.sequence} is not the row expected ({expect.token[:30]}…): the chain was "
            "replaced from that row on"
        )
    anchored_row = walk.macs.get(seen.sequence) if seen is not None else None
    if seen is not None and anchored_row != seen.mac and not _restored_past(walk, seen):
        where = (
            f"the chain ends at row {last}"
            if seen.sequence > last
            else f"row {seen.sequence} is another row now"
        )
        return failed(
            f"this machine saw row {seen.sequence} of the chain on {seen.seen_at[:19]} but {where}: "
            "rows were deleted or an older copy of the database was put back (if the "
            "database was replaced on purpose, `msp audit verify --reset-anchor`)"
        )
    if walk.count == 0:
        users = session.scalar(select(func.count()).select_from(User)) or 0
        if users:
            return failed(
                f"the audit log is empty but {users} user(s) exist, each created by an audited "
                "change: its rows were deleted"
            )
    return ChainReport(rows=walk.count, ok=True, head=token, anchor=anchored), walk


def _restored_past(walk: _Walk, seen: AnchorEntry) -> bool:
    """The chain records a restore this machine has not seen yet that replaced a chain at
    least as long as the anchored one: the rollback was `msp restore`, not a forger."""
    return any(mac not in seen.restores and replaced >= seen.sequence for mac, replaced in walk.restores)


def _broken(count: int, row: AuditLog, what: str) -> ChainReport:
    return ChainReport(
        rows=count,
        ok=False,
        problem=f"row {row.sequence} (id {row.id}) {what}",
        sequence=row.sequence,
        row_id=row.id,
    )


def verify_chain(
    rt: Runtime, actor: Actor, *, expect: Checkpoint | None = None, reset_anchor: bool = False
) -> ChainReport:
    """``verify`` for an admin against this machine's anchor, in one consistent read; an
    intact chain then becomes the anchor. ``reset_anchor`` forgets the anchor first."""
    if not actor.has_role("admin"):
        raise PermissionDeniedError("only an admin may verify the audit log")
    key = rt.audit_signer
    anchor = key.anchor
    seen = None
    if anchor is not None:
        if reset_anchor:
            forget_anchor(anchor)
        try:
            # Read before the database: a writer anchors only committed rows, so the snapshot
            # below holds every row the anchor can name.
            seen = read_anchor(anchor)
        except _AnchorDamagedError as exc:
            return ChainReport(rows=0, ok=False, problem=str(exc))
    with rt.db.read() as session:
        _one_snapshot(session)
        report, walk = _verify(session, key, seen=seen, expect=expect)
    if report.ok and anchor is not None and walk.tail is not None:
        rollback = seen is not None and walk.macs.get(seen.sequence) != seen.mac
        _store(anchor, walk.tail, [mac for mac, _ in walk.restores], prior=seen, rollback=rollback)
    return report


def _one_snapshot(session: Session) -> None:
    # The head and the rows must be read in one snapshot. SQLite's read transaction and
    # MariaDB's REPEATABLE READ give one; PostgreSQL's READ COMMITTED gives one per statement.
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def current_head(rt: Runtime, actor: Actor) -> Checkpoint | None:
    """The chain's head as ``SEQ:MAC`` for an operator to keep, if it is signed by our key
    (None for an empty chain). Raises ValidationError for a head that does not verify."""
    if not actor.has_role("admin"):
        raise PermissionDeniedError("only an admin may read the audit chain head")
    with rt.db.read() as session:
        head = session.execute(select(AuditChainHead).where(AuditChainHead.id == 1)).scalar_one()
    if not head_holds(rt.audit_signer, head.sequence, head.row_count, head.mac, head.head_mac):
        raise ValidationError("the audit chain head does not verify: run `msp audit verify`")
    return Checkpoint(head.sequence, head.mac) if head.mac else None


def sign_legacy_head(db: Database, key: Signer) -> bool:
    """Sign the head of a chain written before heads were signed (right after upgrading from
    one of ``UNSIGNED_HEAD_REVISIONS``) if the chain is intact and ends where its head says.
    False when it does not (the head stays unsigned, and verify says why)."""
    with db.write() as session:
        head = session.get(AuditChainHead, 1, with_for_update=True)
        if head is None or head.head_mac is not None or head.sequence == 0:
            return True
        walk = _walk(session, key, set())
        tail = walk.tail
        if walk.broken or tail is None or (tail.sequence, tail.mac) != (head.sequence, head.mac):
            return False
        head.row_count = walk.count
        head.head_mac = key.sign(_head_message(head.sequence, walk.count, head.mac))
        return True


# ---- the anchor ---------------------------------------------------------------------------------
#
# Two files in MSP_HOME, both 0600, changed only under an exclusive lock (``.audit-anchor.json.lock``):
#   audit-anchor.json  the checkpoint {"format", "generation", "databases": {url: entry}}, replaced
#                      atomically (a new file renamed over it) by verify, restore and compaction;
#   audit-anchor.log   one JSON line per advance a writer made since, tagged with the checkpoint's
#                      generation. Appending a line is what keeps an audited write cheap: replacing
#                      a file costs a rename, which ext4 turns into a data flush (milliseconds).
# The anchor of a database is its checkpoint entry moved on by its last line of the current
# generation; lines of an older generation (a crash between a checkpoint and the journal's
# truncation) are ignored, so a reset is never undone.


@dataclass(frozen=True)
class AnchorEntry:
    """What this machine last saw of one database's chain."""

    sequence: int
    mac: str
    seen_at: str
    restores: tuple[str, ...] = ()


class _AnchorDamagedError(ValidationError):
    pass


_ANCHOR_FORMAT = 1
_MAX_DATABASES = 100
_MAX_RESTORES = 100
# Journal lines before a writer folds them into the checkpoint.
_JOURNAL_LINES = 32
# Rows of other processes a writer reads to carry the anchor past them (more: verify does it).
_CATCH_UP_ROWS = 1000
_lock = threading.Lock()
# Rows this process committed, per anchor: (sequence -> (prev_mac, mac)), so an anchor still
# advances when threads' after-commit steps run out of order.
_recent: dict[Anchor, OrderedDict[int, tuple[str | None, str]]] = {}
_RECENT_ROWS = 4096


def read_anchor(anchor: Anchor) -> AnchorEntry | None:
    with _locked(anchor):
        doc, lines = _read_state(anchor)
    raw = _current(doc, lines, anchor.database)
    return None if raw is None else _entry(anchor, raw)


def forget_anchor(anchor: Anchor) -> None:
    """Drop this machine's anchor for the database (a damaged file is started afresh)."""
    _rewrite(anchor, lambda entries: entries.pop(anchor.database, None))


def reset_anchor(anchor: Anchor, head: Checkpoint, restores: list[str]) -> None:
    """Set the anchor to ``head`` even if it is older (a restore done on this machine)."""

    def change(entries: dict[str, Any]) -> None:
        old = entries.get(anchor.database) or {}
        entries[anchor.database] = _raw(head, [*old.get("restores", []), *restores])

    _rewrite(anchor, change)


def _rewrite(anchor: Anchor, change: Any) -> None:
    try:
        with _locked(anchor):
            try:
                doc = _merged(*_read_state(anchor))
            except _AnchorDamagedError:
                doc = _empty()
            change(doc["databases"])
            _checkpoint(anchor, doc)
    except OSError as exc:
        log.warning("could not update the audit anchor %s: %s", anchor.path, exc)
    with _lock:
        _recent.pop(anchor, None)


def _entry(anchor: Anchor, raw: Any) -> AnchorEntry:
    try:
        return AnchorEntry(
            sequence=int(raw["sequence"]),
            mac=str(raw["mac"]),
            seen_at=str(raw.get("seen_at", "")),
            restores=tuple(str(m) for m in raw.get("restores", [])),
        )
    except (KeyError, TypeError, ValueError):
        raise _AnchorDamagedError(_damaged(anchor.path)) from None


def _damaged(path: Path) -> str:
    return (
        f"the audit anchor {path} is damaged: run `msp audit verify --reset-anchor` "
        "to start a new one from the current head"
    )


def _empty() -> dict[str, Any]:
    return {"format": _ANCHOR_FORMAT, "generation": 0, "databases": {}}


def _journal(anchor: Anchor) -> Path:
    return anchor.path.with_suffix(".log")


def _read_state(anchor: Anchor) -> tuple[dict[str, Any], list[str]]:
    """The checkpoint and the journal's lines, oldest first (parsed only as far as needed)."""
    try:
        raw = anchor.path.read_text(encoding="utf-8")
    except FileNotFoundError:
        doc = _empty()
    else:
        try:
            doc = json.loads(raw)
            if (
                doc.get("format") != _ANCHOR_FORMAT
                or not isinstance(doc.get("databases"), dict)
                or not isinstance(doc.get("generation"), int)
            ):
                raise ValueError
        except (ValueError, AttributeError):
            raise _AnchorDamagedError(_damaged(anchor.path)) from None
    try:
        text = _journal(anchor).read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    return dict(doc), text.splitlines()


def _records(doc: dict[str, Any], lines: list[str]) -> Iterator[dict[str, Any]]:
    """The journal's records of the checkpoint's generation, newest first."""
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:  # a line cut short by a crash: that advance is lost, nothing else
            continue
        if isinstance(record, dict) and record.get("generation") == doc["generation"]:
            yield record


def _current(doc: dict[str, Any], lines: list[str], database: str) -> dict[str, Any] | None:
    entry: dict[str, Any] | None = doc["databases"].get(database)
    for record in _records(doc, lines):
        if record.get("database") == database:
            return {**(entry or {}), **{k: record[k] for k in ("sequence", "mac", "seen_at") if k in record}}
    return entry


def _merged(doc: dict[str, Any], lines: list[str]) -> dict[str, Any]:
    databases = dict(doc["databases"])
    for record in reversed(list(_records(doc, lines))):
        database = str(record.get("database"))
        fields = {k: record[k] for k in ("sequence", "mac", "seen_at") if k in record}
        databases[database] = {**(databases.get(database) or {}), **fields}
    return {**doc, "databases": databases}


def _raw(head: Checkpoint, restores: list[str]) -> dict[str, Any]:
    return {
        "sequence": head.sequence,
        "mac": head.mac,
        "seen_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "restores": list(dict.fromkeys(restores))[-_MAX_RESTORES:],
    }


def _checkpoint(anchor: Anchor, doc: dict[str, Any]) -> None:
    """Replace the checkpoint atomically (private from its first byte) with ``doc`` as its next
    generation, then empty the journal, whose lines it now holds."""
    entries = doc["databases"]
    if len(entries) > _MAX_DATABASES:
        newest = sorted(entries, key=lambda k: str(entries[k].get("seen_at", "")))[-_MAX_DATABASES:]
        entries = {k: entries[k] for k in newest}
    doc = {**doc, "generation": int(doc.get("generation", 0)) + 1, "databases": entries}
    path = anchor.path
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    os.close(os.open(_journal(anchor), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))


def _append(anchor: Anchor, doc: dict[str, Any], head: Checkpoint) -> None:
    record = {
        "generation": doc["generation"],
        "database": anchor.database,
        "sequence": head.sequence,
        "mac": head.mac,
        "seen_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    fd = os.open(_journal(anchor), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
    finally:
        os.close(fd)


@contextmanager
def _locked(anchor: Anchor) -> Iterator[None]:
    """One user of the anchor files at a time, across threads and processes (read, compare,
    write must not interleave, or an older head could overwrite a newer one)."""
    lock = anchor.path.with_name(f".{anchor.path.name}.lock")
    with _lock:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
        except FileNotFoundError:  # no MSP_HOME yet
            anchor.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            try:
                import fcntl
            except ImportError:  # Windows: the thread lock only
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _store(
    anchor: Anchor, head: Checkpoint, restores: list[str], *, prior: AnchorEntry | None, rollback: bool
) -> None:
    """After a successful verify: the anchor becomes ``head``, unless a newer head was anchored
    meanwhile. ``rollback``: the chain was accepted as restored below ``prior``, so ``head``
    replaces ``prior`` even though it is older."""
    try:
        with _locked(anchor):
            doc = _merged(*_read_state(anchor))
            raw = doc["databases"].get(anchor.database)
            now = _entry(anchor, raw) if raw is not None else None
            replacing = rollback and now == prior
            if now is not None and now.sequence > head.sequence and not replacing:
                return
            doc["databases"][anchor.database] = _raw(head, [*(now.restores if now else ()), *restores])
            _checkpoint(anchor, doc)
    except (OSError, _AnchorDamagedError) as exc:
        log.warning("could not update the audit anchor %s: %s", anchor.path, exc)


def _advance(
    anchor: Anchor,
    rows: list[tuple[int, str | None, str]],
    chained: Callable[[Checkpoint, int], Checkpoint] | None = None,
) -> None:
    """After a commit: move the anchor along the rows this process wrote, as far as they
    continue it one by one, and through rows other processes wrote in between as far as the
    stored chain proves (``chained``); a row that does not continue it is verify's business."""
    try:
        with _locked(anchor):
            recent = _recent.setdefault(anchor, OrderedDict())
            for sequence, prev_mac, mac in rows:
                recent[sequence] = (prev_mac, mac)
            while len(recent) > _RECENT_ROWS:
                recent.popitem(last=False)
            doc, lines = _read_state(anchor)
            raw = _current(doc, lines, anchor.database)
            if raw is None:
                sequence, _, mac = max(rows)
                at = Checkpoint(sequence, mac)
            else:
                entry = _entry(anchor, raw)
                at = Checkpoint(entry.sequence, entry.mac)
                while (nxt := recent.get(at.sequence + 1)) is not None and nxt[0] == at.mac:
                    at = Checkpoint(at.sequence + 1, nxt[1])
                newest = max(r[0] for r in rows)
                if at.sequence < newest and chained is not None:
                    # Another process's rows lie between: read them, then go on along ours.
                    at = chained(at, newest)
                    while (nxt := recent.get(at.sequence + 1)) is not None and nxt[0] == at.mac:
                        at = Checkpoint(at.sequence + 1, nxt[1])
                if at.sequence == entry.sequence:
                    return
            if len(lines) < _JOURNAL_LINES:
                _append(anchor, doc, at)
                return
            doc = _merged(doc, lines)
            old = doc["databases"].get(anchor.database) or {}
            doc["databases"][anchor.database] = _raw(at, list(old.get("restores", [])))
            _checkpoint(anchor, doc)
    except (OSError, _AnchorDamagedError) as exc:
        # The change itself is committed; a stale anchor only protects less.
        log.warning("could not update the audit anchor %s: %s", anchor.path, exc)
