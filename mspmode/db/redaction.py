"""Redaction as a property of the write path: every text and JSON column of every table is
redacted when it is written, whoever writes it — a CRUD route, the learning recorder, an
import's host and session lines, a hook, an MCP tool, a CLI command, an audit diff.

Which columns is read from the models, never listed: every ``String``, ``Text`` or ``JSON``
column, so a column added tomorrow is redacted without anyone remembering to. Left alone are
columns marked ``VERBATIM`` (``db/base.py``: a hash, a MAC, a key prefix — no one wrote them,
and they must stay exactly as computed) and tables marked ``SIGNED`` (the audit log: its writer
redacts a row with ``redact_object`` *before* signing it, because changing it after would break
the signature). JSON values are walked, their keys included: the value under a key named like
a secret (``password``, ``api_key``…) is replaced whole (``vault.redact.redact_value``).

Where it happens — the three ways a row reaches the database:

* the ORM: ``before_flush`` redacts the new and changed objects themselves, so what the caller
  holds afterwards (the response it sends, the audit snapshot it takes) is what was stored;
* Core ``INSERT`` / ``UPDATE`` statements, values given as parameters or in the statement
  (``before_execute``), the ORM's own flush statements among them;
* ``db/bulk.py``'s direct SQLite inserts, which redact each text column with ``cleaner``.

Text that was redacted already is not redacted again: what ``vault.redact.redact`` returns is
a ``Redacted``, which only it makes, and one redacted with the known secrets the write path
redacts with is stored as it is (a capture's command, an import's lines redacted by its
reading process). Anything else is redacted here, whatever the caller says of it. A
``Redactor`` also remembers the texts it redacted lately, and what it made of them. The
vault's known secrets come from the runtime that installs them (``Redactor.known``); without
one, the rules alone apply.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, Engine, String, Table, event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, Session, UOWTransaction
from sqlalchemy.pool import Pool
from sqlalchemy.sql.dml import Insert, Update, ValuesBase
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlalchemy.util import immutabledict

from mspmode.db.base import Base
from mspmode.vault.redact import Redacted, redact, redact_value

if TYPE_CHECKING:
    from mspmode.vault.known import KnownSecrets

__all__ = [
    "Redactor",
    "attach",
    "cleaner",
    "column_cleaner",
    "fit",
    "install",
    "redact_object",
    "redactor_for",
    "text_columns",
]

# Texts a redactor remembers as already redacted: enough for an import's batch in flight, and
# a bound on the characters held, as outputs can be long.
_REMEMBERED = 50_000
_REMEMBERED_CHARS = 32_000_000


class Redactor:
    """What the write path redacts with: the rules, plus the vault's known secrets that
    ``known`` returns (set by the runtime; None when there is no vault yet). Ask ``known``
    once for a batch of values (``current``): it may look at the vault's files."""

    def __init__(self, known: Callable[[], KnownSecrets | None] | None = None) -> None:
        self.known: Callable[[], KnownSecrets | None] = known or _no_known_secrets
        # Text -> its redaction, for recent texts: what redaction produced maps to itself.
        self._seen: dict[str, str] = {}
        self._chars = 0
        # The known secrets (and how many) the remembered texts were redacted with.
        self._with: tuple[KnownSecrets | None, int] = (None, 0)

    def current(self) -> KnownSecrets | None:
        return self.known()

    def _remember(self, text: str, redacted: str, known: KnownSecrets | None) -> str:
        """Note that ``redact(text, known)`` is ``redacted`` (and that redacting that changes
        nothing) while ``known`` is what this redactor redacts with; returns ``redacted``."""
        count = len(known) if known is not None else 0
        if known is not self._with[0] or count != self._with[1]:
            # A text redacted before a secret joined the vault may hold it: forget them all.
            self._seen, self._chars, self._with = {}, 0, (known, count)
        elif len(self._seen) >= _REMEMBERED or self._chars > _REMEMBERED_CHARS:
            self._seen, self._chars = {}, 0
        self._seen[redacted] = redacted
        self._chars += len(redacted)
        if text != redacted:
            self._seen[text] = redacted
            self._chars += len(text)
        return redacted

    def note(self, texts: Iterable[str], known: KnownSecrets | None) -> None:
        """Remember those of ``texts`` that are ``Redacted`` with ``known`` as fixed points, so
        that a plain copy of one (the engine keeps plain text, and writes it back in a
        pattern's commands) is known as redacted too. Any other text is left out."""
        for text in texts:
            if text.__class__ is Redacted and text.covers(known):
                self._remember(text, text, known)

    def text(self, text: str, known: KnownSecrets | None) -> str:
        """``redact(text, known)``; ``known`` is what ``current`` returned."""
        if text.__class__ is Redacted and text.covers(known):
            return text
        if known is self._with[0] and (known is None or len(known) == self._with[1]):
            done = self._seen.get(text)
            if done is not None:
                return done
        return self._remember(text, redact(text, known), known)

    def value(self, value: Any, known: KnownSecrets | None) -> Any:
        """A column's value redacted: text, or a JSON value walked (keys included)."""
        if value is None or value.__class__ in (int, float, bool):
            return value
        if isinstance(value, str):
            return self.text(value, known)
        return redact_value(value, known, lambda text: self.text(text, known))


def _no_known_secrets() -> KnownSecrets | None:
    return None


_DEFAULT = Redactor()
# Keyed by the engine's pool: an engine made with other execution options shares it.
_BY_POOL: weakref.WeakKeyDictionary[Pool, Redactor] = weakref.WeakKeyDictionary()

Clean = Callable[["Column[Any]", Any], Any]


def attach(engine: Engine, redactor: Redactor) -> None:
    """Make ``redactor`` the one that writes through ``engine``."""
    _BY_POOL[engine.pool] = redactor


def redactor_for(bind: Engine | Connection | None) -> Redactor:
    """The redactor of ``bind``'s engine; the rules alone for an engine no database attached."""
    if bind is None:
        return _DEFAULT
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _BY_POOL.get(engine.pool, _DEFAULT)


def cleaner(bind: Engine | Connection | None) -> Clean:
    """A column's value redacted, for one batch of writes through ``bind``: ``clean(column,
    value)``. The known secrets are asked for once, when the batch has a value to redact."""
    redactor = redactor_for(bind)
    known: list[KnownSecrets | None] = []

    def clean(column: Column[Any], value: Any) -> Any:
        if value is None or value.__class__ in (int, float, bool):
            return value
        if not known:
            known.append(redactor.current())
        return fit(column, redactor.value(value, known[0]))

    return clean


def column_cleaner(bind: Engine | Connection | None, column: Column[Any]) -> Callable[[Any], Any]:
    """``cleaner(bind)`` for the values of one column, for one batch of writes (a bulk
    insert's): its length looked up once, and text redacted already passed on at once."""
    redactor = redactor_for(bind)
    known = redactor.current()
    length = _length(column)
    text, value_of = redactor.text, redactor.value

    def clean(value: Any) -> Any:
        kind = value.__class__
        if kind is Redacted and value.covers(known):
            done = value
        elif kind is str:
            done = text(value, known)
        elif value is None or kind in (int, float, bool):
            return value
        else:
            done = value_of(value, known)
        if length is None or not isinstance(done, str) or len(done) <= length:
            return done
        return _cut(done, length)

    return clean


def fit(column: Column[Any], value: Any) -> Any:
    """``value`` cut to ``column``'s length: a placeholder is longer than most secrets, and
    PostgreSQL and MariaDB refuse what does not fit (a placeholder the cut would break is
    left out whole)."""
    length = _length(column)
    if length is None or not isinstance(value, str) or len(value) <= length:
        return value
    return _cut(value, length)


def _cut(value: str, length: int) -> str:
    cut = value[:length]
    opened = cut.rfind("[REDACTED:")
    if opened >= 0 and "]" not in cut[opened:]:
        cut = cut[:opened]
    return cut


# --------------------------------------------------------------------------------------------
# Which columns


def _string(kind: TypeEngine[Any]) -> TypeEngine[Any]:
    return kind.impl_instance if isinstance(kind, TypeDecorator) else kind


def _length(column: Column[Any]) -> int | None:
    kind = _string(column.type)
    return kind.length if isinstance(kind, String) and not isinstance(kind, JSON) else None


def _redacted_column(column: Column[Any]) -> bool:
    return isinstance(_string(column.type), String | JSON) and not column.info.get("verbatim")


_COLUMNS: weakref.WeakKeyDictionary[Table, dict[str, Column[Any]]] = weakref.WeakKeyDictionary()


def text_columns(table: Table) -> dict[str, Column[Any]]:
    """``table``'s columns the write path redacts, by key: every text or JSON column but the
    ``VERBATIM`` ones; none of a ``SIGNED`` table's."""
    found = _COLUMNS.get(table)
    if found is None:
        # Only the models' tables: Alembic's version table is no one's text.
        ours = table.metadata is Base.metadata and not table.info.get("signed")
        found = {c.key: c for c in table.columns if _redacted_column(c)} if ours else {}
        _COLUMNS[table] = found
    return found


Attributes = tuple[tuple[str, "Column[Any]"], ...]
_ATTRIBUTES: weakref.WeakKeyDictionary[Mapper[Any], tuple[Attributes, Attributes]] = (
    weakref.WeakKeyDictionary()
)


def _attributes(mapper: Mapper[Any], *, signing: bool) -> Attributes:
    """The mapped attributes over the text columns the write path redacts, with their columns
    (``signing``: those of a signed table, which only its signer redacts)."""
    found = _ATTRIBUTES.get(mapper)
    if found is None:
        table = mapper.local_table
        written = set(text_columns(table).values()) if isinstance(table, Table) else set()
        props = [(p.key, p.columns[0]) for p in mapper.column_attrs if isinstance(p.columns[0], Column)]
        found = (
            tuple((key, column) for key, column in props if column in written),
            tuple((key, column) for key, column in props if _redacted_column(column)),
        )
        _ATTRIBUTES[mapper] = found
    return found[1] if signing else found[0]


# --------------------------------------------------------------------------------------------
# The ORM


def redact_object(session: Session, obj: Any, *, signing: bool = False) -> None:
    """Redact ``obj``'s text attributes in place (``signing``: a row of a ``SIGNED`` table,
    about to be signed)."""
    _redact_object(cleaner(session.get_bind()), obj, only_changed=False, signing=signing)


def _redact_object(clean: Clean, obj: Any, *, only_changed: bool, signing: bool = False) -> None:
    state = inspect(obj)
    changed = state.committed_state if only_changed else None
    for key, column in _attributes(state.mapper, signing=signing):
        if key not in state.dict or (changed is not None and key not in changed):
            continue
        value = state.dict[key]
        cleaned = clean(column, value)
        if cleaned is not value and cleaned != value:
            setattr(obj, key, cleaned)


def _before_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    if not session.new and not session.dirty:
        return
    clean = cleaner(session.get_bind())
    for obj in session.new:
        _redact_object(clean, obj, only_changed=False)
    for obj in session.dirty:
        _redact_object(clean, obj, only_changed=True)


# --------------------------------------------------------------------------------------------
# Core statements


def _column_key(key: Any) -> str | None:
    if isinstance(key, str):
        return key
    return getattr(key, "key", None)


def _before_execute(
    conn: Connection,
    statement: Any,
    multiparams: list[dict[str, Any]],
    params: dict[str, Any],
    _options: Mapping[str, Any],
) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    if not isinstance(statement, Insert | Update) or not isinstance(statement.table, Table):
        return statement, multiparams, params
    columns = text_columns(statement.table)
    if not columns:
        return statement, multiparams, params
    clean = cleaner(conn)
    # The parameters that carry a text column's value: named by the column's key, or by the
    # bindparam the statement's values() gave it (bulk.update_many's b_<name>).
    carried = dict(columns)
    statement = _redact_embedded(statement, columns, carried, clean)
    if params:
        params = _redact_params(params, carried, clean)
    if multiparams:
        multiparams = [_redact_params(p, carried, clean) for p in multiparams]
    return statement, multiparams, params


def _redact_params(values: dict[str, Any], carried: dict[str, Column[Any]], clean: Clean) -> dict[str, Any]:
    out = None
    for key, value in values.items():
        column = carried.get(key)
        if column is not None and value is not None:
            cleaned = clean(column, value)
            if cleaned is not value and cleaned != value:
                if out is None:
                    out = dict(values)
                out[key] = cleaned
    return values if out is None else out


def _redact_embedded(
    statement: ValuesBase, columns: dict[str, Column[Any]], carried: dict[str, Column[Any]], clean: Clean
) -> ValuesBase:
    """``statement`` with the literal text values written into it (``.values(notes=…)``,
    ``.values([{…}, {…}])``) redacted."""
    values = statement._values
    multi = statement._multi_values
    if not values and not multi:
        return statement
    new_values = None
    if values:
        for key, value in values.items():
            column = columns.get(_column_key(key) or "")
            if column is None or not isinstance(value, BindParameter):
                continue
            carried[value.key] = column
            if value.value is None or value.callable is not None:
                continue
            cleaned = clean(column, value.value)
            if cleaned is not value.value and cleaned != value.value:
                if new_values is None:
                    new_values = dict(values)
                # The same parameter with the redacted value (and key: the compiled form is cached).
                new_values[key] = value._with_value(cleaned, maintain_key=True)  # type: ignore[no-untyped-call]
    new_multi = None
    if multi:
        new_multi = tuple([_redact_row(row, columns, clean) for row in group] for group in multi)
    if new_values is None and new_multi is None:
        return statement
    copy = statement._clone()
    if new_values is not None:
        copy._values = immutabledict(new_values)
    if new_multi is not None:
        copy._multi_values = new_multi
    return copy


def _redact_row(row: Any, columns: dict[str, Column[Any]], clean: Clean) -> Any:
    if not isinstance(row, Mapping):
        return row  # positional rows: every insert here names its columns
    out = {}
    for key, value in row.items():
        column = columns.get(_column_key(key) or "")
        out[key] = value if column is None or isinstance(value, BindParameter) else clean(column, value)
    return out


_INSTALLED = False


def install() -> None:
    """Put redaction on every engine's and session's write path (once per process)."""
    global _INSTALLED
    if _INSTALLED:
        return
    event.listen(Engine, "before_execute", _before_execute, retval=True)
    event.listen(Session, "before_flush", _before_flush)
    _INSTALLED = True
