"""Posting 1,000 sessions' notes and time to the PSAs, against the local fakes.

Each of the five fake PSAs (tests/fakes/psa/, served on 127.0.0.1) gets a fifth of the
sessions: a client, a session with two billable work items and one that is not, a linked
ticket; then the session's note and time are queued and delivered, one session at a time as
`msp session stop` does. A second delivery of everything and a re-queue of every session
follow, to show nothing is posted twice. Prints the time per session (queue + deliver, p50 /
p95 / mean) per PSA and overall, the HTTP calls per session, and the duplicate count (must be
0); exits 1 if any entry was posted twice or any post is left undelivered.

    .venv/bin/python bench/psa.py [--sessions 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.models.integrations import ExternalIntegration, PsaPost
from mspmode.services import crud, entities, psa
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file
from tests.fakes.psa import VENDORS

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for name in KEY_NAMES:
            ensure_key_file(name, home / f"{name}.key")
        db = Database(make_url(f"sqlite:///{home / 'msp.db'}"))
        schema.upgrade(db)
        rt = Runtime(Settings(home=home, database_url=str(db.url)), db)
        try:
            return run(rt, args.sessions)
        finally:
            rt.dispose()


def run(rt: Runtime, sessions: int) -> int:
    actor = local_actor()
    fakes = {kind: v.make() for kind, v in VENDORS.items()}
    served = [f.serve() for f in fakes.values()]
    for ctx in served:
        ctx.__enter__()
    try:
        names = {}
        for kind, v in VENDORS.items():
            fake = fakes[kind]
            row = psa.add_integration(
                rt,
                actor,
                kind,
                name=f"bench-{kind}",
                url=fake.base_url + v.path,
                secrets=psa.parse_secrets(kind, v.secrets),
                username=v.options.get("username"),
                client_id=v.options.get("client_id"),
                settings=v.options.get("settings"),
            )
            names[kind] = row.integration_name
        client = crud.create_row(rt, actor, entities.SPECS["clients"], {"name": "Bench client"})
        per: dict[str, list[float]] = {k: [] for k in VENDORS}
        kinds = list(VENDORS)
        for i in range(sessions):
            kind = kinds[i % len(kinds)]
            fake = fakes[kind]
            raw = fake.add_ticket(10_000 + i, f"Ticket {i}")
            number = {
                "autotask": raw.get("ticketNumber"),
                "itflow": f"TCK-{raw.get('ticket_number')}",
                "syncro": raw.get("number"),
            }.get(kind, raw.get("id"))
            start = START + timedelta(minutes=90 * i)
            ws = crud.create_row(
                rt,
                actor,
                entities.SPECS["sessions"],
                {"client_id": client.id, "session_title": f"Session {i}", "started_at": start},
            )
            for j, minutes in enumerate((17 + i % 40, 3 + i % 11)):
                entities.add_work(rt, actor, f"work {i}.{j}", minutes=minutes, session_id=ws.id)
            entities.add_work(rt, actor, f"courtesy {i}", minutes=5, billable=False, session_id=ws.id)
            psa.link_ticket(rt, actor, str(number), session_id=ws.id, integration=names[kind])
            t0 = time.perf_counter()
            queued = psa.queue_session(rt, actor, ws.id)
            got = psa.deliver(rt, actor, [p.id for p in queued])
            per[kind].append(time.perf_counter() - t0)
            if got.done != 2:
                print(f"session {i} ({kind}): {got.as_dict()}", file=sys.stderr)
        again = psa.deliver(rt, actor, ignore_backoff=True)
        requeued = 0
        with rt.db.read() as s:
            for sid in s.scalars(select(PsaPost.session_id).distinct()):
                requeued += len(psa.queue_session(rt, actor, sid))
            posted = s.scalar(select(func.count()).select_from(PsaPost).where(PsaPost.status == "posted"))
            owed = s.scalar(select(func.count()).select_from(PsaPost).where(PsaPost.status != "posted"))
            calls = s.scalar(select(func.count()).select_from(ExternalIntegration))
        duplicates = 0
        for fake in fakes.values():
            markers = Counter(
                text.split("[msp:", 1)[1].split("]", 1)[0]
                for entry in fake.notes + fake.times
                for text in entry.values()
                if isinstance(text, str) and "[msp:" in text
            )
            duplicates += sum(n - 1 for n in markers.values() if n > 1)
        entries = sum(f.posts() for f in fakes.values())
    finally:
        for ctx in served:
            ctx.__exit__(None, None, None)

    def ms(values: list[float]) -> str:
        values = sorted(values)
        p95 = values[int(0.95 * (len(values) - 1))]
        p50, mean = statistics.median(values) * 1000, statistics.mean(values) * 1000
        return f"p50 {p50:6.1f} ms  p95 {p95 * 1000:6.1f} ms  mean {mean:6.1f} ms"

    print(f"bench/psa.py: {sessions} sessions, note + time each, SQLite, fakes on 127.0.0.1")
    for kind, values in per.items():
        print(f"  {kind:<12} {len(values):>5} sessions  {ms(values)}")
    print(f"  {'all':<12} {sessions:>5} sessions  {ms([v for vs in per.values() for v in vs])}")
    print(
        f"  entries in the PSAs: {entries} (expected {2 * sessions}); "
        f"posts recorded posted: {posted}, owed: {owed}"
    )
    print(f"  HTTP calls recorded: {calls} ({calls / sessions:.1f} per session, the link's lookup included)")
    print(f"  second delivery posted {again.done}, re-queuing every session queued {requeued}")
    print(f"  posted twice: {duplicates}")
    ok = duplicates == 0 and entries == 2 * sessions and owed == 0 and again.done == 0 and requeued == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
