"""Per-client access: which rows an actor limited to some clients may see and touch.

A row belongs to a client directly (its ``client_id``) or through the rows it references: a
command through its session, a service through its host, a relationship through its service
and that service's host. ``CLIENT_PATHS`` spells out those chains of foreign-key columns;
``scope_clause`` turns them into nested ``IN (SELECT …)`` conditions. A row whose chain ends
at no client is not visible to a scoped actor. Tables that belong to no client at all are
listed in ``GLOBAL_TABLES``; a test checks every table is in exactly one of these places.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Table, false, or_, select

from mspmode.db.base import Base

# table -> alternative chains of FK columns leading to a table that has client_id
CLIENT_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "session_tags": (("session_id",),),
    "work_items": (("session_id",),),
    "work_item_tags": (("work_item_id", "session_id"),),
    "file_changes": (("session_id",),),
    "commands_run": (("session_id",),),
    "infrastructure_changes": (("session_id",),),
    "deployments": (("session_id",),),
    "database_changes": (("session_id",),),
    "services": (("infrastructure_id",),),
    "firewall_rules": (("infrastructure_id",),),
    "infrastructure_tags": (("infrastructure_id",),),
    "service_relationships": (("from_service_id", "infrastructure_id"),),
    "project_states": (("project_id",),),
    "recovery_attempts": (("failed_command_id", "session_id"), ("operation_failure_id",)),
    "recovery_explanations": (("command_run_id", "session_id"), ("operation_failure_id",)),
    "credential_audit_log": (("credential_id",),),
}

# Tables that belong to no client: the installation's own users and keys, the technicians'
# machines, the shared tag vocabulary, and the operations log.
GLOBAL_TABLES = frozenset(
    {
        "users",
        "api_keys",
        "auth_sessions",
        "machines",
        "tags",
        "audit_log",
        "audit_chain_head",
        "login_throttles",
        "backup_log",
        "integration_credentials",
    }
)


def is_scoped(table: str) -> bool:
    return table not in GLOBAL_TABLES


def scope_clause(table: Table, allowed: frozenset[uuid.UUID]) -> ColumnElement[bool]:
    """A condition true for the rows of ``table`` that belong to one of ``allowed`` clients."""
    if not allowed:
        return false()
    if table.name == "clients":
        return table.c.id.in_(list(allowed))
    if "client_id" in table.c:
        return table.c.client_id.in_(list(allowed))
    paths = CLIENT_PATHS.get(table.name)
    if paths is None:
        raise AssertionError(f"{table.name} is neither client-scoped nor global: add it to scoping.py")
    return or_(*(_path_clause(table, path, allowed) for path in paths))


def _path_clause(table: Table, path: tuple[str, ...], allowed: frozenset[uuid.UUID]) -> ColumnElement[bool]:
    column = table.c[path[0]]
    (fk,) = column.foreign_keys
    target: Table = fk.column.table
    if len(path) == 1:
        inner: Any = select(target.c.id).where(scope_clause(target, allowed))
    else:
        inner = select(target.c.id).where(_path_clause(target, path[1:], allowed))
    return column.in_(inner)


def table_of(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table
