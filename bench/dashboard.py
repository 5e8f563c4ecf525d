"""Dashboard pages on a large database, and the API's host lookup against a bare FastAPI route.

    python bench/dashboard.py [--scale 1.0] [--requests 40] [--seconds 5] [--concurrency 4]

Seeds a fresh SQLite database with, at --scale 1, 2,000 hosts over 20 clients, 10,000 failure
patterns and 100,000 commands (bulk inserts, printed with the time they took; a smaller --scale
for a loaded machine), starts `msp serve`'s app under uvicorn (one worker) and a bare FastAPI app,
then:

- per page, --requests sequential GETs by a signed-in admin over one keep-alive connection:
  p50 and p95 of the time to the full response, i.e. server time plus loopback;
- `GET /api/infrastructure/{id}` (API-key auth, scoping, one row) and `GET /bare` under the
  closed-loop load of bench/api.py: requests/s and their ratio.

Numbers on a shared 2-core machine are noisy; compare within one run. Each line ends with the
load average while it was taken.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import insert

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from api import free_port, load_average, measure, start  # noqa: E402  (bench/api.py: one owner of the load driver)

if TYPE_CHECKING:
    from mspmode.services.runtime import Runtime

OSES = [
    ("Windows Server", "2008 R2", "powershell", "2.0"),
    ("Windows Server", "2019", "powershell", "5.1"),
    ("Ubuntu", "22.04", "bash", None),
    ("Alpine Linux", "3.19", "ash", None),
    ("ReadyNAS OS", "6.10", "ash", None),
]
CULPRITS = [
    "Get-LocalUser",
    "Get-NetAdapter",
    "systemctl",
    "grep -P",
    "ip",
    "Test-NetConnection",
    "sed -i",
    "ss",
]


def seed(rt: Runtime, scale: float) -> dict[str, object]:
    from mspmode.models import core, infrastructure, learning, work
    from mspmode.services import auth
    from mspmode.services.actor import local_actor

    n_hosts, n_patterns, n_commands = int(2000 * scale), int(10_000 * scale), int(100_000 * scale)
    n_clients, n_sessions = max(2, int(20 * scale)), max(2, int(500 * scale))
    now = datetime.now(UTC).replace(microsecond=0)
    clients = [uuid.uuid4() for _ in range(n_clients)]
    hosts = [uuid.uuid4() for _ in range(n_hosts)]
    sessions = [uuid.uuid4() for _ in range(n_sessions)]
    patterns = [uuid.uuid4() for _ in range(n_patterns)]
    began = time.perf_counter()
    with rt.db.write() as s:
        s.execute(
            insert(core.Client),
            [{"id": c, "name": f"Client {i:03d}"} for i, c in enumerate(clients)],
        )
        s.execute(
            insert(infrastructure.Infrastructure),
            [
                {
                    "id": h,
                    "client_id": clients[i % n_clients],
                    "hostname": f"host-{i:05d}",
                    "os": OSES[i % len(OSES)][0],
                    "os_version": OSES[i % len(OSES)][1],
                    "shell_type": OSES[i % len(OSES)][2],
                    "powershell_version": OSES[i % len(OSES)][3],
                    "traits": {"busybox": True} if OSES[i % len(OSES)][2] == "ash" else None,
                }
                for i, h in enumerate(hosts)
            ],
        )
        s.execute(
            insert(core.Session),
            [
                {
                    "id": w,
                    "client_id": clients[i % n_clients],
                    "session_title": f"Session {i}",
                    "started_at": now - timedelta(hours=i),
                    "ended_at": None if i < 5 else now - timedelta(hours=i) + timedelta(minutes=40),
                }
                for i, w in enumerate(sessions)
            ],
        )
        s.execute(
            insert(learning.FailurePattern),
            [
                {
                    "id": p,
                    "infrastructure_id": hosts[i % n_hosts],
                    "client_id": clients[(i % n_hosts) % n_clients],
                    "pattern_type": "command_compatibility",
                    "pattern_signature": f"{CULPRITS[i % len(CULPRITS)]} fails on host {i % n_hosts} ({i})",
                    "culprit": CULPRITS[i % len(CULPRITS)],
                    "confidence_level": ("confirmed", "likely", "suspected")[i % 3],
                    "failure_description": "not recognised",
                    "root_cause": "too old",
                    "recommended_solution": "use the older command",
                    "workaround_commands": ["Get-WmiObject Win32_UserAccount"],
                    "first_seen": now - timedelta(days=i % 30),
                    "last_seen": now - timedelta(hours=i % 100),
                    "last_fix_at": now - timedelta(days=i % 20) if i % 2 else None,
                }
                for i, p in enumerate(patterns)
            ],
        )
        batch = 10_000
        for start_at in range(0, n_commands, batch):
            rows = []
            for i in range(start_at, min(start_at + batch, n_commands)):
                failed = i % 3 == 0
                culprit = CULPRITS[i % len(CULPRITS)]
                rows.append(
                    {
                        "session_id": sessions[i % n_sessions],
                        "infrastructure_id": hosts[i % n_hosts],
                        "failure_pattern_id": patterns[i % n_patterns] if failed else None,
                        "command_text": f"{culprit} --item {i}",
                        "host": f"host-{i % n_hosts:05d}",
                        "success": not failed,
                        "exit_code": 1 if failed else 0,
                        "culprit": culprit if failed else None,
                        "failure_category": "command_not_found" if failed else None,
                        "executed_at": now - timedelta(seconds=30 * i),
                    }
                )
            s.execute(insert(work.CommandRun), rows)
    seconds = time.perf_counter() - began
    auth.create_user(rt, local_actor(), username="benchadmin", role="admin", password="bench-password-1")
    pair = auth.login(rt, "benchadmin", "bench-password-1", None)
    _, key = auth.create_api_key(rt, local_actor(), name="bench", role="technician", username="benchadmin")
    print(
        f"scale {scale:g}: {n_hosts} hosts, {n_clients} clients, {n_patterns} patterns, "
        f"{n_commands} commands, {n_sessions} sessions seeded in {seconds:.1f} s"
    )
    return {
        "cookie": auth.browser_token(rt, pair),
        "key": key,
        "client": clients[0],
        "host": hosts[0],
        "pattern": patterns[0],
        "session": sessions[0],
        "hosts": hosts,
    }


def pages(w: dict[str, object]) -> list[str]:
    today = datetime.now(UTC).date()
    return [
        "/",
        "/clients",
        f"/clients/{w['client']}",
        "/hosts",
        "/hosts?os=Windows+Server&release=2008+R2",
        f"/hosts/{w['host']}",
        "/patterns",
        f"/patterns/{w['pattern']}",
        "/works-where",
        "/sessions",
        f"/sessions/{w['session']}",
        f"/reports?client={w['client']}&from={today.replace(day=1)}&to={today}",
        "/search?q=Get-LocalUser",
        "/recall?client=Client+000&q=Get-LocalUser",
        "/credentials",
        "/admin",
    ]


def time_pages(base: str, cookie: str, paths: list[str], requests: int) -> list[float]:
    worst = []
    print(f"{'page':<58} {'p50 ms':>8} {'p95 ms':>8}")
    with httpx.Client(base_url=base, cookies={"msp_session": cookie}, timeout=120) as client:
        for path in paths:
            first = client.get(path)
            assert first.status_code == 200, f"{path}: {first.status_code} {first.text[:200]}"
            took = []
            for _ in range(requests):
                t = time.perf_counter()
                client.get(path)
                took.append((time.perf_counter() - t) * 1000)
            qs = statistics.quantiles(took, n=100, method="inclusive")
            print(f"{path[:58]:<58} {qs[49]:8.1f} {qs[94]:8.1f}   {load_average()}")
            worst.append(qs[94])
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    from mspmode.db import schema
    from mspmode.services.runtime import Runtime
    from mspmode.settings import Settings
    from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for name in KEY_NAMES:
            ensure_key_file(name, home / f"{name}.key")
        rt = Runtime(Settings(home=home))
        schema.upgrade(rt.db)
        world = seed(rt, args.scale)
        rt.dispose()

        bare_dir = home / "bare"
        bare_dir.mkdir()
        (bare_dir / "bare_app.py").write_text(
            textwrap.dedent(
                """
                from fastapi import FastAPI
                app = FastAPI()

                @app.get("/bare")
                def bare() -> dict[str, str]:
                    return {"status": "ok"}
                """
            )
        )
        env = {**os.environ, "MSP_HOME": str(home), "PYTHONPATH": f"{ROOT}{os.pathsep}{bare_dir}"}
        env.pop("MSP_DATABASE_URL", None)
        msp_port, bare_port = free_port(), free_port()
        servers = [
            start(["mspmode.server:create_app", "--factory"], env, msp_port),
            start(["bare_app:app"], env, bare_port),
        ]
        try:
            base = f"http://127.0.0.1:{msp_port}"
            worst = time_pages(base, str(world["cookie"]), pages(world), args.requests)
            print(f"slowest page p95 {max(worst):.1f} ms (target 100 ms at scale 1)")
            hosts = world["hosts"]
            assert isinstance(hosts, list)
            by_id = measure(
                "GET /api/infrastructure/{id}",
                [f"{base}/api/infrastructure/{h}" for h in hosts[:500]],
                {"Authorization": f"Bearer {world['key']}"},
                args,
            )
            bare = measure("GET /bare (bare FastAPI)", [f"http://127.0.0.1:{bare_port}/bare"], {}, args)
            print(f"ratio by id vs bare: throughput {by_id[0] / bare[0]:.2f}x (target 0.5x)")
        finally:
            for proc in servers:
                proc.terminate()
                proc.wait(timeout=10)


if __name__ == "__main__":
    main()
