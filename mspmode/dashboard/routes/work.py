"""Sessions with their work items, commands and PSA tickets; a work item's time and category to
edit; the session's tickets read again from the PSA, and what it owes them posted now."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from mspmode.dashboard.web import Person, RuntimeDep, csrf_protect, redirect, render
from mspmode.models.work import WORK_CATEGORIES
from mspmode.services import crud, overview, psa
from mspmode.services.resources import SPECS

router = APIRouter(dependencies=[Depends(csrf_protect)])
WORK_ITEMS = SPECS["work-items"]


@router.get("/sessions")
def sessions(request: Request, rt: RuntimeDep, me: Person, client: uuid.UUID | None = None) -> Response:
    return render(request, "sessions.html", me, rows=overview.sessions(rt, me, client_id=client))


@router.get("/sessions/{session_id}")
def session(request: Request, rt: RuntimeDep, me: Person, session_id: uuid.UUID) -> Response:
    detail = overview.session_detail(rt, me, session_id)
    return render(
        request,
        "session.html",
        me,
        d=detail,
        categories=WORK_CATEGORIES,
        tickets=psa.session_tickets(rt, me, session_id, refresh=False),
        posts=psa.session_posts(rt, me, session_id),
    )


@router.post("/sessions/{session_id}/tickets")
def refresh_tickets(rt: RuntimeDep, me: Person, session_id: uuid.UUID) -> Response:
    """Read each linked ticket's title and status from its PSA now (one that does not answer
    keeps the last known values)."""
    psa.refresh_tickets(rt, me, session_id)
    return redirect(f"/sessions/{session_id}")


@router.post("/sessions/{session_id}/post")
def post_to_psa(rt: RuntimeDep, me: Person, session_id: uuid.UUID) -> Response:
    psa.post_session_now(rt, me, session_id)
    return redirect(f"/sessions/{session_id}")


@router.post("/work-items/{item_id}")
def edit_work_item(
    rt: RuntimeDep,
    me: Person,
    item_id: uuid.UUID,
    actual_minutes: Annotated[int, Form(ge=0, le=100_000)],
    category: Annotated[str, Form(max_length=50)],
) -> Response:
    row = crud.update_row(
        rt, me, WORK_ITEMS, item_id, {"actual_minutes": actual_minutes, "category": category}
    )
    return redirect(f"/sessions/{row.session_id}")
