"""Admin: users, API keys (a new key is shown once), the audit log with its chain verified, and
backups: the latest, and running a verified one."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from mspmode.dashboard.web import Person, RuntimeDep, csrf_protect, render
from mspmode.models.core import ROLES
from mspmode.services import audit, auth, crud
from mspmode.services import backup as backups
from mspmode.services.resources import SPECS

router = APIRouter(dependencies=[Depends(csrf_protect)])


def _page(request: Request, rt: RuntimeDep, me: Person, **extra: Any) -> Response:
    return render(
        request,
        "admin.html",
        me,
        users=auth.list_users(rt, me),
        keys=auth.list_api_keys(rt, me),
        roles=ROLES,
        audit_rows=crud.list_rows(rt, me, SPECS["audit-log"], sort=["-sequence"], limit=25).items,
        backups=crud.list_rows(rt, me, SPECS["backup-log"], sort=["-backup_started_at"], limit=10).items,
        **extra,
    )


@router.get("/admin")
def admin(request: Request, rt: RuntimeDep, me: Person, verify: bool = False) -> Response:
    return _page(request, rt, me, chain=audit.verify_chain(rt, me) if verify else None)


@router.post("/admin/api-keys")
def create_key(
    request: Request,
    rt: RuntimeDep,
    me: Person,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    username: Annotated[str, Form(min_length=1, max_length=255)],
    role: Annotated[str, Form(max_length=20)],
) -> Response:
    row, key = auth.create_api_key(rt, me, name=name, role=role, username=username)
    return _page(request, rt, me, new_key=key, new_key_prefix=row.prefix)


@router.post("/admin/backups")
def run_backup(request: Request, rt: RuntimeDep, me: Person) -> Response:
    """Back up and verify now (``msp backup``): the page answers when the copy was restored
    into a scratch database and compared, table by table."""
    result = backups.run_backup(rt, me)
    return _page(request, rt, me, backup=result)
