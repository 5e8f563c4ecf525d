"""Search past solutions, and the recall preview: exactly what the SessionStart hook would give
the agent now for a client, project and prompt, and each fact's score."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from mspmode.dashboard.web import Person, RuntimeDep, csrf_protect, render
from mspmode.services import hooks, insights, overview, solutions

router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/search")
def search(request: Request, rt: RuntimeDep, me: Person, q: str = "") -> Response:
    hits = solutions.search(rt, me, q) if q.strip() else []
    return render(request, "search.html", me, q=q, hits=hits, words=q.split())


@router.get("/recall")
def recall_preview(
    request: Request, rt: RuntimeDep, me: Person, client: str = "", project: str = "", q: str = ""
) -> Response:
    # The hook passes a client id; a hand-typed address may name the client instead.
    client_id = str(insights.resolve_client(rt, me, client)[0]) if client.strip() else None
    injected = hooks.session_start_injection(rt, me, client_id, project or None, q, touch=False)
    return render(
        request,
        "recall.html",
        me,
        clients=overview.clients(rt, me),
        client=client_id or "",
        project=project,
        q=q,
        text=injected.markdown,
        facts=injected.facts,
    )
