"""Work-tracking rules of seed 002 (SCHEMA_MSP.md, "Billability Tracking" and
"Auto-Categorization Logic"):

- client work is billable by default, internal work is not; an explicit value wins;
- ``actual_minutes`` comes from the item's start and completion times when it has both;
- a session's ``billable_hours`` is the sum over its billable items, kept current on every
  change to them, and its ``duration_minutes`` comes from its start and end;
- an item created without a category gets one from the seed's keyword triggers and is marked
  ``category_inferred`` so a person's later correction is never overwritten.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mspmode.errors import ValidationError
from mspmode.models.core import Client
from mspmode.models.core import Session as WorkSession
from mspmode.models.work import WorkItem

# The seed's keyword triggers, in the order ties are broken: the more specific kinds of work
# first, "infrastructure" (whose triggers — "server", "service" — appear in nearly everything)
# last. An item that matches nothing is infrastructure work, the seed's most common category.
CATEGORY_TRIGGERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("security", ("malware", "breach", "unauthorized", "vulnerability", "firewall")),
    ("troubleshooting", ("error", "not working", "broken", "failed", "issue")),
    ("configuration", ("configure", "setup", "change settings", "modify")),
    ("development", ("build", "code", "implement", "create", "develop")),
    ("maintenance", ("cleanup", "optimize", "backup", "update", "patch")),
    ("infrastructure", ("ssh", "docker restart", "service", "server", "network")),
)
DEFAULT_CATEGORY = "infrastructure"

_TRIGGER_PATTERNS = tuple(
    (category, tuple(re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE) for word in words))
    for category, words in CATEGORY_TRIGGERS
)


def infer_category(text: str) -> str:
    """The category whose triggers occur most often in ``text`` (ties: the earlier category)."""
    best, best_hits = DEFAULT_CATEGORY, 0
    for category, patterns in _TRIGGER_PATTERNS:
        hits = sum(len(p.findall(text)) for p in patterns)
        if hits > best_hits:
            best, best_hits = category, hits
    return best


def minutes_between(start: datetime | None, end: datetime | None, what: str) -> int | None:
    if start is None or end is None:
        return None
    if end < start:
        raise ValidationError(f"{what} ends before it starts")
    return round((end - start).total_seconds() / 60)


def is_client_work(session: Session, session_id: uuid.UUID) -> bool:
    """True when the session is for a client that is not the MSP itself."""
    client_type = session.scalar(
        select(Client.client_type)
        .join(WorkSession, WorkSession.client_id == Client.id)
        .where(WorkSession.id == session_id)
    )
    return client_type is not None and client_type != "internal"


def prepare_work_item(session: Session, values: dict[str, Any], row: WorkItem | None) -> None:
    """Fill in what the rules derive, before a work item is written."""
    if row is None:
        if not values.get("category"):
            text = f"{values.get('title', '')} {values.get('description', '')}"
            values["category"], values["category_inferred"] = infer_category(text), True
        if values.get("is_billable") is None:
            values["is_billable"] = is_client_work(session, values["session_id"])
    elif "category" in values:
        values["category_inferred"] = False  # a person chose it
    start = values.get("started_at", row.started_at if row else None)
    end = values.get("completed_at", row.completed_at if row else None)
    derived = minutes_between(start, end, "the work item")
    if derived is not None:
        values["actual_minutes"] = derived


def prepare_session(session: Session, values: dict[str, Any], row: WorkSession | None) -> None:
    start = values.get("started_at", row.started_at if row else None)
    end = values.get("ended_at", row.ended_at if row else None)
    derived = minutes_between(start, end, "the session")
    if derived is not None:
        values["duration_minutes"] = derived


def recompute_billable_hours(session: Session, *session_ids: uuid.UUID | None) -> None:
    """Set each session's billable_hours to the sum of its billable items' minutes / 60."""
    for session_id in {s for s in session_ids if s is not None}:
        minutes = session.scalar(
            select(func.coalesce(func.sum(WorkItem.actual_minutes), 0)).where(
                WorkItem.session_id == session_id, WorkItem.is_billable.is_(True)
            )
        )
        ws = session.get(WorkSession, session_id)
        if ws is not None:
            ws.billable_hours = (Decimal(int(minutes or 0)) / Decimal(60)).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
    session.flush()


def after_work_item(session: Session, row: WorkItem | None, before: dict[str, Any]) -> None:
    """After a work item is created, changed or deleted: its session's (and, if it moved,
    its former session's) billable hours are recomputed. ``before`` is the audit snapshot."""
    previous = before.get("session_id")
    recompute_billable_hours(
        session, row.session_id if row is not None else None, uuid.UUID(previous) if previous else None
    )
