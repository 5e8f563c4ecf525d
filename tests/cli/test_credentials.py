"""``msp cred`` and ``msp vault rotate`` as real subprocesses: secrets go in through stdin (never
arguments), come out only with --reveal, and survive a key rotation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mspmode.vault import totp
from tests.cli.test_setup import MSP, msp, one_error_line

SECRET = "Hunter2-but-longer!"
SEED = "JBSWY3DPEHPK3PXP"


def msp_in(env: dict[str, str], stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MSP, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def test_credentials_from_the_terminal(msp_env: dict[str, str]) -> None:
    assert msp(msp_env, "init").returncode == 0
    added = msp_in(msp_env, f"{SECRET}\n{SEED}\n", "cred", "add", "--service", "AD1 admin", "--username",
                   "administrator", "--secret", "password", "--secret", "totp_secret", "--stdin")  # fmt: skip
    assert added.returncode == 0, added.stderr
    cred_id = added.stdout.split("stored credential ")[1].split()[0]

    listed = msp(msp_env, "cred", "list", "--json")
    assert json.loads(listed.stdout)[0]["secrets"] == ["password", "totp_secret"]
    shown = msp(msp_env, "cred", "show", cred_id, "--json")
    for out in (listed, shown):
        assert SECRET not in out.stdout and SEED not in out.stdout

    assert msp(msp_env, "cred", "show", cred_id, "--reveal", "password").stdout.strip() == SECRET
    code = msp(msp_env, "cred", "totp", cred_id).stdout.split()[0]
    assert code in {totp.totp(SEED), totp.totp(SEED, at=__import__("time").time() - 30)}

    rotated = msp(msp_env, "vault", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "added vault key k2" in rotated.stdout and "re-encrypted 2 secret(s)" in rotated.stdout
    retired = msp(msp_env, "vault", "rotate", "--retire-old")
    assert "retired key(s): k1" in retired.stdout
    assert msp(msp_env, "cred", "show", cred_id, "--reveal", "password").stdout.strip() == SECRET

    bad_field = one_error_line(msp(msp_env, "cred", "show", cred_id, "--reveal", "pin"))
    assert "not a secret field" in bad_field
    bad_client = one_error_line(
        msp_in(msp_env, "x\n", "cred", "add", "--service", "s", "--client", "Nope", "--stdin")
    )
    assert "no client 'Nope'" in bad_client
    assert one_error_line(msp(msp_env, "cred", "show", "not-an-id"))

    # The secret is in no file under MSP_HOME and not in the database file in plain text.
    for path in Path(msp_env["MSP_HOME"]).rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
            assert SEED.encode() not in path.read_bytes(), path
    assert msp(msp_env, "audit", "verify").returncode == 0


def test_the_cli_never_takes_a_secret_as_an_argument() -> None:
    help_text = subprocess.run([sys.executable, "-m", "mspmode", "cred", "add", "--help"],
                               capture_output=True, text=True, check=False).stdout  # fmt: skip
    assert "--password" not in help_text
