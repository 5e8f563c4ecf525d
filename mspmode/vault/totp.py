"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), for the TOTP seeds kept in
the vault: the code an authenticator app would show now, so a technician need not open one."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time

from mspmode.errors import VaultError

_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def decode_seed(seed: str) -> bytes:
    """The key bytes of a base32 TOTP seed as apps show it: any case, spaces or dashes
    between groups, padding optional."""
    cleaned = "".join(seed.split()).replace("-", "").upper()
    try:
        key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        # Never echo the seed: it is the secret.
        raise VaultError("the TOTP seed is not valid base32")
    return key


def totp(
    seed: str,
    *,
    at: float | None = None,
    digits: int = 6,
    period: int = 30,
    algorithm: str = "sha1",
) -> str:
    """The code for ``seed`` at Unix time ``at`` (now by default), zero-padded to ``digits``."""
    if algorithm not in _ALGORITHMS or not 6 <= digits <= 10 or period <= 0:
        raise ValueError("TOTP needs sha1/sha256/sha512, 6-10 digits and a positive period")
    moment = time.time() if at is None else at
    counter = int(moment // period)
    mac = hmac.digest(decode_seed(seed), struct.pack(">Q", counter), _ALGORITHMS[algorithm])
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def seconds_left(*, at: float | None = None, period: int = 30) -> int:
    """Whole seconds until the current code changes (1..period)."""
    moment = time.time() if at is None else at
    return period - int(moment % period)
