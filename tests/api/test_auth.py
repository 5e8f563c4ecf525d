"""Sign-in, tokens and API keys on every backend: what is accepted, and every way a credential
is refused (expired, tampered, alg none, foreign key, wrong type, revoked, disabled)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from sqlalchemy import delete, select, update

from mspmode.db.session import Database
from mspmode.models.core import ApiKey
from mspmode.models.operations import AuditLog, LoginThrottle
from mspmode.services import auth, throttle
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime
from tests.api.conftest import PASSWORD, Api


@pytest.fixture(autouse=True)
def no_throttles(api: Api) -> Iterator[None]:
    """Every test starts with no failed sign-ins on record (they share 127.0.0.1)."""
    with api.db.write() as s:
        s.execute(delete(LoginThrottle))
    yield


def login(api: Api, username: str, password: str) -> httpx.Response:
    return api.as_("anonymous").post("/api/auth/login", json={"username": username, "password": password})


def bearer(api: Api, token: str, path: str = "/api/auth/me") -> httpx.Response:
    return api.as_("anonymous").get(path, headers={"Authorization": f"Bearer {token}"})


def claims(api: Api, **overrides: object) -> dict[str, object]:
    """The claims of a real sign-in of "tech" (its session and token version), with overrides."""
    now = int(time.time())
    real = jwt.decode(
        login(api, "tech", PASSWORD).json()["access_token"], options={"verify_signature": False}
    )
    return {
        "iss": auth.ISSUER,
        "aud": auth.AUDIENCE,
        "sub": real["sub"],
        "typ": "access",
        "iat": now,
        "exp": now + 60,
        "sid": real["sid"],
        "ver": real["ver"],
    } | overrides


def test_login_gives_tokens_that_work_and_refresh(api: Api) -> None:
    response = login(api, "tech", PASSWORD)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    me = bearer(api, tokens["access_token"])
    assert me.status_code == 200 and me.json()["name"] == "tech" and me.json()["role"] == "technician"
    assert bearer(api, tokens["access_token"], "/api/clients").status_code == 200

    refreshed = api.as_("anonymous").post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    assert bearer(api, refreshed.json()["access_token"]).status_code == 200
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]  # rotated
    # Each token only does its own job.
    assert bearer(api, tokens["refresh_token"]).status_code == 401
    wrong_kind = api.as_("anonymous").post(
        "/api/auth/refresh", json={"refresh_token": tokens["access_token"]}
    )
    assert wrong_kind.status_code == 401


def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    wrong = login(api, "tech", "not the password")
    unknown = login(api, f"nobody-{uuid.uuid4().hex[:6]}", "whatever")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "not the password" not in wrong.text


def test_repeated_failures_back_off_then_recover(api: Api) -> None:
    user, _ = auth.create_user(
        api.rt, local_actor(), username=f"bo-{uuid.uuid4().hex[:6]}", password=PASSWORD
    )
    for _ in range(throttle.PAIR.free):
        assert login(api, user.username, "wrong").status_code == 401
    locked = login(api, user.username, PASSWORD)  # from the guessing address, even the right one waits
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= throttle.PAIR.first_wait.total_seconds()
    assert locked.json()["error"]["type"] == "RateLimitedError"
    with api.db.write() as s:  # the wait is over
        s.execute(update(LoginThrottle).values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))
    assert login(api, user.username, PASSWORD).status_code == 200
    with api.db.read() as s:
        throttles = list(s.scalars(select(LoginThrottle)))
    assert all(user.username not in t.key for t in throttles)  # stored as an HMAC, never the name


def test_the_address_is_throttled_across_user_names(api: Api) -> None:
    for i in range(throttle.SOURCE.free):
        assert login(api, f"guess-{i}-{uuid.uuid4().hex[:4]}", "x").status_code == 401
    assert login(api, "tech", PASSWORD).status_code == 429


@pytest.mark.parametrize(
    "forge",
    [
        "tampered signature",
        "alg none",
        "foreign key",
        "expired",
        "wrong audience",
        "wrong issuer",
        "no expiry",
        "refresh used as access",
        "not a jwt",
    ],
)
def test_bad_tokens_are_401(api: Api, forge: str) -> None:
    key = api.rt.jwt_key
    if forge == "tampered signature":
        good = jwt.encode(claims(api), key, algorithm="HS256")
        token = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    elif forge == "alg none":
        token = jwt.encode(claims(api, role="admin"), None, algorithm="none")  # type: ignore[arg-type]
    elif forge == "foreign key":
        token = jwt.encode(claims(api), b"x" * 64, algorithm="HS256")
    elif forge == "expired":
        token = jwt.encode(claims(api, exp=int(time.time()) - 5), key, algorithm="HS256")
    elif forge == "wrong audience":
        token = jwt.encode(claims(api, aud="someone-else"), key, algorithm="HS256")
    elif forge == "wrong issuer":
        token = jwt.encode(claims(api, iss="evil"), key, algorithm="HS256")
    elif forge == "no expiry":
        c = claims(api)
        del c["exp"]
        token = jwt.encode(c, key, algorithm="HS256")
    elif forge == "refresh used as access":
        token = jwt.encode(claims(api, typ="refresh"), key, algorithm="HS256")
    else:
        token = "definitely.not.ajwt"
    response = bearer(api, token)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["type"] == "AuthenticationError"
    if forge == "expired":
        assert "expired" in response.json()["error"]["message"]


def test_a_valid_forged_token_only_works_with_the_real_key(api: Api) -> None:
    # Sanity check of the test above: the same claims signed with the real key are accepted.
    assert bearer(api, jwt.encode(claims(api), api.rt.jwt_key, algorithm="HS256")).status_code == 200


def test_revoked_and_expired_keys_are_401(api: Api) -> None:
    key, plaintext = auth.create_api_key(
        api.rt, local_actor(), name="temp", role="readonly", username="readonly"
    )
    assert bearer(api, plaintext).status_code == 200
    auth.revoke_api_key(api.rt, local_actor(), key.prefix)
    revoked = bearer(api, plaintext)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]

    key, plaintext = auth.create_api_key(
        api.rt, local_actor(), name="short", role="readonly", username="readonly",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )  # fmt: skip
    with api.db.write() as s:
        s.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = bearer(api, plaintext)
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]

    wrong_secret = plaintext.rsplit("_", 1)[0] + "_" + "x" * 43
    assert bearer(api, wrong_secret).status_code == 401


def test_a_key_in_use_stops_working_the_moment_another_connection_revokes_it(api: Api) -> None:
    """A key the server has verified and answers from memory (used more than once, its last
    use written) is refused on the very next request once revoked, or its owner disabled or
    lowered, through another connection to the database, as another ``msp`` process would."""
    name = f"busy-{uuid.uuid4().hex[:6]}"
    auth.create_user(api.rt, local_actor(), username=name, role="technician", password=PASSWORD)
    key, plaintext = auth.create_api_key(api.rt, local_actor(), name="k", role="technician", username=name)
    _, other_key = auth.create_api_key(api.rt, local_actor(), name="k2", role="technician", username=name)
    other = Runtime(api.rt.settings, Database(api.db.url))
    try:
        for _ in range(3):
            assert bearer(api, plaintext).status_code == 200
            assert bearer(api, other_key).status_code == 200
        auth.revoke_api_key(other, local_actor(), key.prefix)
        revoked = bearer(api, plaintext)
        assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]

        assert bearer(api, other_key, "/api/clients").status_code == 200
        auth.set_user_role(other, local_actor(), name, "readonly")
        assert bearer(api, other_key).json()["role"] == "readonly"
        for _ in range(2):
            assert bearer(api, other_key, "/api/clients").status_code == 200
        auth.set_user_active(other, local_actor(), name, False)
        assert bearer(api, other_key, "/api/clients").status_code == 401
    finally:
        other.dispose()


def test_disabling_a_user_stops_their_tokens_and_keys_at_once(api: Api) -> None:
    name = f"leaver-{uuid.uuid4().hex[:6]}"
    auth.create_user(api.rt, local_actor(), username=name, role="technician", password=PASSWORD)
    _, key = auth.create_api_key(api.rt, local_actor(), name="laptop", role="technician", username=name)
    token = login(api, name, PASSWORD).json()["access_token"]
    assert bearer(api, token).status_code == 200 and bearer(api, key).status_code == 200
    auth.set_user_active(api.rt, local_actor(), name, False)
    assert bearer(api, token).status_code == 401
    assert bearer(api, key).status_code == 401
    assert login(api, name, PASSWORD).status_code == 401


def test_a_one_time_password_must_be_changed_first(api: Api) -> None:
    name = f"new-{uuid.uuid4().hex[:6]}"
    created = api.as_("admin").post("/api/users", json={"username": name, "role": "technician"})
    assert created.status_code == 201
    one_time = created.json()["generated_password"]
    assert created.json()["user"]["must_change_password"] is True
    tokens = login(api, name, one_time).json()
    assert tokens["must_change_password"] is True
    blocked = bearer(api, tokens["access_token"], "/api/clients")
    assert blocked.status_code == 403 and "one-time password" in blocked.json()["error"]["message"]
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    too_short = api.as_("anonymous").post(
        "/api/auth/password", json={"current_password": one_time, "new_password": "short"}, headers=headers
    )
    assert too_short.status_code == 422
    changed = api.as_("anonymous").post(
        "/api/auth/password", json={"current_password": one_time, "new_password": PASSWORD}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["must_change_password"] is False
    # The one-time sign-in ended with the change; the answer is the new one.
    assert bearer(api, tokens["access_token"], "/api/clients").status_code == 401
    assert bearer(api, changed.json()["access_token"], "/api/clients").status_code == 200
    assert login(api, name, one_time).status_code == 401


def test_only_admins_manage_users_and_keys(api: Api) -> None:
    tech = api.as_("tech")
    assert tech.post("/api/users", json={"username": "x-" + uuid.uuid4().hex[:6]}).status_code == 403
    assert tech.post("/api/api-keys", json={"name": "mine"}).status_code == 403
    assert tech.get("/api/users").status_code == 403
    assert tech.get("/api/audit-log/verify").status_code == 403


def test_a_key_cannot_exceed_its_users_role(api: Api) -> None:
    response = api.as_("admin").post(
        "/api/api-keys", json={"name": "up", "role": "admin", "username": "readonly"}
    )
    assert response.status_code == 422
    assert "more rights" in response.json()["error"]["message"]


def test_keys_are_shown_once_and_stored_as_hmacs(api: Api) -> None:
    response = api.as_("admin").post(
        "/api/api-keys", json={"name": "agent", "role": "technician", "username": "tech"}
    )
    assert response.status_code == 201
    plaintext, prefix = response.json()["key"], response.json()["api_key"]["prefix"]
    assert plaintext.startswith(prefix + "_")
    with api.db.read() as s:
        stored = s.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).one()
    assert plaintext not in stored.key_hash and len(stored.key_hash) == 64
    listed = api.as_("admin").get("/api/api-keys", params={"prefix": prefix}).json()["items"]
    assert listed[0]["prefix"] == prefix and "key_hash" not in listed[0]
    assert plaintext not in api.as_("admin").get("/api/api-keys", params={"limit": 500}).text


def test_sign_ins_are_audited(api: Api) -> None:
    login(api, "readonly", PASSWORD)
    login(api, "readonly", "nope")
    with api.db.read() as s:
        rows = list(s.scalars(select(AuditLog).where(AuditLog.action == "login").order_by(AuditLog.sequence)))
    outcomes = [r.changes["success"] for r in rows if r.actor_name == "readonly"][-2:]
    assert outcomes == [True, False]
    assert all("nope" not in str(r.changes) for r in rows)
