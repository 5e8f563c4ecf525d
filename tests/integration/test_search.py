"""Full-text search on every backend through the one interface in ``db/search.py``."""

from __future__ import annotations

import random
import string
import uuid

import pytest
from alembic import command
from sqlalchemy import URL, text, update
from sqlalchemy.orm import Session

from mspmode.db import schema, search
from mspmode.db.session import Database
from mspmode.errors import ValidationError
from tests.rows import build_row, table


def word() -> str:
    # Letters only, so every backend's tokenizer keeps it whole.
    return "zq" + "".join(random.choices(string.ascii_lowercase, k=10))


@pytest.mark.parametrize("name", sorted(search.SEARCH_INDEXES))
def test_every_indexed_table_is_found_by_a_word_and_kept_in_step(migrated_db: Database, name: str) -> None:
    first, last = search.SEARCH_INDEXES[name][0], search.SEARCH_INDEXES[name][-1]
    w1, w2, w3 = word(), word(), word()
    with migrated_db.writer.begin() as conn:
        row = build_row(conn, name, **{first: f"alpha {w1} beta", last: f"gamma {w2} delta"})
    with migrated_db.read() as s:
        assert [h.id for h in search.search(s, name, w1)] == [row["id"]]
        assert [h.id for h in search.search(s, name, w2)] == [row["id"]]
        assert search.search(s, name, f"{w1} {w2}")[0].id == row["id"]  # every word, any column
        assert search.search(s, name, f"{w1} {word()}") == []  # every word must match

    t = table(name)
    with migrated_db.writer.begin() as conn:
        conn.execute(update(t).where(t.c.id == row["id"]).values(**{first: f"alpha {w3}"}))
    with migrated_db.read() as s:
        assert search.search(s, name, w1) == []
        assert [h.id for h in search.search(s, name, w3)] == [row["id"]]

    with migrated_db.writer.begin() as conn:
        conn.execute(t.delete().where(t.c.id == row["id"]))
    with migrated_db.read() as s:
        assert search.search(s, name, w3) == []


def test_a_problem_solution_is_found_by_a_word_of_its_error_message(migrated_db: Database) -> None:
    marker = word()
    with migrated_db.writer.begin() as conn:
        row = build_row(
            conn,
            "problem_solutions",
            problem_title=f"Apache site down {marker}",
            error_message="ERR_SSL_PROTOCOL_ERROR: certificate expired on 2026-01-10",
            solution_applied="certbot renew --force-renewal && systemctl restart apache2",
        )
    with migrated_db.read() as s:
        hits = search.search(s, "problem_solutions", f"certificate {marker}")
        assert [h.id for h in hits] == [row["id"]]
        assert "[certificate]" in hits[0].snippet
        assert hits[0].score > 0
        by_code = search.search(s, "problem_solutions", f"ERR_SSL_PROTOCOL_ERROR {marker}")
        assert [h.id for h in by_code] == [row["id"]]


@pytest.mark.parametrize(
    "written",
    [
        "SRV-2019",  # PostgreSQL's parser read the tail as the number -2019
        "HQ-20191231",
        "HQ-85e3075a",  # and this one as 85e3075 (a float) then a
        "web1.acme.local",  # a host name: one token to PostgreSQL
        "192.168.100.200",  # an address: one token too
        "svc_backup",
        "C:\\Windows\\System32\\drivers",
    ],
)
def test_names_and_addresses_are_found_as_they_are_written(migrated_db: Database, written: str) -> None:
    """A host name, an address or an id is found by the words it is written with, whole or in
    part, on every backend: the indexed text is cut into the words a query is cut into."""
    marker = word()
    with migrated_db.writer.begin() as conn:
        row = build_row(
            conn, "commands_run", command_text=f"ping {written}", error_message=f"{marker} unreachable"
        )
    words = search.query_words(written)
    with migrated_db.read() as s:
        for query in (written, words[-1]):
            assert [h.id for h in search.search(s, "commands_run", f"{query} {marker}")] == [row["id"]], query


def test_an_upgrade_indexes_the_rows_already_stored_as_queries_read_them(empty_database_url: URL) -> None:
    """Migration 0004 rebuilds PostgreSQL's index of the rows stored before it (elsewhere it
    changes nothing); its downgrade takes the index back to what it was."""
    db = Database(empty_database_url)
    try:
        schema.upgrade(db, "0003")
        marker = word()
        with db.writer.begin() as conn:
            # The row and its parents as revision 0003 stores them.
            row = build_row(
                conn,
                "commands_run",
                command_text="ping SRV-2019",
                error_message=f"{marker} down",
                as_stored=True,
            )
        schema.upgrade(db)
        with db.read() as s:
            assert [h.id for h in search.search(s, "commands_run", f"SRV-2019 {marker}")] == [row["id"]]
        cfg = schema.alembic_config()
        with db.writer.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
        with db.read() as s:
            found = [h.id for h in search.search(s, "commands_run", f"SRV-2019 {marker}")]
            assert found == ([] if db.writer.dialect.name == "postgresql" else [row["id"]])
            assert [h.id for h in search.search(s, "commands_run", f"ping {marker}")] == [row["id"]]
    finally:
        db.dispose()


def test_filters_limit_the_search_to_the_callers_rows(migrated_db: Database) -> None:
    marker = word()
    with migrated_db.writer.begin() as conn:
        mine = build_row(conn, "problem_solutions", symptom=f"printer offline {marker}")
        theirs = build_row(conn, "problem_solutions", symptom=f"printer jammed {marker}")
    with migrated_db.read() as s:
        both = {h.id for h in search.search(s, "problem_solutions", marker)}
        assert both == {mine["id"], theirs["id"]}
        only = search.search(s, "problem_solutions", marker, filters={"client_id": mine["client_id"]})
        assert [h.id for h in only] == [mine["id"]]


@pytest.mark.parametrize(
    "query", ['"unbalanced', "NEAR(a b)", "col:value", "a* -b +c", "'; DROP TABLE users; --", "x OR y AND"]
)
def test_query_syntax_is_never_interpreted(migrated_db: Database, query: str) -> None:
    with migrated_db.read() as s:
        assert search.search(s, "commands_run", f"{query} {word()}") == []


def test_bad_searches_are_validation_errors(migrated_db: Database) -> None:
    with migrated_db.read() as s:
        with pytest.raises(ValidationError, match="no words"):
            search.search(s, "problem_solutions", "  ?! ")
        with pytest.raises(ValidationError, match="no full-text index"):
            search.search(s, "users", "admin")
        with pytest.raises(ValidationError, match="unknown column"):
            search.search(s, "problem_solutions", "x", filters={"nope": 1})


def test_sqlite_index_survives_vacuum_after_a_rebuild(sqlite_db: Database) -> None:
    # VACUUM may renumber rowids of a table without an INTEGER PRIMARY KEY, which is what
    # external-content FTS5 keys on; search.rebuild() re-reads the content.
    words = [word() for _ in range(4)]
    with sqlite_db.writer.begin() as conn:
        rows = [build_row(conn, "commands_run", command_text=f"echo {w}") for w in words]
        t = table("commands_run")
        conn.execute(t.delete().where(t.c.id.in_([rows[0]["id"], rows[1]["id"]])))
    with sqlite_db.writer.connect() as conn:
        conn.exec_driver_sql("COMMIT")  # VACUUM cannot run inside the BEGIN our engine opens
        conn.exec_driver_sql("VACUUM")
    with sqlite_db.write() as s:
        search.rebuild(s)
    with sqlite_db.read() as s:
        assert search.search(s, "commands_run", words[0]) == []
        for w, row in zip(words[2:], rows[2:], strict=True):
            assert [h.id for h in search.search(s, "commands_run", w)] == [row["id"]]


def test_bulk_indexing_indexes_every_new_row_and_keeps_the_triggers(migrated_db: Database) -> None:
    words = [word() for _ in range(50)]
    t = table("commands_run")
    with migrated_db.writer.begin() as conn:
        parent = build_row(conn, "commands_run")
    with migrated_db.write() as s, search.bulk_indexing(s, "commands_run"):
        s.execute(
            t.insert(),
            [
                {"id": uuid.uuid4(), "session_id": parent["session_id"], "command_text": f"echo {w}"}
                for w in words
            ],
        )
    with migrated_db.read() as s:
        for w in words[::7]:
            assert len(search.search(s, "commands_run", w)) == 1
    # The triggers are back: a later ordinary insert is found too.
    later = word()
    with migrated_db.writer.begin() as conn:
        build_row(conn, "commands_run", command_text=f"echo {later}")
    with migrated_db.read() as s:
        assert len(search.search(s, "commands_run", later)) == 1
    assert schema.differences(migrated_db) == []


def test_bulk_indexing_leaves_nothing_behind_when_the_load_fails(sqlite_db: Database) -> None:
    with pytest.raises(RuntimeError), sqlite_db.write() as s, search.bulk_indexing(s, "commands_run"):
        raise RuntimeError("the import broke")
    later = word()
    with sqlite_db.writer.begin() as conn:
        build_row(conn, "commands_run", command_text=f"echo {later}")
    with sqlite_db.read() as s:
        assert len(search.search(s, "commands_run", later)) == 1


def _indexes(s: Session) -> list[tuple[str, str]]:
    sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'commands_run'"
    return sorted((str(n), str(q)) for n, q in s.execute(text(sql)))


def test_a_large_bulk_load_builds_the_indexes_again_at_the_end(sqlite_db: Database) -> None:
    with sqlite_db.read() as s:
        before = _indexes(s)
    assert len(before) > 5
    t = table("commands_run")
    with sqlite_db.writer.begin() as conn:
        parent = build_row(conn, "commands_run")
    with sqlite_db.write() as s, search.bulk_indexing(s, "commands_run", expected_rows=10_000):
        # Inside the block only the primary key's index is left.
        assert [n for n, _ in _indexes(s)] == ["sqlite_autoindex_commands_run_1"]
        rows = [{"id": uuid.uuid4(), "session_id": parent["session_id"], "command_text": "echo x"}] * 1
        s.execute(t.insert(), [{**r, "id": uuid.uuid4()} for r in rows * 50])
    with sqlite_db.read() as s:
        assert _indexes(s) == before
        plan = str(
            s.execute(text("EXPLAIN QUERY PLAN SELECT id FROM commands_run WHERE session_id = 'x'")).all()
        )
    assert "ix_commands_run_session_id" in plan
    assert schema.differences(sqlite_db) == []


def test_a_large_bulk_load_that_fails_keeps_its_indexes(sqlite_db: Database) -> None:
    with sqlite_db.read() as s:
        before = _indexes(s)
    with (
        pytest.raises(RuntimeError),
        sqlite_db.write() as s,
        search.bulk_indexing(s, "commands_run", expected_rows=10_000),
    ):
        raise RuntimeError("the import broke")
    with sqlite_db.read() as s:
        assert _indexes(s) == before
