"""A real API server for the authentication tests: uvicorn on a free loopback port (in a thread,
as tests/servers.py runs it) over a migrated throwaway database of one backend, with the key
files in a temporary MSP_HOME, and helpers to make users and keys and to sign in as anyone —
from any address, when the test client is made a trusted proxy (``trusted_proxies``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from fastapi import FastAPI

from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.server import create_app
from mspmode.services import auth, crud
from mspmode.services.actor import local_actor
from mspmode.services.resources import SPECS
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file
from tests.conftest import create_scratch_database
from tests.servers import serve_in_thread

PASSWORD = "correct horse battery staple"
ADMIN = local_actor()


@dataclass
class Server:
    base: str
    rt: Runtime
    backend: str
    http: httpx.Client  # no credentials of its own

    @property
    def db(self) -> Database:
        return self.rt.db

    def user(self, role: str = "technician", *, clients: Sequence[str] | None = None) -> str:
        """A new user with PASSWORD; returns the name."""
        name = f"u{uuid.uuid4().hex[:10]}"
        auth.create_user(self.rt, ADMIN, username=name, role=role, password=PASSWORD, clients=clients)
        return name

    def one_time_user(self, role: str = "admin") -> tuple[str, str]:
        """A new user as `msp user add` makes one: returns the name and the one-time password."""
        name = f"o{uuid.uuid4().hex[:10]}"
        _, password = auth.create_user(self.rt, ADMIN, username=name, role=role)
        assert password is not None
        return name, password

    def key(
        self,
        username: str,
        role: str = "technician",
        *,
        scopes: Sequence[str] | None = None,
        clients: Sequence[str] | None = None,
    ) -> str:
        _, plaintext = auth.create_api_key(
            self.rt,
            ADMIN,
            name=f"k{uuid.uuid4().hex[:6]}",
            role=role,
            username=username,
            scopes=list(scopes) if scopes is not None else None,
            clients=clients,
        )
        return plaintext

    def client(self, name: str | None = None) -> uuid.UUID:
        row = crud.create_row(
            self.rt, ADMIN, SPECS["clients"], {"name": name or f"Client {uuid.uuid4().hex[:8]}"}
        )
        return uuid.UUID(str(row.id))

    def login(self, username: str, password: str = PASSWORD, *, address: str | None = None) -> httpx.Response:
        headers = {"X-Forwarded-For": address} if address else {}
        body = {"username": username, "password": password}
        return self.http.post("/api/auth/login", json=body, headers=headers)

    def tokens(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = self.login(username, password)
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.http.post("/api/auth/refresh", json={"refresh_token": refresh_token})

    def call(self, method: str, path: str, credential: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {credential}", **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def me(self, credential: str) -> httpx.Response:
        return self.call("GET", "/api/auth/me", credential)


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified (what a client could read of its own token)."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


@contextmanager
def running(
    backend: str,
    home: Path,
    *,
    trusted_proxies: Sequence[str] = (),
    extend: Callable[[FastAPI], None] | None = None,
) -> Iterator[Server]:
    """A server of ``backend`` with its MSP_HOME in ``home``; ``extend`` may add routes to the
    app before it serves (as a later change to the code would)."""
    url, drop = create_scratch_database(backend, home)
    db = Database(url)
    try:
        schema.upgrade(db)
        for name in KEY_NAMES:
            ensure_key_file(name, home / f"{name}.key")
        settings = Settings(
            home=home,
            database_url=db.url.render_as_string(hide_password=False),
            trusted_proxies=tuple(trusted_proxies),
        )
        rt = Runtime(settings, db)
        app = create_app(settings, db)
        if extend is not None:
            extend(app)
        with (
            serve_in_thread(app) as base,
            httpx.Client(base_url=base, timeout=60) as http,
        ):
            yield Server(base=base, rt=rt, backend=backend, http=http)
    finally:
        db.dispose()
        drop()  # type: ignore[operator]
