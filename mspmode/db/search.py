"""Full-text search behind one interface, on each backend's own index.

    SQLite      an FTS5 table ``<table>_fts`` with external content (the text is not stored
                twice) kept in step by triggers; ranked by bm25, Porter stemming.
    PostgreSQL  a generated ``search_vector tsvector`` column with a GIN index, weighted by
                column order (title-like columns first); ranked by ts_rank_cd.
    MariaDB     an InnoDB FULLTEXT index over the same columns; ranked by MATCH … AGAINST.

Which columns of which tables are indexed is decided in the migration that creates the
objects (``SEARCH_INDEXES`` is the current set); this module renders the DDL and the queries.

Queries are reduced to words before they reach any engine, and every word must match (AND),
so the three backends agree on what is found even where their query syntax differs, and no
user text is ever spliced into SQL or into an FTS query language.

SQLite caveat: external-content FTS5 keys rows by ``rowid``, which ``VACUUM`` may renumber in
a table without an INTEGER PRIMARY KEY; whoever runs VACUUM must call :func:`rebuild` after.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, bindparam, column, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from mspmode.db.base import Base
from mspmode.errors import ValidationError

# table -> indexed text columns, most important first (PostgreSQL weights A, B, C, D by order).
SEARCH_INDEXES: dict[str, tuple[str, ...]] = {
    "problem_solutions": (
        "problem_title",
        "error_message",
        "problem_description",
        "symptom",
        "root_cause",
        "solution_applied",
    ),
    "commands_run": ("command_text", "error_message"),
    "operation_failures": ("operation_description", "error_message"),
    "environmental_insights": ("insight_title", "insight_description"),
    "failure_patterns": ("pattern_signature", "failure_description", "root_cause", "recommended_solution"),
    "conversation_contexts": ("title", "dense_summary"),
}

PG_CONFIG = "english"
MAX_QUERY_WORDS = 16

# Words InnoDB's FULLTEXT drops by default (its built-in stopword list) and words shorter than
# innodb_ft_min_token_size (3): a "+word" for one of them would make MariaDB match nothing.
_INNODB_STOPWORDS = frozenset(
    "a about an are as at be by com de en for from how i in is it la of on or that the this "
    "to was what when where who will with und www".split()
)

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class SearchHit:
    """One row that matched: its id, the backend's relevance score (higher is better) and
    a short excerpt of the text around the first matching word."""

    id: uuid.UUID
    score: float
    snippet: str


def query_words(query: str) -> list[str]:
    """The words of a user's query, as every backend will match them."""
    return _WORD.findall(query)[:MAX_QUERY_WORDS]


def search(
    session: Session,
    table: str,
    query: str,
    *,
    limit: int = 20,
    filters: Mapping[str, Any] | None = None,
    order: str = "relevance",
    match: str = "all",
    snippets: bool = True,
    window: int | None = None,
) -> list[SearchHit]:
    """Rows of ``table`` whose indexed text contains every word of ``query``, best first.

    ``filters`` are equality conditions on the table's own columns (a client id, a status;
    ``None``: IS NULL),
    applied in the same query so ranking and paging see only the rows the caller may see.
    ``match="any"`` finds rows with any of the words instead of all (a prompt rarely repeats
    all the words of what it should recall). ``order="recent"`` returns the newest matches
    instead of the most relevant (``score`` is still the relevance): ranking every match of a
    common word costs a scan of all of them, the newest few are read straight from the index
    — what recall wants, which ranks them itself. ``snippets=False`` leaves ``snippet`` empty
    and saves reading the texts back. ``window`` (SQLite, with ``order="recent"``) bounds the
    cost when ``filters`` keep few rows: only the newest ``window`` matches of the whole table
    are looked at, then filtered (a common word otherwise walks every match to find a small
    client's few); ``score`` is then 0.
    """
    if order not in ("relevance", "recent"):
        raise ValidationError(f"order must be relevance or recent, not {order!r}")
    if match not in ("all", "any"):
        raise ValidationError(f"match must be all or any, not {match!r}")
    columns = _columns(table)
    words = query_words(query)
    if not words:
        raise ValidationError("search query has no words to look for")
    limit = max(1, min(int(limit), 200))
    where, binds = _filter_sql(table, filters or {})
    dialect = session.get_bind().dialect.name
    recent, any_word = order == "recent", match == "any"
    if dialect == "sqlite":
        bounded = window if recent and window is not None and where else None
        rows = _search_sqlite(session, table, words, where, binds, limit, recent, any_word, bounded)
    elif dialect == "postgresql":
        rows = _search_postgresql(session, table, words, where, binds, limit, recent, any_word)
    elif dialect in ("mysql", "mariadb"):
        rows = _search_mariadb(session, table, columns, words, where, binds, limit, recent, any_word)
    else:  # pragma: no cover - settings refuse other backends
        raise ValidationError(f"full-text search is not available on {dialect}")
    if not rows:
        return []
    if not snippets:
        return [SearchHit(id=_as_uuid(row_id), score=float(score), snippet="") for row_id, score in rows]
    texts = _texts(session, table, columns, [r[0] for r in rows])
    return [
        SearchHit(
            id=_as_uuid(row_id), score=float(score), snippet=make_snippet(texts.get(str(row_id), ""), words)
        )
        for row_id, score in rows
    ]


def _columns(table: str) -> tuple[str, ...]:
    try:
        return SEARCH_INDEXES[table]
    except KeyError:
        raise ValidationError(
            f"{table!r} has no full-text index; searchable: {', '.join(sorted(SEARCH_INDEXES))}"
        ) from None


def _filter_sql(table: str, filters: Mapping[str, Any]) -> tuple[str, list[BindParameter[Any]]]:
    known = Base.metadata.tables[table].c
    clauses, binds = [], []
    for i, (name, value) in enumerate(filters.items()):
        if name not in known:
            raise ValidationError(f"cannot filter {table} on unknown column {name!r}")
        if value is None:  # rows with no value there (a context of no client)
            clauses.append(f" AND t.{name} IS NULL")
            continue
        # Typed so a UUID is rendered the way this backend stores it (native, or 32 hex chars).
        binds.append(bindparam(f"f{i}", value, type_=known[name].type))
        clauses.append(f" AND t.{name} = :f{i}")
    return "".join(clauses), binds


def _search_sqlite(
    session: Session,
    table: str,
    words: Sequence[str],
    where: str,
    binds: list[BindParameter[Any]],
    limit: int,
    recent: bool = False,
    any_word: bool = False,
    window: int | None = None,
) -> list[tuple[Any, float]]:
    # Each word quoted as an FTS5 string: no operator or column filter can be smuggled in.
    match = (" OR " if any_word else " ").join('"' + w.replace('"', '""') + '"' for w in words)
    if window is not None:
        sql = (
            f"SELECT t.id, 0.0 AS score FROM {table} AS t WHERE t.rowid IN (SELECT rowid FROM {table}_fts "
            f"WHERE {table}_fts MATCH :q ORDER BY rowid DESC LIMIT :window){where} "
            f"ORDER BY t.rowid DESC LIMIT :limit"
        )
        return _run(session, table, sql, binds, {"q": match, "limit": limit, "window": max(1, int(window))})
    # rowid follows insertion: descending, FTS5 walks its doclists newest first and stops.
    by = f"{table}_fts.rowid DESC" if recent else f"bm25({table}_fts)"
    sql = (
        f"SELECT t.id, -bm25({table}_fts) AS score FROM {table}_fts "
        f"JOIN {table} AS t ON t.rowid = {table}_fts.rowid "
        f"WHERE {table}_fts MATCH :q{where} ORDER BY {by} LIMIT :limit"
    )
    return _run(session, table, sql, binds, {"q": match, "limit": limit})


def _search_postgresql(
    session: Session,
    table: str,
    words: Sequence[str],
    where: str,
    binds: list[BindParameter[Any]],
    limit: int,
    recent: bool = False,
    any_word: bool = False,
) -> list[tuple[Any, float]]:
    by = f"{_newest(table)} DESC, t.id" if recent else "score DESC, t.id"
    # Any word: each word parsed on its own (plainto_tsquery: no operator gets through), OR-ed.
    query = (
        " || ".join(f"plainto_tsquery('{PG_CONFIG}', :q{i})" for i in range(len(words)))
        if any_word
        else f"plainto_tsquery('{PG_CONFIG}', :q)"
    )
    sql = (
        f"SELECT t.id, ts_rank_cd(t.search_vector, q) AS score "
        f"FROM {table} AS t, (SELECT {query} AS q) AS qq "
        f"WHERE t.search_vector @@ q{where} ORDER BY {by} LIMIT :limit"
    )
    params: dict[str, Any] = {f"q{i}": w for i, w in enumerate(words)} if any_word else {"q": " ".join(words)}
    return _run(session, table, sql, binds, {**params, "limit": limit})


def _search_mariadb(
    session: Session,
    table: str,
    columns: Sequence[str],
    words: Sequence[str],
    where: str,
    binds: list[BindParameter[Any]],
    limit: int,
    recent: bool = False,
    any_word: bool = False,
) -> list[tuple[Any, float]]:
    usable = [w for w in words if len(w) >= 3 and w.lower() not in _INNODB_STOPWORDS]
    if not usable:
        return []
    cols = ", ".join(f"t.{c}" for c in columns)
    # Boolean-mode operators are stripped by query_words (only \w survives), so "+word" is safe.
    boolean = " ".join(w if any_word else f"+{w}" for w in usable)
    sql = (
        f"SELECT t.id, MATCH({cols}) AGAINST(:natural IN NATURAL LANGUAGE MODE) AS score "
        f"FROM {table} AS t WHERE MATCH({cols}) AGAINST(:boolean IN BOOLEAN MODE){where} "
        f"ORDER BY {f'{_newest(table)} DESC, t.id' if recent else 'score DESC, t.id'} LIMIT :limit"
    )
    params = {"natural": " ".join(usable), "boolean": boolean, "limit": limit}
    return _run(session, table, sql, binds, params)


def _newest(table: str) -> str:
    """The column that dates a row of ``table``, for order="recent" on the server backends."""
    known = Base.metadata.tables[table].c
    for name in ("created_at", "executed_at", "occurred_at"):
        if name in known:
            return f"t.{name}"
    return "t.id"


def _run(
    session: Session, table: str, sql: str, binds: list[BindParameter[Any]], params: dict[str, Any]
) -> list[tuple[Any, float]]:
    stmt = (
        text(sql)
        .bindparams(*binds)
        .columns(column("id", Base.metadata.tables[table].c.id.type), column("score", Float()))
    )
    return [(row_id, score) for row_id, score in session.execute(stmt, params)]


def _texts(session: Session, table: str, columns: Sequence[str], ids: Sequence[Any]) -> dict[str, str]:
    t = Base.metadata.tables[table]
    stmt = select(t.c.id, *(t.c[c] for c in columns)).where(t.c.id.in_(list(ids)))
    return {str(row[0]): "\n".join(str(v) for v in row[1:] if v) for row in session.execute(stmt)}


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def make_snippet(body: str, words: Sequence[str], *, width: int = 160) -> str:
    """About ``width`` characters of ``body`` around the first query word found, with the
    matching words marked ``[like this]``."""
    flat = " ".join(body.split())
    lowered = flat.lower()
    hits = [lowered.find(w.lower()) for w in words]
    found = [h for h in hits if h >= 0]
    start = max(0, min(found) - width // 3) if found else 0
    excerpt = flat[start : start + width]
    for w in sorted(set(words), key=len, reverse=True):
        excerpt = re.sub(f"(?i)(?<!\\[)({re.escape(w)})", r"[\1]", excerpt)
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(flat) else ""
    return f"{prefix}{excerpt}{suffix}"


@contextmanager
def bulk_indexing(session: Session, table: str, *, expected_rows: int = 0) -> Iterator[None]:
    """Insert many rows into ``table`` and index them once at the end, in the caller's
    transaction.

    On SQLite the per-row triggers cost most of an insert (tokenising one row at a time); for
    a bulk load they are dropped, the new rows indexed with one INSERT … SELECT, and the
    triggers put back — all inside the transaction, which holds the single writer, so no
    other writer ever sees the table without them and readers see the old snapshot. Rows may
    only be inserted inside the block (updates and deletes would go unindexed). PostgreSQL's
    generated column and MariaDB's FULLTEXT index need nothing.

    When ``expected_rows`` is large against what the table holds, its secondary B-tree
    indexes go the same way: dropped, and built again at the end from sorted keys, which
    costs less than keeping each up to date row by row (the primary key stays: rows are
    still updated by id inside the block). Queries inside the block on other columns still
    answer, only without an index.
    """
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    columns = _columns(table)
    fts = f"{table}_fts"
    start = session.execute(text(f"SELECT coalesce(max(rowid), 0) FROM {table}")).scalar_one()
    indexes: list[tuple[str, str]] = []
    if expected_rows >= _DEFER_INDEXES_AT and expected_rows * 2 >= start:
        indexes = [
            (str(name), str(sql))
            for name, sql in session.execute(
                text(
                    "SELECT name, sql FROM sqlite_master "
                    "WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"
                ),
                {"t": table},
            )
        ]
    for name, _sql in indexes:
        session.execute(text(f'DROP INDEX "{name}"'))
    for suffix in ("ai", "ad", "au"):
        session.execute(text(f"DROP TRIGGER {fts}_{suffix}"))
    yield
    for _name, sql in indexes:
        session.execute(text(sql))
    cols = ", ".join(columns)
    session.execute(
        text(f"INSERT INTO {fts}(rowid, {cols}) SELECT rowid, {cols} FROM {table} WHERE rowid > :start"),
        {"start": start},
    )
    for statement in create_ddl("sqlite", table, columns)[1:]:
        session.execute(text(statement))


_DEFER_INDEXES_AT = 5_000  # rows: below this, rebuilding the indexes costs more than it saves


def rebuild(session: Session) -> None:
    """Re-index every SQLite FTS5 table from its content (after VACUUM or a restore)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    for table in SEARCH_INDEXES:
        session.execute(text(f"INSERT INTO {table}_fts({table}_fts) VALUES ('rebuild')"))


# ---- DDL, used by migrations ------------------------------------------------------------


def create_ddl(dialect: str, table: str, columns: Sequence[str]) -> list[str]:
    """Statements that create the full-text index of ``table`` over ``columns``."""
    cols = ", ".join(columns)
    if dialect == "sqlite":
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        fts = f"{table}_fts"
        return [
            f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{table}', content_rowid='rowid', "
            "tokenize='porter unicode61 remove_diacritics 2')",
            f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.rowid, {new}); END",
            f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.rowid, {old}); END",
            # Only a change to an indexed column touches the index: status flips stay cheap.
            f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {cols} ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.rowid, {old}); "
            f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.rowid, {new}); END",
        ]
    if dialect == "postgresql":
        weights = "ABCD"
        # The text cut into the words a query is cut into (``query_words``) before the parser
        # reads it: whole, the parser makes one token of a host name or an address
        # (web1.acme.local, 10.0.0.5) and a signed number of a name's tail (SRV-2019 gives
        # "-2019"), which no query word ever is.
        parts = " || ".join(
            f"setweight(to_tsvector('{PG_CONFIG}', {pg_words(c)}), '{weights[min(i, 3)]}')"
            for i, c in enumerate(columns)
        )
        return [
            f"ALTER TABLE {table} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({parts}) STORED",
            f"CREATE INDEX ftx_{table} ON {table} USING GIN (search_vector)",
        ]
    if dialect in ("mysql", "mariadb"):
        return [f"CREATE FULLTEXT INDEX ftx_{table} ON {table} ({cols})"]
    raise ValueError(f"no full-text support for dialect {dialect}")


def pg_words(column: str) -> str:
    """PostgreSQL's text of ``column`` (NULL as empty) with every run of non-word characters
    made one space: the words ``query_words`` finds (``\\w``: letters, digits, underscore)."""
    return f"regexp_replace(coalesce({column}, ''), '\\W+', ' ', 'g')"


def drop_ddl(dialect: str, table: str) -> list[str]:
    """Statements that remove what :func:`create_ddl` made."""
    if dialect == "sqlite":
        fts = f"{table}_fts"
        return [f"DROP TRIGGER IF EXISTS {fts}_{s}" for s in ("ai", "ad", "au")] + [
            f"DROP TABLE IF EXISTS {fts}"
        ]
    if dialect == "postgresql":
        return [
            f"DROP INDEX IF EXISTS ftx_{table}",
            f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector",
        ]
    if dialect in ("mysql", "mariadb"):
        return [f"DROP INDEX ftx_{table} ON {table}"]
    raise ValueError(f"no full-text support for dialect {dialect}")


def is_search_object(name: str | None) -> bool:
    """True for database objects this module owns, which model comparison must ignore."""
    if not name:
        return False
    return name == "search_vector" or name.startswith("ftx_") or "_fts" in name
