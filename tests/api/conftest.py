"""A real API server per backend, with one user and API key per role.

    admin       role admin, all clients
    tech        role technician, all clients
    readonly    role readonly, all clients
    scoped      role technician, limited to client A

The server is uvicorn on a free loopback port in a thread, over a migrated throwaway database
of the parametrised backend; the key files live in a temp MSP_HOME.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.server import create_app
from mspmode.services import auth
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file
from tests.conftest import BACKENDS, create_scratch_database
from tests.servers import serve_in_thread

ROLES = {"admin": "admin", "tech": "technician", "readonly": "readonly", "scoped": "technician"}
PASSWORD = "correct horse battery staple"


@dataclass
class Api:
    base: str
    rt: Runtime
    backend: str
    client_a: uuid.UUID
    client_b: uuid.UUID
    keys: dict[str, str] = field(default_factory=dict)
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def as_(self, who: str) -> httpx.Client:
        """An HTTP client authenticated as ``who`` (admin, tech, readonly, scoped) or, for
        "anonymous", not at all."""
        if who not in self.clients:
            headers = {"Authorization": f"Bearer {self.keys[who]}"} if who != "anonymous" else {}
            self.clients[who] = httpx.Client(base_url=self.base, headers=headers, timeout=30)
        return self.clients[who]

    @property
    def db(self) -> Database:
        return self.rt.db


def make_runtime(home: Path, db: Database) -> Runtime:
    for name in KEY_NAMES:
        ensure_key_file(name, home / f"{name}.key")
    settings = Settings(home=home, database_url=db.url.render_as_string(hide_password=False))
    return Runtime(settings, db)


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    backend = str(request.param)
    home = tmp_path_factory.mktemp(f"api-{backend}")
    url, drop = create_scratch_database(backend, home)
    db = Database(url)
    try:
        schema.upgrade(db)
        rt = make_runtime(home, db)
        admin = local_actor()
        from mspmode.services import crud
        from mspmode.services.resources import RESOURCES

        clients = next(s for s in RESOURCES if s.name == "clients")
        a = crud.create_row(rt, admin, clients, {"name": f"Client A {backend}"})
        b = crud.create_row(rt, admin, clients, {"name": f"Client B {backend}"})
        with serve_in_thread(create_app(rt.settings, db)) as base:
            harness = Api(base=base, rt=rt, backend=backend, client_a=a.id, client_b=b.id)
            for who, role in ROLES.items():
                auth.create_user(
                    rt,
                    admin,
                    username=who,
                    role=role,
                    password=PASSWORD,
                    clients=[str(a.id)] if who == "scoped" else None,
                )
                _, harness.keys[who] = auth.create_api_key(
                    rt, admin, name=f"{who} key", role=role, username=who
                )
            yield harness
            for c in harness.clients.values():
                c.close()
    finally:
        db.dispose()
        drop()  # type: ignore[operator]


def jsonable(value: Any) -> Any:
    from datetime import datetime
    from decimal import Decimal

    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
