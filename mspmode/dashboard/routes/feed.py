"""The live feed on Home: server-sent events of the commands the agents record and of those a
pre-check stopped or warned about.

    GET /feed   text/event-stream; an event ``command`` carries one recorded command as JSON,
                an event ``verdict`` one stopped or warned command, each with its cursor as the
                event id, so a reconnecting EventSource (Last-Event-ID) resumes where it
                stopped, and the page's own cursor (``?after=``) joins the list it rendered.

The stream polls the database (the recorder may run in another process: the CLI, a hook or
another worker), checks the sign-in again on every round so signing out ends it, and closes
after a few minutes; the browser reconnects on its own.
"""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from mspmode.dashboard.web import (
    MustChangePassword,
    Person,
    RuntimeDep,
    csrf_protect,
    password_changed,
    signed_in,
)
from mspmode.errors import MSPError
from mspmode.services import overview
from mspmode.services.actor import Actor
from mspmode.services.runtime import Runtime

router = APIRouter(dependencies=[Depends(csrf_protect)])

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
POLL_SECONDS = 1.0
STREAM_SECONDS = 300.0


def cursor_of(item: overview.FeedItem) -> str:
    return f"{item.created_at.isoformat()}|{item.id}"


def parse_cursor(text: str | None) -> overview.FeedCursor | None:
    if not text or "|" not in text:
        return None
    at, _, ident = text.partition("|")
    try:
        return datetime.fromisoformat(at), uuid.UUID(ident)
    except ValueError:
        return None


def event_of(item: overview.FeedItem) -> str:
    data = {
        "id": str(item.id),
        "at": item.at.strftime("%Y-%m-%d %H:%M:%S") if item.at else "",
        "host": item.host or "",
        "command": item.command,
        "exit_code": item.exit_code,
        "outcome": item.outcome,
        "reason": item.reason or "",
        "pattern": str(item.pattern_id) if item.pattern_id else "",
    }
    return f"event: {item.kind}\nid: {cursor_of(item)}\ndata: {json.dumps(data)}\n\n"


def _still_signed_in(rt: Runtime, request: Request) -> Actor | None:
    try:
        return password_changed(signed_in(request, rt))
    except (MSPError, MustChangePassword):
        return None


@router.get("/feed")
async def feed(request: Request, rt: RuntimeDep, me: Person, after: str | None = None) -> Response:
    start = parse_cursor(request.headers.get("last-event-id")) or parse_cursor(after)

    async def events() -> AsyncIterator[str]:
        actor: Actor | None = me
        cursor = start
        ends = time.monotonic() + STREAM_SECONDS
        yield "retry: 3000\n\n"
        while actor is not None and time.monotonic() < ends and not await request.is_disconnected():
            if cursor is None:
                # No cursor: from the newest recorded command on.
                newest = await run_in_threadpool(overview.feed, rt, actor, None, limit=1)
                cursor = newest[0].cursor if newest else (EPOCH, uuid.UUID(int=0))
            items = await run_in_threadpool(overview.feed, rt, actor, cursor)
            for item in items:
                yield event_of(item)
                cursor = item.cursor
            if not items:
                yield ": idle\n\n"
            await asyncio.sleep(POLL_SECONDS)
            actor = await run_in_threadpool(_still_signed_in, rt, request)

    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
