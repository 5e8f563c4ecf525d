"""TOTP codes against the RFC 6238 appendix B test vectors."""

from __future__ import annotations

import base64

import pytest

from mspmode.errors import VaultError
from mspmode.vault.totp import decode_seed, seconds_left, totp

SEEDS = {
    "sha1": base64.b32encode(b"12345678901234567890").decode(),
    "sha256": base64.b32encode(b"12345678901234567890123456789012").decode(),
    "sha512": base64.b32encode(b"1234567890123456789012345678901234567890123456789012345678901234").decode(),
}

# (time, sha1, sha256, sha512): RFC 6238, appendix B (8 digits, 30 s steps, T0 = 0).
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), VECTORS)
def test_rfc_6238_vectors(at: int, sha1: str, sha256: str, sha512: str) -> None:
    for algorithm, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        assert totp(SEEDS[algorithm], at=at, digits=8, algorithm=algorithm) == expected


@pytest.mark.parametrize(("at", "sha1"), [(v[0], v[1]) for v in VECTORS])
def test_default_is_six_digit_sha1_every_30_seconds(at: int, sha1: str) -> None:
    assert totp(SEEDS["sha1"], at=at) == sha1[-6:]
    assert totp(SEEDS["sha1"], at=at - at % 30) == sha1[-6:]  # same step


def test_seed_as_apps_show_it() -> None:
    spaced = " ".join(SEEDS["sha1"][i : i + 4] for i in range(0, len(SEEDS["sha1"]), 4)).lower()
    assert decode_seed(spaced) == b"12345678901234567890"
    assert decode_seed("JBSW Y3DP EHPK 3PXP") == decode_seed("jbswy3dpehpk3pxp")  # no padding needed
    assert totp(spaced, at=59) == "287082"


def test_a_bad_seed_is_refused_without_echoing_it() -> None:
    for bad in ("not base32!", "", "0189", "ÄÖÜ"):
        with pytest.raises(VaultError) as info:
            totp(bad, at=0)
        assert bad not in str(info.value) or not bad


def test_seconds_left_in_the_step() -> None:
    assert seconds_left(at=0) == 30
    assert seconds_left(at=59) == 1
    assert seconds_left(at=61.5) == 29


def test_unsupported_parameters_are_a_bug() -> None:
    with pytest.raises(ValueError):
        totp(SEEDS["sha1"], at=0, algorithm="md5")
    with pytest.raises(ValueError):
        totp(SEEDS["sha1"], at=0, digits=4)
