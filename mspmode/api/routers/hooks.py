"""The Claude Code hooks' one route, and the local service's own.

``POST /api/hooks/{event}``: the event's JSON as Claude Code gave it to the hook, plus ``msp``
(what only the hook's machine knows: the current session, the time, queued transcripts); the
answer is ``{"hook": <the JSON the hook prints, or null>, "warned": bool}``. Needs the
``record`` scope: a hook records what ran. The local service's token is this machine's user.

``GET /api/service`` and ``POST /api/service/stop``: the local service's status and its stop
(404 on a server that is not a local service, e.g. a team's ``msp serve``).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Body, Request
from pydantic import BaseModel

from mspmode.api.deps import ActorDep, RuntimeDep, access
from mspmode.api.routing import ApiRouter
from mspmode.errors import NotFoundError
from mspmode.services import hooks as hook_service
from mspmode.services.actor import local_actor

router = ApiRouter(tags=["hooks"])

HookEvent = Literal[
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "SessionStart",
    "UserPromptSubmit",
    "Stop",
    "SessionEnd",
]


class HookReply(BaseModel):
    hook: dict[str, Any] | None
    warned: bool = False


@router.post("/hooks/{event}", response_model=HookReply, openapi_extra=access("record"))
def post_hook(
    event: HookEvent,
    request: Request,
    rt: RuntimeDep,
    actor: ActorDep,
    payload: dict[str, Any] = Body(...),
) -> HookReply:
    """Run one hook event with what was learned in memory; the JSON the hook prints.

    PreToolUse: a deny with the reason and the fix for a known failure; a warning denies the
    first attempt (the hook lets the identical command through when sent again).
    PostToolUse/PostToolUseFailure: record and learn; a hint when the failure is known.
    SessionStart: save the queued sessions sent with it, then recall context for the folder's
    client. UserPromptSubmit: known failures on the hosts the prompt names.
    """
    if actor.type == "cli":  # the local service's token: commands are the agent's
        actor = local_actor("hook", "claude-code")
    keeper = getattr(request.app.state, "index_keeper", None)
    reply = hook_service.handle_event(rt, actor, event, payload, keeper)
    return HookReply(hook=reply["hook"], warned=reply["warned"])


class ServiceStatus(BaseModel):
    pid: int
    port: int
    version: str
    code: str
    started_at: float
    idle_seconds: float
    idle_limit_seconds: float


def _local(request: Request) -> Any:
    state = getattr(request.app.state, "local_service", None)
    if state is None:
        raise NotFoundError("this server is not a local service")
    return state


@router.get("/service", response_model=ServiceStatus, openapi_extra=access("admin"))
def get_service(request: Request, actor: ActorDep) -> ServiceStatus:
    """The local service's status (the one ``msp local-service status`` prints)."""
    return ServiceStatus(**_local(request).status())


@router.post("/service/stop", status_code=202, openapi_extra=access("admin"))
def stop_service(request: Request, actor: ActorDep) -> dict[str, str]:
    """Ask the local service to stop: it saves what it learned and exits."""
    _local(request).stop()
    return {"status": "stopping"}
