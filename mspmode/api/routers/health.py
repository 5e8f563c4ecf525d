"""``GET /api/health``: is the service usable — database reachable, schema at head."""

from __future__ import annotations

from typing import Literal

from fastapi import Request, Response
from pydantic import BaseModel

import mspmode
from mspmode.api.deps import access
from mspmode.api.routing import ApiRouter
from mspmode.db import schema
from mspmode.errors import DatabaseError, DatabaseUnreachableError

router = ApiRouter(tags=["health"])


class DatabaseHealth(BaseModel):
    dialect: str
    reachable: bool
    revision: str | None
    head: str
    at_head: bool
    error: str | None = None


class Health(BaseModel):
    status: Literal["ok", "error"]
    version: str
    database: DatabaseHealth


@router.get(
    "/health", response_model=Health, responses={503: {"model": Health}}, openapi_extra=access(public=True)
)
def get_health(request: Request, response: Response) -> Health:
    """Whether this server can serve: 200 with status ``ok``, or 503 saying what is wrong.

    Needs no authentication, so load balancers and `make run` can poll it.
    """
    db = request.app.state.db
    head = schema.head_revision()
    try:
        db.ping()
        st = schema.status(db)
        dbh = DatabaseHealth(
            dialect=db.dialect, reachable=True, revision=st.current, head=head, at_head=st.at_head
        )
        if not st.at_head:
            dbh.error = "schema is not at head: run `msp db upgrade`"
    except DatabaseError as exc:
        reachable = not isinstance(exc, DatabaseUnreachableError)
        dbh = DatabaseHealth(
            dialect=db.dialect, reachable=reachable, revision=None, head=head, at_head=False, error=str(exc)
        )
    ok = dbh.reachable and dbh.at_head
    if not ok:
        response.status_code = 503
    return Health(status="ok" if ok else "error", version=mspmode.__version__, database=dbh)
