"""The secrets corpus: every secret vanishes, the shape stays, and ordinary commands are untouched."""

from __future__ import annotations

import os
import re
from collections import Counter

import pytest

from mspmode.vault.known import KnownSecrets
from mspmode.vault.redact import RULES, redact
from tests.corpora import FAMILIES, SecretCase, load_ordinary_cases, load_secret_cases, vault_plaintexts

SECRET_CASES = load_secret_cases()
CLI_TOOLS = (
    "mysql", "psql", "sqlcmd", "mongo", "redis-cli", "net use", "runas", "ConvertTo-SecureString",
    "-Credential", "-Password", "az", "aws", "gcloud", "kubectl", "docker login", "htpasswd",
    "openssl", "snmpwalk", "smbclient", "rsync", "sshpass", "curl", "wget", "ldapsearch", "useradd",
    "chpasswd", "ssh-keygen", "setup.exe", "rabbitmqctl", "netsh",
)  # fmt: skip
ORDINARY_CASES = load_ordinary_cases()
RULE_BY_NAME = {rule.name: rule for rule in RULES}


@pytest.fixture(scope="module")
def known() -> KnownSecrets:
    return KnownSecrets(os.urandom(32), vault_plaintexts())


def test_the_corpora_are_big_enough_and_cover_every_rule() -> None:
    assert len(SECRET_CASES) >= 150
    assert len(ORDINARY_CASES) >= 100
    assert {case.kind for case in SECRET_CASES} == {"command", "output", "context"}
    families = Counter(case.family for case in SECRET_CASES)
    assert set(families) == set(FAMILIES), f"families without a line: {set(FAMILIES) - set(families)}"
    assert all(families[f] >= 4 for f in FAMILIES), families
    # Every way a password is given on a command line that the issue named, by its tool.
    tools = " ".join(case.text for case in SECRET_CASES if case.family == "cli")
    for tool in CLI_TOOLS:
        assert re.search(rf"(?<![\w-]){re.escape(tool)}", tools, re.IGNORECASE), f"no line of {tool}"
    assert sum(case.vault for case in SECRET_CASES) >= 5
    assert sum(case.expect is not None for case in SECRET_CASES) >= 20
    covered = {case.rule for case in SECRET_CASES if not case.vault}
    assert covered == set(RULE_BY_NAME), f"rules without a corpus line: {set(RULE_BY_NAME) - covered}"
    for case in SECRET_CASES:
        assert case.secrets and all(secret in case.text for secret in case.secrets), case.id


@pytest.mark.parametrize("case", SECRET_CASES, ids=lambda c: c.id)
def test_every_secret_vanishes(case: SecretCase, known: KnownSecrets) -> None:
    out = redact(case.text, known)
    for secret in case.secrets:
        assert secret not in out
    if case.expect is not None:
        assert out == case.expect
    assert "[REDACTED:" in out
    assert redact(out, known) == out


@pytest.mark.parametrize("case", [c for c in SECRET_CASES if not c.vault], ids=lambda c: c.id)
def test_the_named_rule_is_the_one_that_catches_it(case: SecretCase) -> None:
    rule = RULE_BY_NAME[case.rule]
    assert rule.apply(case.text) != case.text


@pytest.mark.parametrize("case", [c for c in SECRET_CASES if c.vault], ids=lambda c: c.id)
def test_vault_lines_are_caught_only_by_known_secrets(case: SecretCase, known: KnownSecrets) -> None:
    without = redact(case.text)
    assert any(secret in without for secret in case.secrets), "a rule catches it: not a vault-only line"
    out = redact(case.text, known)
    assert all(secret not in out for secret in case.secrets)
    assert "[REDACTED:vault]" in out


@pytest.mark.parametrize("case", ORDINARY_CASES, ids=lambda c: c.id)
def test_ordinary_text_is_left_alone(case: object, known: KnownSecrets) -> None:
    text = case.text  # type: ignore[attr-defined]
    assert redact(text) == text
    assert redact(text, known) == text
