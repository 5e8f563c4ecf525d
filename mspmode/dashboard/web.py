"""What every dashboard page shares: the signed-in person (a cookie naming an auth_sessions
sign-in, checked on every request like an access token), the CSRF token, the security headers
and rendering a template.

    cookie msp_session (HttpOnly, SameSite=Strict, Secure over TLS) ──▶ auth.authenticate(kind="browser")
    cookie msp_csrf + form field csrf_token, compared on every POST ──▶ 403 when they differ

The CSRF token is a double-submit token in an HttpOnly cookie: pages render it into their forms
on the server, no script ever reads it, and SameSite=Strict keeps other sites' posts from
carrying either cookie.
"""

from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mspmode.errors import AuthenticationError, PermissionDeniedError
from mspmode.services import auth
from mspmode.services.actor import Actor
from mspmode.services.runtime import Runtime

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = auth.BROWSER_COOKIE
CSRF_COOKIE = "msp_csrf"
CSRF_FIELD = "csrf_token"

# Scripts only from files served here (never inline), no inline style, nothing from elsewhere;
# forms post only here and the live feed connects only here.
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # The sign-in link carries a token in its URL: never send it on.
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


class MustChangePassword(Exception):
    """The person signed in with a one-time password: the password page is all they may see."""


def _cookie_attributes(secure: bool) -> str:
    return "; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")


class Guard:
    """ASGI middleware: security headers on every dashboard response, no caching of pages that
    hold client data, and a CSRF cookie for a browser that has none yet."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = SimpleCookie()
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                cookie.load(value.decode("latin-1"))
        given = cookie[CSRF_COOKIE].value if CSRF_COOKIE in cookie else ""
        token = given if len(given) == 43 else secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf"] = token
        secure = scope.get("scheme") == "https"
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if not static:
                    headers["cache-control"] = "no-store"
                if token != given:
                    headers.append("set-cookie", f"{CSRF_COOKIE}={token}{_cookie_attributes(secure)}")
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(runtime)]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def signed_in(request: Request, rt: RuntimeDep) -> Actor:
    """The person behind the session cookie, even one who must still change a one-time password."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthenticationError("sign in first")
    return auth.authenticate(rt, token, client_address(request), None, kind="browser")


def password_changed(actor: Actor) -> Actor:
    """``actor``, who has changed any one-time password, or MustChangePassword."""
    if actor.must_change_password:
        raise MustChangePassword
    return actor


async def person(actor: Annotated[Actor, Depends(signed_in)]) -> Actor:
    """The signed-in person, who has changed any one-time password. (Async, as ``runtime``:
    FastAPI runs a plain ``def`` dependency in its thread pool, a hop for nothing here.)"""
    return password_changed(actor)


SignedIn = Annotated[Actor, Depends(signed_in)]
Person = Annotated[Actor, Depends(person)]


async def csrf_protect(request: Request) -> None:
    """Refuse a form posted without the token this browser was given (router-wide dependency)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not isinstance(sent, str) or not cookie or not hmac.compare_digest(sent, cookie):
        raise PermissionDeniedError("this form was not sent from this dashboard (no valid CSRF token)")


def set_session(response: Any, request: Request, token: str) -> None:
    secure = request.url.scheme == "https"
    response.headers.append("set-cookie", f"{SESSION_COOKIE}={token}{_cookie_attributes(secure)}")


def clear_session(response: Any) -> None:
    response.headers.append("set-cookie", f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path on this site only."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


# ---- rendering ---------------------------------------------------------------------------------


def highlight(text: str | None, words: list[str]) -> Markup:
    """``text`` escaped, with each of ``words`` wrapped in <mark> (case-insensitive)."""
    out = str(escape(text or ""))
    lowered = [str(escape(w)).lower() for w in words if w.strip()]
    if not lowered:
        return Markup(out)
    pieces, i, low = [], 0, out.lower()
    while i < len(out):
        hit = min(((low.find(w, i), w) for w in lowered if low.find(w, i) >= 0), default=None)
        if hit is None:
            pieces.append(out[i:])
            break
        at, word = hit
        pieces.append(out[i:at])
        pieces.append(f"<mark>{out[at : at + len(word)]}</mark>")
        i = at + len(word)
    return Markup("".join(pieces))


# CommonMark with raw HTML off: stored text is shown, never run.
_markdown = MarkdownIt("commonmark", {"html": False})


def markdown(text: str | None, shift: int = 2) -> Markup:
    """Stored markdown as HTML, its headings moved ``shift`` levels down (the page has the h1)."""
    tokens = _markdown.parse(text or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + shift, 6)}"
    return Markup(_markdown.renderer.render(tokens, _markdown.options, {}))


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["when"] = _when
templates.filters["highlight"] = highlight
templates.filters["markdown"] = markdown


def render(
    request: Request, name: str, actor: Actor | None = None, *, status: int = 200, **context: Any
) -> HTMLResponse:
    html = templates.get_template(name).render(
        request=request,
        me=actor,
        csrf=request.scope.get("state", {}).get("csrf", ""),
        csrf_field=CSRF_FIELD,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status)
