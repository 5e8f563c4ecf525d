"""``GET /api/health`` and the docs: on a real uvicorn (``msp serve`` on a free loopback port),
and in process for the failure answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from mspmode.db.session import Database
from mspmode.server import create_app
from mspmode.settings import Settings
from tests.servers import free_port, serve_in_thread

MSP = [sys.executable, "-m", "mspmode"]


def wait_for(url: str, proc: subprocess.Popen[str], deadline_s: float = 30) -> httpx.Response:
    deadline = time.monotonic() + deadline_s
    while True:
        if proc.poll() is not None:
            _out, err = proc.communicate()
            raise AssertionError(f"server exited with {proc.returncode}: {err}")
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def server(msp_env: dict[str, str]) -> Iterator[str]:
    init = subprocess.run([*MSP, "init"], env=msp_env, capture_output=True, text=True, check=False)
    assert init.returncode == 0, init.stderr
    port = free_port()
    proc = subprocess.Popen(
        [*MSP, "serve", "--port", str(port)],
        env=msp_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/api/health", proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def test_a_fresh_install_serves_health_ok(server: str) -> None:
    response = httpx.get(f"{server}/api/health", timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {
        "dialect": "sqlite",
        "reachable": True,
        "revision": body["database"]["head"],
        "head": body["database"]["head"],
        "at_head": True,
        "error": None,
    }


def test_docs_and_schema_are_served_under_api(server: str) -> None:
    docs = httpx.get(f"{server}/api/docs", timeout=60)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = httpx.get(f"{server}/api/openapi.json", timeout=60).json()
    assert "/api/health" in spec["paths"]
    assert all(path.startswith("/api/") for path in spec["paths"])


def test_the_server_listens_on_loopback_only(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    for address in addresses - {"127.0.0.1"}:
        with socket.socket() as s:
            s.settimeout(1)
            assert s.connect_ex((address, port)) != 0, f"reachable on {address}"


def test_health_is_503_when_the_schema_is_missing(tmp_path: Path) -> None:
    db = Database(make_url(f"sqlite:///{tmp_path / 'empty.db'}"))
    with serve_in_thread(create_app(Settings(home=tmp_path), db)) as base:
        response = httpx.get(f"{base}/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"]["reachable"] is True and body["database"]["at_head"] is False
    assert "msp db upgrade" in body["database"]["error"]


def test_health_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    db = Database(make_url("postgresql+psycopg://msp:pw-not-shown@127.0.0.1:1/msp"))
    with serve_in_thread(create_app(Settings(home=tmp_path), db)) as base:
        response = httpx.get(f"{base}/api/health", timeout=30)
    assert response.status_code == 503
    body = response.json()
    assert body["database"]["reachable"] is False
    assert "pw-not-shown" not in response.text
