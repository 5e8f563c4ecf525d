"""Hosts (filtered by client, OS, release, shell, trait), and a host: what fails there and what
works instead."""

import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from mspmode.dashboard.web import Person, RuntimeDep, csrf_protect, render
from mspmode.services import entities, overview

router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/hosts")
def hosts(
    request: Request,
    rt: RuntimeDep,
    me: Person,
    client: uuid.UUID | None = None,
    os: str | None = None,
    release: str | None = None,
    shell: str | None = None,
    trait: str | None = None,
    offset: int = 0,
) -> Response:
    where = overview.HostFilter(
        client_id=client, os=os or None, os_version=release or None, shell=shell or None, trait=trait or None
    )
    rows, total = overview.hosts(rt, me, where, offset=max(offset, 0))
    return render(
        request,
        "hosts.html",
        me,
        rows=rows,
        total=total,
        offset=offset,
        where=where,
        facets=overview.host_facets(rt, me),
        clients=overview.clients(rt, me),
    )


@router.get("/hosts/{host_id}")
def host(request: Request, rt: RuntimeDep, me: Person, host_id: uuid.UUID) -> Response:
    found = entities.host_overview(rt, me, str(host_id))
    timeline = overview.host_timeline(rt, me, host_id)
    return render(request, "host.html", me, h=found, timeline=timeline)


@router.get("/works-where")
def works_where(request: Request, rt: RuntimeDep, me: Person) -> Response:
    return render(request, "works_where.html", me, matrix=overview.works_where(rt, me))
