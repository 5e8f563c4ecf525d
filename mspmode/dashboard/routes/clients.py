"""Clients, and a client at a glance."""

import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from mspmode.dashboard.web import Person, RuntimeDep, csrf_protect, render
from mspmode.services import insights, overview

router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/clients")
def clients(request: Request, rt: RuntimeDep, me: Person) -> Response:
    return render(request, "clients.html", me, clients=overview.clients(rt, me))


@router.get("/clients/{client_id}")
def client(request: Request, rt: RuntimeDep, me: Person, client_id: uuid.UUID) -> Response:
    found = overview.client_overview(rt, me, client_id)
    text = insights.insights_markdown(rt, me, client_id, refresh_first=False)
    return render(request, "client.html", me, c=found, insights_md=text)
