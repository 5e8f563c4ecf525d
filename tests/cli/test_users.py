"""``msp user``, ``msp apikey`` and ``msp audit verify`` as a technician runs them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from mspmode.server import create_app
from mspmode.settings import Settings
from tests.cli.test_setup import msp, one_error_line
from tests.servers import serve_in_thread


def test_users_keys_and_the_audit_trail(msp_env: dict[str, str]) -> None:
    assert msp(msp_env, "init").returncode == 0
    added = msp(msp_env, "user", "add", "alice", "--role", "technician", "--name", "Alice Tech")
    assert added.returncode == 0, added.stderr
    assert "one-time password: " in added.stdout

    duplicate = one_error_line(msp(msp_env, "user", "add", "alice"))
    assert "already exists" in duplicate
    bad_role = one_error_line(msp(msp_env, "user", "add", "bob", "--role", "root"))
    assert "role must be one of" in bad_role
    unknown_client = one_error_line(msp(msp_env, "user", "add", "carol", "--client", "Nowhere Inc"))
    assert "no client 'Nowhere Inc'" in unknown_client

    listed = json.loads(msp(msp_env, "user", "list", "--json").stdout)
    assert {u["username"]: u["role"] for u in listed} == {"admin": "admin", "alice": "technician"}

    created = msp(msp_env, "apikey", "create", "--name", "laptop", "--user", "alice", "--role", "readonly")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("msp_") and "shown only now" in created.stderr
    too_strong = one_error_line(
        msp(msp_env, "apikey", "create", "--name", "x", "--user", "alice", "--role", "admin")
    )
    assert "more rights" in too_strong

    settings = Settings(home=Path(msp_env["MSP_HOME"]))
    with serve_in_thread(create_app(settings)) as base:
        me = httpx.get(f"{base}/api/auth/me", headers={"Authorization": f"Bearer {key}"})
        assert (
            me.status_code == 200 and me.json()["role"] == "readonly" and me.json()["name"] == "alice/laptop"
        )
        keys = json.loads(msp(msp_env, "apikey", "list", "--json").stdout)
        assert keys[0]["last_used_at"] is not None and key not in json.dumps(keys)
        assert msp(msp_env, "apikey", "revoke", keys[0]["prefix"]).returncode == 0
        assert httpx.get(f"{base}/api/auth/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
        assert msp(msp_env, "user", "disable", "alice").returncode == 0

    verified = msp(msp_env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    # init's admin, alice, her key, the key's revocation, alice disabled
    assert "audit chain intact: 5 row(s)" in verified.stdout
