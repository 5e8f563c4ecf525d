"""Properties of redaction over generated text: never raises, idempotent, and every embedded
secret of a known shape (or known to the vault) is gone."""

from __future__ import annotations

import os
import string

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from mspmode.vault.known import KnownSecrets
from mspmode.vault.redact import _NEEDLES, PLACEHOLDER, _apply_rules, _needles_in, redact

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEY = os.urandom(32)

# Pieces that wake the rules up, so generated text reaches their edge cases rather than
# running past every gate.
FRAGMENTS = [
    " ",
    "  ",
    "\n",
    "\t",
    "'",
    '"',
    "`",
    "=",
    ":",
    ";",
    "|",
    "&",
    "@",
    "/",
    "\\",
    ",",
    ".",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "#",
    "?",
    "$",
    "%",
    "<",
    ">",
    "*",
    "~",
    "-",
    "--",
    "-p",
    "-P",
    " -p",
    "-pw ",
    "--password",
    "--password=",
    "--token ",
    "-Password ",
    "/pass:",
    "password",
    "Password: ",
    "PASSWORD=",
    "passwd:",
    "pwd=",
    "Pwd=",
    ";Password=",
    "Server=x;",
    "token",
    "_TOKEN=",
    "API_KEY=",
    "secret",
    "key=",
    "&sig=",
    "?api_key=",
    "mysql ",
    "mysqldump ",
    "sshpass ",
    "psexec ",
    "plink ",
    "sqlcmd ",
    "7z ",
    "net user ",
    "net use ",
    "ConvertTo-SecureString ",
    " -AsPlainText",
    "PSCredential(",
    "https://",
    "://",
    "user:",
    "Authorization: ",
    "Bearer ",
    "Basic ",
    "bearer ",
    "eyJ",
    "eyJhbGciOiJIUzI1NiJ9",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "Private-Lines: 2\n",
    "AKIA",
    "ASIAY34FZKBOKMUTVV7A",
    "ghp_",
    "glpat-",
    "xoxb-",
    "sk_live_",
    "AIza",
    "8Q~",
    "[REDACTED:password]",
    "[REDACTED:",
    "]",
    "echo ",
    " | sudo -S",
    "curl -u ",
    "$env:",
    "%X%",
    "<pw>",
    "is ",
    "the password is ",
    "setx ",
    "machine h login u password ",
    "-o user=a,password=",
    "Pass1!",
    "abc123XYZ",
    "0123456789abcdef",
    "YES",
    "none",
    "/run/x",
    "Get-Secret",
    "<Password>",
    "</Password>",
    "<Value>",
    "%3D",
    "%22",
    "%3A%2F%2F",
    "snmpwalk ",
    " -A ",
    " -c ",
    "ssh-keygen -N ",
    "useradd -p ",
    "az keyvault secret set --value ",
    "netsh wlan key=",
    "IDENTIFIED BY ",
    "PASSWORD(",
    "redis-cli AUTH ",
    "enable secret 5 ",
    "X-Auth-Token: ",
    "hvs.",
    "root:$6$",
]
fragmented = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=40).map("".join)
anything = st.text(alphabet=st.characters(exclude_categories=()), max_size=300)
texts = st.one_of(fragmented, anything)


def outside_placeholders(text: str) -> str:
    """The text with placeholders cut out: a generated secret may be a piece of one ("passwo")."""
    return PLACEHOLDER.sub("\x00", text)


@SETTINGS
@given(texts)
@example("PASSWORD=> @")  # a PHP hash's =>, then on a second pass = and a value ">"
def test_never_raises_and_is_idempotent(text: str) -> None:
    once = redact(text)
    assert isinstance(once, str)
    assert once != "[REDACTED:unredactable]" or not text
    assert redact(once) == once


@SETTINGS
@given(st.one_of(fragmented, fragmented.map(lambda t: t * 200)))
def test_gates_never_change_a_result(text: str) -> None:
    # Gates only skip patterns that cannot match: with every pattern tried, the result is the
    # same, on short texts (one sweep for every gate) and long ones (checked pattern by pattern).
    assert _apply_rules(text) == _apply_rules(text, gated=False)


@SETTINGS
@given(texts, st.lists(st.text(min_size=6, max_size=20), max_size=5))
def test_idempotent_with_known_secrets(text: str, stored: list[str]) -> None:
    known = KnownSecrets(KEY, stored)
    once = redact(text, known)
    assert redact(once, known) == once


ALNUM = string.ascii_letters + string.digits


def _shaped(prefix: str, alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=size, max_size=size).map(lambda s: prefix + s)


SHAPED = st.one_of(
    _shaped("ghp_", ALNUM, 36),
    _shaped("github_pat_", ALNUM + "_", 60),
    _shaped("AKIA", string.ascii_uppercase + string.digits, 16),
    _shaped("ASIA", string.ascii_uppercase + string.digits, 16),
    _shaped("glpat-", ALNUM + "_-", 20),
    _shaped("xoxb-", ALNUM + "-", 30),
    _shaped("sk_live_", ALNUM, 24),
    _shaped("rk_live_", ALNUM, 24),
    _shaped("AIza", ALNUM + "_-", 35),
    _shaped("GOCSPX-", ALNUM + "_-", 28),
    _shaped("hvs.", ALNUM + "_-", 90),
    _shaped("shpat_", "0123456789abcdef", 32),
    _shaped("dapi", "0123456789abcdef", 32),
    _shaped("glsa_", ALNUM, 32).map(lambda t: t + "_0a1b2c3d"),
    st.tuples(
        st.text(alphabet=ALNUM, min_size=3, max_size=3),
        st.sampled_from("0123456789"),
        st.text(alphabet=ALNUM + "_.~-", min_size=34, max_size=34),
    ).map(lambda t: f"{t[0]}{t[1]}Q~{t[2]}"),
    st.tuples(*(st.text(alphabet=ALNUM + "_-", min_size=n, max_size=n) for n in (20, 40, 43))).map(
        lambda t: f"eyJ{t[0]}.eyJ{t[1]}.{t[2]}"
    ),
)
# Surrounding text that cannot glue onto a token: it starts and ends at a space or newline.
surround = st.text(alphabet=string.ascii_letters + string.digits + " .,:;=-_/\n", max_size=60).map(
    lambda s: f"{s} "
)


@SETTINGS
@given(surround, SHAPED, surround)
def test_embedded_tokens_of_known_shapes_are_removed(before: str, token: str, after: str) -> None:
    assume(token not in before + after)
    out = redact(f"{before} {token}\n{after}")
    assert token not in outside_placeholders(out)


PASSWORD_ALPHABET = ALNUM + "!#^*_+-.=@:"
passwords = st.text(alphabet=PASSWORD_ALPHABET, min_size=6, max_size=24).filter(
    lambda p: p[0].isalnum() and any(c.isdigit() for c in p)
)
TEMPLATES = [
    "mysql -u root -p{pw} crm",
    "mysqldump -h db01 -uroot -p'{pw}' crm > crm.sql",
    "--password={pw}",
    "tool --password '{pw}' --verbose",
    "PGPASSWORD='{pw}' psql -h db -U app",
    'export DB_PASSWORD="{pw}"',
    "net user bob {pw} /add",
    "$s = ConvertTo-SecureString '{pw}' -AsPlainText -Force",
    "sshpass -p '{pw}' ssh -p 2222 root@h",
    "Server=db;User Id=sa;Password={pw};",
    "echo '{pw}' | sudo -S apt-get update",
    'plink -ssh root@h -pw "{pw}" uptime',
    "Invoke-Sqlcmd -Username sa -Password '{pw}'",
    '{{"user": "bob", "password": "{pw}"}}',
    "smtp:\n  password: {pw}\n",
    "az keyvault secret set --vault-name kv --name x --value '{pw}'",
    "aws secretsmanager create-secret --name x --secret-string '{pw}'",
    "snmpwalk -v3 -l authPriv -u m -a SHA -A '{pw}' -x AES -X '{pw}' 10.0.0.1",
    "ssh-keygen -t ed25519 -N '{pw}' -f key",
    "useradd -m -p '{pw}' bob",
    "rabbitmqctl add_user admin '{pw}'",
    'setup.exe /Q /ACTION=Install /SAPWD="{pw}"',
    "<Password>{pw}</Password>",
    '<add key="DbPassword" value="{pw}" />',
    "CREATE USER 'app'@'%' IDENTIFIED BY '{pw}';",
    "ALTER ROLE app WITH PASSWORD '{pw}';",
    "lftp -u bob,'{pw}' ftp.example.com",
]
URL_TEMPLATES = ["https://bob:{pw}@host/path", "mongodb+srv://app:{pw}@cluster0/db"]


@SETTINGS
@given(surround, st.sampled_from(TEMPLATES), passwords, surround)
def test_passwords_in_commands_are_removed(before: str, template: str, pw: str, after: str) -> None:
    assume(pw not in before + after)
    out = redact(f"{before}\n{template.format(pw=pw)}\n{after}")
    assert pw not in outside_placeholders(out)


@SETTINGS
@given(st.sampled_from(URL_TEMPLATES), st.text(alphabet=ALNUM + "!*_+-.=@$", min_size=6, max_size=24))
def test_passwords_in_urls_are_removed(template: str, pw: str) -> None:
    assume(any(c.isalnum() for c in pw))
    assert pw not in outside_placeholders(redact(template.format(pw=pw)))


@SETTINGS
@given(
    st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF).filter(lambda c: not c.isspace()),
        min_size=6,
        max_size=30,
    ),
    surround,
    st.sampled_from([" ", "'", '"', "=", ":", "(", "\n", " -p", ",", "@"]),
    st.sampled_from([" ", "'", '"', ";", ")", "\n", ".", ",", "@"]),
    surround,
)
def test_vault_secrets_are_removed_wherever_they_stand(
    secret: str, before: str, left: str, right: str, after: str
) -> None:
    assume(secret not in before + after)
    known = KnownSecrets(KEY, [secret])
    out = redact(f"{before}{left}{secret}{right}{after}", known)
    assert secret not in outside_placeholders(out)


# Gate strings next to each other and overlapping ("-pass", "sk-", "authorization").
needled = st.lists(st.one_of(st.sampled_from(_NEEDLES), st.text(max_size=3)), max_size=30).map("".join)


@SETTINGS
@given(st.one_of(needled, fragmented, anything, needled.map(lambda t: t * 30)))
def test_the_gate_sweep_finds_every_gate_string_a_search_finds(text: str) -> None:
    lowered = text.lower()
    assert _needles_in(lowered) == {needle for needle in _NEEDLES if needle in lowered}
