"""Every error MSP Mode raises on purpose. Anything else is a bug.

    MSPError                      one line a person can act on; the CLI prints it and exits 1,
     │                            the API answers it as JSON with the status below
     ├── ConfigError              a setting is malformed: bad MSP_DATABASE_URL, unknown scheme   (500)
     ├── SecretFileError          a key file is missing, unreadable or malformed                   (500)
     ├── VaultError               a key change or encryption the vault refuses                     (500)
     │    └── DecryptionError     a stored secret does not decrypt: its key is not in the keyring,
     │                            or the blob was tampered with, truncated, or copied from another
     │                            row or field; names the key id, never the plaintext              (500)
     ├── DatabaseError
     │    ├── DatabaseUnreachableError   the server does not answer, or refuses our login        (503)
     │    ├── DatabaseBusyError          another writer held the lock longer than the busy timeout,
     │                                   or a deadlock: nothing was written, try again           (503)
     │    └── SchemaError                the schema is not the one this code expects: older (run
     │                                   `msp db upgrade`) or newer (upgrade msp)                 (503)
     ├── AuthenticationError      no credentials, or bad, expired, revoked ones                   (401)
     ├── PermissionDeniedError    authenticated, but the role does not allow this                 (403)
     ├── RateLimitedError         too many failed logins: try again later                         (429)
     ├── NotFoundError            no such row, or not visible to the caller                        (404)
     ├── ConflictError            the write would break a uniqueness or reference rule            (409)
     └── ValidationError          input that is well-formed JSON but wrong for the domain         (422)

Messages never carry a secret: database URLs are rendered with the password hidden, and key
material is never formatted into text.
"""

from __future__ import annotations


class MSPError(Exception):
    """Base of every deliberate MSP Mode error."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(MSPError):
    """A setting is malformed or names something we do not support."""


class SecretFileError(MSPError):
    """A key file (JWT signing key, audit HMAC key, vault key) is missing or unusable."""


class VaultError(MSPError):
    """The vault refuses or cannot do what was asked (a key change, an encryption)."""


class DecryptionError(VaultError):
    """A stored secret does not decrypt under the key its blob names."""

    def __init__(self, message: str, *, key_id: str | None = None) -> None:
        super().__init__(message)
        self.key_id = key_id


class DatabaseError(MSPError):
    """The database cannot be used as it is."""

    status_code = 503


class DatabaseUnreachableError(DatabaseError):
    """The database server does not answer or refuses the connection."""


class DatabaseBusyError(DatabaseError):
    """Another writer kept the database locked past the busy timeout (or the server broke a
    deadlock): this write was rolled back whole; ``retry_after`` seconds is a fair wait."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SchemaError(DatabaseError):
    """The database schema is not at the revision this code was built for."""


class AuthenticationError(MSPError):
    """The caller is not authenticated: no token or key, or a bad, expired or revoked one."""

    status_code = 401


class PermissionDeniedError(MSPError):
    """The caller is known but their role may not do this."""

    status_code = 403


class RateLimitedError(MSPError):
    """Too many failures from this user or address; ``retry_after`` seconds until the next try."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFoundError(MSPError):
    """The row does not exist, or the caller may not see it."""

    status_code = 404


class ConflictError(MSPError):
    """The change conflicts with data already stored."""

    status_code = 409


class ValidationError(MSPError):
    """The input is wrong for the domain."""

    status_code = 422
