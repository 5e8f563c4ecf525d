"""Users, sign-in, tokens and API keys: who may call MSP Mode, and as whom.

    login(username, password) ──▶ access JWT (15 min) + refresh JWT (14 days)
    Authorization: Bearer <access JWT | API key> ──▶ authenticate() ──▶ Actor

JWTs are HS256 with the installation's ``jwt.key``; the algorithm, issuer, audience and the
presence of exp/iat/sub/typ are all enforced on decode, so ``alg: none`` and tokens signed
with any other key are refused. The role and client scope are read from the database on every
request, so disabling or demoting a user takes effect at once.

API keys look like ``msp_<prefix>_<secret>``; only an HMAC of the whole key under the server
pepper is stored, found by its unique prefix and compared in constant time.

Failed sign-ins back off exponentially per user name and per client address, in the database
(``login_throttles``) so every API worker applies the same limit.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from mspmode.db.base import utcnow
from mspmode.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from mspmode.models.core import ROLES, ApiKey, Client, User
from mspmode.models.operations import LoginThrottle
from mspmode.services import audit
from mspmode.services.actor import ROLE_RANK, Actor
from mspmode.services.runtime import Runtime
from mspmode.vault.passwords import generate_password, hash_password, verify_password

ALGORITHM = "HS256"
ISSUER = "mspmode"
AUDIENCE = "mspmode-api"
ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=14)
API_KEY_PREFIX = "msp_"
MIN_PASSWORD_LENGTH = 12

FREE_FAILURES = 5  # failures allowed before backoff starts
MAX_LOCK = timedelta(minutes=15)
FAILURE_WINDOW = timedelta(minutes=15)  # a quiet period this long forgives earlier failures
LAST_USED_EVERY = timedelta(seconds=60)  # API keys' last_used is written at most this often


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so that a sign-in for an unknown
    name takes as long as one for a known name (made on first use: hashing is slow, and every
    CLI start imports this module)."""
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    must_change_password: bool
    token_type: str = "bearer"


# ---- users ----------------------------------------------------------------------------------


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def resolve_client_scope(session: Session, names_or_ids: Iterable[str] | None) -> list[str] | None:
    """Client names or ids → a list of client id strings, or None for "all clients"."""
    if names_or_ids is None:
        return None
    ids: list[str] = []
    for item in names_or_ids:
        client = None
        try:
            client = session.get(Client, uuid.UUID(str(item)))
        except ValueError:
            client = session.scalars(select(Client).where(Client.name == item)).one_or_none()
        if client is None:
            known = ", ".join(sorted(session.scalars(select(Client.name).limit(20))))
            raise NotFoundError(f"no client {item!r}; known clients: {known or 'none yet'}")
        ids.append(str(client.id))
    return sorted(set(ids))


def create_user(
    rt: Runtime,
    actor: Actor,
    *,
    username: str,
    role: str = "technician",
    password: str | None = None,
    email: str | None = None,
    full_name: str | None = None,
    clients: Iterable[str] | None = None,
) -> tuple[User, str | None]:
    """Create a user; returns the user and the generated password when none was given."""
    _require_admin(actor)
    check_role(role)
    generated = None
    if password is None:
        password = generated = generate_password()
    check_password_strength(password)
    password_hash = hash_password(password)  # slow: outside the transaction
    with rt.db.write() as session:
        if session.scalars(select(User).where(User.username == username)).first():
            raise ConflictError(f"user {username!r} already exists")
        user = User(
            username=username,
            role=role,
            email=email,
            full_name=full_name,
            password_hash=password_hash,
            client_scope=resolve_client_scope(session, clients),
            must_change_password=generated is not None,
        )
        session.add(user)
        session.flush()
        audit.record(session, rt.audit_signer, actor, "create", "users", user.id, _user_fields(user))
    return user, generated


def list_users(rt: Runtime, actor: Actor) -> list[User]:
    _require_admin(actor)
    with rt.db.read() as session:
        return list(session.scalars(select(User).order_by(User.username)))


def set_user_active(rt: Runtime, actor: Actor, username: str, active: bool) -> User:
    _require_admin(actor)
    with rt.db.write() as session:
        user = _user_by_name(session, username)
        if not active and actor.id == user.id:
            raise ValidationError("you cannot disable yourself")
        if user.is_active != active:
            user.is_active = active
            session.flush()
            audit.record(session, rt.audit_signer, actor, "update", "users", user.id, {"is_active": active})
    return user


def change_password(rt: Runtime, actor: Actor, current: str, new: str) -> None:
    if actor.type != "user" or actor.id is None:
        raise PermissionDeniedError("only a signed-in user can change their password")
    check_password_strength(new)
    if new == current:
        raise ValidationError("the new password must differ from the current one")
    with rt.db.read() as session:
        user = session.get(User, actor.id)
    if user is None or not verify_password(user.password_hash, current):
        raise AuthenticationError("current password is wrong")
    new_hash = hash_password(new)
    with rt.db.write() as session:
        fresh = session.get(User, actor.id)
        assert fresh is not None
        fresh.password_hash = new_hash
        fresh.must_change_password = False
        session.flush()
        audit.record(session, rt.audit_signer, actor, "update", "users", fresh.id, {"password": "changed"})


def _user_by_name(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        known = ", ".join(sorted(session.scalars(select(User.username).limit(20))))
        raise NotFoundError(f"no user {username!r}; users: {known}")
    return user


def _user_fields(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "email": user.email,
        "client_scope": user.client_scope,
        "is_active": user.is_active,
    }


def _require_admin(actor: Actor) -> None:
    if not actor.has_role("admin"):
        raise PermissionDeniedError("only an admin may manage users and API keys")


# ---- sign-in and tokens -----------------------------------------------------------------------


def login(rt: Runtime, username: str, password: str, client_address: str | None) -> TokenPair:
    keys = [_throttle_key(rt, "user", username)]
    if client_address:
        keys.append(_throttle_key(rt, "addr", client_address))
    now = utcnow()
    with rt.db.read() as session:
        for key in keys:
            throttle = session.get(LoginThrottle, key)
            if throttle and throttle.locked_until and throttle.locked_until > now:
                wait = int((throttle.locked_until - now).total_seconds()) + 1
                raise RateLimitedError(f"too many failed sign-ins: try again in {wait} s", retry_after=wait)
        user = session.scalars(select(User).where(User.username == username)).one_or_none()
    # Outside any transaction: Argon2 takes tens of milliseconds and must not hold the writer.
    ok = verify_password(user.password_hash if user else _dummy_hash(), password)
    ok = ok and user is not None and user.is_active
    actor = Actor(
        type="user",
        role=user.role if user else "readonly",
        id=user.id if user else None,
        name=user.username if user else None,
        client_address=client_address,
    )
    with rt.db.write() as session:
        if not ok:
            for key in keys:
                _fail(session, key, now)
            audit.record(
                session,
                rt.audit_signer,
                actor,
                "login",
                "users",
                user.id if user else None,
                {"success": False},
            )
        else:
            assert user is not None
            throttle = session.get(LoginThrottle, keys[0])
            if throttle:
                session.delete(throttle)
            fresh = session.get(User, user.id)
            assert fresh is not None
            fresh.last_login_at = now
            audit.record(session, rt.audit_signer, actor, "login", "users", user.id, {"success": True})
    if not ok or user is None:
        raise AuthenticationError("wrong user name or password")
    return _issue(rt, user)


def refresh(rt: Runtime, refresh_token: str) -> TokenPair:
    claims = _decode(rt, refresh_token, "refresh")
    with rt.db.read() as session:
        user = session.get(User, uuid.UUID(claims["sub"]))
    if user is None or not user.is_active:
        raise AuthenticationError("the user of this token is disabled or gone")
    return _issue(rt, user)


def _issue(rt: Runtime, user: User) -> TokenPair:
    now = utcnow()

    def token(kind: str, ttl: timedelta) -> str:
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user.id),
            "typ": kind,
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, rt.jwt_key, algorithm=ALGORITHM)

    return TokenPair(
        access_token=token("access", ACCESS_TTL),
        refresh_token=token("refresh", REFRESH_TTL),
        expires_in=int(ACCESS_TTL.total_seconds()),
        must_change_password=user.must_change_password,
    )


def _decode(rt: Runtime, token: str, kind: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            rt.jwt_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("token expired: sign in again or refresh") from None
    except jwt.PyJWTError:
        raise AuthenticationError("invalid token") from None
    if claims.get("typ") != kind:
        raise AuthenticationError(f"a {claims.get('typ')} token cannot be used as a {kind} token")
    try:
        uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise AuthenticationError("invalid token") from None
    return claims


def _throttle_key(rt: Runtime, kind: str, value: str) -> str:
    return rt.pepper.sign(f"{kind}:{value.lower()}".encode())


def _fail(session: Session, key: str, now: datetime) -> None:
    throttle = session.get(LoginThrottle, key)
    if throttle is None:
        throttle = LoginThrottle(key=key, failures=0)
        session.add(throttle)
    elif throttle.last_failure_at and now - throttle.last_failure_at > FAILURE_WINDOW:
        throttle.failures = 0
    throttle.failures += 1
    throttle.last_failure_at = now
    if throttle.failures >= FREE_FAILURES:
        delay = min(timedelta(seconds=2 ** (throttle.failures - FREE_FAILURES)), MAX_LOCK)
        throttle.locked_until = now + delay


# ---- authenticating a request -----------------------------------------------------------------


def authenticate(rt: Runtime, credential: str, client_address: str | None, request_id: str | None) -> Actor:
    """The Actor behind a bearer credential (JWT access token or API key), or 401."""
    credential = credential.strip()
    if credential.startswith(API_KEY_PREFIX):
        return _authenticate_api_key(rt, credential, client_address, request_id)
    claims = _decode(rt, credential, "access")
    with rt.db.read() as session:
        user = session.get(User, uuid.UUID(claims["sub"]))
    if user is None or not user.is_active:
        raise AuthenticationError("the user of this token is disabled or gone")
    return Actor(
        type="user",
        role=user.role,
        id=user.id,
        name=user.username,
        client_scope=_scope(user.client_scope),
        client_address=client_address,
        request_id=request_id,
        must_change_password=user.must_change_password,
    )


def _authenticate_api_key(rt: Runtime, key: str, client_address: str | None, request_id: str | None) -> Actor:
    parts = key.split("_")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise AuthenticationError("malformed API key")
    prefix = f"{API_KEY_PREFIX}{parts[1]}"
    now = utcnow()
    with rt.db.read() as session:
        found = session.execute(
            select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.prefix == prefix)
        ).one_or_none()
    row, user = (found[0], found[1]) if found else (None, None)
    if row is None or not hmac.compare_digest(row.key_hash, rt.pepper.sign(key.encode())):
        raise AuthenticationError("unknown API key")
    if row.revoked_at is not None:
        raise AuthenticationError(f"API key {row.prefix} was revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise AuthenticationError(f"API key {row.prefix} expired")
    if user is None or not user.is_active:
        raise AuthenticationError(f"the owner of API key {row.prefix} is disabled")
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
        with rt.db.write() as session:
            fresh = session.get(ApiKey, row.id)
            if fresh is not None:
                fresh.last_used_at, fresh.last_used_from = now, client_address
    role = row.role if ROLE_RANK[row.role] <= ROLE_RANK[user.role] else user.role
    return Actor(
        type="api_key",
        role=role,
        id=user.id,
        name=f"{user.username}/{row.name}",
        client_scope=_intersect(_scope(user.client_scope), _scope(row.client_scope)),
        client_address=client_address,
        request_id=request_id,
        api_key_id=row.id,
    )


def _scope(ids: list[Any] | None) -> frozenset[uuid.UUID] | None:
    return None if ids is None else frozenset(uuid.UUID(str(i)) for i in ids)


def _intersect(a: frozenset[uuid.UUID] | None, b: frozenset[uuid.UUID] | None) -> frozenset[uuid.UUID] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


# ---- API keys ---------------------------------------------------------------------------------


def create_api_key(
    rt: Runtime,
    actor: Actor,
    *,
    name: str,
    role: str = "technician",
    username: str | None = None,
    clients: Iterable[str] | None = None,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for ``username`` (default: the acting user); returns it and the plaintext,
    which is shown once and never stored."""
    _require_admin(actor)
    check_role(role)
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationError("expiry must be in the future")
    with rt.db.write() as session:
        if username is not None:
            owner = _user_by_name(session, username)
        elif actor.id is not None and session.get(User, actor.id) is not None:
            owner = session.get(User, actor.id)  # type: ignore[assignment]
        else:
            raise ValidationError("say which user the key is for (--user)")
        if ROLE_RANK[role] > ROLE_RANK[owner.role]:
            raise ValidationError(
                f"a key cannot have more rights ({role}) than its user {owner.username} ({owner.role})"
            )
        prefix = f"{API_KEY_PREFIX}{secrets.token_hex(5)}"
        # No "_" in the secret part: the key splits into exactly three fields on it.
        plaintext = f"{prefix}_{secrets.token_urlsafe(32).replace('_', '-')}"
        key = ApiKey(
            user_id=owner.id,
            name=name,
            prefix=prefix,
            key_hash=rt.pepper.sign(plaintext.encode()),
            role=role,
            scopes=scopes,
            client_scope=resolve_client_scope(session, clients),
            expires_at=expires_at,
        )
        session.add(key)
        session.flush()
        fields = {
            "name": name,
            "prefix": prefix,
            "role": role,
            "user": owner.username,
            "client_scope": key.client_scope,
        }
        audit.record(session, rt.audit_signer, actor, "create", "api_keys", key.id, fields)
    return key, plaintext


def list_api_keys(rt: Runtime, actor: Actor) -> list[tuple[ApiKey, str]]:
    """Every key with its owner's user name."""
    _require_admin(actor)
    with rt.db.read() as session:
        rows = session.execute(
            select(ApiKey, User.username).join(User, User.id == ApiKey.user_id).order_by(ApiKey.created_at)
        )
        return [(key, username) for key, username in rows]


def revoke_api_key(rt: Runtime, actor: Actor, prefix_or_id: str) -> ApiKey:
    _require_admin(actor)
    with rt.db.write() as session:
        key = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix_or_id)).one_or_none()
        if key is None:
            try:
                key = session.get(ApiKey, uuid.UUID(prefix_or_id))
            except ValueError:
                key = None
        if key is None:
            raise NotFoundError(f"no API key {prefix_or_id!r}")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            session.flush()
            audit.record(
                session, rt.audit_signer, actor, "revoke", "api_keys", key.id, {"prefix": key.prefix}
            )
    return key
