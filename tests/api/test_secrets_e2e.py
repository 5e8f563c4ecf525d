"""The secrets corpus through every capture path of the API, on every backend; then the raw
database, the server's log lines and every response body are searched for each secret.

Capture paths: a recorded command and its output (POST /api/commands, learning included),
conversation contexts, operation failures, file-change descriptions, problem solutions, the
audit diffs those writes produce, list queries carrying the text (access-log lines), and
requests that fail validation (error bodies). Secrets the rules cannot recognise are stored in
the vault first (credentials), and must be caught as known secrets.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mspmode.db.base import Base
from tests.api.conftest import Api
from tests.corpora import load_secret_cases

CASES = load_secret_cases()


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def server_logs() -> Iterator[Captured]:
    handler = Captured()
    loggers = [logging.getLogger(n) for n in ("uvicorn.access", "uvicorn.error", "mspmode")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)  # the test server runs at warning: turn the access log on
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def all_stored_text(api: Api) -> list[bytes]:
    """Everything the database holds: the raw files for SQLite, every row of every table for
    the servers (their files belong to the server process)."""
    if api.backend == "sqlite":
        home = Path(api.rt.settings.home)
        return [p.read_bytes() for p in home.iterdir() if p.is_file() and p.name.startswith("msp.db")]
    chunks: list[bytes] = []
    with api.db.reader.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                chunks.append(repr(tuple(row)).encode())
                chunks.extend(v for v in row if isinstance(v, bytes))
        if api.backend == "postgresql":
            for table in ("problem_solutions", "commands_run", "operation_failures", "conversation_contexts"):
                chunks.extend(
                    str(v).encode() for (v,) in conn.exec_driver_sql(f"SELECT search_vector FROM {table}")
                )
    return chunks


def test_no_secret_from_the_corpus_is_stored_logged_or_echoed(api: Api, server_logs: Captured) -> None:
    client = api.as_("tech")
    bodies: list[str] = []

    def send(method: str, path: str, **kw: Any) -> httpx.Response:
        response = client.request(method, path, **kw)
        bodies.append(response.text)
        return response

    for case in CASES:
        for stored in case.stored:
            made = send(
                "POST",
                "/api/credentials",
                json={
                    "service_name": f"vault {case.line}",
                    "credential_type": "password",
                    "password": stored,
                },
            )
            assert made.status_code == 201, made.text

    client_id = str(api.client_a)
    session = send(
        "POST",
        "/api/sessions",
        json={"session_title": "secrets", "started_at": "2026-01-02T10:00:00Z", "client_id": client_id},
    )
    session_id = session.json()["id"]
    for case in CASES:
        text = case.text
        command = {
            "host": f"host-{case.line}",
            "command": text if case.kind == "command" else "echo done",
            "exit_code": 1,
            "output": text,
            "session_id": session_id,
        }
        assert send("POST", "/api/commands", json=command).status_code in (200, 201)
        assert (
            send(
                "POST",
                "/api/conversation-contexts",
                json={
                    "title": f"ctx {case.line}",
                    "dense_summary": text,
                    "context_type": "general_context",
                    "client_id": client_id,
                },
            ).status_code
            == 201
        )
        assert (
            send(
                "POST",
                "/api/operation-failures",
                json={
                    "operation_type": "api_call",
                    "client_id": client_id,
                    "operation_description": text,
                    "error_message": text,
                },
            ).status_code
            == 201
        )
        assert (
            send(
                "POST",
                "/api/file-changes",
                json={"session_id": session_id, "file_path": "/etc/app.conf", "description": text},
            ).status_code
            == 201
        )
        assert (
            send(
                "POST",
                "/api/problem-solutions",
                json={
                    "problem_title": f"problem {case.line}",
                    "problem_description": text,
                    "solution_applied": text,
                    "root_cause": text,
                    "error_message": text,
                    "client_id": client_id,
                },
            ).status_code
            == 201
        )
        send("GET", "/api/problem-solutions", params={"q": text[:400]})
        send("POST", "/api/clients", json={"name": text, "client_type": "nope"})  # refused: 422
        send("GET", f"/api/clients/{uuid.uuid4()}", params={"note": text[:200]})  # refused: 422

    stored_text = all_stored_text(api)
    log_text = "\n".join(server_logs.lines)
    assert any("POST /api/operation-failures" in line for line in server_logs.lines)  # logs were captured
    for case in CASES:
        for secret in case.secrets:
            needle = secret.encode()
            assert not any(needle in chunk for chunk in stored_text), f"line {case.line} ({case.rule}) stored"
            assert secret not in log_text, f"line {case.line} ({case.rule}) logged"
            assert not any(secret in body for body in bodies), f"line {case.line} ({case.rule}) echoed"
