"""Finding 5: sign-ins end when they should, on every backend.

A refresh token works once and a reused one revokes its whole sign-in (also when two requests
race with the same token); signing out ends the sign-in's refresh and access tokens; a
password change, disabling and changing the role end every sign-in of the user; enabling a
user again revives none of their old tokens or API keys; a demoted user's keys stay demoted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import URL

from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.models.core import User
from mspmode.models.operations import AuditLog
from tests.conftest import BACKENDS
from tests.security.auth_server import PASSWORD, Server, claims_of, running

NEW_PASSWORD = "a quite different passphrase"


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(str(request.param), Path(tmp_path_factory.mktemp(f"sessions-{request.param}"))) as s:
        yield s


def user_id(server: Server, name: str) -> str:
    with server.db.read() as s:
        return str(s.scalars(select(User.id).where(User.username == name)).one())


def test_a_refresh_token_works_once_and_a_reused_one_revokes_the_sign_in(server: Server) -> None:
    name = server.user()
    first = server.tokens(name)
    second = server.refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert server.me(rotated["access_token"]).status_code == 200

    # The spent token again: a copy is in someone else's hands, so the sign-in ends for both.
    reused = server.refresh(first["refresh_token"])
    assert reused.status_code == 401
    assert "already used" in reused.json()["error"]["message"]
    assert server.refresh(rotated["refresh_token"]).status_code == 401
    assert server.me(rotated["access_token"]).status_code == 401
    assert server.me(first["access_token"]).status_code == 401
    with server.db.read() as s:
        revoked = s.scalars(
            select(AuditLog).where(
                AuditLog.action == "revoke",
                AuditLog.entity_type == "auth_sessions",
                AuditLog.entity_id == claims_of(first["refresh_token"])["sid"],
            )
        ).all()
    assert len(revoked) == 1
    # Another sign-in of the same user is not touched.
    assert server.me(server.tokens(name)["access_token"]).status_code == 200


def test_two_requests_racing_with_one_refresh_token_get_one_new_pair(server: Server) -> None:
    name = server.user()
    token = server.tokens(name)["refresh_token"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: server.refresh(token).status_code, range(8)))
    assert sorted(answers) == [200] + [401] * 7, answers


def test_signing_out_ends_the_sign_in_and_its_access_tokens(server: Server) -> None:
    name = server.user()
    here, elsewhere = server.tokens(name), server.tokens(name)
    refreshed = server.refresh(here["refresh_token"]).json()  # an access token of the same sign-in
    out = server.call("POST", "/api/auth/logout", here["access_token"])
    assert out.status_code == 204, out.text
    for token in (here["access_token"], refreshed["access_token"]):
        assert server.me(token).status_code == 401
    assert server.refresh(refreshed["refresh_token"]).status_code == 401
    assert server.me(elsewhere["access_token"]).status_code == 200

    everywhere = server.call("POST", "/api/auth/logout", elsewhere["access_token"], json={"everywhere": True})
    assert everywhere.status_code == 204
    third = server.tokens(name)
    assert server.me(elsewhere["access_token"]).status_code == 401
    assert server.me(third["access_token"]).status_code == 200
    with server.db.read() as s:
        logouts = s.scalars(select(AuditLog).where(AuditLog.action == "logout", AuditLog.actor_name == name))
        assert len(logouts.all()) == 2


def test_a_key_has_nothing_to_sign_out(server: Server) -> None:
    key = server.key(server.user())
    response = server.call("POST", "/api/auth/logout", key)
    assert response.status_code == 422
    assert server.me(key).status_code == 200


def test_a_password_change_ends_every_sign_in_but_not_the_keys(server: Server) -> None:
    name = server.user()
    key = server.key(name)
    mine, stolen = server.tokens(name), server.tokens(name)
    changed = server.call(
        "POST",
        "/api/auth/password",
        mine["access_token"],
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 200, changed.text
    for old in (mine, stolen):
        assert server.me(old["access_token"]).status_code == 401
        assert server.refresh(old["refresh_token"]).status_code == 401
    assert server.me(changed.json()["access_token"]).status_code == 200
    assert server.refresh(changed.json()["refresh_token"]).status_code == 200
    assert server.me(key).status_code == 200  # a key is not derived from the password
    assert server.login(name, PASSWORD).status_code == 401
    assert server.login(name, NEW_PASSWORD).status_code == 200


def test_enabling_a_user_again_revives_no_token_and_no_key(server: Server) -> None:
    name = server.user()
    admin = server.key(server.user("admin"), "admin")
    key = server.key(name)
    tokens = server.tokens(name)
    uid = user_id(server, name)
    assert server.call("POST", f"/api/users/{uid}/disable", admin).status_code == 200
    assert server.me(tokens["access_token"]).status_code == 401
    assert server.me(key).status_code == 401
    assert server.call("POST", f"/api/users/{uid}/enable", admin).status_code == 200
    assert server.me(tokens["access_token"]).status_code == 401
    assert server.refresh(tokens["refresh_token"]).status_code == 401
    assert server.me(key).status_code == 401
    listed = server.call("GET", "/api/api-keys", admin, params={"user_id": uid}).json()["items"]
    assert [k["revoked_at"] is not None for k in listed] == [True]
    assert server.me(server.tokens(name)["access_token"]).status_code == 200  # signing in works again


def test_a_role_change_ends_sign_ins_and_a_demoted_key_stays_demoted(server: Server) -> None:
    name = server.user("technician")
    admin = server.key(server.user("admin"), "admin")
    key = server.key(name, "technician")
    tokens = server.tokens(name)
    uid = user_id(server, name)
    demoted = server.call("POST", f"/api/users/{uid}/role", admin, json={"role": "readonly"})
    assert demoted.status_code == 200, demoted.text
    assert server.me(tokens["access_token"]).status_code == 401
    assert server.refresh(tokens["refresh_token"]).status_code == 401
    assert server.me(key).json()["role"] == "readonly"
    assert server.call("POST", "/api/clients", key, json={"name": f"x-{uid}"}).status_code == 403
    promoted = server.call("POST", f"/api/users/{uid}/role", admin, json={"role": "technician"})
    assert promoted.status_code == 200
    assert server.me(key).json()["role"] == "readonly"  # not raised again by the promotion
    assert server.me(server.tokens(name)["access_token"]).json()["role"] == "technician"


def test_the_migration_adds_sessions_and_token_versions_and_goes_back(empty_database_url: URL) -> None:
    """Revision 0006 on a database with a user in it: the user keeps working (token version 0),
    the schema then matches the models, and the downgrade takes it all back out."""
    before = ScriptDirectory.from_config(schema.alembic_config()).get_revision("0006").down_revision
    assert isinstance(before, str)
    db = Database(empty_database_url)
    try:
        schema.upgrade(db, before)
        with db.writer.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, username, password_hash, role) VALUES (:id, 'old', 'x', 'admin')"
                ),
                {"id": str(uuid.uuid4()) if db.dialect == "postgresql" else uuid.uuid4().hex},
            )
        schema.upgrade(db, "0006")
        with db.reader.connect() as conn:
            assert (
                conn.execute(text("SELECT token_version FROM users WHERE username = 'old'")).scalar_one() == 0
            )
        schema.upgrade(db)
        assert schema.differences(db) == []
        cfg = schema.alembic_config()
        with db.writer.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, before)
        found = inspect(db.writer)
        assert "auth_sessions" not in found.get_table_names()
        assert "token_version" not in {c["name"] for c in found.get_columns("users")}
        assert "window_started_at" not in {c["name"] for c in found.get_columns("login_throttles")}
    finally:
        db.dispose()
