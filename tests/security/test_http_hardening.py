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

import json
import logging
import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import pytest
import uvicorn.logging

from mspmode.api import logs
from mspmode.db.session import Database
from mspmode.server import create_app
from mspmode.services import auth
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from tests.servers import free_port, serve_in_thread

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


# ---- finding 11: bodies ----------------------------------------------------------------------


def memory(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {k: int(v) * 1024 for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M)}


def reset_peak(pid: int) -> None:
    # Linux 4.0+: writing 5 to clear_refs resets VmHWM to the current RSS.
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def pieces(total: int, size: int = MiB) -> Iterator[bytes]:
    """``total`` bytes of a JSON object: ``{"name": "aaaa…"}``."""
    head, tail = b'{"name": "', b'"}'
    yield head
    chunk, left = b"a" * size, total - len(head) - len(tail)
    while left > 0:
        yield chunk[: min(size, left)]
        left -= size
    yield tail


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    base: str, path: str, body: Iterable[bytes], *, length: int | None, headers: dict[str, str] | None = None
) -> Answer:
    """POST ``body`` over a raw socket, chunked unless ``length`` is given; stop sending as soon
    as the server answers (it may answer and close long before the body is sent)."""
    url = urlsplit(base)
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"{extra}{framing}\r\nConnection: close\r\n\r\n"
    ).encode()
    frames = iter(body) if length is not None else (f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in body)
    received = bytearray()
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        pending, sending = b"", True
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock] if sending else [], [], 1.0)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    break
                received += data
                sending = False
            elif writable:
                if not pending:
                    pending = next(frames, b"")
                    if not pending:
                        if length is None:
                            sock.sendall(b"0\r\n\r\n")
                        sending = False
                        continue
                try:
                    pending = pending[sock.send(pending) :]
                except (BrokenPipeError, ConnectionResetError):
                    sending = False
        else:
            raise AssertionError("no answer")
    raw_head, _, rest = bytes(received).partition(b"\r\n\r\n")
    status_line, *lines = raw_head.decode("latin-1").split("\r\n")
    answer_headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    size = int(answer_headers.get("content-length", len(rest)))
    return Answer(int(status_line.split()[1]), answer_headers, rest[:size])


def refused_without_holding(
    served: Served, path: str, *, chunked: bool, headers: dict[str, str] | None = None
) -> Answer:
    pid = served.proc.pid
    reset_peak(pid)
    before = memory(pid)["VmRSS"]
    answer = send(served.base, path, pieces(BIG), length=None if chunked else BIG, headers=headers)
    grown = memory(pid)["VmHWM"] - before
    assert grown < HELD, f"the server grew by {grown // MiB} MiB while refusing a {BIG // MiB} MiB body"
    assert answer.headers.get("content-type") == "application/json"
    return answer


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_unauthenticated_body_is_refused_before_it_is_held(served: Served, chunked: bool) -> None:
    # The batch route accepts the largest bodies, but not from a client without credentials.
    answer = refused_without_holding(served, "/api/commands/batch", chunked=chunked)
    assert answer.status == 413
    assert answer.json()["error"]["type"] == "PayloadTooLarge"
    assert "credentials" in answer.json()["error"]["message"]


def test_forged_credentials_are_checked_before_the_body_is_read(served: Served) -> None:
    answer = refused_without_holding(
        served, "/api/commands/batch", chunked=True, headers={"Authorization": "Bearer msp_forged_key"}
    )
    assert answer.status == 401
    assert answer.headers.get("www-authenticate") == "Bearer"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_authenticated_body_over_its_routes_limit_is_413(served: Served, chunked: bool) -> None:
    answer = refused_without_holding(
        served, "/api/clients", chunked=chunked, headers={"Authorization": f"Bearer {served.key}"}
    )
    assert answer.status == 413
    assert answer.json()["error"]["message"] == (
        "request body too large: this route accepts at most 4194304 bytes"
    )


def test_a_content_length_over_even_the_bulk_limit_is_413_unread(served: Served) -> None:
    too_big = 129 * MiB  # the batch routes accept 128 MiB
    answer = send(
        served.base,
        "/api/commands/batch",
        pieces(too_big),
        length=too_big,
        headers={"Authorization": f"Bearer {served.key}"},
    )
    assert answer.status == 413
    assert "134217728 bytes" in answer.json()["error"]["message"]


def test_bulk_routes_take_more_than_the_default_limit(served: Served) -> None:
    output = "x" * (5 * MiB)  # over MSP_MAX_BODY_BYTES (4 MiB), under the bulk routes' limit
    answer = httpx.post(
        f"{served.base}/api/commands",
        json={"command": "cat big.log", "exit_code": 0, "output": output, "host": "bulk-host"},
        headers={"Authorization": f"Bearer {served.key}"},
        timeout=120,
    )
    assert answer.status_code == 201, answer.text[:500]
    small = httpx.post(
        f"{served.base}/api/clients",
        json={"name": "x" * 200, "notes": "y" * (5 * MiB)},
        headers={"Authorization": f"Bearer {served.key}"},
        timeout=120,
    )
    assert small.status_code == 413


# ---- headers, docs, redirects, hosts ------------------------------------------------------------


def test_every_answer_carries_the_security_headers(served: Served) -> None:
    keyed = {"Authorization": f"Bearer {served.key}"}
    answers = [
        httpx.get(f"{served.base}/api/health", timeout=30),
        httpx.get(f"{served.base}/api/clients", headers=keyed, timeout=30),
        httpx.get(f"{served.base}/api/clients", timeout=30),  # 401
        httpx.get(f"{served.base}/api/nothing-here", timeout=30),  # 404
        httpx.post(f"{served.base}/api/clients", headers=keyed, json={"name": 5}, timeout=30),  # 422
    ]
    assert [a.status_code for a in answers] == [200, 200, 401, 404, 422]
    for answer in answers:
        h = answer.headers
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert "default-src 'none'" in h["content-security-policy"]
        assert h["cache-control"] == "no-store"


def test_the_docs_load_nothing_from_elsewhere_and_run_no_inline_script(served: Served) -> None:
    page = httpx.get(f"{served.base}/api/docs", timeout=60)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    for name in ("script-src", "style-src", "connect-src"):
        assert directives[name] == "'self'", csp
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(references) >= 4
    assert all(ref.startswith("/") and not ref.startswith("//") for ref in references), references
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in page.text and "style=" not in page.text
    for ref in references:
        asset = httpx.get(f"{served.base}{ref}", timeout=60)
        assert asset.status_code == 200, ref
    bundle = httpx.get(f"{served.base}/api/docs/assets/swagger-ui-bundle.js", timeout=60)
    assert "SwaggerUIBundle" in bundle.text
    assert bundle.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    spec = httpx.get(f"{served.base}/api/openapi.json", timeout=60).json()
    assert not any(path.startswith("/api/docs") for path in spec["paths"])


def test_redirects_never_carry_the_hosts_a_client_sent(served: Served) -> None:
    keyed = {"Authorization": f"Bearer {served.key}"}
    slash = httpx.get(f"{served.base}/api/clients/", headers=keyed, timeout=30)
    assert slash.status_code == 307
    assert slash.headers["location"] == "/api/clients"
    # A loopback server answers only for loopback names: a page whose own name now points at
    # 127.0.0.1 (DNS rebinding) is refused, and its Host never reaches a Location.
    forged = httpx.get(f"{served.base}/api/clients/", headers={**keyed, "Host": "evil.example"}, timeout=30)
    assert forged.status_code == 400
    assert forged.json()["error"]["type"] == "HostNotAllowed"
    assert "evil.example" not in forged.headers.get("location", "")
    for name in ("localhost", "127.0.0.1", f"localhost:{urlsplit(served.base).port}"):
        assert httpx.get(f"{served.base}/api/health", headers={"Host": name}, timeout=30).status_code == 200


def test_allowed_hosts_are_the_only_names_answered(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, allowed_hosts="msp.example.com, *.msp.example.net")
    db = Database.from_settings(settings)
    with serve_in_thread(create_app(settings, db)) as base:

        def status(host: str) -> int:
            return httpx.get(f"{base}/api/clients/", headers={"Host": host}, timeout=30).status_code

        assert status("msp.example.com") == 307
        assert status("eu.msp.example.net") == 307
        assert status("msp.example.com.evil.example") == 400
        assert status("evil.example") == 400
        moved = httpx.get(f"{base}/api/clients/", headers={"Host": "msp.example.com"}, timeout=30)
        assert moved.headers["location"] == "/api/clients"
    db.dispose()


def test_a_base64_secret_in_a_query_string_is_cleaned_whole() -> None:
    """A WireGuard key keeps its ``+`` (``%2B``) through one decoding and loses it to a second:
    each level is redacted before the next, so no piece of the key is left in the line."""
    key = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
    query = urlencode({"note": f"[Interface]\nPrivateKey = {key}\n"})
    line = logs.clean_text(f'127.0.0.1:5 - "GET /api/clients?{query} HTTP/1.1" 200', None)
    for piece in key.split("+"):
        assert piece not in line, line
    assert "[REDACTED:" in line and line.endswith(" 200")
