"""Failure patterns, and a pattern: its explanation (the same as ``msp patterns explain``), its
root cause and solution to edit, and deactivating it (both audited by the CRUD service)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from mspmode.dashboard.web import Person, RuntimeDep, csrf_protect, redirect, render
from mspmode.services import crud, learning
from mspmode.services.resources import SPECS

router = APIRouter(dependencies=[Depends(csrf_protect)])
PATTERNS = SPECS["failure-patterns"]


@router.get("/patterns")
def patterns(
    request: Request,
    rt: RuntimeDep,
    me: Person,
    failure_class: str | None = None,
    inactive: bool = False,
    offset: int = 0,
) -> Response:
    page = learning.list_patterns(
        rt, me, include_inactive=inactive, failure_class=failure_class or None, offset=max(offset, 0)
    )
    return render(
        request, "patterns.html", me, page=page, failure_class=failure_class or "", inactive=inactive
    )


@router.get("/patterns/{pattern_id}")
def pattern(request: Request, rt: RuntimeDep, me: Person, pattern_id: uuid.UUID) -> Response:
    row = learning.get_pattern(rt, me, pattern_id)
    return render(request, "pattern.html", me, p=row, explained=learning.explain(rt, me, pattern_id))


@router.post("/patterns/{pattern_id}")
def edit_pattern(
    rt: RuntimeDep,
    me: Person,
    pattern_id: uuid.UUID,
    root_cause: Annotated[str, Form(min_length=1, max_length=20_000)],
    recommended_solution: Annotated[str, Form(min_length=1, max_length=20_000)],
) -> Response:
    values = {"root_cause": root_cause, "recommended_solution": recommended_solution}
    crud.update_row(rt, me, PATTERNS, pattern_id, values)
    return redirect(f"/patterns/{pattern_id}")


@router.post("/patterns/{pattern_id}/deactivate")
def deactivate_pattern(rt: RuntimeDep, me: Person, pattern_id: uuid.UUID) -> Response:
    crud.update_row(rt, me, PATTERNS, pattern_id, {"is_active": False})
    return redirect(f"/patterns/{pattern_id}")
