"""redact_value: JSON columns and audit diffs."""

from __future__ import annotations

import copy
import os

from mspmode.vault.known import KnownSecrets
from mspmode.vault.redact import redact_value


def test_secret_keys_are_masked_and_strings_redacted() -> None:
    diff = {
        "before": {"username": "svc_backup", "password": "Old!Pass1", "notes": "rotated via portal"},
        "after": {
            "username": "svc_backup",
            "password": "New!Pass2",
            "apiKey": 123456789,
            "DB_PASSWORD": "x",
            "password_changed_at": "2024-05-01T10:00:00Z",
            "password_encrypted": b"MSV\x01...",
            "private_key": "-----BEGIN PRIVATE KEY-----",
            "connection_string": "Server=db;Database=x",
            "client_secret": "abc",
            "token": None,
            "token_type": "Bearer",
            "key_id": "k2",
            "requires_2fa": True,
            "notes": "mysql -uroot -pInN0tes! crm",
            "tags": ["ok", "curl -u bob:Ta9s!pw https://x"],
            "credentials": {"user": "bob", "secret": "s", "port": 22, "enabled": False},
        },
    }
    original = copy.deepcopy(diff)
    out = redact_value(diff)
    assert diff == original  # the input is not modified
    after = out["after"]
    assert out["before"]["password"] == "[REDACTED:password]"
    assert after["password"] == "[REDACTED:password]"
    assert after["apiKey"] == "[REDACTED:api_key]"
    assert after["DB_PASSWORD"] == "[REDACTED:password]"
    assert after["password_changed_at"] == "2024-05-01T10:00:00Z"
    assert after["password_encrypted"] == "[REDACTED:password]"
    assert after["private_key"] == "[REDACTED:private_key]"
    assert after["connection_string"] == "[REDACTED:connection_string]"
    assert after["client_secret"] == "[REDACTED:secret]"
    assert after["token"] is None
    assert after["token_type"] == "Bearer" and after["key_id"] == "k2" and after["requires_2fa"] is True
    assert after["notes"] == "mysql -uroot -p[REDACTED:password] crm"
    assert after["tags"] == ["ok", "curl -u bob:[REDACTED:password] https://x"]
    assert after["credentials"] == {
        "user": "[REDACTED:password]",
        "secret": "[REDACTED:secret]",  # its own key's label wins
        "port": "[REDACTED:password]",
        "enabled": False,
    }
    assert out["before"]["notes"] == "rotated via portal"


def test_known_secrets_and_containers() -> None:
    known = KnownSecrets(os.urandom(32), ["Vault-Only-7"])
    value = {"log": ("ran with Vault-Only-7", 3), "raw": b"--password=Raw!B1n", "set": {"Vault-Only-7"}}
    out = redact_value(value, known)
    assert out["log"] == ("ran with [REDACTED:vault]", 3)
    assert out["raw"] == b"--password=[REDACTED:password]"
    assert out["set"] == {"[REDACTED:vault]"}
    assert redact_value([1, 2.5, None, "plain"]) == [1, 2.5, None, "plain"]


def test_deep_or_odd_values_never_raise() -> None:
    deep: object = "mysql -pDeep!1"
    for _ in range(200):
        deep = [deep]
    assert "Deep!1" not in repr(redact_value(deep))

    class Odd:
        def __repr__(self) -> str:
            return "odd"

    odd = Odd()
    assert redact_value({"x": odd})["x"] is odd
    assert redact_value({1: "a", ("t",): "b"}) == {1: "a", ("t",): "b"}
