"""Context recall over HTTP: what an agent should be told now, and saving a session's
transcript as a compressed context. The four recall tables have their generic CRUD routes
(``/api/conversation-contexts``, ``/context-snippets``, ``/project-states``, ``/decision-logs``).

(No ``from __future__ import annotations``: FastAPI reads the models from the annotations.)
"""

import uuid
from typing import Annotated, Any

from fastapi import BackgroundTasks, Query, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from mspmode.api.deps import ActorDep, RuntimeDep, access
from mspmode.api.middleware import BULK_BODY_BYTES, body_limit
from mspmode.api.routing import ApiRouter
from mspmode.engine.recall import DEFAULT_BUDGET_TOKENS, DEFAULT_HALF_LIFE_DAYS
from mspmode.services import recall

router = ApiRouter(tags=["recall"])


class RecalledItem(BaseModel):
    id: str = Field(description="kind:uuid of the fact (context, snippet, decision, …).")
    kind: str
    score: float
    relevance: float
    importance: float
    decay: float
    usage: float
    match: float


class RecallOut(BaseModel):
    markdown: str = Field(description="The facts, best first, within the budget (≤ 10,000 characters).")
    used: list[str]
    tokens: int = Field(description="Estimated tokens of the markdown (characters / 4).")
    chars: int
    items: list[RecalledItem] = Field(description="Why each fact was chosen: the factors of its score.")
    client_id: str | None
    project_id: str | None
    host_ids: list[str]
    candidates: int = Field(description="How many remembered facts were scored.")


@router.get(
    "/recall",
    response_model=RecallOut,
    summary="Recall context for a client, project, hosts and task",
    responses={200: {"content": {"text/markdown": {}}}},
)
def get_recall(
    rt: RuntimeDep,
    actor: ActorDep,
    background: BackgroundTasks,
    client: Annotated[str | None, Query(max_length=255, description="Client name or id.")] = None,
    project: Annotated[str | None, Query(max_length=255, description="Project name or id.")] = None,
    q: Annotated[str, Query(max_length=20_000, description="The task or prompt, free text.")] = "",
    host: Annotated[
        list[str] | None, Query(max_length=255, description="Hosts in play (repeatable).")
    ] = None,
    tag: Annotated[list[str] | None, Query(max_length=100, description="Wanted tags (repeatable).")] = None,
    budget: Annotated[int, Query(ge=1, le=recall.MAX_BUDGET_TOKENS, description="Token budget.")] = (
        DEFAULT_BUDGET_TOKENS
    ),
    half_life_days: Annotated[float, Query(ge=0, le=36_500, description="0 switches decay off.")] = (
        DEFAULT_HALF_LIFE_DAYS
    ),
    format: Annotated[str, Query(pattern="^(json|markdown)$")] = "json",
) -> Any:
    """Score every remembered fact — full-text relevance × importance × time decay (hard host
    constraints do not decay) × usage × client/project/host/tag match — and return the best
    as markdown within the budget. Another client's facts are never returned; superseded ones
    neither. The facts returned count as used (written after the answer is sent: bookkeeping
    the caller does not wait for). ``format=markdown`` returns the text alone."""
    req = recall.RecallRequest(
        client=client,
        project=project,
        query=q,
        hosts=tuple(host or ()),
        tags=tuple(tag or ()),
        budget_tokens=budget,
        half_life_days=half_life_days,
        touch=False,
    )
    got = recall.recall_context(rt, actor, req)
    if got.result.used:
        background.add_task(recall.mark_used, rt, got.result.used)
    if format == "markdown":
        return PlainTextResponse(got.markdown, media_type="text/markdown")
    return got.to_dict()


class TranscriptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[str] = Field(
        min_length=1, max_length=200_000, description="The Claude Code transcript, one JSONL line each."
    )
    title: str | None = Field(default=None, max_length=500)
    client: str | None = Field(default=None, max_length=255, description="Client name or id.")
    project: str | None = Field(default=None, max_length=255, description="Project name or id.")
    session_id: uuid.UUID | None = None
    importance: int = Field(default=5, ge=1, le=10)


class SavedContextOut(BaseModel):
    id: uuid.UUID
    title: str
    dense_summary: str
    source_tokens: int | None
    compressed_tokens: int | None


@router.post(
    "/conversation-contexts/transcript",
    response_model=SavedContextOut,
    status_code=status.HTTP_201_CREATED,
    summary="Save a session transcript as a compressed context",
    openapi_extra={**access("record"), **body_limit(BULK_BODY_BYTES)},
)
def save_transcript(body: TranscriptIn, rt: RuntimeDep, actor: ActorDep) -> Any:
    """Compress the transcript without an LLM — every decision, command with its result, error
    message, file path, host and credential name is kept, secrets never — and store it as a
    ``session_summary`` context for later recall."""
    return recall.save_transcript(
        rt,
        actor,
        body.lines,
        title=body.title,
        client=body.client,
        project=body.project,
        session_id=body.session_id,
        importance=body.importance,
    )
