"""Problem solutions: searching what was solved before.

    search(rt, actor, "ERR_SSL_PROTOCOL_ERROR")   msp search, GET /api/problem-solutions/search

Drafts are written by the learning engine from a failure followed by its fix
(``learning.persist.upsert_drafts``: problem, symptom, exact error, investigation steps, root
cause, solution, commands, verification; ``recurrence_count`` follows the failures of the same
problem on the same host). A technician edits one through the generic route (``PATCH
/api/problem-solutions/{id}``) and marks it ``verified``, after which the engine changes only
its count. Search ranks by the backend's own full-text relevance (FTS5 bm25, ts_rank_cd,
MATCH … AGAINST — ``db.search``), every word required, with the snippet that matched.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mspmode.db import search as fts
from mspmode.errors import PermissionDeniedError, ValidationError
from mspmode.models.infrastructure import Infrastructure
from mspmode.models.learning import PROBLEM_STATUSES, ProblemSolution
from mspmode.services.actor import Actor
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import scope_clause, table_of

_PS = table_of(ProblemSolution)
MAX_RESULTS = 100


def search(
    rt: Runtime, actor: Actor, query: str, *, limit: int = 20, status: str | None = None
) -> list[dict[str, Any]]:
    """Problem solutions matching every word of ``query``, most relevant first, each with the
    snippet that matched; only what ``actor`` may see."""
    if actor.must_change_password:
        raise PermissionDeniedError("change your one-time password first (POST /api/auth/password)")
    if status is not None and status not in PROBLEM_STATUSES:
        raise ValidationError(f"status must be one of {', '.join(PROBLEM_STATUSES)}")
    if not 1 <= limit <= MAX_RESULTS:
        raise ValidationError(f"limit must be between 1 and {MAX_RESULTS}")
    filters = {"status": status} if status else {}
    with rt.db.read() as s:
        # Ranked first over everything, then cut to what the actor may see: a scoped actor
        # asks for more so that its page is still full.
        want = limit if actor.client_scope is None else 200
        hits = fts.search(s, "problem_solutions", query, limit=want, filters=filters)
        if not hits:
            return []
        ids = [h.id for h in hits]
        stmt = (
            select(
                _PS.c.id,
                _PS.c.problem_title,
                _PS.c.status,
                _PS.c.error_message,
                _PS.c.solution_applied,
                _PS.c.recurrence_count,
                _PS.c.resolved_at,
                _PS.c.client_id,
                _PS.c.failure_pattern_id,
                Infrastructure.hostname,
            )
            .select_from(_PS.outerjoin(Infrastructure, Infrastructure.id == _PS.c.infrastructure_id))
            .where(_PS.c.id.in_(ids))
        )
        if actor.client_scope is not None:
            stmt = stmt.where(scope_clause(_PS, actor.client_scope))
        rows = {r.id: r for r in s.execute(stmt)}
    out: list[dict[str, Any]] = []
    for rank, hit in enumerate(hits, 1):
        row = rows.get(hit.id)
        if row is None:
            continue
        out.append(
            {
                "id": str(row.id),
                "rank": rank,
                "score": round(hit.score, 6),
                "snippet": hit.snippet,
                "problem_title": row.problem_title,
                "status": row.status,
                "error_message": row.error_message,
                "solution_applied": row.solution_applied,
                "recurrence_count": row.recurrence_count,
                "host": row.hostname,
                "client_id": str(row.client_id) if row.client_id else None,
                "failure_pattern_id": str(row.failure_pattern_id) if row.failure_pattern_id else None,
                "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
            }
        )
        if len(out) >= limit:
            break
    for i, item in enumerate(out, 1):
        item["rank"] = i
    return out


__all__ = ["search"]
