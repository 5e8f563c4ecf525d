"""API throughput and latency on a real server, against a bare FastAPI route in the same run.

    python bench/api.py [--seconds 5] [--concurrency 4] [--hosts 2000]

Starts `uvicorn` (one worker, 127.0.0.1, a free port) serving MSP Mode over a fresh SQLite
database holding one client and --hosts hosts, and a second uvicorn serving a bare FastAPI app
with one route. A separate load process drives each target for --seconds with --concurrency
keep-alive connections and prints requests/s and p50/p99 latency:

    GET /api/infrastructure/{id}                  (API-key auth, scoping, one row)
    GET /api/infrastructure?client_id=…&os=…      (filtered list, 50 rows, total count)
    GET /bare                                     (no auth, no database)

Numbers on a shared 2-core machine are noisy; compare the ratios within one run. Each line
ends with the load average while it was taken.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_average() -> str:
    """The machine's load while a figure was taken: on a shared machine it explains the noise."""
    one, five, _ = os.getloadavg()
    return f"(load {one:.2f} {five:.2f})"


def start(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            *args,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    # A large database is warmed before the socket opens: minutes on a loaded machine.
    deadline = time.monotonic() + 180
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"server {args} did not start") from None
            time.sleep(0.1)


def load(
    url_paths: list[str],
    headers: dict[str, str],
    seconds: float,
    concurrency: int,
    out: multiprocessing.Queue,
) -> None:  # type: ignore[type-arg]
    """Runs in its own process: closed-loop clients for a fixed time."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        mine: list[float] = []
        bad = 0
        with httpx.Client(headers=headers, timeout=30) as client:
            while time.monotonic() < stop:
                url = rng.choice(url_paths)
                t = time.perf_counter()
                response = client.get(url)
                mine.append((time.perf_counter() - t) * 1000)
                bad += response.status_code != 200
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((latencies, errors, time.monotonic() - began))


def measure(
    name: str, urls: list[str], headers: dict[str, str], args: argparse.Namespace
) -> tuple[float, float, float]:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    proc = multiprocessing.Process(target=load, args=(urls, headers, args.seconds, args.concurrency, queue))
    proc.start()
    latencies, errors, elapsed = queue.get()
    proc.join()
    qs = statistics.quantiles(latencies, n=100, method="inclusive")
    rps = len(latencies) / elapsed
    print(
        f"{name:<34} {rps:8.0f} req/s   p50 {qs[49]:6.2f} ms   p99 {qs[98]:6.2f} ms   errors {errors}   "
        f"{load_average()}"
    )
    return rps, qs[49], qs[98]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--hosts", type=int, default=2000)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from mspmode.db import schema
    from mspmode.models.infrastructure import Infrastructure
    from mspmode.services import auth, crud
    from mspmode.services.actor import local_actor
    from mspmode.services.runtime import Runtime
    from mspmode.settings import Settings
    from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for name in KEY_NAMES:
            ensure_key_file(name, home / f"{name}.key")
        rt = Runtime(Settings(home=home))
        schema.upgrade(rt.db)
        from mspmode.services.resources import RESOURCES

        clients = next(s for s in RESOURCES if s.name == "clients")
        client = crud.create_row(rt, local_actor(), clients, {"name": "Bench Client"})
        oses = ["Windows Server", "Ubuntu", "Alpine Linux", "ReadyNAS OS"]
        host_ids = [uuid.uuid4() for _ in range(args.hosts)]
        with rt.db.write() as s:
            s.execute(
                Infrastructure.__table__.insert(),
                [
                    {
                        "id": hid,
                        "client_id": client.id,
                        "hostname": f"host-{i:05d}",
                        "os": oses[i % len(oses)],
                    }
                    for i, hid in enumerate(host_ids)
                ],
            )
        user, _ = auth.create_user(
            rt, local_actor(), username="bench", role="technician", password="load-test-secret-1"
        )
        _, key = auth.create_api_key(
            rt, local_actor(), name="bench", role="technician", username=user.username
        )
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
            headers = {"Authorization": f"Bearer {key}"}
            print(
                f"one uvicorn worker each, {args.concurrency} connections, "
                f"{args.seconds:.0f} s per line, {args.hosts} hosts"
            )
            by_id = measure(
                "GET /api/infrastructure/{id}",
                [f"{base}/api/infrastructure/{h}" for h in host_ids[:500]],
                headers,
                args,
            )
            listed = measure(
                "GET /api/infrastructure?filters",
                [f"{base}/api/infrastructure?client_id={client.id}&os={o.replace(' ', '+')}" for o in oses],
                headers,
                args,
            )
            bare = measure("GET /bare (bare FastAPI)", [f"http://127.0.0.1:{bare_port}/bare"], {}, args)
            for label, (rps, p50, p99) in (("by id", by_id), ("filtered list", listed)):
                print(
                    f"ratio {label:<14} vs bare: throughput {rps / bare[0]:.2f}x, "
                    f"p50 {p50 / bare[1]:.1f}x, p99 {p99 / bare[2]:.1f}x"
                )
        finally:
            for proc in servers:
                proc.terminate()
                proc.wait(timeout=10)


if __name__ == "__main__":
    main()
