"""The MCP tools: thin wrappers over the services, with docstrings written for the agent that
reads them (they are the tools' descriptions).

    server = build_server(rt, fixed_actor(local_actor("mcp")))   # msp mcp (stdio)
    server = build_server(rt, bearer_actor(rt))                   # /mcp on msp serve

Every tool is registered with ``@tool``, which looks up the scope it needs in ``TOOL_SCOPES``
(a tool without one cannot be registered), resolves the call's Actor — over HTTP
from the request's ``Authorization: Bearer`` header, exactly as the REST API does — and
authorizes it as the API's gate does (``services.actor.authorize``: no one-time password, the
key's scopes, the role the scope needs) before the tool's body runs; the body gets the Actor
from ``caller()``, which has none outside such a call, so a tool registered any other way
cannot act for anyone. Roles, client scoping, redaction and the audit log then apply as they do
everywhere else. A service error (not found, not allowed, invalid) comes back as a tool error
whose text says what to do; nothing else leaks.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

import mspmode
from mspmode.errors import AuthenticationError, MSPError, ValidationError
from mspmode.services import auth, entities, learning, psa, recall, solutions
from mspmode.services import insights as insight_service
from mspmode.services.actor import Access, Actor, authorize
from mspmode.services.runtime import Runtime

ActorSource = Callable[[Context[Any, Any] | None], Actor]
P = ParamSpec("P")
T = TypeVar("T")

# The scope each tool needs; a tool without a line here cannot be registered.
TOOL_SCOPES = {
    "check_command": "check",
    "record_command": "record",
    "recall_context": "read",
    "save_context": "record",
    "search_solutions": "read",
    "get_insights": "read",
    "log_work_item": "record",
    "find_host": "read",
    "link_ticket": "record",
    "log_time": "record",
}
_CALLER: ContextVar[Actor] = ContextVar("mcp_caller")

INSTRUCTIONS = """\
MSP Mode remembers the work done for an MSP's clients: commands run on each host and how they
failed, the fixes that worked, what each host cannot do, decisions and earlier sessions.
Before running a command on a client's host, call check_command. After running it, call
record_command with its exit code and output so the next agent learns from it. At the start
of a task call recall_context; when you finish, save_context with what was decided and done."""


def fixed_actor(actor: Actor) -> ActorSource:
    """Every call acts as ``actor`` (stdio: the person who started ``msp mcp``)."""
    return lambda _ctx: actor


def bearer_actor(rt: Runtime) -> ActorSource:
    """The Actor behind the HTTP request's bearer token (API key or JWT), or 401."""

    def resolve(ctx: Context[Any, Any] | None) -> Actor:
        headers = ctx.headers if ctx is not None else None
        given = (headers or {}).get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("authentication required: send Authorization: Bearer <API key>")
        assert ctx is not None  # headers came from it
        # The HTTP request (its client already what a trusted proxy reported, api/proxies.py).
        peer = getattr(getattr(ctx.request_context.request, "client", None), "host", None)
        return auth.authenticate(rt, token, peer, ctx.request_id)

    return resolve


def caller() -> Actor:
    """The authorized Actor of the tool call being served (set by ``@tool``)."""
    try:
        return _CALLER.get()
    except LookupError:
        raise AuthenticationError("this tool was not registered through @tool: it acts for no one") from None


def _guarded(fn: Callable[P, T], actor_of: ActorSource) -> Callable[P, T]:
    """``fn`` run for its caller, once authenticated and authorized for the tool's scope; an
    MSPError comes back as a tool error."""
    needed = Access(TOOL_SCOPES[fn.__name__])

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            actor = actor_of(kwargs.get("ctx"))  # type: ignore[arg-type]
            authorize(actor, needed)
            token = _CALLER.set(actor)
            try:
                return fn(*args, **kwargs)
            finally:
                _CALLER.reset(token)
        except MSPError as exc:
            raise ToolError(f"{type(exc).__name__}: {exc}") from None

    return wrapper


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def build_server(rt: Runtime, actor_of: ActorSource) -> MCPServer[Any]:
    """The MCP server with every MSP Mode tool, acting for ``actor_of(ctx)``."""
    server: MCPServer[Any] = MCPServer(
        name="msp-mode", version=mspmode.__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )

    def tool(fn: Callable[P, T]) -> Callable[P, T]:
        server.tool()(_guarded(fn, actor_of))
        return fn

    @tool
    def check_command(
        command: str,
        host: str | None = None,
        session_id: str | None = None,
        ctx: Context[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Check a shell command BEFORE you run it on a client's host.

        Give the exact command and the host it will run on (hostname, FQDN, IP or alias; omit it
        for this machine), and the session you work in if you have one (the same private IP at
        two clients is then the session's client's host). Returns a verdict: "allow", "warn" or
        "block", with the reason — the same mistake failed there before, or the host cannot do
        it (old PowerShell, no systemd, BusyBox…) — and suggestions: the command that worked
        instead. On "block", do not run the command; use a suggestion. This only reads: nothing
        is recorded."""
        session = uuid.UUID(session_id) if session_id else None
        return learning.check(rt, caller(), host, command, session_id=session)

    @tool
    def record_command(
        command: str,
        exit_code: int,
        output: str = "",
        host: str | None = None,
        session_id: str | None = None,
        ctx: Context[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a command you ran, with its exit code and output (stderr included), AFTER it ran.

        This is how MSP Mode learns: a failure is classified and grouped with earlier ones,
        and a later success on the same host is learned as its fix. Secrets in the command or
        output are redacted before anything is stored. Returns what was learned; after a
        failure, "hint" says whether to retry (transient) or what worked instead."""
        actor = caller()
        item = learning.CommandIn(
            command=command,
            exit_code=exit_code,
            output=output or None,
            host=host,
            session_id=uuid.UUID(session_id) if session_id else None,
        )
        recorded = learning.record_commands(rt, actor, [item], source="mcp")
        hint = learning.recovery_hints(rt, actor, recorded)[0]
        rec = recorded[0]
        return {
            "id": str(rec.row["id"]),
            "command": rec.row["command_text"],
            "host": rec.given,
            "failure_class": rec.learned.record.failure_class,
            "culprit": rec.learned.culprit.describe() if rec.learned.culprit else None,
            "pattern_id": rec.learned.record.pattern_id,
            "new_pattern": rec.learned.new_pattern,
            "fixed_patterns": list(rec.learned.fixes),
            "hint": hint,
        }

    @tool
    def recall_context(
        client: str | None = None,
        project: str | None = None,
        query: str = "",
        hosts: list[str] | None = None,
        budget_tokens: int = 1500,
        ctx: Context[Any, Any] | None = None,
    ) -> str:
        """What MSP Mode remembers that matters now, as markdown to read before you act.

        Call it at the start of a task. Give the client (name or id) and project if known, the
        hosts you will work on, and your task as "query". Returns facts best first within the
        token budget (at most 2,500): hard host constraints, insights learned from failures,
        decisions already taken, the project's state, open tasks and summaries of earlier
        sessions. Another client's facts are never included. Empty when nothing is known."""
        req = recall.RecallRequest(
            client=client, project=project, query=query, hosts=tuple(hosts or ()), budget_tokens=budget_tokens
        )
        return recall.recall_context(rt, caller(), req).markdown or "Nothing remembered for this yet."

    @tool
    def save_context(
        title: str,
        text: str,
        client: str | None = None,
        project: str | None = None,
        context_type: str = "general_context",
        importance: int = 5,
        tags: list[str] | None = None,
        supersedes: str | None = None,
        ctx: Context[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Remember something for the next session, on any machine: what was done, decided,
        found out, and what is left to do.

        Write dense facts: commands with their results, exact error messages, file paths,
        hosts, decisions and why, the names (never the values) of credentials used. Long text
        is compressed, keeping those facts. context_type: session_summary, project_state,
        general_context, technical_decision, bug_fix or compaction; importance 1–10. To correct
        an earlier context, pass its id as "supersedes": the old one is kept but no longer
        recalled. Returns the new context's id."""
        ctx_in = recall.ContextIn(
            title=title,
            text=text,
            client=client,
            project=project,
            context_type=context_type,
            importance=importance,
            tags=tuple(tags or ()),
        )
        old = uuid.UUID(supersedes) if supersedes else None
        row = recall.save_context(rt, caller(), ctx_in, supersedes=old)
        return {
            "id": str(row.id),
            "title": row.title,
            "compressed": row.compressed_tokens is not None,
            "source_tokens": row.source_tokens,
            "compressed_tokens": row.compressed_tokens,
        }

    @tool
    def search_solutions(
        query: str, limit: int = 10, ctx: Context[Any, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Search problems solved before, by words of the error message or the symptom.

        Use it when a command fails with an error you do not recognise. Every word must match;
        paste the most specific part of the error ("ERR_SSL_PROTOCOL_ERROR", "0x80070005").
        Returns the matching problems, best first, each with the solution applied, the host and
        how often it recurred. Empty when nothing matches: try fewer words."""
        return solutions.search(rt, caller(), query, limit=limit)

    @tool
    def get_insights(
        host: str | None = None, client: str | None = None, ctx: Context[Any, Any] | None = None
    ) -> str:
        """What MSP Mode has learned about a host or a whole client's environment, as markdown.

        Give a host (hostname, FQDN, IP or alias) to get its traits, its active insights (what
        fails there and what to do instead) and its recurring failure patterns; or a client to
        get that client's insights file. Read it before working on an unfamiliar host."""
        actor = caller()
        if host:
            return _host_markdown(entities.host_overview(rt, actor, host, client))
        if client:
            return insight_service.insights_markdown(rt, actor, client, refresh_first=False)
        raise ValidationError("give a host or a client")

    @tool
    def log_work_item(
        description: str,
        category: str | None = None,
        minutes: int | None = None,
        billable: bool | None = None,
        session_id: str | None = None,
        ctx: Context[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Log a finished piece of work for the client, for the technician's timesheet and billing.

        One line says what was done ("Renewed the TLS certificate on WEB1"); more lines may
        follow. It goes into the given session (id) or the session running on this machine. The
        category (troubleshooting, configuration, installation, maintenance…) and billable flag
        are inferred when not given; the time is "minutes" or the time since the previous item."""
        row = entities.add_work(
            rt,
            caller(),
            description,
            category=category,
            minutes=minutes,
            billable=billable,
            session_id=uuid.UUID(session_id) if session_id else None,
        )
        return {
            "id": str(row.id),
            "session_id": str(row.session_id),
            "title": row.title,
            "category": row.category,
            "billable": row.is_billable,
            "actual_minutes": row.actual_minutes,
        }

    @tool
    def link_ticket(
        number: str,
        integration: str | None = None,
        session_id: str | None = None,
        link_type: str = "related",
        ctx: Context[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Link the session to the client's ticket in the MSP's PSA (SyncroMSP, Autotask,
        ConnectWise, HaloPSA, ITFlow), so the session's note and time are posted there.

        Give the ticket number as the PSA shows it; "integration" only when the MSP has several
        PSAs. The ticket is looked up first: a number that does not exist is an error and nothing
        is linked. link_type: related, resolves (its time goes to this ticket) or documents.
        Returns the ticket's title and status. Use the running session unless given one."""
        row = psa.link_ticket(
            rt,
            caller(),
            number,
            session_id=uuid.UUID(session_id) if session_id else None,
            integration=integration,
            link_type=link_type,
        )
        return {
            "ticket": row.ticket_number,
            "title": row.ticket_subject,
            "status": row.ticket_status,
            "system": row.integration_type,
            "verified": row.ticket_subject is not None,
            "link_id": str(row.id),
        }

    @tool
    def log_time(
        minutes: int,
        note: str,
        ticket: str | None = None,
        billable: bool | None = None,
        session_id: str | None = None,
        ctx: Context[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Log time worked to the client's PSA ticket, as a billable (or not) time entry.

        "note" says what was done (first line a title). The minutes become a work item of the
        session and a time entry on its ticket ("ticket" links one first). Each call posts once,
        never twice; when the PSA does not answer in seconds the entry is queued and posted
        later (status "queued"), so go on working. It will not post time for a session with no
        linked ticket: the work item is still logged."""
        actor = caller()
        item, post = psa.log_time(
            rt,
            actor,
            minutes,
            note,
            session_id=uuid.UUID(session_id) if session_id else None,
            ticket=ticket,
            billable=billable,
        )
        if post is not None:
            post = psa.post_now(rt, actor, post)
        return {
            "work_item_id": str(item.id),
            "minutes": item.actual_minutes,
            "billable": item.is_billable,
            "ticket": post.ticket_number if post else None,
            "status": post.status if post else "no ticket linked: logged as work only",
            "error": post.last_error if post else None,
        }

    @tool
    def find_host(
        host: str, client: str | None = None, ctx: Context[Any, Any] | None = None
    ) -> dict[str, Any]:
        """Find a client's host by hostname, FQDN, IP address or alias, with what is known about it.

        Returns its client and site, OS and shell (PowerShell version, init system, package
        manager), services, limitations and notes, active insights and recent failed commands.
        If two clients have a host of that name, give the client. An unknown name is answered
        with the closest known names."""
        o = entities.host_overview(rt, caller(), host, client)
        h = o.host
        return {
            "id": str(h.id),
            "hostname": h.hostname,
            "fqdn": h.fqdn,
            "ip_address": h.ip_address,
            "aliases": h.aliases or [],
            "client": o.client_name,
            "site": o.site_name,
            "os": h.os,
            "os_version": h.os_version,
            "shell_type": h.shell_type,
            "powershell_version": h.powershell_version,
            "init_system": h.init_system,
            "package_manager": h.package_manager,
            "limitations": h.limitations,
            "environmental_notes": h.environmental_notes,
            "services": [s.name for s in o.services],
            "insights": [
                {"title": i.insight_title, "description": i.insight_description} for i in o.insights
            ],
            "recent_failures": [
                {"command": c.command_text, "error": c.error_message, "at": _iso(c.executed_at)}
                for c in o.recent_failures
            ],
        }

    return server


def _host_markdown(o: entities.HostOverview) -> str:
    h = o.host
    lines = [f"# {h.hostname}" + (f" ({o.client_name})" if o.client_name else "")]
    traits = [
        f"{label}: {value}"
        for label, value in (
            ("OS", " ".join(str(v) for v in (h.os, h.os_version) if v)),
            ("shell", h.shell_type),
            ("PowerShell", h.powershell_version),
            ("init", h.init_system),
            ("packages", h.package_manager),
        )
        if value
    ]
    if traits:
        lines.append("- " + "; ".join(traits))
    if h.limitations:
        lines.append("- Limitations: " + "; ".join(str(x) for x in h.limitations))
    if o.insights:
        lines.append("\n## Insights")
        lines += [f"- **{i.insight_title}**: {i.insight_description}" for i in o.insights]
    if o.patterns:
        lines.append("\n## Recurring failures")
        lines += [f"- {p.pattern_signature} ({p.occurrence_count}×)" for p in o.patterns]
    if len(lines) == 1:
        lines.append("Nothing learned about this host yet.")
    return "\n".join(lines)
