"""Key files: created 0600 from the first byte, never overwritten, validated on read."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mspmode.errors import SecretFileError
from mspmode.vault.keyfiles import ensure_key_file, read_key_file


@pytest.mark.parametrize("name", ["jwt", "audit", "vault"])
def test_created_once_private_and_readable(tmp_path: Path, name: str) -> None:
    path = tmp_path / "home" / f"{name}.key"
    assert ensure_key_file(name, path) is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_bytes()
    assert ensure_key_file(name, path) is False
    assert path.read_bytes() == content
    material = read_key_file(name, path)
    if name == "vault":
        assert isinstance(material, dict) and all(len(k) == 32 for k in material.values())
    else:
        assert isinstance(material, bytes) and len(material) == 64
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind


def test_two_installs_get_different_keys(tmp_path: Path) -> None:
    ensure_key_file("jwt", tmp_path / "a.key")
    ensure_key_file("jwt", tmp_path / "b.key")
    assert read_key_file("jwt", tmp_path / "a.key") != read_key_file("jwt", tmp_path / "b.key")


def test_a_broken_file_is_an_error_and_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "vault.key"
    path.write_text('{"format": 1, "active": "k9", "keys": {}}')
    path.chmod(0o600)
    with pytest.raises(SecretFileError, match="malformed"):
        ensure_key_file("vault", path)
    assert "k9" in path.read_text()


def test_missing_file_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SecretFileError, match="msp init"):
        read_key_file("audit", tmp_path / "audit.key")
