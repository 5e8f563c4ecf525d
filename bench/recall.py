"""Context recall over 100k conversation contexts: what a SessionStart / UserPromptSubmit costs.

    python bench/recall.py [--contexts 100000] [--queries 300] [--url DATABASE_URL]

A fresh SQLite file (or an empty database at ``--url``) gets 200 clients with 5 projects and
10 hosts each, ``--contexts`` conversation contexts spread over two years (MSP vocabulary,
importance 1–10, some superseded), 5,000 context snippets (a tenth of them hard host
constraints), 5,000 decisions, project states and open tasks. Then ``--queries`` recalls, each
for a random client, project, two of its hosts and a prompt of 3–8 words, through
``services.recall.recall_context`` exactly as ``msp recall`` / ``GET /api/recall`` run it.

Printed: p50/p95/p99 wall time and this process's CPU time (a loaded machine inflates the
first, hardly the second) of the recall a caller waits for (``touch=False``: the API and ``msp
recall`` write the usage counts after answering), then of that write on its own
(``mark_used``, one short write transaction), then of both in one call (``touch=True``, what
the MCP tool and the SessionStart hook do), and the average number of candidates scored and
characters returned. Budget (DESIGN.md): p95 ≤ 30 ms over 100k contexts, for the recall a
caller waits for.
"""

from __future__ import annotations

import argparse
import os
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
from mspmode.models.core import Client, PendingTask, Project
from mspmode.models.infrastructure import Infrastructure
from mspmode.models.recall import ContextSnippet, ConversationContext, DecisionLog, ProjectState
from mspmode.services import recall
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file

WORDS = (
    "backup veeam restore replication sysvol gpo dfsr exchange mailbox license tenant intune "
    "firewall pfsense vpn ipsec rdp certificate nginx apache iis tls renewal dns dhcp printer "
    "spooler driver raid disk volume quota nas synology hyperv vmware snapshot cluster sql "
    "mariadb postgres index deadlock patch update wsus reboot service agent antivirus defender "
    "ticket user password reset account lockout mfa azure entra sharepoint onedrive teams switch "
    "vlan wifi accesspoint ups battery monitoring alert cron logrotate ssh key migration"
).split()
# A long tail, as in real notes: host names, error codes, product and file names. Words are
# drawn Zipf-like (the MSP words above most often), so common words match many contexts and
# most words few — a uniform draw over a small vocabulary would make every word common.
TAIL = [
    f"{p}{n}" for p in ("srv", "err0x", "kb", "ws", "vm", "ticket", "cfg", "ps", "log") for n in range(400)
]
VOCAB = WORDS + TAIL
WEIGHTS = [1.0 / (rank + 1) for rank in range(len(VOCAB))]
ACTIONS = [
    "fixed",
    "restarted",
    "migrated",
    "renewed",
    "configured",
    "investigated",
    "replaced",
    "documented",
]


def percentiles(samples: list[float]) -> str:
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {qs[49]:6.2f} ms  p95 {qs[94]:6.2f} ms  p99 {qs[98]:6.2f} ms"


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(VOCAB, WEIGHTS, k=n))


def populate(db: Database, rng: random.Random, contexts: int) -> list[tuple[uuid.UUID, uuid.UUID, list[str]]]:
    """The data; returns (client, project, hostnames) triples to ask about."""
    now = datetime.now(UTC)
    clients = [uuid.uuid4() for _ in range(200)]
    targets: list[tuple[uuid.UUID, uuid.UUID, list[str]]] = []
    projects: dict[uuid.UUID, list[uuid.UUID]] = {}
    host_ids: dict[uuid.UUID, list[uuid.UUID]] = {}
    with db.write() as s:
        s.execute(
            Client.__table__.insert(), [{"id": c, "name": f"Client {i:03d}"} for i, c in enumerate(clients)]
        )
        prow, hrow = [], []
        for i, c in enumerate(clients):
            projects[c] = [uuid.uuid4() for _ in range(5)]
            prow += [{"id": p, "client_id": c, "name": f"Project {i}-{j}"} for j, p in enumerate(projects[c])]
            host_ids[c] = [uuid.uuid4() for _ in range(10)]
            hrow += [
                {"id": h, "client_id": c, "hostname": f"C{i:03d}-SRV{j:02d}"}
                for j, h in enumerate(host_ids[c])
            ]
            targets.append((c, projects[c][0], [f"C{i:03d}-SRV{j:02d}" for j in range(10)]))
        s.execute(Project.__table__.insert(), prow)
        s.execute(Infrastructure.__table__.insert(), hrow)
        s.execute(
            ProjectState.__table__.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "project_id": ps[0],
                    "current_phase": "rollout",
                    "progress_percentage": 40,
                    "next_actions": [sentence(rng, 4)],
                    "created_at": now,
                    "updated_at": now,
                }
                for ps in projects.values()
            ],
        )
        s.execute(
            PendingTask.__table__.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "client_id": c,
                    "project_id": projects[c][k % 5],
                    "title": sentence(rng, 5),
                    "status": "pending",
                    "created_at": now,
                    "updated_at": now,
                }
                for c in clients
                for k in range(5)
            ],
        )
        snippets = []
        for k in range(5000):
            c = rng.choice(clients)
            hard = k % 10 == 0
            snippets.append(
                {
                    "id": uuid.uuid4(),
                    "client_id": c,
                    "infrastructure_id": rng.choice(host_ids[c]) if hard else None,
                    "category": "constraint" if hard else "configuration",
                    "title": sentence(rng, 4),
                    "dense_content": sentence(rng, 25),
                    "importance": rng.randint(1, 10),
                    "decays": not hard,
                    "created_at": now,
                    "updated_at": now - timedelta(days=rng.randint(0, 700)),
                }
            )
        s.execute(ContextSnippet.__table__.insert(), snippets)
        s.execute(
            DecisionLog.__table__.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "client_id": (c := rng.choice(clients)),
                    "project_id": rng.choice(projects[c]),
                    "decision_type": "technical",
                    "decision_text": f"Use {sentence(rng, 3)} instead of {sentence(rng, 2)}",
                    "rationale": sentence(rng, 10),
                    "impact": rng.choice(["low", "medium", "high"]),
                    "created_at": now,
                    "updated_at": now - timedelta(days=rng.randint(0, 700)),
                }
                for _ in range(5000)
            ],
        )
    batch = 5000
    for offset in range(0, contexts, batch * 4):
        with db.write() as s, search.bulk_indexing(s, "conversation_contexts", expected_rows=contexts):
            for sub in range(offset, min(offset + batch * 4, contexts), batch):
                rows = []
                for _ in range(sub, min(sub + batch, contexts)):
                    c = rng.choice(clients)
                    at = now - timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60))
                    rows.append(
                        {
                            "id": uuid.uuid4(),
                            "client_id": c,
                            "project_id": rng.choice(projects[c] + [None]),
                            "context_type": "session_summary",
                            "title": f"{rng.choice(ACTIONS)} {sentence(rng, 4)}",
                            "dense_summary": sentence(rng, 60),
                            "importance": rng.randint(1, 10),
                            "usage_count": rng.randint(0, 5),
                            "tags": [rng.choice(WORDS)],
                            "is_active": rng.random() > 0.05,
                            "created_at": at,
                            "updated_at": at,
                        }
                    )
                s.execute(ConversationContext.__table__.insert(), rows)
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contexts", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--url", help="an empty database to use instead of a temporary SQLite file")
    args = parser.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        url = make_url(args.url) if args.url else make_url(f"sqlite:///{home / 'bench.db'}")
        db = Database(url)
        schema.upgrade(db)
        t0 = time.perf_counter()
        targets = populate(db, rng, args.contexts)
        took = time.perf_counter() - t0
        print(f"populated {args.contexts:,} contexts (+ 5,000 snippets, 5,000 decisions) in {took:.1f} s")
        for name in KEY_NAMES:
            ensure_key_file(name, home / f"{name}.key")
        rt = Runtime(Settings(home=home, database_url=url.render_as_string(hide_password=False)), db)
        actor = local_actor()

        def run(touch: bool, after: bool = False) -> tuple[list[float], list[float], int, int]:
            """Each recall timed; with ``after``, the usage write that follows it instead."""
            times, cpu, cands, chars = [], [], 0, 0
            for _ in range(args.queries):
                client, project, hosts = rng.choice(targets)
                req = recall.RecallRequest(
                    client=str(client),
                    project=str(project),
                    query=sentence(rng, rng.randint(3, 8)),
                    hosts=tuple(rng.sample(hosts, 2)),
                    touch=touch,
                )
                t, c = time.perf_counter(), time.process_time()
                got = recall.recall_context(rt, actor, req)
                if after:
                    t, c = time.perf_counter(), time.process_time()
                    recall.mark_used(rt, got.result.used)
                times.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
                cands += got.candidates
                chars += len(got.markdown)
            return times, cpu, cands // args.queries, chars // args.queries

        run(False)  # warm the caches the way a running server has them warm
        rows = (
            ("recall (waited for)   ", False, False),
            ("usage write, after    ", False, True),
            ("both in one call      ", True, False),
        )
        waited: list[float] = []
        for label, touch, after in rows:
            times, cpu, cands, chars = run(touch, after)
            waited = waited or times
            print(f"{label}: wall {percentiles(times)}  ({cands} candidates, {chars} chars on average)")
            print(f"{'':22}  cpu  {percentiles(cpu)}  (this process's CPU: less inflated by other load)")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"load average while measuring: {load} on {os.cpu_count()} CPUs (other work inflates the times)"
        )
        qs = statistics.quantiles(waited, n=100, method="inclusive")
        verdict = "met" if qs[94] <= 30 else "NOT met"
        print(f"budget p95 <= 30 ms over {args.contexts:,} contexts, for the recall waited for: {verdict}")
        rt.dispose()


if __name__ == "__main__":
    main()
