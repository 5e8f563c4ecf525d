"""Key files: random secrets kept beside the database, never inside it.

Each file is written once, atomically, with mode 0600 from its first byte (the file is
created with those permissions, not chmod-ed after), and is never overwritten: losing the
vault key would make every stored credential unreadable. The one exception is a vault key
rotation (``mspmode.vault.rotation``), which rewrites the keyring atomically, adding a key and
keeping every old one until they are explicitly retired.

Formats (text, so an administrator can back them up and copy them to a team server):
    jwt.key, audit.key,  one line: 64 random bytes, URL-safe base64
    pepper.key
    vault.key            JSON keyring {"format": 1, "active": "k1", "keys": {"k1": "<b64 32 bytes>"}}
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from pathlib import Path

from mspmode.errors import SecretFileError

KEY_NAMES = ("jwt", "audit", "vault", "pepper")


def _new_content(name: str) -> str:
    if name == "vault":
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        return json.dumps({"format": 1, "active": "k1", "keys": {"k1": key}}, indent=2) + "\n"
    return base64.urlsafe_b64encode(secrets.token_bytes(64)).decode() + "\n"


def ensure_key_file(name: str, path: Path) -> bool:
    """Create the key file if it does not exist; return True if it was created."""
    if path.exists():
        read_key_file(name, path)  # an existing but broken file is an error, not a reason to replace it
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(_new_content(name))
            fh.flush()
            os.fsync(fh.fileno())
        # link() fails if another `msp init` won the race: we keep theirs, never overwrite.
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def read_key_file(name: str, path: Path) -> bytes | dict[str, bytes]:
    """The key material of ``path``: bytes for jwt/audit, {key id: key} for the vault keyring."""
    try:
        raw = path.read_text()
    except FileNotFoundError:
        raise SecretFileError(
            f"{name} key file {path} is missing: run `msp init` or set MSP_{name.upper()}_KEY_FILE"
        ) from None
    except OSError as exc:
        raise SecretFileError(f"{name} key file {path} cannot be read: {exc.strerror}") from None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretFileError(f"{name} key file {path} is readable by others (mode {mode:o}): chmod 600 it")
    try:
        if name == "vault":
            doc = json.loads(raw)
            keys = {kid: base64.urlsafe_b64decode(val) for kid, val in doc["keys"].items()}
            if doc["active"] not in keys or any(len(k) != 32 for k in keys.values()):
                raise ValueError
            return keys
        key = base64.urlsafe_b64decode(raw.strip())
        if len(key) < 32:
            raise ValueError
        return key
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SecretFileError(f"{name} key file {path} is malformed") from None


def read_vault_keyring(path: Path) -> tuple[str, dict[str, bytes]]:
    """The vault keyring of ``path`` as (active key id, {key id: key}), from one read of the file
    (a rotation may replace it at any moment; two reads could mix two versions)."""
    raw = _read_private_text("vault", path)
    try:
        doc = json.loads(raw)
        keys = {kid: base64.urlsafe_b64decode(val) for kid, val in doc["keys"].items()}
        active = doc["active"]
        if active not in keys or any(len(k) != 32 for k in keys.values()):
            raise ValueError
        return active, keys
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SecretFileError(f"vault key file {path} is malformed") from None


def write_vault_keyring(path: Path, active: str, keys: dict[str, bytes]) -> None:
    """Replace the keyring at ``path`` atomically: readers see the old file or the new one, never
    a part of either. The new file is 0600 from its first byte and reaches the disk before it
    takes the old one's place, so a crash leaves one complete keyring."""
    if active not in keys or any(len(k) != 32 for k in keys.values()):
        raise ValueError("a vault keyring needs 32-byte keys and an active key among them")
    doc = {
        "format": 1,
        "active": active,
        "keys": {kid: base64.urlsafe_b64encode(key).decode() for kid, key in keys.items()},
    }
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(doc, indent=2) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is; Windows cannot open a directory.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_private_text(name: str, path: Path) -> str:
    try:
        raw = path.read_text()
    except FileNotFoundError:
        raise SecretFileError(
            f"{name} key file {path} is missing: run `msp init` or set MSP_{name.upper()}_KEY_FILE"
        ) from None
    except OSError as exc:
        raise SecretFileError(f"{name} key file {path} cannot be read: {exc.strerror}") from None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretFileError(f"{name} key file {path} is readable by others (mode {mode:o}): chmod 600 it")
    return raw


def read_key_bytes(name: str, path: Path) -> bytes:
    """A single-key file's material (jwt, audit, pepper)."""
    material = read_key_file(name, path)
    if not isinstance(material, bytes):
        raise SecretFileError(f"{name} key file {path} holds a keyring, not a single key")
    return material
