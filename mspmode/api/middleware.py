"""What every HTTP exchange passes before and after the routes: the Host it names, the size and
numbers of its body, and the headers of its answer.

* ``TrustedHosts``: a request must name a host the server answers to (``MSP_ALLOWED_HOSTS``);
  by default one that arrives on a loopback address must name a loopback host, so a web page
  that re-points its own name at 127.0.0.1 (DNS rebinding) cannot talk to a local server.
* ``BodyGuard``: a body is never read past its route's limit (``MSP_MAX_BODY_BYTES``, or
  more where a route declares it with ``body_limit``): a ``Content-Length`` over it is refused
  before a byte is read, a chunked body as soon as it passes it. Past ``ANONYMOUS_BODY_BYTES``
  the caller's credentials (a bearer token or API key, or a dashboard session cookie) are
  checked before another byte is read, so an unauthenticated client can make the server hold
  no more than that. A JSON body with ``NaN`` or
  ``Infinity`` (Python's json reads them; no database stores them) is a 422.
* ``SecurityHeaders``: every answer says not to sniff, frame, cache or refer, and its own
  redirects are relative, never built from the ``Host`` the client sent.

Refusals are the API's JSON errors, raised from inside the body reader as ``BodyRefusedError``
(an HTTP exception, so the route's body parsing passes it on to the app's handler) or sent
directly when the request has not reached a route.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mspmode.api.deps import client_address, request_id
from mspmode.errors import AuthenticationError, MSPError
from mspmode.services import auth
from mspmode.services.runtime import Runtime

# What a client that has not shown valid credentials may make the server read. Sign-in and
# token refresh, the only routes without credentials, need a few hundred bytes.
ANONYMOUS_BODY_BYTES = 64 * 1024
# Routes that take many records or whole outputs at once (a batch of commands, a transcript,
# a command with an output of many MB) declare this with ``body_limit``.
BULK_BODY_BYTES = 128 * 1024 * 1024
_LIMIT_KEY = "x-max-body-bytes"

# Content-Security-Policy of every answer that is not a page: nothing may be loaded or framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"content-security-policy", API_CSP.encode()),
    (b"cache-control", b"no-store"),
)


def error_response(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """The API's error body: ``{"error": {"type": …, "message": …}, …extra}``."""
    return JSONResponse(
        status_code=status, content={"error": {"type": kind, "message": message}, **extra}, headers=headers
    )


class BodyRefusedError(StarletteHTTPException):
    """A request refused while its body was being read; the app answers ``response()``."""

    def __init__(
        self, status: int, kind: str, message: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.kind = kind
        self.extra = extra

    def response(self) -> JSONResponse:
        headers = dict(self.headers) if self.headers else None
        return error_response(self.status_code, self.kind, str(self.detail), headers, **self.extra)


def body_limit(max_bytes: int) -> dict[str, Any]:
    """``openapi_extra`` for a route that accepts bodies larger than ``MSP_MAX_BODY_BYTES``
    (it also documents the limit in the OpenAPI document)."""
    return {_LIMIT_KEY: max_bytes}


def _too_large(limit: int) -> BodyRefusedError:
    return BodyRefusedError(
        413, "PayloadTooLarge", f"request body too large: this route accepts at most {limit} bytes"
    )


def _nan_refused() -> BodyRefusedError:
    message = "NaN and Infinity are not JSON numbers"
    return BodyRefusedError(
        422,
        "ValidationError",
        f"body: {message}",
        detail=[{"field": "body", "message": message, "type": "json_invalid"}],
    )


class _JsonNumbers:
    """Finds ``NaN``/``Infinity``/``-Infinity`` in JSON arriving in pieces. Outside strings,
    valid JSON has no capital N or I (true, false, null and exponents are lower case or
    ``E``), so one of those outside a string means a non-finite number or a body the parser
    refuses anyway. Multi-byte UTF-8 never contains these ASCII bytes. Linear: a string's
    content is skipped by one anchored match, never searched again."""

    # Outside strings: plain bytes and whole strings, possessively; stops at N, I, an
    # unclosed string's quote, or the end.
    _OUTSIDE = re.compile(rb'(?:[^"NI]++|"(?:[^"\\]++|\\.)*+")*+', re.DOTALL)
    # Inside a string: the rest of its content, up to its closing quote or the end.
    _CONTENT = re.compile(rb'(?:[^"\\]++|\\.)*+', re.DOTALL)

    def __init__(self) -> None:
        self._in_string = False
        self._escaped = False  # the last piece ended with a backslash inside a string

    def feed(self, piece: bytes) -> bool:
        """False when ``piece`` puts a non-finite number in the body."""
        i, n = 0, len(piece)
        if self._escaped and n:
            i, self._escaped = 1, False
        while i < n:
            if self._in_string:
                i = self._end(self._CONTENT, piece, i)
                if i == n:
                    break
                if piece[i] == 0x22:  # the closing quote
                    self._in_string = False
                else:  # a backslash, the last byte: what it escapes comes in the next piece
                    self._escaped = True
                i += 1
            else:
                i = self._end(self._OUTSIDE, piece, i)
                if i == n:
                    break
                if piece[i] != 0x22:
                    return False
                self._in_string = True
                i += 1
        return True

    @staticmethod
    def _end(pattern: re.Pattern[bytes], piece: bytes, start: int) -> int:
        found = pattern.match(piece, start)
        return found.end() if found else start


def _is_json(headers: Headers) -> bool:
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return not kind or kind == "application/json" or kind.endswith("+json")


def _content_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


class BodyGuard:
    def __init__(self, app: ASGIApp, *, runtime: Runtime, max_body_bytes: int) -> None:
        self.app = app
        self.rt = runtime
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, _GuardedBody(self, scope, receive).receive, send)


class _GuardedBody:
    def __init__(self, guard: BodyGuard, scope: Scope, receive: Receive) -> None:
        self.guard = guard
        self.scope = scope
        self._receive = receive
        self.limit = 0
        self.read = 0
        self.started = False
        self.authenticated = False
        self.numbers: _JsonNumbers | None = None

    async def receive(self) -> Message:
        if not self.started:
            # The first read comes from the route (routing is done), before any byte is read.
            self.started = True
            headers = Headers(scope=self.scope)
            route = self.scope.get("route")
            declared = (getattr(route, "openapi_extra", None) or {}).get(_LIMIT_KEY, 0)
            self.limit = max(self.guard.max_body_bytes, declared)
            self.numbers = _JsonNumbers() if _is_json(headers) else None
            length = _content_length(headers)
            if length is not None and length > self.limit:
                raise _too_large(self.limit)
            if length is not None and length > ANONYMOUS_BODY_BYTES:
                await self._authenticate(headers)
        message = await self._receive()
        if message["type"] == "http.request":
            piece: bytes = message.get("body", b"")
            self.read += len(piece)
            if self.read > self.limit:
                raise _too_large(self.limit)
            if self.read > ANONYMOUS_BODY_BYTES and not self.authenticated:
                await self._authenticate(Headers(scope=self.scope))
            if self.numbers is not None and piece and not self.numbers.feed(piece):
                raise _nan_refused()
        return message

    async def _authenticate(self, headers: Headers) -> None:
        """The caller's credentials: a bearer token or API key, or else the dashboard's session
        cookie (a form posted from a signed-in browser; its CSRF token is the route's to check,
        and SameSite=Strict keeps other sites' posts from carrying the cookie)."""
        request = Request(self.scope)
        scheme, _, token = headers.get("authorization", "").partition(" ")
        kind = "access"
        if scheme.lower() != "bearer" or not token.strip():
            token, kind = request.cookies.get(auth.BROWSER_COOKIE, ""), "browser"
        if not token.strip():
            raise BodyRefusedError(
                413,
                "PayloadTooLarge",
                f"a request without credentials may send at most {ANONYMOUS_BODY_BYTES} bytes: "
                "send Authorization: Bearer <token or API key>, or sign in to the dashboard",
            )
        try:
            await run_in_threadpool(
                functools.partial(auth.authenticate, kind=kind),
                self.guard.rt,
                token,
                client_address(request),
                request_id(request),
            )
        except MSPError as exc:
            challenge = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
            raise BodyRefusedError(exc.status_code, type(exc).__name__, str(exc), challenge) from None
        self.authenticated = True


# ---- hosts ------------------------------------------------------------------------------------


def parse_hosts(raw: str | None) -> tuple[str, ...] | None:
    """``MSP_ALLOWED_HOSTS`` as host patterns (``*``, ``name``, ``*.domain``); None: unset."""
    if raw is None or not raw.strip():
        return None
    return tuple(h.strip().lower().rstrip(".") for h in raw.split(",") if h.strip())


def _host_name(header: str) -> str:
    host = header.strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1 : host.find("]")] if "]" in host else host
    name, _, port = host.rpartition(":")
    return (name if name and port.isdigit() else host).rstrip(".")


def _is_loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _matches(name: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == name:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


class TrustedHosts:
    def __init__(self, app: ASGIApp, *, allowed: tuple[str, ...] | None) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self._trusted(scope):
            name = _host_name(Headers(scope=scope).get("host", ""))[:100]
            response = error_response(
                400,
                "HostNotAllowed",
                f"this server does not answer for host {name!r}; "
                "its operator lists the names it answers to in MSP_ALLOWED_HOSTS",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _trusted(self, scope: Scope) -> bool:
        header = Headers(scope=scope).get("host")
        if not header:  # HTTP/1.0 without Host: no browser sends that
            return True
        name = _host_name(header)
        if self.allowed is not None:
            return _matches(name, self.allowed) or _is_loopback(name)
        server: tuple[str, int | None] | None = scope.get("server")
        arrived_on_loopback = server is not None and _is_loopback(str(server[0]))
        return not arrived_on_loopback or _is_loopback(name)


# ---- response headers -------------------------------------------------------------------------


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        own_host = Headers(scope=scope).get("host", "").lower()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS:
                    if name.decode() not in headers:
                        headers.append(name.decode(), value.decode())
                location = headers.get("location")
                if location:
                    headers["location"] = _relative(location, own_host)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _relative(location: str, own_host: str) -> str:
    """A redirect to this server's own host, made relative: Starlette builds the absolute URL
    of a trailing-slash redirect from the Host header the client chose."""
    parts = urlsplit(location)
    if not parts.netloc or parts.netloc.lower() != own_host:
        return location
    path = parts.path or "/"
    # "//evil.example/x" would be read as another host: keep one leading slash.
    path = "/" + path.lstrip("/")
    return path + (f"?{parts.query}" if parts.query else "")
