"""What is stored of captured text (``services/learning/text.py``) never holds a secret, on
every backend's vault: not even where taking control characters out joins the pieces of one
that the redaction saw apart."""

from __future__ import annotations

import pytest

from mspmode.db.session import Database
from mspmode.services import credentials
from mspmode.services.actor import local_actor
from mspmode.services.learning import text
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file

VAULT_SECRET = "Tr0ub4dor&3-vault-only"  # no rule knows it: only the known secrets do


@pytest.fixture(scope="module")
def capture(migrated_db: Database, tmp_path_factory: pytest.TempPathFactory) -> text.Capture:
    home = tmp_path_factory.mktemp("home")
    for key in KEY_NAMES:
        ensure_key_file(key, home / f"{key}.key")
    settings = Settings(home=home, database_url=migrated_db.url.render_as_string(hide_password=False))
    rt = Runtime(settings, migrated_db)
    credentials.create(
        rt,
        local_actor(),
        credentials.CREDENTIALS,
        {"service_name": "vault only", "credential_type": "password", "password": VAULT_SECRET},
    )
    return text.Capture(rt)


@pytest.mark.parametrize(
    "captured",
    [
        f"{VAULT_SECRET}\x00\n",
        f"\x00{VAULT_SECRET}\x01",
        f"ok a\x00{VAULT_SECRET}",
        f"login {VAULT_SECRET}\x7f done",
        "pass\x00word=hunter2-in-a-file",
        "mysql -u root -p\x00hunter2-in-a-file db",
    ],
)
def test_control_characters_never_let_a_secret_through_when_they_are_taken_out(
    capture: text.Capture, captured: str
) -> None:
    for stored_text in (text.prepare_command(capture, captured), text.prepare_output(capture, captured)):
        assert VAULT_SECRET not in stored_text and "hunter2" not in stored_text, stored_text
        assert "\x00" not in stored_text and "[REDACTED:" in stored_text
