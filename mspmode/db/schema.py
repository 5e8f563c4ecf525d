"""The schema's revision: upgrade to head, tell where a database stands, compare it with the
models. Alembic runs in process over our own engine, so SQLite gets the same pragmas and
single writer during a migration as at any other time."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import False_, True_

from mspmode.db.base import now_utc
from mspmode.db.search import is_search_object
from mspmode.db.session import Database
from mspmode.errors import DatabaseUnreachableError, SchemaError
from mspmode.settings import display_url


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("mspmode") / "migrations"))
    return cfg


def head_revision() -> str:
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
    """What differs between the models and the live schema, one readable line each."""
    with db.reader.connect() as conn:
        opts = migration_options(conn.dialect.name)
        ctx = MigrationContext.configure(conn, opts=opts)
        diffs = compare_metadata(ctx, opts["target_metadata"])
    return [_describe(d) for d in diffs]


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
