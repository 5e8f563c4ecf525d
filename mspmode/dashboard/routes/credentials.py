"""Credentials: metadata only; revealing one field asks for your password again, and the vault
records the reveal (or its refusal) in credential_audit_log, as the API's reveal does."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from mspmode.dashboard.web import Person, RuntimeDep, csrf_protect, render
from mspmode.errors import AuthenticationError, RateLimitedError
from mspmode.services import auth, credentials, crud
from mspmode.services.credentials import CREDENTIALS

router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/credentials")
def credential_list(request: Request, rt: RuntimeDep, me: Person) -> Response:
    page = crud.list_rows(rt, me, CREDENTIALS, sort=["service_name"], limit=200)
    return render(request, "credentials.html", me, page=page)


def _page(
    request: Request, rt: RuntimeDep, me: Person, credential_id: uuid.UUID, **extra: object
) -> Response:
    row = crud.get_row(rt, me, CREDENTIALS, credential_id)
    status = int(extra.pop("status", 200))  # type: ignore[call-overload]
    return render(
        request,
        "credential.html",
        me,
        status=status,
        c=row,
        fields=credentials.secrets_set(row, CREDENTIALS),
        **extra,
    )


@router.get("/credentials/{credential_id}")
def credential(request: Request, rt: RuntimeDep, me: Person, credential_id: uuid.UUID) -> Response:
    return _page(request, rt, me, credential_id)


@router.post("/credentials/{credential_id}/reveal")
def reveal(
    request: Request,
    rt: RuntimeDep,
    me: Person,
    credential_id: uuid.UUID,
    field: Annotated[str, Form(max_length=50)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    crud.get_row(rt, me, CREDENTIALS, credential_id)  # another client's credential is a 404 first
    try:
        auth.confirm_password(rt, me, password)
    except (AuthenticationError, RateLimitedError) as exc:
        return _page(request, rt, me, credential_id, status=exc.status_code, error=str(exc))
    shown = credentials.reveal(rt, me, CREDENTIALS, credential_id, field)
    return _page(request, rt, me, credential_id, revealed=shown)
