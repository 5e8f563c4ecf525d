"""The generic repository on every backend: the operations every CRUD resource will use."""

from __future__ import annotations

import uuid

import pytest

from mspmode.db.repository import MAX_LIMIT, Repository
from mspmode.db.session import Database
from mspmode.errors import ConflictError, NotFoundError, ValidationError
from mspmode.models.core import Client
from mspmode.models.infrastructure import Infrastructure

clients = Repository(Client)
hosts = Repository(Infrastructure)


def make_client(db: Database, **overrides: object) -> Client:
    values = {"name": f"Client {uuid.uuid4()}", **overrides}
    with db.write() as s:
        return clients.create(s, values)


def test_create_get_update_delete(migrated_db: Database) -> None:
    client = make_client(migrated_db, client_type="internal", notes="first")
    with migrated_db.read() as s:
        got = clients.get(s, client.id)
    assert (got.name, got.client_type, got.notes) == (client.name, "internal", "first")
    assert got.created_at.tzinfo is not None

    with migrated_db.write() as s:
        updated = clients.update(s, client.id, {"notes": "second"})
    assert updated.notes == "second" and updated.updated_at >= got.updated_at

    with migrated_db.write() as s:
        clients.delete(s, client.id)
    with migrated_db.read() as s, pytest.raises(NotFoundError, match=str(client.id)):
        clients.get(s, client.id)


def test_list_filters_sorts_and_pages(migrated_db: Database) -> None:
    owner = make_client(migrated_db)
    names = [f"host-{i:02d}-{uuid.uuid4().hex[:6]}" for i in range(7)]
    with migrated_db.write() as s:
        for i, name in enumerate(names):
            hosts.create(s, {"client_id": owner.id, "hostname": name, "os": "Windows" if i % 2 else "Linux"})
    with migrated_db.read() as s:
        page1 = hosts.list(s, filters={"client_id": owner.id}, sort=["-hostname"], limit=3)
        page2 = hosts.list(s, filters={"client_id": owner.id}, sort=["-hostname"], limit=3, offset=3)
        page3 = hosts.list(s, filters={"client_id": owner.id}, sort=["-hostname"], limit=3, offset=6)
        windows = hosts.list(s, filters={"client_id": owner.id, "os": ["Windows"]})
        no_site = hosts.list(s, filters={"client_id": owner.id, "site_id": None})
    assert page1.total == 7 and page1.next_offset == 3 and page3.next_offset is None
    listed = [h.hostname for p in (page1, page2, page3) for h in p.items]
    assert listed == sorted(names, reverse=True)
    assert windows.total == 3
    assert no_site.total == 7


def test_where_clauses_hide_rows_like_missing_ones(migrated_db: Database) -> None:
    client = make_client(migrated_db)
    other = uuid.uuid4()
    with migrated_db.read() as s, pytest.raises(NotFoundError):
        clients.get(s, client.id, where=[Client.id == other])


def test_bad_field_names_and_pages_are_validation_errors(migrated_db: Database) -> None:
    with migrated_db.read() as s:
        with pytest.raises(ValidationError, match="no field 'nmae' to filter on"):
            clients.list(s, filters={"nmae": "x"})
        with pytest.raises(ValidationError, match="no field 'nope' to sort by"):
            clients.list(s, sort=["-nope"])
        with pytest.raises(ValidationError, match="limit"):
            clients.list(s, limit=MAX_LIMIT + 1)
        with pytest.raises(ValidationError, match="no field 'metadata'"):
            clients.list(s, filters={"metadata": "x"})
    with pytest.raises(ValidationError, match="no field 'is_admin' to set"), migrated_db.write() as s:
        clients.create(s, {"name": "x", "is_admin": True})


def test_duplicates_conflict_and_nothing_is_written(migrated_db: Database) -> None:
    client = make_client(migrated_db)
    with pytest.raises(ConflictError), migrated_db.write() as s:
        clients.create(s, {"name": f"other {uuid.uuid4()}"})
        clients.create(s, {"name": client.name})
    with migrated_db.read() as s:
        assert clients.list(s, filters={"name": client.name}).total == 1
