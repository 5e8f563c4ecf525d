"""Property-based tests of the whole API from its own OpenAPI document (schemathesis):
thousands of generated requests, valid and invalid, against a real server on every backend.
None may end in a server error, and none may be answered without credentials except the
public routes.

Bounded per backend so the suite stays short: SQLite runs the most examples; PostgreSQL and
MariaDB (slower per request, and where NUL bytes, NaN, lone surrogates and out-of-range numbers
fail differently) run fewer per operation, every operation still in both modes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy.engine import URL

from mspmode.db import schema as db_schema
from mspmode.db.session import Database
from mspmode.server import create_app
from mspmode.services import auth
from mspmode.services.actor import local_actor
from tests.api.conftest import make_runtime
from tests.servers import serve_in_thread

PUBLIC = {"/api/health", "/api/auth/login", "/api/auth/refresh"}
# uvicorn's h11 reads a request line and headers of up to 16 KiB.
HTTP_HEAD_LIMIT = 16 * 1024
# Examples per operation and mode (positive, negative), and the fewest requests a run may make.
EXAMPLES_PER_MODE = {"sqlite": 7, "postgresql": 4, "mariadb": 4}
MIN_EXAMPLES = {"sqlite": 2000, "postgresql": 1000, "mariadb": 1000}


@dataclass
class Fuzz:
    base: str
    key: str
    requests: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, case: schemathesis.Case, path: str, mode: GenerationMode) -> None:
        self.requests += 1
        where = f"{case.method} {case.formatted_path}"
        response = self.call(case, {"Authorization": f"Bearer {self.key}"})
        if response is None:
            return
        if response.status_code >= 500:
            self.failures.append(f"{where}: {response.status_code} {response.text[:200]}")
        if path in PUBLIC or mode != GenerationMode.POSITIVE:
            return
        anonymous = self.call(case, {})
        if anonymous is None:
            return
        # Refused one way or another (401, or 400/422 for a body it cannot even parse):
        # never an answer, never a server error.
        if not 400 <= anonymous.status_code < 500:
            self.failures.append(f"{where} answered {anonymous.status_code} without auth")
        elif response.status_code < 400 and anonymous.status_code != 401:
            self.failures.append(f"{where}: {anonymous.status_code} without auth, not 401")

    def call(self, case: schemathesis.Case, headers: dict[str, str]) -> requests.Response | None:
        """The answer, or None when the HTTP layer refused a request head longer than it reads
        (a query of thousands of 4-byte characters): uvicorn closes such a connection before
        the app sees it, often before the client has read its 400."""
        try:
            return case.call(base_url=self.base, headers=headers, timeout=30)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            kw = case.as_transport_kwargs(base_url=self.base, headers=headers)
            sent = requests.Request(
                kw["method"], kw["url"], kw.get("headers"), params=kw.get("params")
            ).prepare()
            head = len(str(sent.url)) + sum(len(k) + len(v) for k, v in sent.headers.items())
            if head <= HTTP_HEAD_LIMIT:
                raise
            return None


def run_operation(
    fuzz: Fuzz, operation: schemathesis.APIOperation, mode: GenerationMode, examples: int
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        fuzz.check(case, operation.path, mode)

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid (an operation without parameters or body).
        assert mode == GenerationMode.NEGATIVE, operation.label


def test_generated_requests_never_fail_on_the_server_nor_pass_without_auth(
    backend: str, empty_database_url: URL, tmp_path: Path
) -> None:
    db = Database(empty_database_url)
    db_schema.upgrade(db)
    rt = make_runtime(tmp_path, db)
    user, _ = auth.create_user(
        rt, local_actor(), username="fuzzer", role="admin", password="fuzzing-password-1"
    )
    _, key = auth.create_api_key(rt, local_actor(), name="fuzz", role="admin", username=user.username)
    with serve_in_thread(create_app(rt.settings, db)) as base:
        fuzz = Fuzz(base=base, key=key)
        raw = httpx.get(f"{base}/api/openapi.json", timeout=60).json()
        operations = [result.ok() for result in schemathesis.openapi.from_dict(raw).get_all_operations()]
        assert len(operations) > 150
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run_operation(fuzz, operation, mode, EXAMPLES_PER_MODE[backend])
    db.dispose()
    assert fuzz.failures == [], "\n".join(fuzz.failures[:20])
    assert fuzz.requests >= MIN_EXAMPLES[backend], fuzz.requests
