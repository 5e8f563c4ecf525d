"""Low finding: weak passwords were accepted as long as they had 12 characters.

A chosen password is now refused when it is common (alone or with digits and symbols around
it), contains the user name, is one character repeated or a run of consecutive characters — by
the CLI and by the API, with the same one-line message, and nothing is changed by a refusal.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.auth_server import PASSWORD, Server, running

MSP = [sys.executable, "-m", "mspmode"]
WEAK = {
    "Password123!": "most common passwords",
    "Summer2024!!!!": "most common passwords",
    "qwertyuiop123": "most common passwords",
    "monkeymonkey": "most common passwords",
    "aaaaaaaaaaaaaaaa": "one character repeated",
    "123456789012": "consecutive characters",
    "{name}-is-the-best": "contains the user name",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running("sqlite", Path(tmp_path_factory.mktemp("weak"))) as s:
        yield s


@pytest.mark.parametrize(("password", "why"), sorted(WEAK.items()))
def test_the_api_refuses_a_weak_password_for_a_new_user(server: Server, password: str, why: str) -> None:
    admin = server.key(server.user("admin"), "admin")
    name = f"weak{uuid.uuid4().hex[:6]}"
    response = server.call(
        "POST", "/api/users", admin, json={"username": name, "password": password.format(name=name)}
    )
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("password refused: ") and why in message
    assert server.call("GET", "/api/users", admin, params={"username": name}).json()["items"] == []


@pytest.mark.parametrize(("password", "why"), sorted(WEAK.items()))
def test_the_api_refuses_a_weak_new_password(server: Server, password: str, why: str) -> None:
    name = server.user()
    token = server.tokens(name)["access_token"]
    response = server.call(
        "POST",
        "/api/auth/password",
        token,
        json={"current_password": PASSWORD, "new_password": password.format(name=name)},
    )
    assert response.status_code == 422, response.text
    assert why in response.json()["error"]["message"]
    assert server.me(token).status_code == 200  # nothing changed: the sign-in goes on
    assert server.login(name, PASSWORD).status_code == 200


def test_a_good_passphrase_is_taken(server: Server) -> None:
    admin = server.key(server.user("admin"), "admin")
    name = f"good{uuid.uuid4().hex[:6]}"
    made = server.call(
        "POST", "/api/users", admin, json={"username": name, "password": "violet tractor lemonade"}
    )
    assert made.status_code == 201, made.text
    assert server.login(name, "violet tractor lemonade").status_code == 200


def test_the_cli_and_the_api_say_the_same(server: Server, msp_env: dict[str, str]) -> None:
    def msp(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*MSP, *args], env=msp_env, input=stdin, capture_output=True, text=True, timeout=120
        )

    assert msp("init").returncode == 0
    assert msp("user", "add", "alice").returncode == 0
    refused = msp("user", "password", "alice", "--stdin", stdin="Password123!\n")
    assert refused.returncode == 1
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("msp: error: password refused: ")

    admin = server.key(server.user("admin"), "admin")
    api = server.call("POST", "/api/users", admin, json={"username": "alice2", "password": "Password123!"})
    assert line == f"msp: error: {api.json()['error']['message']}"

    taken = msp("user", "password", "alice", "--stdin", stdin="violet tractor lemonade\n")
    assert taken.returncode == 0, taken.stderr
    named = msp("user", "password", "alice", "--stdin", stdin="alice-and-her-cat\n")
    assert "contains the user name" in named.stderr
