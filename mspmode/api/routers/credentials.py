"""Credentials with write-only secrets: create and change them with their secret fields, read
their metadata through the generic routes, and reveal one field at a time.

    POST   /api/credentials                   metadata + secret fields   → metadata
    PATCH  /api/credentials/{id}              any of them                → metadata
    DELETE /api/credentials/{id}
    POST   /api/credentials/{id}/reveal       {"field": "password"}      → {"field", "value"}
    GET    /api/credentials/{id}/totp         the current code, not the seed
    (the same for /api/integration-credentials, admin only, without TOTP)
"""

import uuid
from typing import Annotated, Any, Literal

from fastapi import Response, status
from pydantic import BaseModel, ConfigDict, Field, create_model

from mspmode.api.deps import ActorDep, RuntimeDep, access
from mspmode.api.routing import ApiRouter
from mspmode.schemas.crud import StorableText, build
from mspmode.services import credentials
from mspmode.services.crud import ResourceSpec

SecretText = Annotated[StorableText, Field(min_length=1, max_length=credentials.MAX_SECRET_LENGTH)]


class Revealed(BaseModel):
    field: str
    value: str


class TotpOut(BaseModel):
    code: str
    seconds_left: int


def credentials_router(spec: ResourceSpec) -> ApiRouter:
    fields = credentials.secret_fields(spec)
    schemas = build(spec)
    secret_defs: dict[str, Any] = {name: (SecretText | None, None) for name in fields}
    Create = create_model(f"{schemas.create.__name__}WithSecrets", __base__=schemas.create, **secret_defs)
    Update = create_model(f"{schemas.update.__name__}WithSecrets", __base__=schemas.update, **secret_defs)
    Read = schemas.read
    RevealBody = create_model(
        f"{schemas.read.__name__}Reveal",
        __config__=ConfigDict(extra="forbid"),
        field=(Literal[fields], ...),  # type: ignore[valid-type]
    )
    router = ApiRouter(prefix=f"/{spec.name}", tags=[spec.name])

    @router.post(
        "", response_model=Read, status_code=status.HTTP_201_CREATED, summary=f"Create one of {spec.name}"
    )
    def create(body: Create, rt: RuntimeDep, actor: ActorDep) -> Any:  # type: ignore[valid-type]
        """Secret fields are encrypted at once and never returned; `secret_fields_set` says
        which are stored."""
        return credentials.create(rt, actor, spec, body.model_dump(exclude_unset=True))  # type: ignore[attr-defined]

    @router.patch("/{id}", response_model=Read, summary=f"Change fields or secrets of one of {spec.name}")
    def update(id: uuid.UUID, body: Update, rt: RuntimeDep, actor: ActorDep) -> Any:  # type: ignore[valid-type]
        """A secret field set to null is removed; one left out is kept."""
        return credentials.update(rt, actor, spec, id, body.model_dump(exclude_unset=True))  # type: ignore[attr-defined]

    @router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT, summary=f"Delete one of {spec.name}")
    def delete(id: uuid.UUID, rt: RuntimeDep, actor: ActorDep) -> Response:
        credentials.delete(rt, actor, spec, id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/{id}/reveal",
        response_model=Revealed,
        summary="Decrypt one secret field (audited)",
        openapi_extra=access("reveal"),
    )
    def reveal(id: uuid.UUID, body: RevealBody, rt: RuntimeDep, actor: ActorDep) -> Any:  # type: ignore[valid-type]
        """Returns the plaintext of one field and records who asked, when and from where.
        Read-only users are refused, and the refusal is recorded too."""
        return credentials.reveal(rt, actor, spec, id, body.field).__dict__  # type: ignore[attr-defined]

    if "totp_secret" in fields:

        @router.get(
            "/{id}/totp",
            response_model=TotpOut,
            summary="The current TOTP code (audited)",
            openapi_extra=access("reveal"),
        )
        def totp_code(id: uuid.UUID, rt: RuntimeDep, actor: ActorDep) -> Any:
            """The six-digit code for now and how long it stays valid; the seed stays sealed."""
            return credentials.totp_code(rt, actor, spec, id).__dict__

    return router
