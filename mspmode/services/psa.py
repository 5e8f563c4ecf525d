"""Tickets and time in the MSP's PSA: connect an integration, link a session to its ticket, and
post the session's note and billable time exactly once.

A post is first a ``psa_posts`` row (queued), named by an idempotency key — session or work
item + integration + ticket + kind — that a second attempt to queue the same thing meets as a
unique-key conflict. Delivering it:

1. claims the row (attempts + 1 and a lease on ``next_attempt_at``, compare-and-set, so two
   syncs never post the same row);
2. asks the PSA whether the ticket already has an entry carrying the key's marker (the crash
   case: the PSA answered, we died before writing it down) and, if so, records that entry;
3. otherwise posts it and records the PSA's id.

A timeout, a 5xx or a 429 leaves the row queued with a backoff (the 429's ``Retry-After`` is
honoured); 401/403 too, with one message naming the integration; a missing ticket or a refused
body marks it failed. Every HTTP exchange becomes an ``external_integrations`` row with its
request and response, secrets scrubbed and the redactor applied, never a header.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mspmode.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    VaultError,
)
from mspmode.integrations import psa as psa_api
from mspmode.integrations.psa import units
from mspmode.models import core, work
from mspmode.models.integrations import ExternalIntegration, IntegrationCredential, PsaPost, TicketLink
from mspmode.services import audit, capture, credentials, crud, entities
from mspmode.services.actor import Actor
from mspmode.services.resources import SPECS
from mspmode.services.runtime import Runtime

INTEGRATIONS = credentials.INTEGRATION_CREDENTIALS
# Short, explicit timeouts: a PSA that hangs must not hold up a prompt or `msp session stop`.
INTERACTIVE_TIMEOUT = httpx.Timeout(8.0, connect=3.0)
SYNC_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
LEASE = timedelta(minutes=2)
BACKOFF_BASE_S = 30
BACKOFF_MAX_S = 6 * 3600
MAX_NOTE_COMMANDS = 40
MAX_LINE = 240


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else (value if value.tzinfo else value.replace(tzinfo=UTC))


# ---- integrations ---------------------------------------------------------------------------


def parse_secrets(kind: str, text: str) -> dict[str, str]:
    """The secrets of a ``kind`` integration from a file's or stdin's text: the whole text when
    the PSA needs one secret, ``name=value`` lines (names as in ``secret_names``) otherwise."""
    names = _adapter_class(kind).secret_names
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    pairs: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition("=")
        if sep and name.strip() in names:
            pairs[name.strip()] = value.strip()
    if not pairs and len(names) == 1 and len(lines) == 1:
        pairs = {names[0]: lines[0]}
    missing = [n for n in names if not pairs.get(n)]
    if missing:
        layout = " and ".join(f"{n}=…" for n in names) if len(names) > 1 else "the key alone on one line"
        raise ValidationError(f"{kind} needs {', '.join(missing)}: give {layout} in the file (or on stdin)")
    return pairs


def _adapter_class(kind: str) -> type[psa_api.PsaAdapter]:
    try:
        return psa_api.ADAPTERS[kind]
    except KeyError:
        raise ValidationError(f"unknown PSA {kind!r}; one of: {', '.join(psa_api.KINDS)}") from None


def add_integration(
    rt: Runtime,
    actor: Actor,
    kind: str,
    *,
    name: str,
    url: str,
    secrets: Mapping[str, str],
    username: str | None = None,
    client_id: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> IntegrationCredential:
    """Store a PSA integration; its secrets are sealed by the vault at once."""
    cls = _adapter_class(kind)
    parsed = httpx.URL(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValidationError(f"--url must be an http(s) URL such as https://acme.example.com, not {url!r}")
    clean_settings = {k: v for k, v in (settings or {}).items() if v not in (None, "")}
    config = psa_api.PsaConfig(
        name=name,
        kind=kind,
        base_url=url,
        secrets=dict(secrets),
        username=username,
        client_id=client_id,
        settings=clean_settings,
    )
    missing = cls(config, None).missing()  # type: ignore[arg-type]
    if missing:
        raise ValidationError(f"{cls.title} needs {', '.join(missing)}")
    values: dict[str, Any] = {
        "integration_name": name,
        "integration_type": kind,
        "credential_type": cls.credential_type,
        "api_base_url": str(parsed).rstrip("/"),
        "username": username,
        "oauth_client_id": client_id,
        "settings": clean_settings or None,
        **{k: v for k, v in secrets.items() if k in credentials.SECRET_FIELDS["integration_credentials"]},
    }
    with rt.db.read() as session:
        if session.scalar(
            select(IntegrationCredential.id).where(IntegrationCredential.integration_name == name)
        ):
            raise ConflictError(f"an integration named {name!r} exists; choose another --name")
    row: IntegrationCredential = credentials.create(
        rt, actor, INTEGRATIONS, {k: v for k, v in values.items() if v is not None}
    )
    return row


def list_integrations(rt: Runtime, actor: Actor) -> list[IntegrationCredential]:
    page = crud.list_rows(rt, actor, INTEGRATIONS, sort=["integration_name"], limit=500)
    return [row for row in page.items if row.integration_type in psa_api.ADAPTERS]


def _find_integration(session: Session, ref: str | None) -> IntegrationCredential:
    t = IntegrationCredential
    rows = list(
        session.scalars(
            select(t)
            .where(t.integration_type.in_(psa_api.KINDS), t.is_active.is_(True))
            .order_by(t.integration_name)
        )
    )
    if ref:
        for row in rows:
            if row.integration_name.lower() == ref.strip().lower() or str(row.id) == ref.strip():
                return row
        known = ", ".join(r.integration_name for r in rows)
        hint = f"known: {known}" if rows else "add one with `msp psa add KIND`"
        raise NotFoundError(f"no PSA integration {ref!r}; {hint}")
    if not rows:
        raise NotFoundError(
            "no PSA integration: add one with `msp psa add KIND --name N --url URL --api-key-file F`"
        )
    if len(rows) > 1:
        raise ValidationError(
            f"{len(rows)} PSA integrations ({', '.join(r.integration_name for r in rows)}): "
            "name one with --psa"
        )
    return rows[0]


def _config(rt: Runtime, row: IntegrationCredential) -> psa_api.PsaConfig:
    """The integration with its secrets decrypted, in memory only, for this process's calls."""
    secrets: dict[str, str] = {}
    for name in credentials.SECRET_FIELDS["integration_credentials"]:
        blob = getattr(row, f"{name}_encrypted")
        if blob is not None:
            secrets[name] = rt.keyring.decrypt(
                blob, table="integration_credentials", row_id=row.id, field=name
            ).decode("utf-8")
    return psa_api.PsaConfig(
        name=row.integration_name,
        kind=row.integration_type,
        base_url=row.api_base_url or "",
        secrets=secrets,
        username=row.username,
        client_id=row.oauth_client_id,
        settings=dict(row.settings or {}),
    )


@dataclass
class _Calls:
    """What one unit of PSA work exchanged, to be written with its outcome."""

    exchanges: list[psa_api.Exchange] = field(default_factory=list)

    def add(self, exchange: psa_api.Exchange) -> None:
        self.exchanges.append(exchange)


@contextmanager
def _adapter(
    rt: Runtime, row: IntegrationCredential, calls: _Calls, timeout: httpx.Timeout
) -> Iterator[psa_api.PsaAdapter]:
    config = _config(rt, row)
    http = psa_api.Http(config, timeout=timeout, on_exchange=calls.add)
    try:
        yield psa_api.adapter(config, http)
    finally:
        http.close()


def _record(
    rt: Runtime,
    session: Session,
    actor: Actor,
    calls: _Calls,
    kind: str,
    *,
    session_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    external_id: str | None = None,
) -> None:
    """One external_integrations row per exchange: request and response, redacted."""
    for ex in calls.exchanges:
        failed = ex.error is not None
        session.add(
            ExternalIntegration(
                session_id=session_id,
                client_id=client_id,
                user_id=actor.id if actor.type == "user" else None,
                integration_type=kind,
                external_id=external_id if ex.action == "created" and not failed else None,
                external_url=capture.clean_text(rt, ex.url[:1000]),
                action=ex.action,
                direction="outbound",
                status="failed" if failed else "success",
                http_status=ex.status,
                duration_ms=ex.duration_ms,
                request_data=capture.clean_value(
                    rt,
                    {"integration": ex.integration, "method": ex.method, "url": ex.url, "body": ex.request},
                ),
                response_data=capture.clean_value(rt, {"status": ex.status, "body": ex.response}),
                error_message=capture.clean_text(rt, ex.error),
                completed_at=_now(),
            )
        )
    calls.exchanges.clear()


@dataclass(frozen=True)
class TestResult:
    name: str
    kind: str
    ok: bool
    detail: str


def test_integration(rt: Runtime, actor: Actor, ref: str | None = None) -> list[TestResult]:
    """Authenticate against each PSA integration (or the one named); remember the outcome."""
    if not actor.has_role("admin"):
        raise PermissionDeniedError("only an admin may test PSA integrations")
    with rt.db.read() as session:
        rows = [_find_integration(session, ref)] if ref else list_integrations(rt, actor)
    out = []
    for row in rows:
        calls = _Calls()
        try:
            with _adapter(rt, row, calls, INTERACTIVE_TIMEOUT) as psa:
                detail, ok = psa.authenticate(), True
        except psa_api.PsaError as exc:
            detail, ok = exc.message, False
        with rt.db.write() as session:
            fresh = session.get(IntegrationCredential, row.id)
            assert fresh is not None
            fresh.last_tested_at = _now()
            fresh.last_test_status = "success" if ok else "failed"
            fresh.last_test_error = None if ok else capture.clean_text(rt, detail)
            _record(rt, session, actor, calls, row.integration_type)
        out.append(TestResult(row.integration_name, row.integration_type, ok, detail))
    return out


# ---- tickets --------------------------------------------------------------------------------


def _session_row(rt: Runtime, actor: Actor, session_id: uuid.UUID | None) -> core.Session:
    if session_id is None:
        found = entities.running_session(rt)
        if found is None:
            raise ValidationError("no session is running: start one, or give the session's id")
        session_id = found.session_uuid
    row: core.Session = crud.get_row(rt, actor, SPECS["sessions"], session_id)
    return row


def link_ticket(
    rt: Runtime,
    actor: Actor,
    number: str,
    *,
    session_id: uuid.UUID | None = None,
    integration: str | None = None,
    link_type: str = "related",
) -> TicketLink:
    """Link a session (the running one by default) to ticket ``number`` in the PSA.

    The ticket is looked up first: one that does not exist is refused and nothing is stored.
    When the PSA does not answer in time the link is kept unverified (delivery looks the
    ticket up again), so a PSA outage never blocks starting work."""
    number = str(number).strip().lstrip("#")
    if not number:
        raise ValidationError("give the ticket's number")
    ws = _session_row(rt, actor, session_id)
    with rt.db.read() as session:
        row = _find_integration(session, integration)
        existing = session.scalars(
            select(TicketLink).where(
                TicketLink.session_id == ws.id,
                TicketLink.integration_credential_id == row.id,
                TicketLink.ticket_number == number,
            )
        ).first()
    if existing is not None:
        return existing
    calls = _Calls()
    ticket: psa_api.Ticket | None = None
    try:
        with _adapter(rt, row, calls, INTERACTIVE_TIMEOUT) as psa:
            ticket = psa.find_ticket(number)
    except psa_api.PsaUnavailableError:
        ticket = None
    except psa_api.PsaError:
        with rt.db.write() as session:
            _record(rt, session, actor, calls, row.integration_type, session_id=ws.id, client_id=ws.client_id)
        raise
    values = {
        "session_id": ws.id,
        "client_id": ws.client_id,
        "integration_credential_id": row.id,
        "integration_type": row.integration_type,
        "ticket_id": ticket.id if ticket else number,
        "ticket_number": number,
        "ticket_subject": ticket.title[:500] if ticket and ticket.title else None,
        "ticket_status": ticket.status[:50] if ticket and ticket.status else None,
        "ticket_url": ticket.url if ticket else None,
        "link_type": link_type,
    }
    link: TicketLink = crud.create_row(rt, actor, SPECS["ticket-links"], values)
    with rt.db.write() as session:
        _record(rt, session, actor, calls, row.integration_type, session_id=ws.id, client_id=ws.client_id)
    return link


def session_tickets(
    rt: Runtime, actor: Actor, session_id: uuid.UUID, *, refresh: bool = True
) -> list[TicketLink]:
    """The tickets a session is linked to; with ``refresh``, their status and title as the PSA
    has them now (a PSA that does not answer leaves the last known values)."""
    ws = crud.get_row(rt, actor, SPECS["sessions"], session_id)
    with rt.db.read() as session:
        links = list(
            session.scalars(
                select(TicketLink).where(TicketLink.session_id == ws.id).order_by(TicketLink.created_at)
            )
        )
        integrations = {
            r.id: r
            for r in session.scalars(
                select(IntegrationCredential).where(
                    IntegrationCredential.id.in_({lk.integration_credential_id for lk in links} - {None})
                )
            )
        }
    if not refresh:
        return links
    for link in links:
        row = integrations.get(link.integration_credential_id) if link.integration_credential_id else None
        if row is None:
            continue
        calls = _Calls()
        try:
            with _adapter(rt, row, calls, INTERACTIVE_TIMEOUT) as psa:
                ticket = psa.find_ticket(link.ticket_number or link.ticket_id)
        except psa_api.PsaError:
            ticket = None
        with rt.db.write() as session:
            fresh = session.get(TicketLink, link.id)
            if fresh is not None and ticket is not None:
                _apply_ticket(fresh, ticket)
            _record(rt, session, actor, calls, row.integration_type, session_id=ws.id, client_id=ws.client_id)
        if ticket is not None:
            _apply_ticket(link, ticket)
    return links


def refresh_tickets(rt: Runtime, actor: Actor, session_id: uuid.UUID) -> list[TicketLink]:
    """A person asking for the tickets' state now: a technician's call to the PSA, recorded."""
    _require_technician(actor, "read tickets from the PSA")
    return session_tickets(rt, actor, session_id, refresh=True)


def _apply_ticket(link: TicketLink, ticket: psa_api.Ticket) -> None:
    link.ticket_id = ticket.id
    link.ticket_subject = ticket.title[:500] if ticket.title else None
    link.ticket_status = ticket.status[:50] if ticket.status else None
    if ticket.url:
        link.ticket_url = ticket.url


# ---- what is posted -------------------------------------------------------------------------


def idempotency_key(owner: uuid.UUID, integration: uuid.UUID, ticket: str, kind: str) -> str:
    digest = hashlib.sha256(f"{owner}|{integration}|{ticket}|{kind}".encode()).hexdigest()
    return f"msp-{digest[:40]}"


def _clip(text: str | None, limit: int = MAX_LINE) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def session_note(rt: Runtime, session: Session, ws: core.Session) -> str:
    """The session as a technician would write it on the ticket: what was done (work items
    with their time) and what was run (commands, failures first-line), redacted."""
    client = session.get(core.Client, ws.client_id) if ws.client_id else None
    items = list(
        session.scalars(
            select(work.WorkItem)
            .where(work.WorkItem.session_id == ws.id)
            .order_by(work.WorkItem.item_order, work.WorkItem.started_at, work.WorkItem.created_at)
        )
    )
    commands = list(
        session.scalars(
            select(work.CommandRun)
            .where(work.CommandRun.session_id == ws.id)
            .order_by(work.CommandRun.executed_at, work.CommandRun.created_at)
        )
    )
    lines = [f"MSP Mode session: {_clip(ws.session_title)}" + (f" ({client.name})" if client else "")]
    start, end = _aware(ws.started_at), _aware(ws.ended_at)
    if start is not None:
        span = f"{start:%Y-%m-%d %H:%M} UTC" + (f" to {end:%H:%M} UTC" if end else "")
        lines.append(span + (f", {ws.duration_minutes} min" if ws.duration_minutes is not None else ""))
    if ws.summary:
        lines += ["", _clip(ws.summary, 2000)]
    if items:
        lines += ["", "Work done:"]
        for item in items:
            how = "billable" if item.is_billable else "not billable"
            lines.append(f"- {_clip(item.title)} ({item.actual_minutes or 0} min, {how})")
    if commands:
        failed = sum(1 for c in commands if c.success is False)
        lines += ["", f"Commands run: {len(commands)}" + (f", {failed} failed" if failed else "")]
        seen: set[tuple[str | None, str]] = set()
        shown = 0
        for cmd in commands:
            key = (cmd.host, cmd.command_text)
            if key in seen:
                continue
            seen.add(key)
            if shown == MAX_NOTE_COMMANDS:
                lines.append(f"- … and {len(commands) - shown} more")
                break
            shown += 1
            where = f"{cmd.host}: " if cmd.host else ""
            outcome = ""
            if cmd.success is False:
                outcome = f" → failed (exit {cmd.exit_code})" + (
                    f": {_clip(cmd.error_message, 160)}" if cmd.error_message else ""
                )
            lines.append(f"- {where}{_clip(cmd.command_text, 200)}{outcome}")
    return capture.clean_text(rt, "\n".join(lines)) or ""


def _with_marker(text: str, key: str) -> str:
    return f"{text}\n\n{psa_api.marker(key)}"


def _ledger_before(session: Session, integration_id: uuid.UUID, when: datetime, exclude: str) -> int:
    """Minutes of time already queued for this integration in the ISO week of ``when``: the
    running total decimal hours are rounded against (units.hours_for)."""
    week = when.isocalendar()[:2]
    since = when - timedelta(days=8)
    rows = session.execute(
        select(PsaPost.minutes, PsaPost.payload, PsaPost.idempotency_key).where(
            PsaPost.integration_credential_id == integration_id,
            PsaPost.kind == "time",
            PsaPost.created_at >= since,
        )
    )
    total = 0
    for minutes, payload, key in rows:
        started = datetime.fromisoformat(str((payload or {}).get("started_at")))
        if key != exclude and started.isocalendar()[:2] == week:
            total += int(minutes or 0)
    return total


def _queue(session: Session, post: PsaPost) -> PsaPost | None:
    """Insert ``post`` unless its key is already queued (then None: the first one stands)."""
    if session.scalar(select(PsaPost.id).where(PsaPost.idempotency_key == post.idempotency_key)):
        return None
    try:
        with session.begin_nested():
            session.add(post)
            session.flush()
    except IntegrityError:
        return None  # a concurrent writer queued the same key first
    return post


def _time_post(
    session: Session,
    *,
    key: str,
    link: TicketLink,
    owner: core.Session,
    minutes: int,
    started: datetime,
    billable: bool,
    note: str,
    work_item_id: uuid.UUID | None,
    covers: list[str],
) -> PsaPost:
    assert link.integration_credential_id is not None
    places = psa_api.ADAPTERS[link.integration_type].hours_places
    before = _ledger_before(session, link.integration_credential_id, started, key)
    hours = units.hours_for(minutes, before, places=places) if places is not None else None
    return PsaPost(
        idempotency_key=key,
        integration_credential_id=link.integration_credential_id,
        ticket_link_id=link.id,
        session_id=owner.id,
        work_item_id=work_item_id,
        client_id=owner.client_id,
        integration_type=link.integration_type,
        ticket_number=link.ticket_number or link.ticket_id,
        kind="time",
        status="queued",
        minutes=minutes,
        is_billable=billable,
        payload={
            "started_at": started.isoformat(),
            "hours": str(hours) if hours is not None else None,
            "note": _with_marker(note, key),
            "work_item_ids": covers,
        },
        next_attempt_at=_now(),
    )


def _require_technician(actor: Actor, what: str) -> None:
    if actor.must_change_password or not actor.has_role("technician"):
        raise PermissionDeniedError(f"role {actor.role} may not {what}")


def queue_session(rt: Runtime, actor: Actor, session_id: uuid.UUID) -> list[PsaPost]:
    """Queue the session's note for every linked ticket and its billable time (what no earlier
    time post covered) for one ticket — the first it resolves, else the first linked — so the
    same minutes are never billed on two tickets. Queuing again changes nothing."""
    _require_technician(actor, "post to the PSA")
    ws = crud.get_row(rt, actor, SPECS["sessions"], session_id)
    with rt.db.write() as session:
        ws = session.get(core.Session, ws.id)
        assert ws is not None
        links = [
            lk
            for lk in session.scalars(
                select(TicketLink).where(TicketLink.session_id == ws.id).order_by(TicketLink.created_at)
            )
            if lk.integration_credential_id is not None
        ]
        if not links:
            return []
        note = session_note(rt, session, ws)
        queued: list[PsaPost] = []
        for link in links:
            assert link.integration_credential_id is not None
            key = idempotency_key(ws.id, link.integration_credential_id, link.ticket_number or "", "note")
            post = PsaPost(
                idempotency_key=key,
                integration_credential_id=link.integration_credential_id,
                ticket_link_id=link.id,
                session_id=ws.id,
                client_id=ws.client_id,
                integration_type=link.integration_type,
                ticket_number=link.ticket_number or link.ticket_id,
                kind="note",
                status="queued",
                is_billable=False,
                payload={"note": _with_marker(note, key)},
                next_attempt_at=_now(),
            )
            if _queue(session, post):
                queued.append(post)
        billed = [lk for lk in links if lk.link_type == "resolves"] or links
        target = billed[0]
        assert target.integration_credential_id is not None
        covered = set(
            session.scalars(
                select(PsaPost.work_item_id).where(
                    PsaPost.session_id == ws.id, PsaPost.kind == "time", PsaPost.work_item_id.is_not(None)
                )
            )
        )
        items = [
            i
            for i in session.scalars(
                select(work.WorkItem).where(
                    work.WorkItem.session_id == ws.id, work.WorkItem.is_billable.is_(True)
                )
            )
            if i.id not in covered and (i.actual_minutes or 0) > 0
        ]
        minutes = sum(i.actual_minutes or 0 for i in items)
        if ws.is_billable and minutes > 0:
            key = idempotency_key(ws.id, target.integration_credential_id, target.ticket_number or "", "time")
            titles = "; ".join(_clip(i.title, 120) for i in items[:10])
            text = capture.clean_text(
                rt, f"MSP Mode: {_clip(ws.session_title, 200)} ({minutes} min)\n{titles}"
            )
            post = _time_post(
                session,
                key=key,
                link=target,
                owner=ws,
                minutes=minutes,
                started=_aware(ws.started_at) or _now(),
                billable=True,
                note=text or "",
                work_item_id=None,
                covers=[str(i.id) for i in items],
            )
            if _queue(session, post):
                queued.append(post)
        return queued


def log_time(
    rt: Runtime,
    actor: Actor,
    minutes: int,
    note: str,
    *,
    session_id: uuid.UUID | None = None,
    ticket: str | None = None,
    billable: bool | None = None,
    integration: str | None = None,
) -> tuple[work.WorkItem, PsaPost | None]:
    """Log ``minutes`` of work as a work item of the session and queue it as a time entry on
    the session's ticket (``ticket`` links one first). The session's own time post at its end
    leaves these minutes out."""
    _require_technician(actor, "log time")
    if minutes <= 0:
        raise ValidationError("minutes must be a positive whole number")
    ws = _session_row(rt, actor, session_id)
    if ticket:
        link_ticket(rt, actor, ticket, session_id=ws.id, integration=integration, link_type="resolves")
    item = entities.add_work(rt, actor, note, minutes=minutes, billable=billable, session_id=ws.id)
    with rt.db.write() as session:
        links = [
            lk
            for lk in session.scalars(
                select(TicketLink).where(TicketLink.session_id == ws.id).order_by(TicketLink.created_at)
            )
            if lk.integration_credential_id is not None
        ]
        if not links:
            return item, None
        chosen = [lk for lk in links if ticket and lk.ticket_number == ticket.strip().lstrip("#")]
        target = (chosen or [lk for lk in links if lk.link_type == "resolves"] or links)[0]
        assert target.integration_credential_id is not None
        owner = session.get(core.Session, ws.id)
        assert owner is not None
        key = idempotency_key(item.id, target.integration_credential_id, target.ticket_number or "", "time")
        post = _time_post(
            session,
            key=key,
            link=target,
            owner=owner,
            minutes=minutes,
            started=_aware(item.started_at) or _now(),
            billable=bool(item.is_billable),
            note=capture.clean_text(rt, _clip(note, 2000)) or "",
            work_item_id=item.id,
            covers=[str(item.id)],
        )
        return item, _queue(session, post)


# ---- delivery -------------------------------------------------------------------------------


@dataclass
class Delivery:
    posted: list[PsaPost] = field(default_factory=list)
    already: list[PsaPost] = field(default_factory=list)  # found on the ticket: not posted again
    queued: list[PsaPost] = field(default_factory=list)
    failed: list[PsaPost] = field(default_factory=list)
    skipped: int = 0  # left for later: the deadline passed, or another process holds them

    @property
    def done(self) -> int:
        return len(self.posted) + len(self.already)

    def as_dict(self) -> dict[str, Any]:
        return {
            "posted": [post_dict(p) for p in self.posted],
            "already_posted": [post_dict(p) for p in self.already],
            "queued": [post_dict(p) for p in self.queued],
            "failed": [post_dict(p) for p in self.failed],
            "skipped": self.skipped,
        }


def post_dict(p: PsaPost) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "kind": p.kind,
        "integration_type": p.integration_type,
        "ticket": p.ticket_number,
        "status": p.status,
        "minutes": p.minutes,
        "hours": (p.payload or {}).get("hours"),
        "attempts": p.attempts,
        "external_id": p.external_id,
        "next_attempt_at": p.next_attempt_at.isoformat() if p.next_attempt_at else None,
        "last_http_status": p.last_http_status,
        "last_error": p.last_error,
        "session_id": str(p.session_id) if p.session_id else None,
    }


def _backoff(attempts: int) -> float:
    return float(min(BACKOFF_BASE_S * 2 ** max(0, attempts - 1), BACKOFF_MAX_S))


def deliver(
    rt: Runtime,
    actor: Actor,
    ids: Iterable[uuid.UUID] | None = None,
    *,
    timeout: httpx.Timeout = SYNC_TIMEOUT,
    deadline_s: float | None = None,
    ignore_backoff: bool = False,
    clock: Callable[[], datetime] = _now,
    after_post: Callable[[PsaPost], None] | None = None,
) -> Delivery:
    """Try the given posts (or every queued post that is due). ``ignore_backoff`` also tries
    posts still waiting out a backoff, except those a 429's Retry-After holds back."""
    _require_technician(actor, "post to the PSA")
    started = clock()
    report = Delivery()
    t = PsaPost
    with rt.db.read() as session:
        stmt = select(t).where(t.status == "queued", *crud.visible_to(actor, t.__table__))  # type: ignore[arg-type]
        if ids is not None:
            stmt = stmt.where(t.id.in_(list(ids)))
        elif not ignore_backoff:
            stmt = stmt.where(func.coalesce(t.next_attempt_at, started) <= started)
        posts = list(session.scalars(stmt.order_by(t.created_at, t.kind)))
        integrations = {
            r.id: r
            for r in session.scalars(
                select(IntegrationCredential).where(
                    IntegrationCredential.id.in_({p.integration_credential_id for p in posts} - {None})
                )
            )
        }
    adapters: dict[uuid.UUID, tuple[psa_api.PsaAdapter, _Calls]] = {}
    try:
        for post in posts:
            now = clock()
            if deadline_s is not None and (now - started).total_seconds() > deadline_s:
                report.skipped += 1
                continue
            held = _aware(post.next_attempt_at)
            if ids is None and ignore_backoff and post.last_http_status == 429 and held and held > now:
                continue
            if not _claim(rt, post, now):
                report.skipped += 1
                continue
            row = integrations.get(post.integration_credential_id) if post.integration_credential_id else None
            if row is None or not row.is_active:
                _finish(
                    rt, actor, post, None, error="its PSA integration was removed or disabled", failed=True
                )
                report.failed.append(post)
                continue
            if row.id not in adapters:
                calls = _Calls()
                try:
                    config = _config(rt, row)
                except VaultError as exc:
                    # One integration whose secret cannot be read fails its own posts, not the run.
                    _finish(rt, actor, post, None, error=f"its PSA integration's secret: {exc}", failed=True)
                    report.failed.append(post)
                    continue
                http = psa_api.Http(config, timeout=timeout, on_exchange=calls.add)
                adapters[row.id] = (psa_api.adapter(config, http), calls)
            psa, calls = adapters[row.id]
            _deliver_one(rt, actor, post, psa, calls, report, now, after_post)
    finally:
        for psa, _ in adapters.values():
            psa.http.close()
    return report


def post_now(rt: Runtime, actor: Actor, post: PsaPost) -> PsaPost:
    """Try one post at once with short timeouts; return it as it stands afterwards (posted, or
    still queued with the reason)."""
    deliver(rt, actor, [post.id], timeout=INTERACTIVE_TIMEOUT)
    with rt.db.read() as session:
        fresh = session.get(PsaPost, post.id)
    assert fresh is not None
    return fresh


def _claim(rt: Runtime, post: PsaPost, now: datetime) -> bool:
    """Take the post for this process: attempts + 1 and a lease, only if nobody else did."""
    with rt.db.write() as session:
        done = session.execute(
            update(PsaPost)
            .where(PsaPost.id == post.id, PsaPost.status == "queued", PsaPost.attempts == post.attempts)
            .values(attempts=post.attempts + 1, next_attempt_at=now + LEASE)
        )
        ok = bool(getattr(done, "rowcount", 0) == 1)
    if ok:
        post.attempts += 1
    return ok


def _deliver_one(
    rt: Runtime,
    actor: Actor,
    post: PsaPost,
    psa: psa_api.PsaAdapter,
    calls: _Calls,
    report: Delivery,
    now: datetime,
    after_post: Callable[[PsaPost], None] | None,
) -> None:
    payload = post.payload or {}
    try:
        ticket = _ticket_for(rt, post, psa)
        existing = psa.find_posted(ticket, post.kind, post.idempotency_key)
        if existing is not None:
            _finish(rt, actor, post, calls, external_id=existing, ticket=ticket)
            report.already.append(post)
            return
        if post.kind == "note":
            external = psa.post_note(ticket, psa_api.NoteIn(text=str(payload["note"])))
        else:
            hours = payload.get("hours")
            external = psa.post_time(
                ticket,
                psa_api.TimeIn(
                    minutes=int(post.minutes or 0),
                    started_at=datetime.fromisoformat(str(payload["started_at"])),
                    billable=post.is_billable,
                    note=str(payload["note"]),
                    hours=Decimal(hours) if hours is not None else None,
                    member=psa.config.setting("member"),
                ),
            )
        if after_post is not None:
            after_post(post)
        _finish(rt, actor, post, calls, external_id=external, ticket=ticket)
        report.posted.append(post)
    except psa_api.PsaError as exc:
        permanent = isinstance(exc, psa_api.PsaNotFoundError | psa_api.PsaRejectedError)
        wait = _backoff(post.attempts)
        if isinstance(exc, psa_api.PsaRateLimitedError) and exc.retry_after is not None:
            wait = max(exc.retry_after, 1.0)
        _finish(
            rt,
            actor,
            post,
            calls,
            error=exc.message,
            failed=permanent,
            http_status=exc.http_status,
            retry_at=None if permanent else now + timedelta(seconds=wait),
        )
        (report.failed if permanent else report.queued).append(post)


def _ticket_for(rt: Runtime, post: PsaPost, psa: psa_api.PsaAdapter) -> psa_api.Ticket:
    with rt.db.read() as session:
        link = session.get(TicketLink, post.ticket_link_id) if post.ticket_link_id else None
    if link is not None and link.ticket_subject is not None:
        return psa_api.Ticket(
            link.ticket_id, link.ticket_number or link.ticket_id, link.ticket_subject, link.ticket_status
        )
    ticket = psa.find_ticket(post.ticket_number)
    if link is not None:
        with rt.db.write() as session:
            fresh = session.get(TicketLink, link.id)
            if fresh is not None:
                _apply_ticket(fresh, ticket)
    return ticket


def _finish(
    rt: Runtime,
    actor: Actor,
    post: PsaPost,
    calls: _Calls | None,
    *,
    external_id: str | None = None,
    ticket: psa_api.Ticket | None = None,
    error: str | None = None,
    failed: bool = False,
    http_status: int | None = None,
    retry_at: datetime | None = None,
) -> None:
    with rt.db.write() as session:
        row = session.get(PsaPost, post.id)
        assert row is not None
        if error is None:
            row.status, row.external_id, row.posted_at = "posted", external_id, _now()
            row.last_error, row.next_attempt_at = None, None
        else:
            row.status = "failed" if failed else "queued"
            row.last_error = capture.clean_text(rt, error)
            row.last_http_status = http_status
            row.next_attempt_at = retry_at
        session.flush()
        if calls is not None:
            _record(
                rt,
                session,
                actor,
                calls,
                post.integration_type,
                session_id=post.session_id,
                client_id=post.client_id,
                external_id=external_id,
            )
        if error is None:
            audit.record(
                session,
                rt.audit_signer,
                actor,
                "create",
                "psa_posts",
                str(post.id),
                {"posted": post.kind, "ticket": post.ticket_number, "external_id": external_id},
            )
        for name in (
            "status",
            "external_id",
            "posted_at",
            "last_error",
            "last_http_status",
            "next_attempt_at",
        ):
            setattr(post, name, getattr(row, name))


def retry_failed(rt: Runtime, actor: Actor, *, session_id: uuid.UUID | None = None) -> int:
    """Put failed posts (of one session, or all) back in the queue (after relinking a ticket or
    fixing an integration)."""
    _require_technician(actor, "requeue PSA posts")
    t = PsaPost
    with rt.db.write() as session:
        stmt = update(t).where(t.status == "failed", *crud.visible_to(actor, t.__table__))  # type: ignore[arg-type]
        if session_id is not None:
            stmt = stmt.where(t.session_id == session_id)
        done = session.execute(stmt.values(status="queued", next_attempt_at=_now()))
        return int(getattr(done, "rowcount", 0) or 0)


def session_posts(rt: Runtime, actor: Actor, session_id: uuid.UUID) -> list[PsaPost]:
    """The notes and time entries a session posted or still owes to the PSA, with their state."""
    ws = crud.get_row(rt, actor, SPECS["sessions"], session_id)
    t = PsaPost
    with rt.db.read() as session:
        return list(session.scalars(select(t).where(t.session_id == ws.id).order_by(t.created_at, t.kind)))


def post_session_now(
    rt: Runtime, actor: Actor, session_id: uuid.UUID, *, deadline_s: float = 15.0
) -> Delivery:
    """Post what an ended session owes its tickets now, with short timeouts: its note and time
    are queued if they were not (a session stopped with ``--no-post``), failed posts are put
    back in the queue. Exactly once still holds: a post the PSA already has is found, not
    posted again."""
    _require_technician(actor, "post to the PSA")
    ws = crud.get_row(rt, actor, SPECS["sessions"], session_id)
    if ws.ended_at is None:
        raise ValidationError("the session is still running: stop it first (msp session stop)")
    queue_session(rt, actor, ws.id)
    retry_failed(rt, actor, session_id=ws.id)
    owed = [p.id for p in session_posts(rt, actor, ws.id) if p.status == "queued"]
    if not owed:
        return Delivery()
    return deliver(rt, actor, owed, timeout=INTERACTIVE_TIMEOUT, deadline_s=deadline_s)


def pending(rt: Runtime, actor: Actor, *, status: str | None = None, limit: int = 200) -> list[PsaPost]:
    """Posts not yet posted (queued and failed), oldest first — what is owed to the PSA."""
    t = PsaPost
    with rt.db.read() as session:
        stmt = select(t).where(*crud.visible_to(actor, t.__table__))  # type: ignore[arg-type]
        stmt = stmt.where(t.status == status) if status else stmt.where(t.status != "posted")
        return list(session.scalars(stmt.order_by(t.created_at).limit(limit)))


def stop_and_post(
    rt: Runtime, actor: Actor, session_id: uuid.UUID, *, deadline_s: float = 15.0
) -> tuple[list[PsaPost], Delivery]:
    """After a session stops: queue its posts and try them now with short timeouts; what the
    PSA does not take in time stays queued for `msp psa sync`."""
    queued = queue_session(rt, actor, session_id)
    if not queued:
        return [], Delivery()
    return queued, deliver(
        rt, actor, [p.id for p in queued], timeout=INTERACTIVE_TIMEOUT, deadline_s=deadline_s
    )


# ---- billing: posted or not -----------------------------------------------------------------


@dataclass(frozen=True)
class PostedTime:
    posted: int = 0
    queued: int = 0
    failed: int = 0


def time_posting(session: Session, session_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, PostedTime]:
    """Minutes of time posts per session by status, for the billing report."""
    wanted = list(session_ids)
    if not wanted:
        return {}
    out: dict[uuid.UUID, dict[str, int]] = {}
    rows = session.execute(
        select(PsaPost.session_id, PsaPost.status, func.coalesce(func.sum(PsaPost.minutes), 0))
        .where(PsaPost.session_id.in_(wanted), PsaPost.kind == "time")
        .group_by(PsaPost.session_id, PsaPost.status)
    )
    for sid, status, minutes in rows:
        if sid is not None:
            out.setdefault(sid, {})[status] = int(minutes or 0)
    return {
        sid: PostedTime(d.get("posted", 0), d.get("queued", 0), d.get("failed", 0)) for sid, d in out.items()
    }
