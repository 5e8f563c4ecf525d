"""Credentials: metadata only; revealing one field, or the current code of a TOTP seed, asks for
your password again, and the vault records it (or its refusal) in credential_audit_log, as the
API's reveal and TOTP routes do. What was shown leaves the page on its own: the answer tells
the browser to load the credential's plain page again after ``SHOWN_SECONDS`` (a TOTP code
when it expires), which works without scripts."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from mspmode.dashboard.web import Person, RuntimeDep, csrf_protect, render
from mspmode.errors import AuthenticationError, RateLimitedError
from mspmode.services import auth, credentials, crud
from mspmode.services.credentials import CREDENTIALS

router = APIRouter(dependencies=[Depends(csrf_protect)])
SHOWN_SECONDS = 30


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


def _shown_for(response: Response, credential_id: uuid.UUID, seconds: int) -> Response:
    response.headers["refresh"] = f"{max(seconds, 1)}; url=/credentials/{credential_id}"
    return response


def _confirmed(
    request: Request, rt: RuntimeDep, me: Person, credential_id: uuid.UUID, password: str
) -> Response | None:
    """None when ``password`` is the signed-in person's; else the page saying why not."""
    crud.get_row(rt, me, CREDENTIALS, credential_id)  # another client's credential is a 404 first
    try:
        auth.confirm_password(rt, me, password)
    except (AuthenticationError, RateLimitedError) as exc:
        return _page(request, rt, me, credential_id, status=exc.status_code, error=str(exc))
    return None


@router.post("/credentials/{credential_id}/reveal")
def reveal(
    request: Request,
    rt: RuntimeDep,
    me: Person,
    credential_id: uuid.UUID,
    field: Annotated[str, Form(max_length=50)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    refused = _confirmed(request, rt, me, credential_id, password)
    if refused is not None:
        return refused
    shown = credentials.reveal(rt, me, CREDENTIALS, credential_id, field)
    page = _page(request, rt, me, credential_id, revealed=shown, shown_seconds=SHOWN_SECONDS)
    return _shown_for(page, credential_id, SHOWN_SECONDS)


@router.post("/credentials/{credential_id}/totp")
def totp_code(
    request: Request,
    rt: RuntimeDep,
    me: Person,
    credential_id: uuid.UUID,
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    refused = _confirmed(request, rt, me, credential_id, password)
    if refused is not None:
        return refused
    code = credentials.totp_code(rt, me, CREDENTIALS, credential_id)
    page = _page(request, rt, me, credential_id, totp=code)
    return _shown_for(page, credential_id, code.seconds_left)
