"""Generic create/read/update/delete for every registered model, with the rules every one of
them shares: role checks, per-client scoping, referenced rows that must exist and be visible,
one audit row per change, and per-model hooks for derived values (the work rules). Every text
and JSON field is redacted as it is written, by the write path itself (``db/redaction.py``).

Each function is one unit of work. Rows come back detached and fully loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Table, UniqueConstraint, func, inspect, select
from sqlalchemy.orm import Session

from mspmode.db import search
from mspmode.db.base import Base
from mspmode.db.repository import MAX_LIMIT, Page, Repository
from mspmode.errors import NotFoundError, PermissionDeniedError, ValidationError
from mspmode.services import audit
from mspmode.services.actor import Actor
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import is_scoped, scope_clause, table_of

Prepare = Callable[[Session, dict[str, Any], Any], None]
After = Callable[[Session, Any, Mapping[str, Any]], None]

# Never readable or writable through the generic API: hashes and ciphertexts have their own
# dedicated paths (sign-in, API keys, the vault) or none at all.
ALWAYS_HIDDEN = frozenset({"password_hash", "key_hash"})
SERVER_MANAGED = frozenset({"id", "created_at", "updated_at"})


@dataclass(frozen=True)
class ResourceSpec:
    """How one model is exposed: who may read and write it, which fields are hidden or
    derived, and the hooks that derive them."""

    name: str  # URL segment, plural kebab-case
    model: type[Base]
    read_role: str = "readonly"
    write_role: str | None = "technician"  # None: read-only
    hidden: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()  # derived by the service, never set by a caller
    # Who did it (a session's user and technician): set from the actor on create, never by a
    # caller. A reference to users gets the actor's user id, a text the actor's name.
    actor_fields: frozenset[str] = frozenset()
    # False when creation has its own route (commands are recorded through the learning engine)
    generic_create: bool = True
    generic_update: bool = True
    generic_delete: bool = True
    prepare: Prepare | None = None  # fill derived values before a write
    after_write: After | None = None  # (session, row, old values) after create/update/delete
    title: str = ""
    repository: Repository[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "repository", Repository(self.model))

    @property
    def table(self) -> Table:
        return table_of(self.model)

    @property
    def hidden_fields(self) -> frozenset[str]:
        secret = {c.name for c in self.table.columns if c.name.endswith("_encrypted")}
        return ALWAYS_HIDDEN | self.hidden | secret

    @property
    def writable_fields(self) -> list[str]:
        blocked = SERVER_MANAGED | self.hidden_fields | self.read_only | self.actor_fields
        return [c.name for c in self.table.columns if c.name not in blocked]

    @property
    def readable_fields(self) -> list[str]:
        return [c.name for c in self.table.columns if c.name not in self.hidden_fields]

    @property
    def filterable_fields(self) -> list[str]:
        """Indexed columns (and keys), the ones a filter can use without a table scan."""
        t = self.table
        indexed = {c.name for i in t.indexes for c in i.columns}
        indexed |= {c.name for c in t.columns if c.foreign_keys or c.unique or c.primary_key}
        indexed |= {c.name for u in t.constraints if isinstance(u, UniqueConstraint) for c in u.columns}
        return [c.name for c in t.columns if c.name in indexed and c.name not in self.hidden_fields]

    @property
    def has_secrets(self) -> bool:
        return any(c.name.endswith("_encrypted") for c in self.table.columns)

    @property
    def searchable(self) -> bool:
        return self.table.name in search.SEARCH_INDEXES


# ---- reads ------------------------------------------------------------------------------------


def _require(actor: Actor, role: str | None, spec: ResourceSpec, verb: str) -> None:
    if actor.must_change_password:
        raise PermissionDeniedError("change your one-time password first (POST /api/auth/password)")
    if role is None:
        raise PermissionDeniedError(f"{spec.name} is read-only")
    if not actor.has_role(role):
        raise PermissionDeniedError(f"role {actor.role} may not {verb} {spec.name} (needs {role})")


def visible_to(actor: Actor, table: Table) -> list[ColumnElement[bool]]:
    """The conditions that limit ``table`` to the rows ``actor`` may see (none when unscoped)."""
    if actor.client_scope is None or not is_scoped(table.name):
        return []
    return [scope_clause(table, actor.client_scope)]


def list_rows(
    rt: Runtime,
    actor: Actor,
    spec: ResourceSpec,
    *,
    filters: Mapping[str, Any] | None = None,
    sort: Sequence[str] = (),
    limit: int = 50,
    offset: int = 0,
    q: str | None = None,
) -> Page[Any]:
    _require(actor, spec.read_role, spec, "read")
    for name in list(filters or {}) + [s.lstrip("-") for s in sort]:
        if name in spec.hidden_fields:
            raise ValidationError(f"{spec.name} has no field {name!r}")
    where = visible_to(actor, spec.table)
    with rt.db.read() as session:
        if not q:
            return spec.repository.list(
                session, filters=filters, sort=sort, limit=limit, offset=offset, where=where
            )
        if not spec.searchable:
            raise ValidationError(f"{spec.name} has no full-text index; q= is not available")
        if limit < 1 or limit > MAX_LIMIT or offset < 0:
            raise ValidationError(f"limit must be between 1 and {MAX_LIMIT} and offset not negative")
        # Rank by relevance first, then apply scope and filters to the hits.
        hits = search.search(session, spec.table.name, q, limit=200)
        ranks = {h.id: i for i, h in enumerate(hits)}
        if not ranks:
            return Page(items=[], total=0, limit=limit, offset=offset)
        page = spec.repository.list(
            session,
            filters=filters,
            sort=sort,
            limit=MAX_LIMIT,
            where=[*where, spec.table.c.id.in_(list(ranks))],
        )
        items = page.items if sort else sorted(page.items, key=lambda r: ranks[r.id])
        return Page(items=items[offset : offset + limit], total=len(items), limit=limit, offset=offset)


def get_row(rt: Runtime, actor: Actor, spec: ResourceSpec, id: Any) -> Any:
    _require(actor, spec.read_role, spec, "read")
    with rt.db.read() as session:
        return spec.repository.get(session, id, where=visible_to(actor, spec.table))


def read_row(rt: Runtime, actor: Actor, spec: ResourceSpec, id: Any) -> dict[str, Any]:
    """The readable fields of one row, as ``get_row`` finds it (the same role check, scoping
    and 404), selected as columns on one connection: no Session, no mapped object, no
    identity map: the API's read by id. Not for a model with secret fields, whose answer
    derives which secrets are set from the mapped object (``get_row``)."""
    _require(actor, spec.read_role, spec, "read")
    table = spec.table
    stmt = select(*(table.c[name] for name in spec.readable_fields)).where(
        *spec.repository.key_condition(id), *visible_to(actor, table)
    )
    with rt.db.connect() as conn:
        row = conn.execute(stmt).mappings().one_or_none()
    if row is None:
        shown = "/".join(str(v) for v in id) if isinstance(id, tuple) else id
        raise NotFoundError(f"no {spec.repository.label} with id {shown}")
    return dict(row)


# ---- writes -----------------------------------------------------------------------------------


RowHook = Callable[[Session, Any], None]


def create_row(
    rt: Runtime,
    actor: Actor,
    spec: ResourceSpec,
    values: Mapping[str, Any],
    *,
    before_audit: RowHook | None = None,
) -> Any:
    """Create one row. ``before_audit`` runs after the row exists and before its audit row
    (the vault seals secret fields there, once the row has its id)."""
    _require(actor, spec.write_role, spec, "create")
    data = dict(values)
    _check_writable(spec, data)
    data = data | _actor_values(spec, actor)
    with rt.db.write() as session:
        _check_references(session, actor, spec, data)
        if spec.prepare:
            spec.prepare(session, data, None)
        row = spec.repository.create(session, data)
        _check_visible(session, actor, spec, key_of(spec, row))
        if before_audit:
            before_audit(session, row)
            session.flush()
        if spec.after_write:
            spec.after_write(session, row, {})
            session.refresh(row)
        audit.record(
            session,
            rt.audit_signer,
            actor,
            "create",
            spec.table.name,
            entity_id(spec, row),
            _snapshot(spec, row),
        )
        return row


def update_row(
    rt: Runtime,
    actor: Actor,
    spec: ResourceSpec,
    id: Any,
    values: Mapping[str, Any],
    *,
    before_audit: RowHook | None = None,
    changed_secrets: Sequence[str] = (),
) -> Any:
    """Change fields of one row; ``changed_secrets`` names secret fields the hook rewrote, so
    the audit row says they changed (never to what)."""
    _require(actor, spec.write_role, spec, "update")
    data = dict(values)
    _check_writable(spec, data)
    with rt.db.write() as session:
        row = spec.repository.get(session, id, where=visible_to(actor, spec.table))
        before = _snapshot(spec, row)
        _check_references(session, actor, spec, data)
        if spec.prepare:
            spec.prepare(session, data, row)
        row = spec.repository.update(session, id, data)
        _check_visible(session, actor, spec, key_of(spec, row))
        if before_audit:
            before_audit(session, row)
            session.flush()
        if spec.after_write:
            spec.after_write(session, row, before)
        session.refresh(row)
        after = _snapshot(spec, row)
        changed = {
            k: {"from": before[k], "to": v}
            for k, v in after.items()
            if before.get(k) != v and k != "updated_at"
        }
        changed.update({name: "changed" for name in changed_secrets})
        if changed:
            audit.record(
                session, rt.audit_signer, actor, "update", spec.table.name, entity_id(spec, row), changed
            )
        return row


def delete_row(
    rt: Runtime, actor: Actor, spec: ResourceSpec, id: Any, *, before_delete: RowHook | None = None
) -> None:
    _require(actor, spec.write_role, spec, "delete")
    with rt.db.write() as session:
        row = spec.repository.get(session, id, where=visible_to(actor, spec.table))
        _check_not_shared(session, actor, spec, id)
        before = _snapshot(spec, row)
        if before_delete:
            before_delete(session, row)
        session.delete(row)
        session.flush()
        if spec.after_write:
            spec.after_write(session, None, before)
        shown = "/".join(str(v) for v in id) if isinstance(id, tuple) else str(id)
        audit.record(session, rt.audit_signer, actor, "delete", spec.table.name, shown, before)


def _check_writable(spec: ResourceSpec, data: Mapping[str, Any]) -> None:
    allowed = set(spec.writable_fields)
    for name, value in data.items():
        if name not in allowed:
            raise ValidationError(f"{spec.name}: field {name!r} cannot be set")
        # The API's schemas check lengths; the CLI's and MCP's values arrive here unchecked,
        # and SQLite would store any length.
        length = getattr(spec.table.c[name].type, "length", None)
        if isinstance(value, str) and isinstance(length, int) and len(value) > length:
            raise ValidationError(f"{name} is longer than {length} characters")


def _check_references(session: Session, actor: Actor, spec: ResourceSpec, data: Mapping[str, Any]) -> None:
    """Every referenced row must exist and be visible to the actor: a foreign client's id is
    answered exactly like an id that does not exist."""
    for name, value in data.items():
        column = spec.table.c[name]
        if value is None or not column.foreign_keys:
            continue
        (fk,) = column.foreign_keys
        target: Table = fk.column.table
        stmt = select(target.c.id).where(target.c.id == value, *visible_to(actor, target))
        if session.execute(stmt).first() is None:
            raise NotFoundError(f"{name}: no {target.name} with id {value}")


def _actor_values(spec: ResourceSpec, actor: Actor) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in spec.actor_fields:
        column = spec.table.c[name]
        if column.foreign_keys:
            values[name] = actor.id if actor.type in ("user", "api_key") else None
        else:
            length = getattr(column.type, "length", None) or 255
            values[name] = (actor.name or "")[:length] or None
    return values


def _check_not_shared(session: Session, actor: Actor, spec: ResourceSpec, id: Any) -> None:
    """A row of no client (a tag, a machine) that rows of clients a scoped actor cannot see
    refer to is shared: deleting it would cut their links too, so only an unscoped actor may.
    A scoped actor still unlinks it from its own rows (``DELETE /api/session-tags/…``)."""
    if actor.client_scope is None or is_scoped(spec.table.name):
        return
    for table in spec.table.metadata.tables.values():
        for fk in table.foreign_keys:
            if fk.column.table is not spec.table:
                continue
            using = [fk.parent == id]
            total = session.execute(select(func.count()).select_from(table).where(*using)).scalar_one()
            mine = (
                session.execute(
                    select(func.count())
                    .select_from(table)
                    .where(*using, scope_clause(table, actor.client_scope))
                ).scalar_one()
                if is_scoped(table.name)
                else 0
            )
            if total > mine:
                raise PermissionDeniedError(
                    f"this {spec.name} row is also used by {table.name} of other clients: "
                    "unlink it from your own rows instead, or ask an unscoped user to delete it"
                )


def _check_visible(session: Session, actor: Actor, spec: ResourceSpec, key: Any) -> None:
    where = visible_to(actor, spec.table)
    if not where:
        return
    stmt = select(*spec.repository.key_columns).where(*spec.repository.key_condition(key), *where)
    if session.execute(stmt).first() is None:
        raise PermissionDeniedError(f"this {spec.name} row would belong to no client of yours")


def key_of(spec: ResourceSpec, row: Any) -> Any:
    """The row's primary key: its id, or a tuple for a link table."""
    values = tuple(getattr(row, col.key) for col in spec.repository.key_columns)
    return values[0] if len(values) == 1 else values


def entity_id(spec: ResourceSpec, row: Any) -> str:
    key = key_of(spec, row)
    return "/".join(str(v) for v in key) if isinstance(key, tuple) else str(key)


def _snapshot(spec: ResourceSpec, row: Any) -> dict[str, Any]:
    state = inspect(row)
    return {
        name: audit.jsonable(state.attrs[name].loaded_value)
        for name in spec.readable_fields
        if name in state.attrs
    }
