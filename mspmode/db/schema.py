"""The schema's revision: upgrade to head, tell where a database stands, compare it with the
models. Alembic runs in process over our own engine, so SQLite gets the same pragmas and
single writer during a migration as at any other time."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import False_, True_

from mspmode.db.base import now_utc
from mspmode.db.search import SEARCH_INDEXES, create_ddl, is_search_object
from mspmode.db.session import Database
from mspmode.errors import DatabaseUnreachableError, SchemaError
from mspmode.settings import display_url

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (and Mako, Pygments under it: ~0.15 s) is imported where it is used: a server that
# starts, or a CLI command that never migrates, does not pay for it.


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("mspmode") / "migrations"))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    @property
    def empty(self) -> bool:
        return self.current is None


def status(db: Database) -> SchemaStatus:
    """Where the database stands; raises SchemaError if it is newer than this code."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    try:
        with db.reader.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise DatabaseUnreachableError(
            f"cannot read the schema revision of {display_url(db.url)}: "
            f"{type(exc.orig if hasattr(exc, 'orig') else exc).__name__}"
        ) from None
    script = ScriptDirectory.from_config(alembic_config())
    if current is not None:
        try:
            script.get_revision(current)
        except Exception:
            raise SchemaError(
                f"the database at {display_url(db.url)} is at schema revision {current}, which this version "
                f"of msp does not know (its newest is {script.get_current_head()}): upgrade msp, do not "
                "downgrade the database"
            ) from None
    return SchemaStatus(current=current, head=head_revision())


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str]:
    """Migrate to ``revision``; return (before, after). Refuses a database newer than us."""
    from alembic import command

    before = status(db).current
    cfg = alembic_config()
    with db.writer.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return before, status(db).current or ""


def require_head(db: Database) -> None:
    """Raise SchemaError unless the database is exactly at head."""
    st = status(db)
    if st.empty:
        raise SchemaError(
            f"the database at {display_url(db.url)} has no schema yet: run `msp init` or `msp db upgrade`"
        )
    if not st.at_head:
        raise SchemaError(
            f"the database at {display_url(db.url)} is at revision {st.current}, this code needs "
            f"{st.head}: run `msp db upgrade`"
        )


def migration_options(dialect: str) -> dict[str, Any]:
    """Options for Alembic's context, shared by migrations and by :func:`differences`."""
    import mspmode.models  # noqa: F401  (registers every table on Base.metadata)
    from mspmode.db.base import Base

    return {
        "target_metadata": Base.metadata,
        "include_object": _include_object,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        "render_as_batch": dialect == "sqlite",
        "compare_type": True,
        "user_module_prefix": "msp_types.",
        "render_item": _render_item,
    }


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Autogenerate would freeze the UTC-now default as the generating dialect's SQL text
    # (SQLite's strftime); render the construct itself so each backend compiles its own.
    # Likewise booleans: SQLite's "1" would be an integer default on PostgreSQL.
    if type_ != "server_default":
        return False
    arg = getattr(obj, "arg", None)
    if isinstance(arg, now_utc):
        return "msp_types.now_utc()"
    if isinstance(arg, True_):
        return "sa.true()"
    if isinstance(arg, False_):
        return "sa.false()"
    return False


def _include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # Full-text objects (FTS5 tables and triggers, tsvector columns, FULLTEXT indexes) are made
    # by hand-written DDL in the migrations and have no model; comparison must not flag them.
    if is_search_object(name):
        return False
    return not (type_ == "table" and name is not None and name.startswith("sqlite_"))


def differences(db: Database) -> list[str]:
    """What differs between the models and the live schema, one readable line each: tables,
    columns, indexes and constraints, then triggers, views, functions, rules and events."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.reader.connect() as conn:
        opts = migration_options(conn.dialect.name)
        ctx = MigrationContext.configure(conn, opts=opts)
        diffs = compare_metadata(ctx, opts["target_metadata"])
        objects = _object_differences(conn)
    return [_describe(d) for d in diffs] + objects


MISSING = "missing from the database"
EXTRA = "in the database only"


def object_differences(db: Database) -> list[str]:
    """The code a database runs by itself — triggers, views, functions and procedures, rules,
    events — that the migrations did not make, or that they made and is gone or changed.

    Alembic's comparison sees tables, columns, indexes and constraints only, so a trigger
    planted in a backup (``UPDATE users SET role = 'admin'`` on every insert) would pass it.
    The only such objects MSP Mode makes are SQLite's full-text triggers; anything else is
    foreign, whatever its name."""
    with db.reader.connect() as conn:
        return _object_differences(conn)


def _object_differences(conn: Connection) -> list[str]:
    expected = _expected_objects(conn.dialect.name)
    found = _database_objects(conn)
    lines = []
    for key in sorted(set(expected) | set(found)):
        kind, name = key
        if key not in found:
            lines.append(f"{kind} {name}: {MISSING}")
        elif key not in expected:
            lines.append(f"{kind} {name}: {EXTRA}")
        elif _squeeze(found[key]) != _squeeze(expected[key]):
            lines.append(f"{kind} {name}: its definition differs from the one the migrations make")
    return lines


def _squeeze(sql: str) -> str:
    return " ".join(sql.split())


def _expected_objects(dialect: str) -> dict[tuple[str, str], str]:
    """(kind, name) -> definition of what the migrations make."""
    if dialect != "sqlite":
        return {}
    out = {}
    for table, columns in SEARCH_INDEXES.items():
        for statement in create_ddl(dialect, table, columns):
            if statement.startswith("CREATE TRIGGER "):
                out[("trigger", statement.split()[2])] = statement
    return out


# Schemas that hold the server's own objects, not a database's (and pg_toast & co.: "pg_").
_PG_SYSTEM = "('pg_catalog', 'information_schema')"


def _database_objects(conn: Connection) -> dict[tuple[str, str], str]:
    """(kind, name) -> definition (where one is compared) of every trigger, view, routine,
    rule and event in the database."""
    dialect = conn.dialect.name
    rows: list[Any]
    if dialect == "sqlite":
        rows = list(
            conn.exec_driver_sql(
                "SELECT type, name, coalesce(sql, '') FROM sqlite_master WHERE type IN ('trigger', 'view')"
            )
        )
    elif dialect == "postgresql":
        rows = [
            # Constraint triggers the server makes for foreign keys are internal.
            *conn.exec_driver_sql(
                "SELECT 'trigger', c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid) "
                "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
            ),
            *conn.exec_driver_sql(
                "SELECT 'view', schemaname || '.' || viewname, '' FROM pg_views "
                f"WHERE schemaname NOT IN {_PG_SYSTEM}"
            ),
            *conn.exec_driver_sql(
                "SELECT 'materialized view', schemaname || '.' || matviewname, '' FROM pg_matviews"
            ),
            # An extension's functions (plpgsql's handler) belong to the extension.
            *conn.exec_driver_sql(
                "SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, "
                "n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', "
                "'' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                f"WHERE n.nspname NOT IN {_PG_SYSTEM} AND left(n.nspname, 3) <> 'pg_' "
                "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass "
                "AND d.objid = p.oid AND d.deptype = 'e')"
            ),
            *conn.exec_driver_sql(
                "SELECT 'rule', schemaname || '.' || tablename || '.' || rulename, '' FROM pg_rules "
                f"WHERE schemaname NOT IN {_PG_SYSTEM}"
            ),
            *conn.exec_driver_sql("SELECT 'event trigger', evtname, '' FROM pg_event_trigger"),
        ]
    else:
        rows = [
            *conn.exec_driver_sql(
                "SELECT 'trigger', CONCAT(EVENT_OBJECT_TABLE, '.', TRIGGER_NAME), '' "
                "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"
            ),
            *conn.exec_driver_sql(
                "SELECT 'view', TABLE_NAME, '' FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()"
            ),
            *conn.exec_driver_sql(
                "SELECT LOWER(ROUTINE_TYPE), ROUTINE_NAME, '' FROM information_schema.ROUTINES "
                "WHERE ROUTINE_SCHEMA = DATABASE()"
            ),
            *conn.exec_driver_sql(
                "SELECT 'event', EVENT_NAME, '' FROM information_schema.EVENTS "
                "WHERE EVENT_SCHEMA = DATABASE()"
            ),
        ]
    return {(str(kind), str(name)): str(definition) for kind, name, definition in rows}


def _describe(diff: Any) -> str:
    """One of Alembic's diff tuples as a sentence: what the database has that the models do
    not ("in the database only") or the reverse ("missing from the database")."""
    if isinstance(diff, list):  # modifications of one column come grouped
        return "; ".join(_describe(d) for d in diff)
    kind = diff[0]
    verb, _, what = kind.partition("_")
    where = "missing from the database" if verb == "add" else "in the database only"
    if what == "table":
        return f"table {diff[1].name}: {where}"
    if what == "column":
        return f"column {diff[2]}.{diff[3].name}: {where}"
    if what in ("index", "constraint", "fk"):
        obj = diff[1]
        table = getattr(getattr(obj, "table", None), "name", "?")
        label = {"index": "index", "constraint": "constraint", "fk": "foreign key"}[what]
        return f"{label} {obj.name} on {table}: {where}"
    if verb == "modify":
        _, _, table, column, _, existing, new = diff
        return f"column {table}.{column}: {what} is {existing!r} in the database, {new!r} in the models"
    return f"{kind}: {diff[1:]!r}"
