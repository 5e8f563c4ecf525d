"""Sign-in throttling: failed sign-ins are counted per (account, source address) pair, per
source address and per account, each in its own window; past a limit's free failures every
further attempt it covers waits, and the wait doubles with each failure.

    admit(rt, name, address)  ──▶ Ticket (the attempt is counted as a failure) or 429
    verify the password (outside any transaction)
    succeeded(rt, ticket)     ──▶ the attempt is taken back; the pair starts again from zero

| limit | free failures | window | first wait | longest wait | stops |
| --- | --- | --- | --- | --- | --- |
| (account, address) | 5 | 15 min | 30 s | 15 min | one address guessing one account (and typos) |
| source address | 20 | 15 min | 30 s | 15 min | one address trying many accounts or names |
| account | 50 | 1 h | 60 s | 15 min | guessing spread over many addresses |

The account's own limit is ten times the pair's, so the real user, signing in from an address
that has not been guessing, gets in while one address (or a few) guesses at the account: only
a guesser with many addresses reaches it, and then everyone waits, which is what bounds that
guesser. This is OWASP's advice (throttle by account and by source, back off exponentially,
do not lock accounts for good) with Django-axes' (username, address) lockout as the first line
and a Keycloak-style account-wide backoff as the last. A refused attempt is not a failure: if
it were, one guess per window would keep an account locked for ever. Windows are fixed from
their first failure, so a trickle of guesses is forgiven when the window ends.

Atomic on every backend: the attempt is counted *before* the password is checked, in one
transaction that locks the three rows (``SELECT … FOR UPDATE`` on PostgreSQL and MariaDB, in
key order so two sign-ins never deadlock; SQLite's single writer already serialises it), so N
concurrent guesses get at most the free number of password checks. A success takes the count
back with conditional UPDATEs.

Keys are HMACs of the kind, the lowercased name and the address under the server pepper.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.expression import Executable

from mspmode.db.base import utcnow
from mspmode.errors import RateLimitedError
from mspmode.models.operations import LoginThrottle
from mspmode.services.runtime import Runtime


@dataclass(frozen=True)
class Limit:
    kind: str
    free: int  # failures allowed in a window before attempts wait
    window: timedelta  # counting starts again this long after the window's first failure
    first_wait: timedelta  # the wait after the last free failure; it doubles with each more
    longest_wait: timedelta


PAIR = Limit("pair", 5, timedelta(minutes=15), timedelta(seconds=30), timedelta(minutes=15))
SOURCE = Limit("addr", 20, timedelta(minutes=15), timedelta(seconds=30), timedelta(minutes=15))
ACCOUNT = Limit("user", 50, timedelta(hours=1), timedelta(seconds=60), timedelta(minutes=15))
LIMITS = (PAIR, SOURCE, ACCOUNT)

# A row this long untouched counts nothing any more (every window and wait has ended) and is
# deleted by the next prune, at most once per process per PRUNE_EVERY.
STALE_AFTER = timedelta(days=1)
PRUNE_EVERY_S = 600.0
_last_prune = [0.0]


@dataclass(frozen=True)
class Ticket:
    """One admitted sign-in attempt: the rows it was counted in."""

    keys: dict[str, str]  # limit kind -> row key


def key_of(rt: Runtime, limit: Limit, username: str, address: str | None) -> str:
    name, source = username.strip().lower(), address or "unknown"
    value = {"pair": f"{name}\x00{source}", "addr": source, "user": name}[limit.kind]
    return rt.pepper.sign(f"{limit.kind}:{value}".encode())


def admit(rt: Runtime, username: str, address: str | None) -> Ticket:
    """Count one sign-in attempt against every limit, or raise RateLimitedError (nothing counted)."""
    keys = {limit.kind: key_of(rt, limit, username, address) for limit in LIMITS}
    _prune(rt)
    for _ in range(3):
        _ensure_rows(rt, keys.values())
        now = utcnow()
        with rt.db.write() as session:
            rows = {
                row.key: row
                for row in session.scalars(
                    select(LoginThrottle)
                    .where(LoginThrottle.key.in_(sorted(keys.values())))
                    .order_by(LoginThrottle.key)
                    .with_for_update()
                )
            }
            if len(rows) < len(keys):
                continue  # pruned between the insert and the lock: make them again
            waits = []
            for limit in LIMITS:
                row = rows[keys[limit.kind]]
                if now - row.window_started_at >= limit.window:
                    row.failures, row.locked_until, row.window_started_at = 0, None, now
                if row.locked_until is not None and row.locked_until > now:
                    waits.append(row.locked_until - now)
            if waits:
                wait = int(max(waits).total_seconds()) + 1
                raise RateLimitedError(f"too many failed sign-ins: try again in {wait} s", retry_after=wait)
            for limit in LIMITS:
                row = rows[keys[limit.kind]]
                row.failures += 1
                row.last_failure_at = now
                if row.failures >= limit.free:
                    doublings = min(row.failures - limit.free, 16)
                    row.locked_until = now + min(limit.first_wait * 2**doublings, limit.longest_wait)
        return Ticket(keys)
    raise RuntimeError("sign-in throttle rows kept disappearing")  # three prunes in a row: a bug


def succeeded(rt: Runtime, ticket: Ticket) -> None:
    """The attempt was right: take its count back (the pair's whole count: the person is in)."""
    t = LoginThrottle
    with rt.db.write() as session:
        session.execute(
            update(t).where(t.key == ticket.keys[PAIR.kind]).values(failures=0, locked_until=None)
        )
        for limit in (SOURCE, ACCOUNT):
            key = ticket.keys[limit.kind]
            session.execute(update(t).where(t.key == key, t.failures > 0).values(failures=t.failures - 1))
            session.execute(update(t).where(t.key == key, t.failures < limit.free).values(locked_until=None))


def _ensure_rows(rt: Runtime, keys: Iterable[str]) -> None:
    """Create the rows that do not exist yet, each in its own committed insert that ignores a
    row a concurrent sign-in made first (so the locking transaction only ever locks rows)."""
    wanted = set(keys)
    with rt.db.read() as session:
        wanted -= set(session.scalars(select(LoginThrottle.key).where(LoginThrottle.key.in_(wanted))))
    if not wanted:
        return
    now = utcnow()
    values = [
        {"key": k, "failures": 0, "last_failure_at": now, "window_started_at": now} for k in sorted(wanted)
    ]
    dialect = rt.db.dialect
    statement: Executable
    if dialect == "postgresql":
        statement = postgresql.insert(LoginThrottle).on_conflict_do_nothing(index_elements=["key"])
    elif dialect in ("mysql", "mariadb"):
        statement = mysql.insert(LoginThrottle).prefix_with("IGNORE")
    else:
        statement = sqlite.insert(LoginThrottle).on_conflict_do_nothing(index_elements=["key"])
    with rt.db.write() as session:
        session.execute(statement, values)


def _prune(rt: Runtime) -> None:
    if time.monotonic() - _last_prune[0] < PRUNE_EVERY_S:
        return
    _last_prune[0] = time.monotonic()
    now: datetime = utcnow()
    t = LoginThrottle
    with rt.db.write() as session:
        session.execute(
            delete(t).where(
                t.last_failure_at < now - STALE_AFTER,
                or_(t.locked_until.is_(None), t.locked_until < now),
            )
        )
