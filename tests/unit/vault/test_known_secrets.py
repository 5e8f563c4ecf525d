"""Secrets known to the vault are removed wherever they appear verbatim, from hashes alone."""

from __future__ import annotations

import os
import pickle
import secrets as random_secrets

import pytest

from mspmode.vault.crypto import Keyring
from mspmode.vault.known import KNOWN_SECRETS_PURPOSE, KnownSecrets
from mspmode.vault.redact import redact

PASSWORD = "Tr0ub4dor&3"


@pytest.fixture
def known() -> KnownSecrets:
    return KnownSecrets(os.urandom(32), [PASSWORD, b"maple river copper lantern"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PASSWORD, "[REDACTED:vault]"),
        (f"typed {PASSWORD} at the prompt", "typed [REDACTED:vault] at the prompt"),
        (f"'{PASSWORD}'", "'[REDACTED:vault]'"),
        (f'"{PASSWORD}",', '"[REDACTED:vault]",'),
        (f"pw={PASSWORD};next", "pw=[REDACTED:vault];next"),
        (f"-p{PASSWORD}", "-p[REDACTED:vault]"),
        (f"smb://bob:{PASSWORD}@nas/share", "smb://bob:[REDACTED:vault]@nas/share"),
        (f"({PASSWORD}).", "([REDACTED:vault])."),
        (f"{PASSWORD}\n{PASSWORD}", "[REDACTED:vault]\n[REDACTED:vault]"),
        ("a maple river copper lantern b", "a [REDACTED:vault] b"),
        ("'maple river copper lantern'", "'[REDACTED:vault]'"),
        ("Tr0ub4dor%263 in a URL", "[REDACTED:vault] in a URL"),
        (f"x{PASSWORD}y", f"x{PASSWORD}y"),  # inside a longer word: not this secret
        ("Tr0ub4dor&", "Tr0ub4dor&"),
        ("maple river copper", "maple river copper"),
    ],
)
def test_found_wherever_it_appears(known: KnownSecrets, text: str, expected: str) -> None:
    assert known.redact(text) == expected
    if expected != text:
        assert PASSWORD not in redact(text, known) and "lantern" not in redact(text, known)


def test_json_escaped_form_is_found() -> None:
    known = KnownSecrets(os.urandom(32), ['Quote"Back\\slash'])
    assert known.redact('{"note": "Quote\\"Back\\\\slash"}') == '{"note": "[REDACTED:vault]"}'


def test_short_or_binary_secrets_are_not_matched() -> None:
    known = KnownSecrets(os.urandom(32))
    assert known.add("12345") is False
    assert known.add(b"\xff\xfe\x00binary") is False
    assert known.add("  padded-secret  ") is True
    assert len(known) == 1
    assert known.redact("12345 and padded-secret") == "12345 and [REDACTED:vault]"


def test_no_plaintext_is_kept(known: KnownSecrets) -> None:
    dumped = pickle.dumps(known.__dict__)
    for secret in (PASSWORD, "maple river copper lantern", "maple"):
        assert secret.encode() not in dumped
    assert PASSWORD not in repr(known)


def test_the_key_matters() -> None:
    ours = KnownSecrets(os.urandom(32), [PASSWORD])
    theirs = KnownSecrets(os.urandom(32))
    theirs._digests = ours._digests  # same digests, different key: nothing matches
    theirs._length_set, theirs._lengths = ours._length_set, ours._lengths
    assert theirs.redact(PASSWORD) == PASSWORD


def test_built_from_a_keyring() -> None:
    keyring = Keyring.generate()
    known = KnownSecrets(keyring.derive_key(KNOWN_SECRETS_PURPOSE), [PASSWORD])
    again = KnownSecrets(keyring.derive_key(KNOWN_SECRETS_PURPOSE), [PASSWORD])
    assert known._digests == again._digests


def test_a_thousand_secrets_are_all_found() -> None:
    stored = [random_secrets.token_urlsafe(random_secrets.choice(range(6, 30))) for _ in range(1000)]
    known = KnownSecrets(os.urandom(32), stored)
    text = " ".join(f"user{n}={s};" for n, s in enumerate(stored))
    out = known.redact(text)
    assert all(s not in out for s in stored)
    assert out.count("[REDACTED:vault]") == 1000


def test_placeholders_are_left_whole() -> None:
    known = KnownSecrets(os.urandom(32), ["password", "REDACTED:token"])
    text = "x [REDACTED:password] [REDACTED:token]"
    assert known.redact(text) == text
    assert known.redact("password") == "[REDACTED:vault]"


def test_long_multiline_secrets_are_matched_by_their_long_words() -> None:
    body = [random_secrets.token_urlsafe(48) for _ in range(10)]
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END OPENSSH PRIVATE KEY-----"
    known = KnownSecrets(os.urandom(32), [pem])
    out = known.redact(f"line one\n{body[3]}\n-----BEGIN OPENSSH PRIVATE KEY----- is fine")
    assert body[3] not in out
    assert "-----BEGIN OPENSSH PRIVATE KEY----- is fine" in out


@pytest.mark.parametrize("secret", ["a!b@c#d$e", "!!!!!!!!", "x-y-z-1", "::1234::"])
def test_secrets_made_mostly_of_delimiters(secret: str) -> None:
    known = KnownSecrets(os.urandom(32), [secret])
    for text in (f"pw {secret} end", f"'{secret}'", f"--password={secret}", f"-p{secret}"):
        out = known.redact(text)
        assert secret not in out.replace("[REDACTED:vault]", "\x00"), text
    assert known.redact("nothing to see here, a b c d") == "nothing to see here, a b c d"


def test_a_text_without_stored_secrets_is_returned_as_it_is() -> None:
    known = KnownSecrets(os.urandom(32), [random_secrets.token_urlsafe(16) for _ in range(200)])
    text = "systemctl status nginx --no-pager\n" * 500
    assert known.redact(text) is text


def test_it_refuses_to_travel_to_another_process(known: KnownSecrets) -> None:
    with pytest.raises(TypeError, match="per process"):
        pickle.dumps(known)
