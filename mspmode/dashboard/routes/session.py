"""Signing in and out, the one-time link of ``msp dashboard``, changing a password, and Home."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from mspmode.dashboard.routes import feed
from mspmode.dashboard.web import (
    Person,
    RuntimeDep,
    SignedIn,
    clear_session,
    client_address,
    csrf_protect,
    redirect,
    render,
    safe_next,
    set_session,
)
from mspmode.errors import AuthenticationError, RateLimitedError, ValidationError
from mspmode.services import auth, overview

router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/signin")
def signin_page(request: Request, next: str = "/") -> Response:
    return render(request, "signin.html", next=safe_next(next))


@router.post("/signin")
def signin(
    request: Request,
    rt: RuntimeDep,
    username: Annotated[str, Form(max_length=255)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    try:
        pair = auth.login(rt, username, password, client_address(request))
    except (AuthenticationError, RateLimitedError) as exc:
        return render(request, "signin.html", status=exc.status_code, error=str(exc), next=safe_next(next))
    response = redirect("/password" if pair.must_change_password else safe_next(next))
    set_session(response, request, auth.browser_token(rt, pair))
    return response


@router.get("/signin/link")
def signin_link(request: Request, rt: RuntimeDep, token: str) -> Response:
    """The one-time link ``msp dashboard`` opens: spent here, so it opens one browser once."""
    try:
        browser = auth.redeem_link(rt, token, client_address(request))
    except AuthenticationError as exc:
        return render(request, "signin.html", status=401, error=str(exc), next="/")
    response = redirect("/")
    set_session(response, request, browser)
    return response


@router.get("/password")
def password_page(request: Request, me: SignedIn) -> Response:
    return render(request, "password.html", me)


@router.post("/password")
def change_password(
    request: Request,
    rt: RuntimeDep,
    me: SignedIn,
    current: Annotated[str, Form(max_length=1024)],
    new: Annotated[str, Form(max_length=1024)],
    repeat: Annotated[str, Form(max_length=1024)],
) -> Response:
    try:
        if new != repeat:
            raise ValidationError("the two new passwords differ")
        pair = auth.change_password(rt, me, current, new)
    except (AuthenticationError, ValidationError, RateLimitedError) as exc:
        return render(request, "password.html", me, status=exc.status_code, error=str(exc))
    response = redirect("/")
    set_session(response, request, auth.browser_token(rt, pair))
    return response


@router.post("/signout")
def signout(rt: RuntimeDep, me: SignedIn) -> Response:
    auth.logout(rt, me)
    response = redirect("/signin")
    clear_session(response)
    return response


@router.get("/")
def home(request: Request, rt: RuntimeDep, me: Person) -> Response:
    recent = overview.feed(rt, me)
    after = feed.cursor_of(recent[-1]) if recent else ""
    return render(
        request, "home.html", me, home=overview.home(rt, me), feed=list(reversed(recent)), after=after
    )
