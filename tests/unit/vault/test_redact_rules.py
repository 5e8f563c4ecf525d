"""The rule table: labels, shapes, guards, and linear time on hostile input."""

from __future__ import annotations

import re
import time

import pytest

from mspmode.vault.known import KnownSecrets
from mspmode.vault.redact import PLACEHOLDER, RULES, redact

LABELS = {
    "password",
    "token",
    "jwt",
    "secret",
    "api_key",
    "private_key",
    "aws_access_key",
    "aws_secret_key",
    "client_secret",
}


def test_rules_are_named_once_and_label_with_known_words() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    for rule in RULES:
        assert rule.label in LABELS, rule.name
        for pattern in rule.patterns:
            assert pattern.regex.flags & re.VERBOSE, f"{rule.name}: write rules in verbose mode"
            assert not pattern.regex.flags & re.IGNORECASE, f"{rule.name}: match the lower-cased text instead"
            assert pattern.gate, f"{rule.name}: every pattern has a gate"
            for needle in pattern.gate:
                assert needle == needle.lower() and not any(c.isspace() for c in needle), rule.name
            assert pattern.groups and all(g.startswith("secret") for g in pattern.groups), rule.name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mysql -u root -pSECRET1 app", "mysql -u root -p[REDACTED:password] app"),
        ("MYSQL -u root -pSECRET1 app", "MYSQL -u root -pSECRET1 app"),  # not the program: case matters
        ("https://user:pa55w0rd@host/", "https://user:[REDACTED:password]@host/"),
        ("https://user:P@ss@w0rd@host/db", "https://user:[REDACTED:password]@host/db"),
        ("https://host:8443/path@v2", "https://host:8443/path@v2"),
        ("Authorization: Bearer abc.def-ghi_123", "Authorization: Bearer [REDACTED:token]"),
        ("authorization=Token 9f8e7d6c5b4a", "authorization=Token [REDACTED:token]"),
        ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----", "[REDACTED:private_key]"),
        ("x=1; -----BEGIN PRIVATE KEY-----\nMIIE", "x=1; [REDACTED:private_key]"),
        ("--password=hunter22", "--password=[REDACTED:password]"),
        ("--password hunter22", "--password [REDACTED:password]"),
        ("--db-password 'a b c'", "--db-password '[REDACTED:password]'"),
        ("--no-password foo", "--no-password foo"),
        ("--api-key k_9f8e7d6c5b4a3", "--api-key [REDACTED:api_key]"),
        ("export API_TOKEN=abcdef123456", "export API_TOKEN=[REDACTED:token]"),
        ("export API_TOKEN=$(vault read -field=t x)", "export API_TOKEN=$(vault read -field=t x)"),
        ("set DB_PASSWORD=Cmd!Pass1", "set DB_PASSWORD=[REDACTED:password]"),
        ("PASSWORD_FILE=/run/secrets/pw", "PASSWORD_FILE=/run/secrets/pw"),
        ("MONKEY=banana123456", "MONKEY=banana123456"),
        ("token: 42", "token: 42"),
        ("sshpass -pS3cret ssh host", "sshpass -p[REDACTED:password] ssh host"),
        ("net user bob * /add", "net user bob * /add"),
        ("net user 'bob' \"Pa ss\" /add", "net user 'bob' \"[REDACTED:password]\" /add"),
        (
            "ConvertTo-SecureString $plain -AsPlainText -Force",
            "ConvertTo-SecureString $plain -AsPlainText -Force",
        ),
        (
            "ConvertTo-SecureString 'it''s' -AsPlainText",
            "ConvertTo-SecureString '[REDACTED:password]' -AsPlainText",
        ),
        ("-Password:'Colon1!'", "-Password:'[REDACTED:password]'"),
        (
            "cmdkey /generic:srv /user:bob /pass:Cmdk3y!",
            "cmdkey /generic:srv /user:bob /pass:[REDACTED:password]",
        ),
        ("AKIAIOSFODNN7EXAMPLE", "[REDACTED:aws_access_key]"),
        ("XAKIAIOSFODNN7EXAMPLE", "XAKIAIOSFODNN7EXAMPLE"),
        ("the password is Winter2024!", "the password is [REDACTED:password]!"),
        ("the password is incorrect", "the password is incorrect"),
        ("[REDACTED:password]", "[REDACTED:password]"),
    ],
)
def test_shapes(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "mysql -u root -p",
        "mysql -u root -p --database=app",
        "echo $MYSQL_PWD",
        "git log -p --stat",
        "find . -type f -perm -o+w -print",
        "docker run -it --rm -p 5432:5432 -e POSTGRES_PASSWORD_FILE=/run/secrets/pg postgres",
        "Get-LocalUser | Select-Object Name,PasswordRequired,PasswordLastSet",
        "Set-ADAccountPassword -Identity jdoe -Reset -NewPassword $newPw",
        "New-LocalUser -Name kiosk -NoPassword",
        "az keyvault secret show --vault-name kv-contoso --name sql-admin",
        "kubectl get secret db -o yaml",
        "msbuild app.sln /p:Configuration=Release",
        "sc.exe query wuauserv",
        "curl -u admin https://example.com/",
        "Reset the token cache with --token-ttl 0",
        "token_count: 4096, tokens: 12",
        "See https://docs.example.com/auth?page=tokens",
        "Password policy: minimum 12 characters",
    ],
)
def test_ordinary_commands_stay(text: str) -> None:
    assert redact(text) == text


def test_labels_in_output_are_placeholders() -> None:
    out = redact("mysql -uroot -pX1y2z3 && curl -H 'Authorization: Bearer abcdef123456' https://x")
    assert PLACEHOLDER.findall(out) == ["[REDACTED:password]", "[REDACTED:token]"]


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02mysql -p\x00\xff",
        "\ud800 lone surrogate --password=\udfff",
        "emoji 🔑 --password=🔑🔑 and https://u:🔑@h/",
        "",
        "-" * 10,
    ],
)
def test_odd_input_never_raises(text: str) -> None:
    out = redact(text)
    assert isinstance(out, str)
    assert redact(out) == out


def test_non_text_is_coerced_rather_than_refused() -> None:
    assert redact(b"--password=Byt3s!") == "--password=[REDACTED:password]"  # type: ignore[arg-type]


class _BrokenKnownSecrets(KnownSecrets):
    def redact(self, text: str, label: str = "vault") -> str:
        raise RuntimeError("boom")


def test_a_failure_inside_withholds_the_text() -> None:
    broken = _BrokenKnownSecrets(b"k" * 32)
    assert redact("--password=Leak3d!", broken) == "[REDACTED:unredactable]"


# Inputs built to make a careless regex backtrack: each repeated to ~200 KB.
HOSTILE = [
    "a-" * 100_000,
    "=" * 200_000,
    "-----BEGIN PRIVATE KEY-----" * 8_000,
    "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 200_000,
    "mysql " * 35_000,
    "mysql" + " -x" * 70_000,
    "sshpass" + " -f x" * 40_000,
    "https://" * 25_000,
    "https://a:" + "b" * 200_000,
    "a:" * 100_000 + "@",
    "password=" * 22_000,
    "password " * 22_000,
    "Password: " + "x " * 100_000,
    "net use" + " /x" * 60_000,
    "net user a" + " b" * 100_000,
    "Authorization: " + "x" * 200_000,
    "echo " + "a " * 100_000 + "| sudo -S",
    "htpasswd" + " -b" * 60_000,
    ";password=" + "a " * 100_000,
    "'" * 200_000,
    '"' + "\\x" * 100_000,
    "eyJ" + "a" * 100_000 + ".eyJ" + "b" * 100_000,
    "ConvertTo-SecureString" * 9_000,
    "AKIA" * 50_000,
    "8Q~" * 60_000,
    "<password>" * 20_000,
    "<password>" + "a" * 200_000,
    '<add key="password" ' * 10_000,
    "snmpwalk" + " -x" * 60_000,
    "netsh wlan" + " x" * 100_000,
    "password%3d" * 18_000,
    "%22password%22%3a%22" * 10_000,
    "%3a%2f%2f" * 22_000,
    "%3a%2f%2fa%3a" + "b" * 200_000,
    "vault kv put p" + " a=b" * 50_000,
    "kubectl create secret generic x" + " --from-literal=a=b" * 10_000,
    "identified by " * 14_000,
    "redis-cli" + " auth" * 40_000,
    "ACL SETUSER a" + " b" * 100_000,
    "1234567890:A" * 17_000,
    "openssl passwd" + " -salt" * 30_000,
    "mkpasswd" + " -m" * 60_000,
    "ssh-keygen" + " -N" * 60_000,
    "a:1:b:c:" * 25_000,
    "root:$6$" + "a" * 200_000,
    "define('" * 25_000,
    "LS0tLS1CRUdJTi" * 14_000,
    "X-Auth-Token" * 16_000,
    "enable secret " * 14_000,
    "username a password " * 10_000,
    'RunAs("a", ' * 18_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:24]))
def test_hostile_input_takes_linear_time(text: str) -> None:
    # Not a performance budget (bench/redact.py measures throughput): a guard against
    # catastrophic backtracking, which would take hours, with a bound ~100x the normal time.
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < 5.0
