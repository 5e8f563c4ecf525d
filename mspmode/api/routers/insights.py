"""What was learned, for people and agents to read: a client's insights.md, searching past
solutions, recording failed operations, the recovery health figures, retention.

Registered before the generic CRUD routes, so ``/problem-solutions/search`` is not read as
``/problem-solutions/{id}``.

(No ``from __future__ import annotations``: FastAPI reads the body models from the endpoint
annotations.)
"""

import uuid
from typing import Any, Literal

from fastapi import Query, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from mspmode.api.deps import ActorDep, RuntimeDep, access
from mspmode.api.routing import ApiRouter
from mspmode.models.learning import OPERATION_TYPES
from mspmode.schemas.crud import StorableObject
from mspmode.services import insights, maintenance, operations, recovery, solutions

router = ApiRouter(tags=["insights"])


class SolutionHit(BaseModel):
    id: str
    rank: int
    score: float = Field(description="The backend's relevance score; higher is better.")
    snippet: str = Field(description="The text around the first matching word, matches in [brackets].")
    problem_title: str
    status: str
    error_message: str | None
    solution_applied: str
    recurrence_count: int
    host: str | None
    client_id: str | None
    failure_pattern_id: str | None
    resolved_at: str | None


class SearchOut(BaseModel):
    query: str
    count: int
    results: list[SolutionHit]


class StrategyOut(BaseModel):
    attempts: int
    succeeded: int
    success_rate: float | None


class EscalationOut(BaseModel):
    summary: str
    action: str | None
    severity: str | None


class RecoveryHealth(BaseModel):
    failures: int
    unresolved_failures: int
    unresolved_commands: int
    unresolved_operations: int
    failures_with_attempts: int
    recovered: int
    recovery_success_rate: float | None = Field(description="Recovered failures / failures with an attempt.")
    mean_time_to_recovery_seconds: float | None
    attempts: int
    by_strategy: dict[str, StrategyOut]
    patterns_by_severity: dict[str, int]
    explanations_by_decision: dict[str, int]
    pending_explanations: int = Field(
        description="Failures not explained yet (imports are explained lazily)."
    )
    open_escalations: list[EscalationOut]
    refreshed: dict[str, int] | None


class OperationFailureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operation_type: Literal[OPERATION_TYPES]  # type: ignore[valid-type]
    operation_description: str = Field(min_length=1, max_length=100_000)
    error_message: str = Field(min_length=1, max_length=1_000_000)
    target_system: str | None = Field(default=None, max_length=255)
    error_code: str | None = Field(default=None, max_length=50)
    client_id: uuid.UUID | None = None
    infrastructure_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    work_item_id: uuid.UUID | None = None
    request_data: StorableObject | None = None
    response_data: StorableObject | None = None


class CleanupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(default=90, ge=1, le=36_500)
    dry_run: bool = False


@router.get(
    "/clients/{client}/insights.md",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {}}}},
    summary="A client's insights.md: what to know about its hosts before acting",
)
def client_insights(client: str, rt: RuntimeDep, actor: ActorDep) -> PlainTextResponse:
    """The client's environmental insights as markdown (seed 000's shape): per host, per
    category, highest priority first, each with what to avoid and the commands that work
    instead. ``client`` is the client's id or name. A technician's request refreshes the
    insights first. An unknown client answers 404 naming the clients that exist."""
    text = insights.insights_markdown(rt, actor, client)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.post("/environmental-insights/refresh", summary="Rewrite the learned insights from the patterns")
def refresh_insights(rt: RuntimeDep, actor: ActorDep, client_id: uuid.UUID | None = None) -> dict[str, int]:
    """Create, verify, supersede and deactivate learned insights (one client's, or all the
    caller may see) and note them on the hosts. Insights written by a person are not touched.
    Needs the technician role."""
    return insights.refresh(rt, actor, client_id)


@router.get(
    "/problem-solutions/search",
    response_model=SearchOut,
    summary="Search past problem solutions by full-text relevance",
)
def search_solutions(
    rt: RuntimeDep,
    actor: ActorDep,
    q: str = Query(min_length=1, max_length=1000, description="Words that must all appear."),
    limit: int = Query(20, ge=1, le=solutions.MAX_RESULTS),
    status_: Literal["draft", "verified", "archived"] | None = Query(None, alias="status"),
) -> Any:
    """Problem solutions whose title, error, description, symptom, root cause or solution
    contain every word of ``q``, most relevant first, each with the snippet that matched."""
    results = solutions.search(rt, actor, q, limit=limit, status=status_)
    return {"query": q, "count": len(results), "results": results}


@router.get("/health/recovery", response_model=RecoveryHealth, summary="Auto-recovery figures")
def recovery_health(rt: RuntimeDep, actor: ActorDep) -> Any:
    """Recovery success rate, mean time to recovery, success per strategy, active patterns by
    severity, unresolved failures, the decisions taken and the open escalations — over what
    the caller may see. A technician's request first explains failures not explained yet."""
    return recovery.health(rt, actor)


@router.post(
    "/operation-failures/record",
    status_code=status.HTTP_201_CREATED,
    summary="Record a failed operation; classify, group and explain it",
    openapi_extra=access("record"),
)
def record_operation_failure(body: OperationFailureIn, rt: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    """Record an API call, file operation, network request, backup… that failed. It is
    classified by the same rules as commands, grouped into a failure pattern with the failures
    of the same shape, and given its recovery decision (retry with backoff, the learned
    alternative, or what a person must do), returned under ``recovery``. Needs technician."""
    return operations.record_failure(rt, actor, operations.OperationIn(**body.model_dump()))


@router.post(
    "/maintenance/cleanup",
    summary="Retention: remove stale patterns and old attempts",
    openapi_extra=access("admin"),
)
def cleanup(body: CleanupIn, rt: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    """Remove single-occurrence inactive patterns and successful attempts older than ``days``
    (frequent and confirmed patterns are kept); ``dry_run`` only lists them. Admin only."""
    return maintenance.cleanup(rt, actor, days=body.days, dry_run=body.dry_run)
