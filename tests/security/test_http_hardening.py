"""The HTTP edge under a hostile client (issue 15: findings 6 and 11, and the low ones about
headers, the docs and the Host header).

* Log lines: a real ``msp serve`` is sent secrets in query strings, URL passwords and their
  percent-encoded forms; its stdout and stderr hold every access line, redacted, and no
  logging error or traceback.
* Bodies: oversized ones are refused with a JSON 413 before they are read (by their
  Content-Length, or as soon as a chunked one passes the limit), and a client without valid
  credentials cannot make the server hold more than a small body: the server's peak resident
  memory (``/proc/PID/status``) does not grow by the body's size.
* Headers, the docs page (served from the package, CSP of this origin only), redirects that
  never carry the client's Host, and hosts a loopback server does not answer for.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import uvicorn.logging

from mspmode.api import logs
from mspmode.services import auth
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from tests.servers import free_port

MSP = [sys.executable, "-m", "mspmode"]
MiB = 1024 * 1024
BIG = 100 * MiB  # what a hostile client sends (under the bulk limit); the server must not hold it
HELD = 40 * MiB  # what the server's peak memory may grow by while refusing it


# ---- a real `msp serve` ------------------------------------------------------------------------


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path
    key: str  # a technician's API key

    def logs(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSP_") or k.startswith("MSP_TEST_")}
    env |= {"MSP_HOME": str(home / "home"), "PYTHONUNBUFFERED": "1"}
    init = subprocess.run([*MSP, "init"], env=env, capture_output=True, text=True, check=False)
    assert init.returncode == 0, init.stderr
    rt = Runtime(Settings(home=home / "home"))
    auth.create_user(rt, local_actor(), username="tech", role="technician", password="a long enough password")
    _, key = auth.create_api_key(rt, local_actor(), name="tests", role="technician", username="tech")
    rt.dispose()
    port = free_port()
    out, err = home / "stdout.log", home / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([*MSP, "serve", "--port", str(port)], env=env, stdout=stdout, stderr=stderr)
    server = Served(f"http://127.0.0.1:{port}", proc, out, err, key)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"msp serve exited: {server.logs()}"
            try:
                httpx.get(f"{server.base}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "msp serve did not start"
                time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def wait_for_line(server: Served, needle: str) -> str:
    deadline = time.monotonic() + 30
    while needle not in (text := server.logs()):
        assert time.monotonic() < deadline, f"{needle!r} never logged:\n{text[-3000:]}"
        time.sleep(0.05)
    return text


# ---- finding 6: log lines ------------------------------------------------------------------------

SECRETS = {
    "github token": "ghp_" + "Zq8Wv3Lr5Tn1Pk7Xc2Bm9Hd4Fs6Gj0Ya3Eu5",
    "password": "Tr0ub4dor-and-3",
    "url password": "Corr3ct-H0rse-77",
    "pg password": "Pg-Secr3t-99xq",
}


def test_access_log_lines_are_redacted_keep_their_shape_and_never_raise(served: Served) -> None:
    s = SECRETS
    queries = [
        f"token={s['github token']}",
        f"password={s['password']}",
        # percent-encoded, and twice (a URL passed in a query parameter)
        "dsn=" + quote(f"postgresql://app:{s['url password']}@db.internal/app", safe=""),
        "cmd=" + quote(quote(f"PGPASSWORD={s['pg password']} psql -h db", safe=""), safe=""),
        "cmd=" + quote(f"mysql -u root -p{s['password']} app").replace("%20", "+"),
    ]
    for i, query in enumerate(queries):
        httpx.get(f"{served.base}/api/health?{query}&n={i}", timeout=30)
        httpx.get(f"{served.base}/api/no-such-route?{query}&n={i}", timeout=30)
    httpx.get(
        f"{served.base}/api/clients?{queries[0]}&n=last", headers={"Authorization": "Bearer x"}, timeout=30
    )
    text = wait_for_line(served, "n=last")
    for label, secret in SECRETS.items():
        assert secret not in text, f"{label} logged"
        assert quote(secret, safe="") not in text, f"{label} logged percent-encoded"
    assert "Logging error" not in text and "Traceback" not in text, text[-3000:]
    # Every request has its line, with the method, the path and the status: the shape is kept.
    access = [line for line in text.splitlines() if '"GET /api/' in line]
    assert len([line for line in access if " 200" in line]) >= len(queries)
    assert len([line for line in access if " 404" in line]) >= len(queries)
    assert any(" 401" in line for line in access)
    assert "[REDACTED:" in text


class Lines(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def handleError(self, record: logging.LogRecord) -> None:
        raise AssertionError(f"a formatter failed on {record.msg!r}")


def test_every_logger_is_cleaned_whatever_its_formatter_reads() -> None:
    """uvicorn's access formatter unpacks the five arguments; a child logger of ours, a
    third-party one and a secret only recognisable in its context are all cleaned."""
    secret = SECRETS["password"]
    access_logger, other = logging.getLogger("uvicorn.access"), logging.getLogger("mspmode.api.sub")
    access = Lines(uvicorn.logging.AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    plain = Lines(logging.Formatter("%(name)s %(message)s"))
    old = access_logger.level, other.level, access_logger.propagate
    access_logger.addHandler(access)
    access_logger.setLevel(logging.INFO)
    access_logger.propagate = False
    other.addHandler(plain)
    other.setLevel(logging.INFO)
    stop = logs.install(lambda: None)
    try:
        access_logger.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/api/x?password={secret}", "1.1", 200
        )
        other.info("login for %s with password=%s", "bob", secret)
        other.info("connecting to %s", f"postgresql://app:{secret}@db/app")
        try:
            raise RuntimeError(f"could not open mysql -p{secret} app")
        except RuntimeError:
            other.exception("failed")
    finally:
        stop()
        access_logger.removeHandler(access)
        other.removeHandler(plain)
        access_logger.setLevel(old[0])
        other.setLevel(old[1])
        access_logger.propagate = old[2]
    assert len(access.lines) == 1 and '"GET /api/x?password=[REDACTED:' in access.lines[0]
    assert access.lines[0].endswith(" 200 OK")
    assert len(plain.lines) == 3
    assert "login for bob with password=[REDACTED:" in plain.lines[0]
    for line in access.lines + plain.lines:
        assert secret not in line, line
    assert "RuntimeError" in plain.lines[2]  # the traceback is kept, redacted
