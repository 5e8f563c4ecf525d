"""Password hashing (Argon2id with argon2-cffi's recommended parameters, RFC 9106) and the
rule a chosen password must meet.

The rule follows NIST SP 800-63B §3.1.1.2: a minimum length, no composition rules, and a check
against passwords known to be common (the 20,000 most common, ``common-passwords.txt.gz``,
shipped from Django: see ``common-passwords.LICENSE``), the user's own name, and repetition.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import secrets
import string
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A one-time password a person can type: 20 URL-safe characters (~120 bits)."""
    return secrets.token_urlsafe(15)


MIN_LENGTH = 12
# Stripped from both ends before the common-password check: "Password123!" is "password".
_DECORATION = string.digits + string.punctuation + string.whitespace


@functools.cache
def _common_passwords() -> frozenset[str]:
    with gzip.open(Path(__file__).with_name("common-passwords.txt.gz"), "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def _repeated_unit(text: str) -> str | None:
    """The shortest string ``text`` is made of, repeated ("abcabcabc" -> "abc"), or None."""
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return text[:size]
    return None


def _is_run(text: str) -> bool:
    """Consecutive characters up or down: "abcdefghijkl", "123456789012" (digits wrap around)."""

    def step(a: str, b: str) -> int:
        if a.isdigit() and b.isdigit():
            return (int(b) - int(a)) % 10 or 10
        return ord(b) - ord(a)

    steps = {step(a, b) for a, b in itertools.pairwise(text)}
    return steps in ({1}, {9}, {-1})


def password_weakness(password: str, username: str | None = None) -> str | None:
    """Why ``password`` may not be used, as a phrase that finishes "password refused: …", or None."""
    if len(password) < MIN_LENGTH:
        return f"it has fewer than {MIN_LENGTH} characters"
    folded = password.casefold()
    unit = _repeated_unit(folded)
    if unit is not None and len(unit) == 1:
        return "it is one character repeated"
    if username and len(username) >= 3 and username.casefold() in folded:
        return "it contains the user name"
    core = folded.strip(_DECORATION)
    candidates = {folded, core, unit or "", _repeated_unit(core) or ""} - {""}
    if candidates & _common_passwords():
        return "it is one of the most common passwords (digits or symbols around it do not change that)"
    if unit is not None and len(unit) <= 3:
        return "it is a few characters repeated"
    if _is_run(folded):
        return "it is a run of consecutive characters"
    return None
