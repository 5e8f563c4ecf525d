"""Users, sign-in, sessions, tokens and API keys: who may call MSP Mode, and as whom.

    login(username, password)  ──▶ an auth_sessions row + access JWT (15 min) + refresh JWT
    refresh(refresh JWT)       ──▶ the same sign-in, one generation on: a new access + refresh JWT
    logout(actor)              ──▶ the sign-in revoked: its refresh and access tokens stop working
    Authorization: Bearer <access JWT | API key> ──▶ authenticate() ──▶ Actor

JWTs are HS256 with the installation's ``jwt.key``; the algorithm, issuer, audience and the
presence of exp/iat/sub/typ/sid/ver are all enforced on decode, so ``alg: none`` and tokens
signed with any other key are refused. Every token names its sign-in (``sid``) and the user's
token version (``ver``); authenticate reads the user row and the sign-in on every request, so
the role and client scope are always current and a token stops working the moment its sign-in
is revoked, its user disabled, or the user's token version raised.

Refresh tokens rotate, as the OAuth 2.0 Security BCP (RFC 9700 §4.14.2) asks: each is accepted
once, by a conditional UPDATE of its sign-in's ``generation`` (atomic on every backend, so two
concurrent uses of one token cannot both win); presenting an older one again means a copy is in
someone else's hands, and the whole sign-in is revoked (its holder signs in again).

What ends what:

| event | access and refresh tokens | API keys |
| --- | --- | --- |
| sign-out | that sign-in's | untouched |
| sign-out everywhere | all the user's | untouched |
| password change | all the user's; a new sign-in is returned | untouched (not derived from it) |
| role change | all the user's | a key above the new role is lowered to it, for good |
| disable | all the user's | revoked: enabling the user again restores sign-in only |

API keys look like ``msp_<prefix>_<secret>``; only an HMAC of the whole key under the server
pepper is stored, found by its unique prefix and compared in constant time. A key may be
limited to some scopes (``services/actor.py``).

Failed sign-ins are throttled per account, per address and per both (``services/throttle.py``).
Sign-in sessions live here, not in the API, so the dashboard's cookie sessions share them:

    browser_token(pair)        ──▶ the dashboard's cookie for the sign-in of a token pair (12 h)
    sign_in_link(username)     ──▶ a new sign-in and a one-time link token for it (2 min)
    redeem_link(link token)    ──▶ that sign-in's browser token, once (a second use is refused)

A browser token is a JWT of its own type: it is never accepted as a bearer token, nor an access
token as a cookie. Like an access token it is checked against its user and sign-in on every
request, so signing out or a password change ends it at once.
"""

from __future__ import annotations

import dataclasses
import functools
import hmac
import secrets
import threading
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import and_, bindparam, delete, select, update
from sqlalchemy.orm import Session

from mspmode.db.base import utcnow
from mspmode.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from mspmode.models.core import ROLES, ApiKey, AuthSession, Client, User
from mspmode.services import audit, throttle
from mspmode.services.actor import ROLE_RANK, Actor, check_scopes, local_actor
from mspmode.services.runtime import Runtime
from mspmode.vault.passwords import (
    MIN_LENGTH,
    generate_password,
    hash_password,
    password_weakness,
    verify_password,
)

ALGORITHM = "HS256"
ISSUER = "mspmode"
AUDIENCE = "mspmode-api"
ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=14)  # a sign-in unused this long ends
SESSION_TTL = timedelta(days=30)  # and every sign-in ends this long after the password was typed
API_KEY_PREFIX = "msp_"
MIN_PASSWORD_LENGTH = MIN_LENGTH
BROWSER_TTL = timedelta(hours=12)  # a dashboard cookie; the sign-in's own limit still applies
LINK_TTL = timedelta(minutes=2)  # `msp dashboard`'s one-time link
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


def check_password_strength(password: str, username: str | None = None) -> None:
    """The one rule for a chosen password, with the same message from the CLI and the API."""
    reason = password_weakness(password, username)
    if reason is not None:
        raise ValidationError(
            f"password refused: {reason}. Use at least {MIN_PASSWORD_LENGTH} characters that are not a "
            "common password, do not contain the user name and are not one character repeated "
            "(a few random words make a good one)"
        )


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
    else:
        check_password_strength(password, username)
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
    """Disable or enable a user. Disabling ends every sign-in of theirs and revokes their API
    keys; enabling restores sign-in only (what was issued before stays dead: issue new keys)."""
    _require_admin(actor)
    with rt.db.write() as session:
        user = _user_by_name(session, username)
        if not active and actor.id == user.id:
            raise ValidationError("you cannot disable yourself")
        if user.is_active != active:
            user.is_active = active
            changes: dict[str, Any] = {"is_active": active}
            if not active:
                _end_sign_ins(session, user, "user disabled")
                changes["api_keys_revoked"] = _revoke_keys_of(session, user)
            session.flush()
            audit.record(session, rt.audit_signer, actor, "update", "users", user.id, changes)
    return user


def set_user_role(rt: Runtime, actor: Actor, username: str, role: str) -> User:
    """Change a user's role: every sign-in of theirs ends (their tokens were issued for the old
    role), and their API keys above the new role are lowered to it for good."""
    _require_admin(actor)
    check_role(role)
    with rt.db.write() as session:
        user = _user_by_name(session, username)
        if actor.id == user.id:
            raise ValidationError("you cannot change your own role")
        if user.role != role:
            old, user.role = user.role, role
            _end_sign_ins(session, user, "role changed")
            lowered = []
            for key in session.scalars(select(ApiKey).where(ApiKey.user_id == user.id)):
                if ROLE_RANK[key.role] > ROLE_RANK[role]:
                    key.role = role
                    lowered.append(key.prefix)
            session.flush()
            changes = {"role": role, "previous_role": old, "api_keys_lowered": lowered}
            audit.record(session, rt.audit_signer, actor, "update", "users", user.id, changes)
    return user


def set_password(rt: Runtime, actor: Actor, username: str, new: str, *, must_change: bool = False) -> User:
    """Set a user's password (an admin, or the person at the server's terminal): the same rule
    as a change, and every sign-in of theirs ends."""
    _require_admin(actor)
    check_password_strength(new, username)
    new_hash = hash_password(new)
    with rt.db.write() as session:
        user = _user_by_name(session, username)
        user.password_hash = new_hash
        user.must_change_password = must_change
        _end_sign_ins(session, user, "password set")
        session.flush()
        changes = {"password": "set", "must_change_password": must_change}
        audit.record(session, rt.audit_signer, actor, "update", "users", user.id, changes)
    return user


def change_password(rt: Runtime, actor: Actor, current: str, new: str) -> TokenPair:
    """Change your own password: every sign-in of yours ends, and a new one is returned."""
    if actor.type != "user" or actor.id is None:
        raise PermissionDeniedError("only a signed-in user can change their password")
    with rt.db.read() as session:
        user = session.get(User, actor.id)
    if user is None:
        raise AuthenticationError("the user of this token is gone")
    # A stolen access token must not be a way to guess the password: the same limits as sign-in.
    ticket = throttle.admit(rt, user.username, actor.client_address)
    if not verify_password(user.password_hash, current):
        raise AuthenticationError("current password is wrong")
    throttle.succeeded(rt, ticket)
    check_password_strength(new, user.username)
    if new == current:
        raise ValidationError("the new password must differ from the current one")
    new_hash = hash_password(new)
    with rt.db.write() as session:
        fresh = session.get(User, actor.id)
        assert fresh is not None
        fresh.password_hash = new_hash
        fresh.must_change_password = False
        _end_sign_ins(session, fresh, "password changed")
        sign_in = _start_sign_in(session, fresh, actor.client_address)
        audit.record(session, rt.audit_signer, actor, "update", "users", fresh.id, {"password": "changed"})
    return _issue(rt, fresh, sign_in)


def confirm_password(rt: Runtime, actor: Actor, password: str) -> None:
    """Check a signed-in user's password again before something sensitive (the dashboard's
    reveal): throttled like a sign-in, and a wrong one is audited as a failed sign-in."""
    if actor.type != "user" or actor.id is None:
        raise PermissionDeniedError("only a signed-in user can confirm a password")
    with rt.db.read() as session:
        user = session.get(User, actor.id)
    if user is None or not user.is_active:
        raise AuthenticationError("the user of this sign-in is disabled or gone")
    ticket = throttle.admit(rt, user.username, actor.client_address)
    if not verify_password(user.password_hash, password):
        with rt.db.write() as session:
            changes = {"success": False, "confirm": True}
            audit.record(session, rt.audit_signer, actor, "login", "users", user.id, changes)
        raise AuthenticationError("that is not your password")
    throttle.succeeded(rt, ticket)


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
    ticket = throttle.admit(rt, username, client_address)  # counted before the password is checked
    with rt.db.read() as session:
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
    if ok:
        throttle.succeeded(rt, ticket)
    with rt.db.write() as session:
        if not ok or user is None:
            audit.record(
                session,
                rt.audit_signer,
                actor,
                "login",
                "users",
                user.id if user else None,
                {"success": False},
            )
            fresh, sign_in = None, None
        else:
            fresh = session.get(User, user.id)
            assert fresh is not None
            fresh.last_login_at = utcnow()
            sign_in = _start_sign_in(session, fresh, client_address)
            audit.record(session, rt.audit_signer, actor, "login", "users", user.id, {"success": True})
    if fresh is None or sign_in is None:
        raise AuthenticationError("wrong user name or password")
    return _issue(rt, fresh, sign_in)


def refresh(rt: Runtime, refresh_token: str, client_address: str | None = None) -> TokenPair:
    """A new token pair for the sign-in of ``refresh_token``, which is then spent. A spent one
    presented again revokes the sign-in: whoever holds either copy must sign in again."""
    claims = _decode(rt, refresh_token, "refresh")
    user_id, sign_in_id, generation = uuid.UUID(claims["sub"]), _sign_in_of(claims), _int_claim(claims, "gen")
    now = utcnow()
    reused = False
    with rt.db.write() as session:
        moved = session.execute(
            update(AuthSession)
            .where(
                AuthSession.id == sign_in_id,
                AuthSession.user_id == user_id,
                AuthSession.generation == generation,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
            .values(generation=generation + 1, last_refreshed_at=now)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            sign_in = session.get(AuthSession, sign_in_id)
            if sign_in is not None and sign_in.revoked_at is None and sign_in.generation > generation:
                reused = True
                sign_in.revoked_at, sign_in.revoked_reason = now, "refresh token reused"
                owner = session.get(User, user_id)
                who = Actor(
                    type="user",
                    role=owner.role if owner else "readonly",
                    id=user_id,
                    name=owner.username if owner else None,
                    client_address=client_address,
                )
                audit.record(
                    session, rt.audit_signer, who, "revoke", "auth_sessions", sign_in_id, {"reason": "reuse"}
                )
            user, sign_in = None, None
        else:
            user, sign_in = session.get(User, user_id), session.get(AuthSession, sign_in_id)
            if user is None or not user.is_active or _int_claim(claims, "ver") != user.token_version:
                raise AuthenticationError("this sign-in has ended: sign in again")
    if reused:
        raise AuthenticationError(
            "this refresh token was already used: the sign-in is revoked, sign in again"
        )
    if user is None or sign_in is None:
        raise AuthenticationError("this sign-in has ended: sign in again")
    return _issue(rt, user, sign_in)


def logout(rt: Runtime, actor: Actor, *, everywhere: bool = False) -> None:
    """End the caller's sign-in (its refresh token and every access token issued with it), or
    with ``everywhere`` every sign-in of the user. API keys are revoked, not signed out."""
    if actor.type != "user" or actor.id is None or actor.auth_session_id is None:
        raise ValidationError("only a signed-in user can sign out; an API key is revoked instead")
    with rt.db.write() as session:
        if everywhere:
            user = session.get(User, actor.id)
            assert user is not None
            _end_sign_ins(session, user, "signed out everywhere")
        else:
            session.execute(
                update(AuthSession)
                .where(AuthSession.id == actor.auth_session_id, AuthSession.revoked_at.is_(None))
                .values(revoked_at=utcnow(), revoked_reason="signed out")
            )
        changes = {"everywhere": everywhere}
        audit.record(
            session, rt.audit_signer, actor, "logout", "auth_sessions", actor.auth_session_id, changes
        )


def _start_sign_in(session: Session, user: User, client_address: str | None) -> AuthSession:
    now = utcnow()
    # A user's ended sign-ins are kept until they would have expired, then dropped here.
    session.execute(delete(AuthSession).where(AuthSession.user_id == user.id, AuthSession.expires_at < now))
    sign_in = AuthSession(user_id=user.id, expires_at=now + SESSION_TTL, client_address=client_address)
    session.add(sign_in)
    session.flush()
    return sign_in


def _end_sign_ins(session: Session, user: User, reason: str) -> None:
    """End every token the user holds: raising the version refuses them all on their next use;
    the sign-ins are marked too, so a list of them tells the truth."""
    user.token_version += 1
    session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


def _revoke_keys_of(session: Session, user: User) -> list[str]:
    keys = list(session.scalars(select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))))
    now = utcnow()
    for key in keys:
        key.revoked_at = now
    return sorted(k.prefix for k in keys)


def _token(rt: Runtime, user: User, sign_in: AuthSession, kind: str, ttl: timedelta) -> str:
    now = utcnow()
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user.id),
        "typ": kind,
        "iat": int(now.timestamp()),
        "exp": int(min(now + ttl, sign_in.expires_at).timestamp()),
        "jti": secrets.token_hex(8),
        "sid": str(sign_in.id),
        "ver": user.token_version,
    }
    if kind in ("refresh", "link"):
        claims["gen"] = sign_in.generation
    return jwt.encode(claims, rt.jwt_key, algorithm=ALGORITHM)


def _issue(rt: Runtime, user: User, sign_in: AuthSession) -> TokenPair:
    return TokenPair(
        access_token=_token(rt, user, sign_in, "access", ACCESS_TTL),
        refresh_token=_token(rt, user, sign_in, "refresh", REFRESH_TTL),
        expires_in=int(ACCESS_TTL.total_seconds()),
        must_change_password=user.must_change_password,
    )


# ---- the dashboard's cookie sessions ----------------------------------------------------------

# The cookie that carries a browser token: the dashboard sets it, and the API's body guard
# reads it to give a signed-in browser the body limit of an authenticated caller.
BROWSER_COOKIE = "msp_session"


def browser_token(rt: Runtime, pair: TokenPair) -> str:
    """The dashboard cookie for the sign-in that ``pair`` (just issued by ``login`` or
    ``change_password``) belongs to."""
    claims = _decode(rt, pair.access_token, "access")
    with rt.db.read() as session:
        user = session.get(User, uuid.UUID(claims["sub"]))
        sign_in = session.get(AuthSession, _sign_in_of(claims))
    if user is None or sign_in is None:
        raise AuthenticationError("this sign-in has ended: sign in again")
    return _token(rt, user, sign_in, "browser", BROWSER_TTL)


def sign_in_link(rt: Runtime, actor: Actor, username: str) -> str:
    """A new sign-in for ``username`` and a token that opens it once, within ``LINK_TTL``
    (``msp dashboard``: the person at the server's terminal is already trusted with everything)."""
    _require_admin(actor)
    with rt.db.write() as session:
        user = _user_by_name(session, username)
        if not user.is_active:
            raise ValidationError(f"user {username!r} is disabled")
        sign_in = _start_sign_in(session, user, None)
        audit.record(session, rt.audit_signer, actor, "login", "users", user.id, {"link": "issued"})
        return _token(rt, user, sign_in, "link", LINK_TTL)


def redeem_link(rt: Runtime, link: str, client_address: str | None) -> str:
    """The browser token of a one-time link's sign-in. The link is spent by the same conditional
    UPDATE that rotates refresh tokens, so it opens one browser only, even under a race."""
    claims = _decode(rt, link, "link")
    user_id, sign_in_id, generation = uuid.UUID(claims["sub"]), _sign_in_of(claims), _int_claim(claims, "gen")
    with rt.db.write() as session:
        moved = session.execute(
            update(AuthSession)
            .where(
                AuthSession.id == sign_in_id,
                AuthSession.user_id == user_id,
                AuthSession.generation == generation,
                AuthSession.revoked_at.is_(None),
            )
            .values(generation=generation + 1, last_refreshed_at=utcnow(), client_address=client_address)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise AuthenticationError("this sign-in link was already used or has ended: ask for a new one")
        user, sign_in = session.get(User, user_id), session.get(AuthSession, sign_in_id)
        if user is None or sign_in is None or not user.is_active or claims["ver"] != user.token_version:
            raise AuthenticationError("this sign-in has ended: sign in again")
        return _token(rt, user, sign_in, "browser", BROWSER_TTL)


def _decode(rt: Runtime, token: str, kind: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            rt.jwt_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "typ", "sid", "ver"]},
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


def _sign_in_of(claims: dict[str, Any]) -> uuid.UUID:
    try:
        return uuid.UUID(str(claims["sid"]))
    except ValueError:
        raise AuthenticationError("invalid token") from None


def _int_claim(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise AuthenticationError("invalid token")
    return value


# ---- authenticating a request -----------------------------------------------------------------


def authenticate(
    rt: Runtime, credential: str, client_address: str | None, request_id: str | None, *, kind: str = "access"
) -> Actor:
    """The Actor behind a bearer credential (JWT access token or API key), or 401; with
    ``kind="browser"`` behind a dashboard cookie (never an API key)."""
    credential = credential.strip()
    if (
        kind == "access"
        and rt.local_token is not None
        and hmac.compare_digest(credential.encode(), rt.local_token.encode())
    ):
        # The local service's token file, readable by this machine's user alone: that user.
        return dataclasses.replace(local_actor("cli"), client_address=client_address, request_id=request_id)
    if kind == "access" and credential.startswith(API_KEY_PREFIX):
        return _authenticate_api_key(rt, credential, client_address, request_id)
    claims = _decode(rt, credential, kind)
    sign_in_id, version = _sign_in_of(claims), _int_claim(claims, "ver")
    with rt.db.read() as session:
        found = session.execute(
            _TOKEN_LOOKUP, {"user_id": uuid.UUID(claims["sub"]), "sign_in_id": sign_in_id}
        ).one_or_none()
    if found is None or not found.is_active:
        raise AuthenticationError("the user of this token is disabled or gone")
    if (
        found.sign_in_id is None
        or found.revoked_at is not None
        or found.expires_at <= utcnow()
        or version != found.token_version
    ):
        raise AuthenticationError(
            "this sign-in has ended (signed out, or the password or role changed): sign in again"
        )
    return Actor(
        type="user",
        role=found.role,
        id=found.id,
        name=found.username,
        client_scope=_scope(found.client_scope),
        client_address=client_address,
        request_id=request_id,
        must_change_password=found.must_change_password,
        auth_session_id=found.sign_in_id,
    )


def _authenticate_api_key(rt: Runtime, key: str, client_address: str | None, request_id: str | None) -> Actor:
    parts = key.split("_")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise AuthenticationError("malformed API key")
    prefix = f"{API_KEY_PREFIX}{parts[1]}"
    now = utcnow()
    verified = _verified_keys(rt)
    # Read before the lookup: a change committed after it makes the entry stale.
    version = verified.version()
    with rt.db.read() as session:
        row = session.execute(_KEY_LOOKUP, {"prefix": prefix}).one_or_none()
    key_hash = rt.pepper.sign(key.encode())
    if row is None or not hmac.compare_digest(row.key_hash, key_hash):
        raise AuthenticationError("unknown API key")
    if row.revoked_at is not None:
        raise AuthenticationError(f"API key {row.prefix} was revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise AuthenticationError(f"API key {row.prefix} expired")
    if not row.user_is_active:
        raise AuthenticationError(f"the owner of API key {row.prefix} is disabled")
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
        with rt.db.write() as session:
            fresh = session.get(ApiKey, row.id)
            if fresh is not None:
                fresh.last_used_at, fresh.last_used_from = now, client_address
        last_used = now
    else:
        last_used = row.last_used_at
    role = row.role if ROLE_RANK[row.role] <= ROLE_RANK[row.user_role] else row.user_role
    actor = Actor(
        type="api_key",
        role=role,
        id=row.user_id,
        name=f"{row.username}/{row.name}",
        client_scope=_intersect(_scope(row.user_client_scope), _scope(row.client_scope)),
        api_key_id=row.id,
        scopes=frozenset(row.scopes) if row.scopes is not None else None,
    )
    if version is not None:
        verified.remember(key_hash, _VerifiedKey(actor, version, row.expires_at, last_used))
    return dataclasses.replace(actor, client_address=client_address, request_id=request_id)


def authenticate_known_key(
    rt: Runtime, credential: str, client_address: str | None, request_id: str | None
) -> Actor | None:
    """The Actor of an API key ``authenticate`` accepted while nothing was committed to the
    database since; None when that is not known (then ``authenticate`` decides). Cheap enough
    for the event loop: no Session, no lookup; on SQLite only (``_VerifiedKeys``)."""
    credential = credential.strip()
    if not credential.startswith(API_KEY_PREFIX):
        return None
    verified = _verified_keys(rt)
    if not verified.enabled:
        return None
    entry = verified.get(rt.pepper.sign(credential.encode()))
    if entry is None:
        return None
    now = utcnow()
    if entry.expires_at is not None and entry.expires_at <= now:
        return None
    if entry.last_used_at is None or now - entry.last_used_at > LAST_USED_EVERY:
        return None  # its last use is due to be written: authenticate writes it
    return dataclasses.replace(entry.actor, client_address=client_address, request_id=request_id)


@dataclass(frozen=True)
class _VerifiedKey:
    actor: Actor
    version: int  # the database's data version read before the key was looked up
    expires_at: datetime | None
    last_used_at: datetime | None


class _VerifiedKeys:
    """API keys verified against the database, by the HMAC of the key (never the key), each
    good only while the database's data version is the one read before its lookup.

    SQLite's ``PRAGMA data_version`` changes when any other connection, of this process or
    another, commits: a revoked key, a disabled user, a changed role or client scope is a
    commit, so the next request looks the key up again. The pragma reads the shared WAL index
    on a connection of its own: no lock, no Session. A server database has no such counter
    whose read costs less than the lookup itself: there every request looks the key up.
    """

    MAX_ENTRIES = 1024

    def __init__(self, rt: Runtime) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _VerifiedKey] = {}
        self._seen = -1
        self._conn: Any = None
        url = rt.db.url
        database = url.database or ""
        self.enabled = (
            rt.db.is_sqlite
            and database not in ("", ":memory:")
            and "memory" not in str(url.query.get("mode", ""))
        )
        if self.enabled:
            dialect = rt.db.reader.dialect
            cargs, cparams = dialect.create_connect_args(url)
            # No busy wait: a locked WAL index only means "not known", and the caller looks up.
            options: dict[str, Any] = {**cparams, "check_same_thread": False, "timeout": 0}
            self._conn = dialect.dbapi.connect(*cargs, **options, isolation_level=None)  # type: ignore[union-attr]
            rt.db.before_dispose(self.close)

    def version(self) -> int | None:
        with self._lock:
            if self._conn is None:
                return None
            try:
                value = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except Exception:  # busy or gone: not known
                return None
            if value != self._seen:  # every entry is stale
                self._entries.clear()
                self._seen = value
            return value

    def get(self, key_hash: str) -> _VerifiedKey | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        return entry if self.version() == entry.version else None

    def remember(self, key_hash: str, entry: _VerifiedKey) -> None:
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[key_hash] = entry

    def close(self) -> None:
        with self._lock:
            self._entries.clear()
            if self._conn is not None:
                self._conn.close()
                self._conn = None


_VERIFIED: weakref.WeakKeyDictionary[Runtime, _VerifiedKeys] = weakref.WeakKeyDictionary()
_VERIFIED_LOCK = threading.Lock()


def _verified_keys(rt: Runtime) -> _VerifiedKeys:
    found = _VERIFIED.get(rt)
    if found is None:
        with _VERIFIED_LOCK:
            found = _VERIFIED.get(rt)
            if found is None:
                found = _VERIFIED[rt] = _VerifiedKeys(rt)
    return found


# The two lookups every authenticated request makes, as column selects built once: loading
# whole mapped rows in a Session cost more than the rest of a request by id.
_users, _keys, _sign_ins = User.__table__.c, ApiKey.__table__.c, AuthSession.__table__.c
_KEY_LOOKUP = (
    select(
        _keys.id,
        _keys.name,
        _keys.prefix,
        _keys.key_hash,
        _keys.role,
        _keys.scopes,
        _keys.client_scope,
        _keys.expires_at,
        _keys.last_used_at,
        _keys.revoked_at,
        _users.id.label("user_id"),
        _users.username,
        _users.role.label("user_role"),
        _users.is_active.label("user_is_active"),
        _users.client_scope.label("user_client_scope"),
    )
    .join_from(ApiKey.__table__, User.__table__, _users.id == _keys.user_id)
    .where(_keys.prefix == bindparam("prefix"))
)
_TOKEN_LOOKUP = (
    select(
        _users.id,
        _users.username,
        _users.role,
        _users.client_scope,
        _users.is_active,
        _users.must_change_password,
        _users.token_version,
        _sign_ins.id.label("sign_in_id"),
        _sign_ins.revoked_at,
        _sign_ins.expires_at,
    )
    .outerjoin_from(
        User.__table__,
        AuthSession.__table__,
        and_(_sign_ins.id == bindparam("sign_in_id"), _sign_ins.user_id == _users.id),
    )
    .where(_users.id == bindparam("user_id"))
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
    scopes = check_scopes(scopes, role)
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
            "scopes": scopes,
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
