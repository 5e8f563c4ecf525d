"""Every dashboard route × the callers the API's security tests hold every API route to
(tests/security/test_bola_matrix.py, test_one_time_password.py), over HTTP against the real
server:

| caller | must get |
| --- | --- |
| nobody signed in | the sign-in page (303 to /signin), but for signing in |
| a one-time password | the password page (303 to /password), but for changing it and signing out |
| a form without its CSRF token | 403, nothing changed |
| readonly | 403 on every form that writes, reveals or administers; no edit form on a page |
| a technician limited to Acme, at Globex's rows | 404 (lists and the feed leave them out) |

and nothing secret in any page, error or server log line on the way. The routes are read
from the dashboard app: ``test_every_route_has_a_line`` fails on one added without a line in
``CASES``. Authorization reads the same rows on every backend (tests/security argues the same),
so this runs on SQLite.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from mspmode.api.middleware import ANONYMOUS_BODY_BYTES
from mspmode.dashboard.routes import ROUTERS
from mspmode.models.learning import FailurePattern
from mspmode.models.work import WorkItem
from mspmode.services import auth
from mspmode.services.actor import local_actor
from tests.dashboard.conftest import Site
from tests.dashboard.seed import PASSWORD, SECRET, TOTP_SEED, World

SQLITE = pytest.mark.parametrize("site", ["sqlite"], indirect=True)

GLOBEX_SECRET = "Globex-only-s3cret"
# What only Globex's rows say: a page of a user limited to Acme must never show it.
GLOBEX_MARKS = (
    "GX-WEB",
    "ifconfig",
    "ip addr show eth0",
    "Globex web server",
    "Patched GX-WEB",
    "GX-WEB root",
)


@dataclass(frozen=True)
class Ask:
    path: str
    form: dict[str, Any] = field(default_factory=dict)


Build = Callable[[World, bool], Ask]  # (world, aimed at Globex's rows) -> the request


@dataclass(frozen=True)
class Case:
    build: Build
    public: bool = False  # reachable without signing in
    personal: bool = False  # the allow-list of a one-time password: one's own sign-in
    writes: bool = False  # readonly must be refused
    admin: bool = False  # only an admin
    scoped_row: bool = False  # aimed at Globex's row, a user limited to Acme gets 404
    stream: bool = False  # server-sent events: read until the stream idles


def _row(attr: str, globex_attr: str, template: str, **form: Any) -> Build:
    def build(w: World, theirs: bool) -> Ask:
        return Ask(template.format(getattr(w, globex_attr if theirs else attr)), dict(form))

    return build


def _fixed(path: str, **form: Any) -> Build:
    return lambda w, theirs: Ask(path, dict(form))


CASES: dict[str, Case] = {
    "GET /signin": Case(_fixed("/signin"), public=True),
    "POST /signin": Case(_fixed("/signin", username="tech", password="not it", next="/"), public=True),
    "GET /signin/link": Case(_fixed("/signin/link?token=not-a-link"), public=True),
    "GET /password": Case(_fixed("/password"), personal=True),
    "POST /password": Case(
        _fixed("/password", current="not it", new="x" * 20, repeat="x" * 20), personal=True
    ),
    "POST /signout": Case(_fixed("/signout"), personal=True),
    "GET /": Case(_fixed("/")),
    "GET /feed": Case(_fixed("/feed?after=1970-01-01T00:00:00Z|" + str(uuid.UUID(int=0))), stream=True),
    "GET /clients": Case(_fixed("/clients")),
    "GET /clients/{client_id}": Case(_row("acme", "globex", "/clients/{}"), scoped_row=True),
    "GET /hosts": Case(_fixed("/hosts")),
    "GET /hosts/{host_id}": Case(_row("dc01", "globex_host", "/hosts/{}"), scoped_row=True),
    "GET /works-where": Case(_fixed("/works-where")),
    "GET /patterns": Case(_fixed("/patterns")),
    "GET /patterns/{pattern_id}": Case(_row("pattern", "globex_pattern", "/patterns/{}"), scoped_row=True),
    "POST /patterns/{pattern_id}": Case(
        _row("pattern", "globex_pattern", "/patterns/{}", root_cause="forged", recommended_solution="forged"),
        writes=True,
        scoped_row=True,
    ),
    "POST /patterns/{pattern_id}/deactivate": Case(
        _row("pattern", "globex_pattern", "/patterns/{}/deactivate"), writes=True, scoped_row=True
    ),
    "GET /sessions": Case(_fixed("/sessions")),
    "GET /sessions/{session_id}": Case(_row("session", "globex_session", "/sessions/{}"), scoped_row=True),
    "POST /sessions/{session_id}/tickets": Case(
        _row("session", "globex_session", "/sessions/{}/tickets"), writes=True, scoped_row=True
    ),
    "POST /sessions/{session_id}/post": Case(
        _row("session", "globex_session", "/sessions/{}/post"), writes=True, scoped_row=True
    ),
    "POST /work-items/{item_id}": Case(
        _row("work_item", "globex_work_item", "/work-items/{}", actual_minutes=999, category="security"),
        writes=True,
        scoped_row=True,
    ),
    "GET /reports": Case(_row("acme", "globex", "/reports?client={}"), scoped_row=True),
    "GET /reports/billing.csv": Case(
        _row("acme", "globex", "/reports/billing.csv?client={}&from=2020-01-01&to=2030-12-31"),
        scoped_row=True,
    ),
    "GET /search": Case(_fixed("/search?q=addr")),
    "GET /recall": Case(_row("acme", "globex", "/recall?client={}&q=addr"), scoped_row=True),
    "GET /credentials": Case(_fixed("/credentials")),
    "GET /credentials/{credential_id}": Case(
        _row("credential", "globex_credential", "/credentials/{}"), scoped_row=True
    ),
    "POST /credentials/{credential_id}/reveal": Case(
        _row(
            "credential", "globex_credential", "/credentials/{}/reveal", field="password", password=PASSWORD
        ),
        writes=True,
        scoped_row=True,
    ),
    "POST /credentials/{credential_id}/totp": Case(
        _row("totp_credential", "globex_credential", "/credentials/{}/totp", password=PASSWORD),
        writes=True,
        scoped_row=True,
    ),
    "GET /admin": Case(_fixed("/admin"), admin=True),
    "POST /admin/api-keys": Case(
        _fixed("/admin/api-keys", name="from the matrix", username="tech", role="admin"),
        writes=True,
        admin=True,
    ),
    "POST /admin/backups": Case(_fixed("/admin/backups"), writes=True, admin=True),
}


def routes() -> list[str]:
    return sorted(
        f"{method} {route.path}"
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    )


def test_every_route_has_a_line() -> None:
    assert routes() == sorted(CASES)


# ---- callers ----------------------------------------------------------------------------------


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def server_log() -> Iterator[list[str]]:
    """The server's log lines while the test runs (the server is a thread of this process)."""
    handler = Captured()
    loggers = [logging.getLogger(n) for n in ("uvicorn.access", "uvicorn.error", "mspmode")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def browser(site: Site, who: str | None, password: str = PASSWORD) -> httpx.Client:
    """A client holding what a browser signed in as ``who`` holds: the session and CSRF cookies."""
    cookies = {"msp_csrf": secrets.token_urlsafe(32)}
    if who is not None:
        cookies["msp_session"] = auth.browser_token(site.rt, auth.login(site.rt, who, password, None))
    return httpx.Client(base_url=site.base, cookies=cookies, follow_redirects=False, timeout=60)


def send(client: httpx.Client, method: str, ask: Ask, *, csrf: bool = True) -> httpx.Response:
    if method == "GET":
        return client.get(ask.path)
    form = dict(ask.form)
    if csrf:
        form["csrf_token"] = client.cookies["msp_csrf"]
    return client.post(ask.path, data=form)


def read_stream(client: httpx.Client, ask: Ask) -> tuple[int, str]:
    """The status and the events of a feed until it says it is idle (or a deadline)."""
    text: list[str] = []
    deadline = time.monotonic() + 30
    with client.stream("GET", ask.path) as response:
        if response.status_code != 200:
            return response.status_code, response.read().decode()
        for line in response.iter_lines():
            text.append(line)
            if line.startswith(": idle") or time.monotonic() > deadline:
                break
    return 200, "\n".join(text)


def method_of(key: str) -> str:
    return key.split(" ", 1)[0]


def no_secret(text: str) -> None:
    for secret in (SECRET, GLOBEX_SECRET, TOTP_SEED, PASSWORD):
        assert secret not in text


# ---- the matrix -------------------------------------------------------------------------------


@SQLITE
def test_nobody_signed_in_gets_the_sign_in_page(site: Site, server_log: list[str]) -> None:
    wrong = []
    with browser(site, None) as anonymous:
        for key, case in CASES.items():
            answer = send(anonymous, method_of(key), case.build(site.world, False))
            to_signin = answer.status_code == 303 and answer.headers["location"].startswith("/signin")
            if case.public == to_signin or answer.status_code >= 500:
                wrong.append(f"{key}: {answer.status_code} {answer.headers.get('location')}")
            no_secret(answer.text)
    assert wrong == []
    no_secret("\n".join(server_log))


@SQLITE
def test_a_one_time_password_reaches_only_the_password_page(site: Site, server_log: list[str]) -> None:
    name = f"o{uuid.uuid4().hex[:8]}"
    _, one_time = auth.create_user(site.rt, local_actor(), username=name, role="admin")
    assert one_time is not None
    wrong = []
    with browser(site, name, one_time) as fresh:
        for key, case in CASES.items():
            if key == "POST /signout":
                continue  # last: it ends the sign-in
            answer = send(fresh, method_of(key), case.build(site.world, False))
            held = answer.status_code == 303 and answer.headers["location"] == "/password"
            if held == (case.public or case.personal) or answer.status_code >= 500:
                wrong.append(f"{key}: {answer.status_code} {answer.headers.get('location')}")
        assert send(fresh, "POST", Ask("/signout")).headers["location"] == "/signin"
    assert wrong == []
    no_secret("\n".join(server_log))


@SQLITE
def test_every_form_without_its_csrf_token_is_refused(site: Site) -> None:
    with site.rt.db.read() as s:
        before = s.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.actual_minutes == 999))
    wrong = []
    with browser(site, "admin") as admin:
        for key, case in CASES.items():
            if method_of(key) != "POST":
                continue
            answer = send(admin, "POST", case.build(site.world, False), csrf=False)
            if answer.status_code != 403 or "CSRF" not in answer.text:
                wrong.append(f"{key}: {answer.status_code}")
        assert admin.get("/").status_code == 200  # still signed in: sign-out was refused too
    assert wrong == []
    with site.rt.db.read() as s:
        pattern = s.get(FailurePattern, site.world.pattern)
        assert pattern is not None and pattern.is_active and pattern.root_cause != "forged"
        after = s.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.actual_minutes == 999))
    assert after == before


@SQLITE
def test_readonly_is_refused_every_write_and_sees_no_form(site: Site, server_log: list[str]) -> None:
    wrong = []
    with browser(site, "readonly") as readonly:
        for key, case in CASES.items():
            if case.public or case.personal:
                continue
            ask = case.build(site.world, False)
            if case.stream:
                status, text = read_stream(readonly, ask)
            else:
                answer = send(readonly, method_of(key), ask)
                status, text = answer.status_code, answer.text
            refused = case.writes or case.admin
            if (status == 403) != refused or (not refused and status != 200):
                wrong.append(f"{key}: {status}")
            if not refused and method_of(key) == "GET":
                # The pages it may read offer it no form that writes (sign-out and filters aside).
                for action in ("/patterns/", "/work-items/", "/sessions/", "/reveal", "/totp", "/admin/"):
                    if f'method="post" action="{action}' in text or f'action="{action}' in text:
                        wrong.append(f"{key}: offers a form to {action}")
            no_secret(text)
    assert wrong == []
    no_secret("\n".join(server_log))


@SQLITE
def test_a_technician_limited_to_acme_never_reaches_globex(site: Site, server_log: list[str]) -> None:
    wrong = []
    with browser(site, "scoped") as scoped:
        for key, case in CASES.items():
            if case.public or case.personal:
                continue
            ask = case.build(site.world, True)
            if case.stream:
                status, text = read_stream(scoped, ask)
            else:
                answer = send(scoped, method_of(key), ask)
                status, text = answer.status_code, answer.text
            expected = 403 if case.admin else 404 if case.scoped_row else 200
            if status != expected:
                wrong.append(f"{key}: {status}, not {expected}")
            leaked = [m for m in GLOBEX_MARKS if m in text]
            if leaked:
                wrong.append(f"{key}: shows {leaked}")
            no_secret(text)
    assert wrong == [], wrong
    with site.rt.db.read() as s:
        pattern = s.get(FailurePattern, site.world.globex_pattern)
        item = s.get(WorkItem, site.world.globex_work_item)
        assert pattern is not None and pattern.is_active and pattern.root_cause != "forged"
        assert item is not None and item.actual_minutes == 20
    no_secret("\n".join(server_log))


@SQLITE
def test_a_signed_in_form_may_send_what_an_authenticated_api_caller_may(site: Site) -> None:
    """A root cause pasted from a log of a Russian Windows: 20,000 characters (the form's
    limit) that URL-encode to more than the bytes an anonymous request may send. A signed-in
    browser's form is read up to the limit an authenticated API caller gets, and still needs
    its CSRF token; signed out, the body guard refuses it before reading it."""
    line = "Get-LocalUser : Имя «Get-LocalUser» не распознано как имя командлета, функции.\n"
    pasted = (line * (20_000 // len(line) + 1))[:20_000]
    form = {"root_cause": pasted, "recommended_solution": "Get-WmiObject Win32_UserAccount"}
    assert len(urlencode(form)) > ANONYMOUS_BODY_BYTES
    path = f"/patterns/{site.world.pattern}"
    with site.rt.db.read() as s:
        before = s.get(FailurePattern, site.world.pattern)
        assert before is not None
        kept = {"root_cause": before.root_cause, "recommended_solution": before.recommended_solution}
    with browser(site, None) as nobody:
        refused = nobody.post(path, data={**form, "csrf_token": nobody.cookies["msp_csrf"]})
    assert refused.status_code == 413, refused.text[:300]
    with browser(site, "admin") as admin:
        forged = admin.post(path, data=form)
        assert forged.status_code == 403 and "CSRF" in forged.text
        answer = admin.post(path, data={**form, "csrf_token": admin.cookies["msp_csrf"]})
        assert answer.status_code == 303, answer.text[:300]
        try:
            with site.rt.db.read() as s:
                after = s.get(FailurePattern, site.world.pattern)
                assert after is not None and after.root_cause == pasted
        finally:
            admin.post(path, data={**kept, "csrf_token": admin.cookies["msp_csrf"]})
