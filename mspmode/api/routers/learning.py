"""Recording commands and asking before running one: the learning engine over HTTP.

(No ``from __future__ import annotations``: FastAPI reads the body models from the endpoint
annotations.)
"""

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import status
from pydantic import BaseModel, ConfigDict, Field

from mspmode.api.deps import ActorDep, RuntimeDep, access
from mspmode.api.middleware import BULK_BODY_BYTES, body_limit
from mspmode.api.routing import ApiRouter
from mspmode.schemas.crud import build
from mspmode.services import learning
from mspmode.services.resources import RESOURCES

router = ApiRouter(tags=["learning"])

_COMMANDS = next(spec for spec in RESOURCES if spec.table.name == "commands_run")
CommandRead = build(_COMMANDS).read
MAX_TEXT = 64 * 1024 * 1024  # an output of many MB is kept as head and tail, never refused


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: str = Field(min_length=1, max_length=1_000_000, description="The command as it was run.")
    exit_code: int | None = Field(
        default=None, description="Its exit status; null when the outcome was not seen."
    )
    output: str | None = Field(
        default=None, max_length=MAX_TEXT, description="stdout and stderr as the agent saw them."
    )
    host: str | None = Field(
        default=None,
        max_length=1000,
        description="Where it ran: a host's name, IP, alias or FQDN (an unknown one is created). "
        "Omit for this machine or when the command names its target (ssh user@ip …).",
    )
    infrastructure_id: uuid.UUID | None = Field(default=None, description="Or the host's id.")
    at: datetime | None = Field(default=None, description="When it ran (ISO 8601); default: now.")
    session: str | None = Field(
        default=None, max_length=255, description="A label grouping the commands of one work session."
    )
    session_id: uuid.UUID | None = Field(default=None, description="Or an existing session's id.")
    shell_type: str | None = Field(default=None, max_length=50, description="bash, powershell, cmd, mysql…")
    duration_ms: int | None = Field(default=None, ge=0, le=2**31 - 1)
    work_item_id: uuid.UUID | None = None

    def to_service(self) -> learning.CommandIn:
        return learning.CommandIn(**self.model_dump())


class CulpritOut(BaseModel):
    kind: str
    text: str
    description: str


class LearnedOut(BaseModel):
    failure_class: str | None = Field(description="Null when the command worked.")
    transient: bool
    culprit: CulpritOut | None
    fingerprint: str | None
    pattern_id: str | None
    new_pattern: bool
    fixed_patterns: list[str] = Field(description="Patterns whose fix this command is.")
    resolved_patterns: list[str] = Field(description="Patterns this command shows no longer fail here.")


class HintOut(BaseModel):
    retry: bool = Field(description="True for a transient failure: running it again may work.")
    verdict: Literal["block", "warn", "allow"] = Field(
        description="What a pre-check of a repeat answers now."
    )
    reason: str
    suggestions: list[str] = Field(description="What worked instead, adapted to this command where possible.")


class RecordedOut(BaseModel):
    command: CommandRead  # type: ignore[valid-type]
    learned: LearnedOut
    hint: HintOut | None = Field(description="For a failure: what to do next. Null for a success.")


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    commands: list[CommandIn] = Field(min_length=1, max_length=learning.MAX_BATCH)


class BatchOut(BaseModel):
    count: int
    results: list[RecordedOut]


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str | None = Field(
        default=None, max_length=1000, description="Where it will run; null: found from the command."
    )
    command: str = Field(min_length=1, max_length=1_000_000)
    session_id: uuid.UUID | None = Field(
        default=None,
        description="The session it runs in: a name hosts of two clients answer to means its client's.",
    )
    session: str | None = Field(default=None, max_length=255, description="Or the session's label.")


class CheckOut(BaseModel):
    host: str | None
    command: str
    verdict: Literal["block", "warn", "allow"]
    confidence: Literal["confirmed", "likely", "suspected"] | None
    reason: str
    suggestions: list[str]
    pattern_ids: list[str]


class ExplainOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    signature: str
    failure_class: str | None
    confidence: str
    fingerprint: dict[str, Any] | None = Field(
        description="The hash and its components: what contributed, what did not, and why."
    )
    verdict: list[str] = Field(description="Why a pre-check blocks, warns or allows because of it.")
    text: str = Field(description="All of it as lines a person reads.")


def _out(recorded: learning.Recorded, hint: dict[str, Any] | None) -> dict[str, Any]:
    learned = recorded.learned
    rec = learned.record
    culprit = learned.culprit
    return {
        "command": recorded.row,
        "learned": {
            "failure_class": rec.failure_class,
            "transient": rec.is_transient,
            "culprit": (
                {"kind": culprit.kind, "text": culprit.text, "description": culprit.describe()}
                if culprit
                else None
            ),
            "fingerprint": learned.fingerprint.hash if learned.fingerprint else None,
            "pattern_id": rec.pattern_id,
            "new_pattern": learned.new_pattern,
            "fixed_patterns": list(learned.fixes),
            "resolved_patterns": list(learned.resolved),
        },
        "hint": hint,
    }


@router.post(
    "/commands",
    response_model=RecordedOut,
    status_code=status.HTTP_201_CREATED,
    summary="Record a command that ran, and learn from it",
    openapi_extra={**access("record"), **body_limit(BULK_BODY_BYTES)},  # an output of many MB
)
def record_command(body: CommandIn, rt: RuntimeDep, actor: ActorDep) -> Any:
    """Record one command with its outcome. Learning is done before this returns: a failure
    joins (or starts) a failure pattern, a success may be the fix of a recent failure on the
    same host. Secrets in the command and output are redacted before anything is stored;
    outputs of many MB keep their head and tail. An unknown host is created.

    Returns the stored command, what was learned, and for a failure the recovery hint: retry
    (transient), or what worked instead. Needs the technician role."""
    recorded = learning.record_commands(rt, actor, [body.to_service()])
    return _out(recorded[0], learning.recovery_hints(rt, actor, recorded)[0])


@router.post(
    "/commands/batch",
    response_model=BatchOut,
    status_code=status.HTTP_201_CREATED,
    summary="Record many commands in order, and learn from them",
    openapi_extra={**access("record"), **body_limit(BULK_BODY_BYTES)},
)
def record_batch(body: BatchIn, rt: RuntimeDep, actor: ActorDep) -> Any:
    """Record up to 1,000 commands in the order given, in one transaction: all or none.
    Each result is what ``POST /api/commands`` returns for it."""
    recorded = learning.record_commands(rt, actor, [c.to_service() for c in body.commands])
    hints = learning.recovery_hints(rt, actor, recorded)
    return {"count": len(recorded), "results": [_out(r, h) for r, h in zip(recorded, hints, strict=True)]}


@router.post(
    "/check",
    response_model=CheckOut,
    summary="Pre-check a command before it runs",
    openapi_extra=access("check"),
)
def check(body: CheckIn, rt: RuntimeDep, actor: ActorDep) -> Any:
    """Block, warn or allow ``command`` on ``host``, with the reason, the learned fix first in
    ``suggestions`` and the patterns that decided — the ``msp check --json`` object. Without a
    host the target is found from the command (``ssh user@ip``, ``-ComputerName``) or is the
    caller's machine; a name the same private address or hostname at two clients answers to
    means the session's client's host. Changes nothing; any role may ask. A host of a client
    the caller may not see is answered like a host nobody recorded."""
    return learning.check(
        rt, actor, body.host, body.command, session_id=body.session_id, session=body.session
    )


@router.get(
    "/failure-patterns/{pattern_id}/explain",
    response_model=ExplainOut,
    summary="Explain a failure pattern: its fingerprint and the verdicts it causes",
)
def explain(pattern_id: uuid.UUID, rt: RuntimeDep, actor: ActorDep) -> Any:
    """What contributed to the pattern's fingerprint (and what did not, and why), where it
    failed and worked, the fixes seen, and why a pre-check blocks, warns or allows because of
    it. Any role may ask; another client's pattern answers 404."""
    return learning.explain(rt, actor, pattern_id)
