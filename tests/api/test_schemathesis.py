"""Property-based tests of the whole API from its own OpenAPI document (schemathesis):
thousands of generated requests, valid and invalid, against a real server. None may end in a
server error, and none may be answered without credentials except the public routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy.engine import make_url

from mspmode.db import schema as db_schema
from mspmode.db.session import Database
from mspmode.server import create_app
from mspmode.services import auth
from mspmode.services.actor import local_actor
from tests.api.conftest import make_runtime
from tests.servers import serve_in_thread

PUBLIC = {"/api/health", "/api/auth/login", "/api/auth/refresh"}
EXAMPLES_PER_MODE = 7  # per operation and mode (positive, negative): > 2,000 requests in all
MIN_EXAMPLES = 2000


@dataclass
class Fuzz:
    base: str
    key: str
    requests: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, case: schemathesis.Case, path: str, mode: GenerationMode) -> None:
        self.requests += 1
        where = f"{case.method} {case.formatted_path}"
        response = case.call(base_url=self.base, headers={"Authorization": f"Bearer {self.key}"}, timeout=30)
        if response.status_code >= 500:
            self.failures.append(f"{where}: {response.status_code} {response.text[:200]}")
        if path in PUBLIC or mode != GenerationMode.POSITIVE:
            return
        anonymous = case.call(base_url=self.base, timeout=30)
        # Refused one way or another (401, or 400/422 for a body it cannot even parse):
        # never an answer, never a server error.
        if not 400 <= anonymous.status_code < 500:
            self.failures.append(f"{where} answered {anonymous.status_code} without auth")
        elif response.status_code < 400 and anonymous.status_code != 401:
            self.failures.append(f"{where}: {anonymous.status_code} without auth, not 401")


def run_operation(fuzz: Fuzz, operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
    @settings(
        max_examples=EXAMPLES_PER_MODE,
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


def test_generated_requests_never_fail_on_the_server_nor_pass_without_auth(tmp_path: Path) -> None:
    db = Database(make_url(f"sqlite:///{tmp_path / 'msp.db'}"))
    db_schema.upgrade(db)
    rt = make_runtime(tmp_path, db)
    user, _ = auth.create_user(
        rt, local_actor(), username="fuzzer", role="admin", password="fuzzing-password-1"
    )
    _, key = auth.create_api_key(rt, local_actor(), name="fuzz", role="admin", username=user.username)
    with serve_in_thread(create_app(rt.settings, db)) as base:
        fuzz = Fuzz(base=base, key=key)
        raw = httpx.get(f"{base}/api/openapi.json").json()
        operations = [result.ok() for result in schemathesis.openapi.from_dict(raw).get_all_operations()]
        assert len(operations) > 150
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run_operation(fuzz, operation, mode)
    db.dispose()
    assert fuzz.failures == [], "\n".join(fuzz.failures[:20])
    assert fuzz.requests >= MIN_EXAMPLES, fuzz.requests
