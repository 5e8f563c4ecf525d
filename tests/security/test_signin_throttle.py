"""Finding 8: sign-in throttling stops guessing without locking the real user out, counts
atomically on every backend, and believes forwarding headers only from configured proxies.

The servers here make the test client (127.0.0.1) a trusted proxy, so ``X-Forwarded-For``
picks the address each sign-in comes from; the last tests run servers that trust nobody,
including a real ``msp serve``.
"""

from __future__ import annotations

import ipaddress
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from mspmode.api.proxies import forwarded_client
from mspmode.models.operations import AuditLog, LoginThrottle
from mspmode.services import throttle
from tests.conftest import BACKENDS
from tests.security.auth_server import PASSWORD, Server, running
from tests.servers import free_port


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = Path(tmp_path_factory.mktemp(f"throttle-{request.param}"))
    with running(str(request.param), home, trusted_proxies=["127.0.0.1"]) as s:
        yield s


def address() -> str:
    """A fresh documentation address (TEST-NET-3): one that has not been guessing."""
    n = uuid.uuid4().int
    return f"203.0.{n % 250 + 1}.{n // 250 % 250 + 1}"


def waits_are_over(server: Server) -> None:
    """Let time pass until every current wait has ended (the windows stay as they are)."""
    with server.db.write() as s:
        s.execute(update(LoginThrottle).values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))


def checked_passwords(server: Server, name: str) -> int:
    """How many sign-ins of ``name`` got as far as a password check (each is audited)."""
    with server.db.read() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.action == "login", AuditLog.actor_name == name)
            )
            or 0
        )


def test_the_real_user_from_another_address_still_gets_in(server: Server) -> None:
    name, guesser = server.user(), address()
    for _ in range(throttle.PAIR.free):
        assert server.login(name, "wrong guess", address=guesser).status_code == 401
    assert server.login(name, PASSWORD, address=guesser).status_code == 429
    assert server.login(name, PASSWORD, address=address()).status_code == 200


def test_one_guess_each_time_the_wait_ends_never_locks_the_account(server: Server) -> None:
    name, guesser = server.user("admin"), address()
    for _ in range(throttle.PAIR.free + 6):
        waits_are_over(server)
        assert server.login(name, "wrong guess", address=guesser).status_code == 401
    # The admin, from where they work, is not held back by someone guessing elsewhere ...
    assert server.login(name, PASSWORD, address=address()).status_code == 200
    # ... while the guesser's address waits after every failure, longer each time.
    refused = server.login(name, PASSWORD, address=guesser)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > throttle.PAIR.first_wait.total_seconds()


def test_an_address_trying_many_accounts_is_stopped(server: Server) -> None:
    guesser = address()
    for _ in range(throttle.SOURCE.free):
        assert server.login(f"nobody-{uuid.uuid4().hex[:8]}", "x", address=guesser).status_code == 401
    assert server.login(server.user(), PASSWORD, address=guesser).status_code == 429
    assert server.login(server.user(), PASSWORD, address=address()).status_code == 200


def test_forty_concurrent_guesses_get_at_most_the_free_password_checks(server: Server) -> None:
    name, guesser = server.user(), address()
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(
            pool.map(lambda _: server.login(name, "wrong guess", address=guesser).status_code, range(40))
        )
    assert answers.count(401) == throttle.PAIR.free, answers
    assert answers.count(429) == 40 - throttle.PAIR.free, answers
    assert checked_passwords(server, name) == throttle.PAIR.free


def test_guessing_from_many_addresses_is_bounded_per_account(server: Server) -> None:
    name = server.user()
    attempts = throttle.ACCOUNT.free + 10
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(
                lambda _: server.login(name, "wrong guess", address=address()).status_code, range(attempts)
            )
        )
    assert answers.count(401) == throttle.ACCOUNT.free, answers
    assert checked_passwords(server, name) == throttle.ACCOUNT.free


def test_a_stolen_access_token_cannot_guess_the_password(server: Server) -> None:
    name, where = server.user(), address()
    token = server.login(name, address=where).json()["access_token"]
    headers = {"X-Forwarded-For": where}
    wrong = {"current_password": "wrong guess", "new_password": "a quite different passphrase"}
    for _ in range(throttle.PAIR.free):
        guess = server.call("POST", "/api/auth/password", token, json=wrong, headers=headers)
        assert guess.status_code == 401, guess.text
    assert server.call("POST", "/api/auth/password", token, json=wrong, headers=headers).status_code == 429


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        ("10.0.0.1", [("x-forwarded-for", "198.51.100.7")], "198.51.100.7"),
        # The left-most entry is whatever the client sent: the right-most untrusted one counts.
        ("10.0.0.1", [("x-forwarded-for", "1.2.3.4, 198.51.100.7")], "198.51.100.7"),
        ("10.0.0.1", [("x-forwarded-for", "198.51.100.7, 10.0.0.2")], "198.51.100.7"),
        ("10.0.0.1", [("forwarded", 'for="[2001:db8::7]:4711";proto=https')], "2001:db8::7"),
        ("10.0.0.1", [("forwarded", "for=198.51.100.9"), ("x-forwarded-for", "1.1.1.1")], "198.51.100.9"),
        ("10.0.0.1", [("x-forwarded-for", "unknown")], "10.0.0.1"),
        ("10.0.0.1", [("x-forwarded-for", "198.51.100.7:5555")], "198.51.100.7"),
        ("192.0.2.50", [("x-forwarded-for", "198.51.100.7")], "192.0.2.50"),  # not a trusted proxy
        ("10.0.0.1", [], "10.0.0.1"),
    ],
)
def test_the_client_is_what_a_trusted_proxy_says(
    peer: str, headers: list[tuple[str, str]], client: str
) -> None:
    assert forwarded_client(peer, headers, [ipaddress.ip_network("10.0.0.0/24")]) == client


@pytest.fixture(scope="module")
def untrusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with no trusted proxies (the default)."""
    with running("sqlite", Path(tmp_path_factory.mktemp("untrusting"))) as s:
        yield s


def test_forwarding_headers_from_an_untrusted_peer_are_ignored(untrusting: Server) -> None:
    name = untrusting.user()
    for _ in range(throttle.PAIR.free):
        forged = untrusting.login(name, "wrong guess", address=address())
        assert forged.status_code == 401
    with untrusting.db.read() as s:
        seen = set(s.scalars(select(AuditLog.client_address).where(AuditLog.actor_name == name)))
    assert seen == {"127.0.0.1"}  # the audited address is the peer's, not the header's
    # A new address in the header buys no new attempts.
    assert untrusting.login(name, PASSWORD, address=address()).status_code == 429


def test_msp_serve_ignores_forwarding_headers_by_default(msp_env: dict[str, str], tmp_path: Path) -> None:
    msp = [sys.executable, "-m", "mspmode"]
    init = subprocess.run([*msp, "init"], env=msp_env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    port = free_port()
    serve = subprocess.Popen(
        [*msp, "serve", "--port", str(port)],
        env=msp_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert serve.poll() is None and time.monotonic() < deadline, "msp serve did not start"
            time.sleep(0.1)
        forged = httpx.post(
            f"{base}/api/auth/login",
            json={"username": "admin", "password": "wrong guess"},
            headers={"X-Forwarded-For": "198.51.100.66"},
            timeout=30,
        )
        assert forged.status_code == 401
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
    with sqlite3.connect(Path(msp_env["MSP_HOME"]) / "msp.db") as conn:
        addresses = {
            r[0] for r in conn.execute("SELECT client_address FROM audit_log WHERE action = 'login'")
        }
    assert addresses == {"127.0.0.1"}, addresses  # not the forged 198.51.100.66
