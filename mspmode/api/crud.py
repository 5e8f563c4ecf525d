"""``crud_router(spec)``: list / get / create / PATCH / delete for one resource, generated.

Every endpoint is ``async`` and hands its one service call to the thread pool: a plain ``def``
endpoint costs FastAPI two hops there (the call, then serializing the answer), and these
routes are the API's hot path.

(No ``from __future__ import annotations`` here: FastAPI reads the generated schema classes
from the endpoint annotations at definition time.)
"""

import inspect
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from mspmode.api.deps import ActorDep, RuntimeDep, access
from mspmode.api.routing import ApiRouter
from mspmode.db.repository import MAX_LIMIT
from mspmode.errors import ValidationError
from mspmode.schemas.crud import Schemas, build, python_type
from mspmode.services import crud
from mspmode.services.crud import ResourceSpec

RESERVED = ("limit", "offset", "sort", "q")


def _list_dependency(spec: ResourceSpec) -> Any:
    """A dependency whose signature declares every filter as a typed query parameter, so they
    are validated and appear in the OpenAPI document."""
    params = [
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        inspect.Parameter(
            "limit", inspect.Parameter.KEYWORD_ONLY, default=Query(50, ge=1, le=MAX_LIMIT), annotation=int
        ),
        inspect.Parameter(
            "offset", inspect.Parameter.KEYWORD_ONLY, default=Query(0, ge=0, le=10**9), annotation=int
        ),
        inspect.Parameter(
            "sort",
            inspect.Parameter.KEYWORD_ONLY,
            default=Query(None, max_length=500, description="Fields, comma-separated; '-' for descending."),
            annotation=str | None,
        ),
    ]
    if spec.searchable:
        params.append(
            inspect.Parameter(
                "q",
                inspect.Parameter.KEYWORD_ONLY,
                default=Query(None, min_length=1, max_length=500, description="Full-text search, ranked."),
                annotation=str | None,
            )
        )
    filters = [f for f in spec.filterable_fields if f not in RESERVED]
    for name in filters:
        typ = python_type(spec.table, spec.table.c[name], for_input=True)
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=Query(None), annotation=typ | None
            )
        )
    allowed = {"limit", "offset", "sort", *(["q"] if spec.searchable else []), *filters}

    async def dependency(**kwargs: Any) -> dict[str, Any]:
        request: Request = kwargs.pop("request")
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise ValidationError(
                f"unknown query parameter(s) {', '.join(unknown)} for {spec.name}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        kwargs["filters"] = {k: kwargs.pop(k) for k in filters if kwargs.get(k) is not None}
        kwargs["request"] = request
        return kwargs

    dependency.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return dependency


def read_access(spec: ResourceSpec) -> dict[str, Any] | None:
    """Reading users, keys and the operations logs is administration: an API key needs the
    ``admin`` scope for it, not ``read``. Everything else is the method's default."""
    return access("admin") if spec.read_role == "admin" else None


def crud_router(spec: ResourceSpec) -> ApiRouter:
    schemas: Schemas = build(spec)
    router = ApiRouter(prefix=f"/{spec.name}", tags=[spec.name])
    list_params = _list_dependency(spec)
    Read, Create, Update, PageModel = schemas.read, schemas.create, schemas.update, schemas.page

    @router.get("", response_model=PageModel, summary=f"List {spec.name}", openapi_extra=read_access(spec))
    async def list_rows(
        rt: RuntimeDep, actor: ActorDep, params: dict[str, Any] = Depends(list_params)
    ) -> Any:
        sort = [s.strip() for s in (params.get("sort") or "").split(",") if s.strip()]
        page = await run_in_threadpool(
            crud.list_rows,
            rt,
            actor,
            spec,
            filters=params["filters"],
            sort=sort,
            limit=params["limit"],
            offset=params["offset"],
            q=params.get("q"),
        )
        request: Request = params["request"]
        nxt = page.next_offset
        next_url = None
        if nxt is not None:
            query = dict(request.query_params) | {"offset": str(nxt)}
            next_url = f"{request.url.path}?{urlencode(query)}"
        return {
            "items": page.items,
            "total": page.total,
            "limit": page.limit,
            "offset": page.offset,
            "next": next_url,
        }

    if len(spec.repository.key_columns) == 1:
        _item_routes(router, spec, Read, Create, Update)
    else:
        _link_routes(router, spec, Read, Create)
    return router


def _item_routes(router: ApiRouter, spec: ResourceSpec, Read: Any, Create: Any, Update: Any) -> None:
    # A model with secret fields answers which are set, a property of the mapped object.
    read = crud.get_row if spec.has_secrets else crud.read_row

    @router.get(
        "/{id}", response_model=Read, summary=f"Get one of {spec.name}", openapi_extra=read_access(spec)
    )
    async def get_row(id: uuid.UUID, rt: RuntimeDep, actor: ActorDep) -> Any:
        return await run_in_threadpool(read, rt, actor, spec, id)

    if spec.write_role is None:
        return

    if spec.generic_create:

        @router.post(
            "", response_model=Read, status_code=status.HTTP_201_CREATED, summary=f"Create one of {spec.name}"
        )
        async def create_row(body: Create, rt: RuntimeDep, actor: ActorDep) -> Any:
            return await run_in_threadpool(
                crud.create_row, rt, actor, spec, body.model_dump(exclude_unset=True)
            )

    if spec.generic_update:

        @router.patch("/{id}", response_model=Read, summary=f"Change fields of one of {spec.name}")
        async def update_row(id: uuid.UUID, body: Update, rt: RuntimeDep, actor: ActorDep) -> Any:
            return await run_in_threadpool(
                crud.update_row, rt, actor, spec, id, body.model_dump(exclude_unset=True)
            )

    if spec.generic_delete:

        @router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT, summary=f"Delete one of {spec.name}")
        async def delete_row(id: uuid.UUID, rt: RuntimeDep, actor: ActorDep) -> Response:
            await run_in_threadpool(crud.delete_row, rt, actor, spec, id)
            return Response(status_code=status.HTTP_204_NO_CONTENT)


def _link_routes(router: ApiRouter, spec: ResourceSpec, Read: Any, Create: Any) -> None:
    """A link table (two ids as its key) is created and deleted, never edited. The path
    parameters carry the key columns' own names (``/{session_id}/{tag_id}``)."""
    names = [col.key for col in spec.repository.key_columns]
    path = "".join(f"/{{{n}}}" for n in names)

    def with_key_params(func: Any) -> Any:
        params = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=uuid.UUID) for n in names]
        params += [
            inspect.Parameter("rt", inspect.Parameter.KEYWORD_ONLY, annotation=RuntimeDep),
            inspect.Parameter("actor", inspect.Parameter.KEYWORD_ONLY, annotation=ActorDep),
        ]
        func.__signature__ = inspect.Signature(params, return_annotation=inspect.Signature.empty)
        return func

    async def get_link(**kw: Any) -> Any:
        return await run_in_threadpool(crud.get_row, kw["rt"], kw["actor"], spec, tuple(kw[n] for n in names))

    router.add_api_route(
        path,
        with_key_params(get_link),
        methods=["GET"],
        response_model=Read,
        summary=f"Get one of {spec.name}",
        openapi_extra=read_access(spec),
    )
    if spec.write_role is None:
        return

    @router.post(
        "", response_model=Read, status_code=status.HTTP_201_CREATED, summary=f"Create one of {spec.name}"
    )
    async def create_link(body: Create, rt: RuntimeDep, actor: ActorDep) -> Any:
        return await run_in_threadpool(crud.create_row, rt, actor, spec, body.model_dump(exclude_unset=True))

    async def delete_link(**kw: Any) -> Response:
        await run_in_threadpool(crud.delete_row, kw["rt"], kw["actor"], spec, tuple(kw[n] for n in names))
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    router.add_api_route(
        path,
        with_key_params(delete_link),
        methods=["DELETE"],
        status_code=status.HTTP_204_NO_CONTENT,
        summary=f"Delete one of {spec.name}",
        response_class=Response,
    )
