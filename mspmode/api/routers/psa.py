"""The PSA over HTTP: test an integration, link a session to a ticket, post what a session owes
and retry the queue. Integrations are created with their secrets through
``/api/integration-credentials`` (admin); the queue is readable at ``/api/psa-posts``.

(No ``from __future__ import annotations``: FastAPI reads the models from the annotations.)
"""

import uuid
from typing import Any, Literal

from fastapi import status
from pydantic import BaseModel, ConfigDict, Field

from mspmode.api.deps import ActorDep, RuntimeDep, access
from mspmode.api.routing import ApiRouter
from mspmode.services import psa
from mspmode.services.resources import SPECS

router = ApiRouter(tags=["psa"])


class TestOut(BaseModel):
    name: str
    kind: str
    ok: bool
    detail: str


@router.post(
    "/integration-credentials/{id}/test",
    response_model=list[TestOut],
    summary="Sign in to a PSA integration",
    openapi_extra=access("admin"),
)
def test_integration(id: uuid.UUID, rt: RuntimeDep, actor: ActorDep) -> Any:
    """Authenticates with the stored credentials; the outcome is kept on the integration
    (``last_test_status``, ``last_test_error``). A refusal is ``ok: false``, not an error."""
    return [r.__dict__ for r in psa.test_integration(rt, actor, str(id))]


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(min_length=1, max_length=100, description="The ticket's number as the PSA shows it.")
    integration: str | None = Field(default=None, max_length=100, description="Integration name or id.")
    link_type: Literal["related", "resolves", "documents"] = "related"


@router.post(
    "/sessions/{id}/tickets",
    status_code=status.HTTP_201_CREATED,
    summary="Link a session to a PSA ticket",
    openapi_extra=access("record"),
)
def link_ticket(id: uuid.UUID, body: TicketIn, rt: RuntimeDep, actor: ActorDep) -> Any:
    """Looks the ticket up in the PSA first (404 if it does not exist, nothing stored) and
    returns the ``ticket_links`` row. Linking the same ticket again returns the same row."""
    row = psa.link_ticket(
        rt, actor, body.number, session_id=id, integration=body.integration, link_type=body.link_type
    )
    return _link(row)


@router.get("/sessions/{id}/tickets", summary="A session's PSA tickets, their status read back")
def session_tickets(id: uuid.UUID, rt: RuntimeDep, actor: ActorDep, refresh: bool = True) -> Any:
    """With ``refresh`` the status and title come from the PSA now (short timeouts; the last
    known values when it does not answer)."""
    return [_link(row) for row in psa.session_tickets(rt, actor, id, refresh=refresh)]


def _link(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in SPECS["ticket-links"].readable_fields}


class PostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deliver: bool = Field(default=True, description="Try the posts now (else leave them for a sync).")


@router.post(
    "/sessions/{id}/psa-posts",
    summary="Queue (and post) a session's note and billable time",
    openapi_extra=access("record"),
)
def post_session(id: uuid.UUID, body: PostIn, rt: RuntimeDep, actor: ActorDep) -> Any:
    """Queues the session's note for each linked ticket and its billable time for one, each
    under an idempotency key (calling this again queues nothing new), and with ``deliver``
    tries them at once with short timeouts. Answers what was posted and what stays queued."""
    queued = psa.queue_session(rt, actor, id)
    delivery = (
        psa.deliver(rt, actor, [p.id for p in queued], timeout=psa.INTERACTIVE_TIMEOUT, deadline_s=15)
        if body.deliver and queued
        else psa.Delivery()
    )
    return {"queued": [psa.post_dict(p) for p in queued], **delivery.as_dict()}


class TimeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: int = Field(ge=1, le=24 * 60)
    note: str = Field(min_length=1, max_length=20_000, description="What was done, first line a title.")
    ticket: str | None = Field(default=None, max_length=100, description="Link this ticket first.")
    integration: str | None = Field(default=None, max_length=100)
    billable: bool | None = None


@router.post(
    "/sessions/{id}/time",
    status_code=status.HTTP_201_CREATED,
    summary="Log time to the PSA ticket",
    openapi_extra=access("record"),
)
def log_time(id: uuid.UUID, body: TimeIn, rt: RuntimeDep, actor: ActorDep) -> Any:
    """Logs the minutes as a work item and posts them as a time entry on the session's ticket
    (the session's own time post at its end leaves them out)."""
    item, post = psa.log_time(
        rt,
        actor,
        body.minutes,
        body.note,
        session_id=id,
        ticket=body.ticket,
        billable=body.billable,
        integration=body.integration,
    )
    return {
        "work_item_id": str(item.id),
        "post": psa.post_dict(psa.post_now(rt, actor, post)) if post else None,
    }


class SyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    all: bool = Field(default=False, description="Also posts waiting out a backoff (never a 429's).")
    retry_failed: bool = Field(default=False, description="Requeue failed posts first.")


@router.post("/psa-posts/sync", summary="Retry the PSA queue", openapi_extra=access("record"))
def sync(body: SyncIn, rt: RuntimeDep, actor: ActorDep) -> Any:
    """Posts what is due in the queue (the caller's clients only, for a scoped key)."""
    if body.retry_failed:
        psa.retry_failed(rt, actor)
    return psa.deliver(rt, actor, ignore_backoff=body.all).as_dict()
