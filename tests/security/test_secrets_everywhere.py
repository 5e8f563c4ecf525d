"""Nothing secret is stored from any path (issue 15, findings 2 and 7), on every backend.

The secrets corpus (``tests/corpora/secrets.jsonl``, by family) is driven through every way
text enters MSP Mode — the REST API (recorded commands, the generic CRUD routes' text and JSON
fields, contexts, operation failures, audit diffs, queries in the access log), the MCP tools,
the ``msp`` CLI, ``msp import`` (command, host and session lines, secrets in notes, traits and
labels) and the Claude Code hooks as the processes Claude Code starts — once the secrets no
rule recognises are in the vault. Then every place a secret could be left is searched for each
of them, as they are and JSON-escaped: the SQLite file with its -wal and -shm (on PostgreSQL
and MariaDB every row of every table, read back over SQL), every file under MSP_HOME (the
one store of what was learned, the hooks' log, the queues), a backup taken by ``msp backup``, the
server's log lines and everything the processes printed.

First the regression tests of finding 2: host lines and session labels through import and the
API, audit diffs, and every text column of every table through each write path.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client
from sqlalchemy import JSON, Column, String, Table, create_engine, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session as OrmSession
from typer.testing import CliRunner

from mspmode.cli.app import app as cli_app
from mspmode.cli.hooks import hook_argv
from mspmode.db import bulk, schema
from mspmode.db.base import Base
from mspmode.db.redaction import text_columns
from mspmode.db.session import Database
from mspmode.mcp.server import build_server, fixed_actor
from mspmode.server import create_app
from mspmode.services import audit, auth, learning
from mspmode.services.actor import Actor, local_actor
from mspmode.services.crud import ResourceSpec
from mspmode.services.resources import RESOURCES
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file
from tests.api.conftest import Api, api, jsonable  # noqa: F401  (api: a server per backend)
from tests.cli.test_setup import MSP
from tests.conftest import BACKENDS, create_scratch_database
from tests.corpora import SecretCase, load_secret_cases
from tests.hooks.test_hooks_e2e import stop_service
from tests.rows import build_row, serial, value_for, vocabularies
from tests.servers import serve_in_thread

CASES = load_secret_cases()


def forms(secret: str) -> set[bytes]:
    """The ways ``secret`` can stand in stored bytes: as it is, and JSON-escaped (a JSON column,
    a JSON line), with and without its non-ASCII characters escaped."""
    return {
        s.encode("utf-8")
        for s in (secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1])
    }


def leaks(chunks: Iterable[bytes], cases: Iterable[SecretCase] = CASES) -> list[str]:
    """Each corpus secret found in ``chunks``, with the corpus line it comes from."""
    blob = b"\n\x00\n".join(chunks)
    return [
        f"line {case.line} ({case.family}, {case.rule}): {secret!r}"
        for case in cases
        for secret in case.secrets
        if any(form in blob for form in forms(secret))
    ]


def rows_of(url: URL) -> list[bytes]:
    """Every row of every table, read back over SQL (and PostgreSQL's search vectors)."""
    engine = create_engine(url)
    chunks: list[bytes] = []
    try:
        with engine.connect() as conn:
            for t in Base.metadata.sorted_tables:
                for row in conn.execute(select(t)):
                    chunks.extend(v.encode() for v in row if isinstance(v, str))
                    chunks.extend(json.dumps(v).encode() for v in row if isinstance(v, dict | list))
                    chunks.extend(v for v in row if isinstance(v, bytes))
            if url.get_backend_name() == "postgresql":
                vectors = (
                    "SELECT table_name FROM information_schema.columns WHERE column_name = 'search_vector'"
                )
                for (name,) in conn.execute(text(vectors)).all():
                    chunks.extend(
                        str(v).encode() for (v,) in conn.execute(text(f"SELECT search_vector FROM {name}"))
                    )
    finally:
        engine.dispose()
    return chunks


def files_under(*roots: Path) -> list[bytes]:
    """Every file's bytes, and every value held in an SQLite file under ``roots`` (the one
    store): a value longer than a page is split across pages in the file itself."""
    paths = [p for root in roots if root.exists() for p in sorted(root.rglob("*")) if p.is_file()]
    found = [p.read_bytes() for p in paths]
    for p in paths:
        if p.suffix == ".sqlite":
            conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            try:
                tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                for table in tables:
                    for row in conn.execute(f'SELECT * FROM "{table}"'):
                        found.extend(v if isinstance(v, bytes) else str(v).encode() for v in row)
            finally:
                conn.close()
    return found


def runtime_on(db: Database, home: Path) -> Runtime:
    for name in KEY_NAMES:
        ensure_key_file(name, home / f"{name}.key")
    return Runtime(Settings(home=home, database_url=db.url.render_as_string(hide_password=False)), db)


def dumped(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False) + repr(value)


# --------------------------------------------------------------------------------------------
# Finding 2


HOST_TEXTS = {
    "notes": "iLO admin password: Il0!Notes-2024",
    "environmental_notes": "mysql -u root -pEnv!Notes-77 crm",
    "limitations": ["reboot needs --password=Lim!Reboot-9 on the BMC"],
}
TRAITS = {"password": "Tr4it!Pw-plain", "api_key": "k3yTrait0nly", "bmc": {"token": "Nest3dT0ken-9"}}
HOST_SECRETS = (
    "Il0!Notes-2024",
    "Env!Notes-77",
    "Lim!Reboot-9",
    "Tr4it!Pw-plain",
    "k3yTrait0nly",
    "Nest3dT0ken-9",
)
LABEL = "ticket 4711 password=Lab3l!Session"
LABEL_STORED = "ticket 4711 password=[REDACTED:password]"


def host_row(db: Database, hostname: str) -> dict[str, Any]:
    t = Base.metadata.tables["infrastructure"]
    with db.reader.connect() as conn:
        return dict(conn.execute(select(t).where(t.c.hostname == hostname)).one()._mapping)


def sessions_labelled(db: Database, label: str) -> list[dict[str, Any]]:
    t = Base.metadata.tables["sessions"]
    with db.reader.connect() as conn:
        rows = conn.execute(select(t).where(t.c.external_session_id == label)).all()
    return [dict(r._mapping) for r in rows]


def assert_host_is_clean(row: dict[str, Any]) -> None:
    for secret in HOST_SECRETS:
        assert secret not in dumped(row), f"{secret!r} stored in {row!r}"
    assert row["traits"]["password"] == "[REDACTED:password]"
    assert row["traits"]["api_key"] == "[REDACTED:api_key]"
    assert row["traits"]["bmc"] == {"token": "[REDACTED:token]"}
    assert row["environmental_notes"] == "mysql -u root -p[REDACTED:password] crm"


def test_import_redacts_host_lines_trait_keys_and_session_labels(
    migrated_db: Database, tmp_path: Path
) -> None:
    rt = runtime_on(migrated_db, tmp_path / "home")
    learning.use_store(rt)  # as the CLI does: what was learnt is kept in the store under cache/
    tag = uuid.uuid4().hex[:6]
    label = f"{LABEL} {tag}"
    lines = [
        {"kind": "client", "name": f"Acme {tag}"},
        {
            "kind": "host",
            "client": f"Acme {tag}",
            "hostname": f"DC-{tag}",
            "os": "Windows Server",
            **HOST_TEXTS,
            **TRAITS,
        },
        {
            "kind": "command",
            "host": f"DC-{tag}",
            "command": "hostname",
            "exit_code": 0,
            "output": f"DC-{tag}",
            "session": label,
        },
    ]
    report = learning.import_lines(rt, local_actor(), [json.dumps(line) for line in lines], source="t.jsonl")
    assert not report.bad_lines and report.hosts == 1 and report.commands == 1
    assert_host_is_clean(host_row(rt.db, f"DC-{tag}"))
    (session,) = sessions_labelled(rt.db, f"{LABEL_STORED} {tag}")
    assert session["session_title"] == f"{LABEL_STORED} {tag}"
    # What was learnt from the host line holds none of it: the one store under cache/.
    snapshot = files_under(rt.settings.home / "cache")
    assert snapshot and not [s for s in HOST_SECRETS if any(s.encode() in blob for blob in snapshot)]
    # The same label again is the same session: it is looked up as it is stored. (Another
    # command: the same line again would be skipped as already imported.)
    later = {**lines[2], "command": f"{lines[2]['command']} -Verbose"}
    again = learning.import_lines(rt, local_actor(), [json.dumps(later)], source="t2.jsonl")
    assert again.commands == 1
    assert len(sessions_labelled(rt.db, f"{LABEL_STORED} {tag}")) == 1


def test_api_redacts_session_labels_and_host_fields(api: Api) -> None:  # noqa: F811
    client = api.as_("tech")
    tag = uuid.uuid4().hex[:6]
    made = client.post(
        "/api/sessions",
        json={
            "session_title": f"{LABEL} a{tag}",
            "external_session_id": f"{LABEL} a{tag}",
            "started_at": "2026-01-02T10:00:00Z",
            "client_id": str(api.client_a),
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["external_session_id"] == f"{LABEL_STORED} a{tag}"
    assert [s["session_title"] for s in sessions_labelled(api.db, f"{LABEL_STORED} a{tag}")] == [
        f"{LABEL_STORED} a{tag}"
    ]
    recorded = client.post(
        "/api/commands",
        json={"command": "hostname", "exit_code": 0, "host": f"web-{tag}", "session": f"{LABEL} b{tag}"},
    )
    assert recorded.status_code == 201, recorded.text
    (session,) = sessions_labelled(api.db, f"{LABEL_STORED} b{tag}")
    assert session["session_title"] == f"{LABEL_STORED} b{tag}"
    host = client.post(
        "/api/infrastructure",
        json={"hostname": f"DC-{tag}", "client_id": str(api.client_a), **HOST_TEXTS, "traits": TRAITS},
    )
    assert host.status_code == 201, host.text
    served = client.get(f"/api/infrastructure/{host.json()['id']}")
    for body in (host.text, served.text):
        assert not [s for s in HOST_SECRETS if s in body]
    assert_host_is_clean(host_row(api.db, f"DC-{tag}"))


@pytest.fixture
def fresh_db(empty_database_url: URL) -> Iterator[Database]:
    db = Database(empty_database_url)
    try:
        schema.upgrade(db)
        yield db
    finally:
        db.dispose()


def test_audit_diffs_are_redacted_before_they_are_signed(fresh_db: Database, tmp_path: Path) -> None:
    rt = runtime_on(fresh_db, tmp_path / "home")
    entity = uuid.uuid4()
    with rt.db.write() as s:
        row = audit.record(
            s,
            rt.audit_signer,
            local_actor(),
            "update",
            "infrastructure",
            entity,
            {
                "notes": {"from": "x", "to": "net user svc Aud1t!Diff-9 /add"},
                "traits": {"from": {}, "to": {"password": "Aud1t!Trait-9"}},
                "password_encrypted": "changed",
            },
        )
        mac = row.mac
    t = Base.metadata.tables["audit_log"]
    with rt.db.reader.connect() as conn:
        stored = conn.execute(select(t).where(t.c.entity_id == str(entity))).one()
    assert "Aud1t!" not in dumped(dict(stored._mapping))
    assert stored.changes["notes"]["to"] == "net user svc [REDACTED:password] /add"
    assert stored.mac == mac
    with rt.db.read() as s:
        assert audit.verify(s, rt.audit_signer).ok  # signed as it is stored


# Columns the write path leaves as they are: what no one wrote, and the regex built from
# redacted text. An addition here is a decision for review, not a way around redaction.
VERBATIM = {
    "users.password_hash",
    "api_keys.prefix",
    "api_keys.key_hash",
    "machines.machine_fingerprint",
    "audit_chain_head.mac",
    "login_throttles.key",
    "backup_log.checksum_sha256",
    "backup_log.schema_revision",
    "failure_patterns.error_pattern",
    "failure_patterns.error_message_hash",
    "commands_run.fingerprint",
    "commands_run.import_key",
    "operation_failures.fingerprint",
    "audit_chain_head.head_mac",
}


def is_text(column: Column[Any]) -> bool:
    return isinstance(column.type, String | JSON)


def test_every_text_column_is_redacted_unless_verbatim() -> None:
    exempt = {
        f"{t.name}.{c.name}"
        for t in Base.metadata.sorted_tables
        if not t.info.get("signed")
        for c in t.columns
        if is_text(c) and c.key not in text_columns(t)
    }
    assert exempt == VERBATIM
    signed = {t.name for t in Base.metadata.sorted_tables if t.info.get("signed")}
    assert signed == {"audit_log"}


def secret_values(t: Table, n: int) -> tuple[dict[str, Any], str]:
    """Values for every free text and JSON column of ``t`` that carry the secret ``Zq<n>x!9``
    (under a secret's key, in a command line, in a key), and the secret."""
    secret = f"Zq{n}x!9"
    vocab = vocabularies(t)
    values: dict[str, Any] = {}
    for column in t.columns:
        if column.key not in text_columns(t) or column.name in vocab or column.foreign_keys:
            continue
        if isinstance(column.type, JSON):
            values[column.name] = {
                "password": secret,
                "note": f"mysql -uroot -p{secret}2 crm",
                f"curl -u bob:{secret}3 https://x": 1,
            }
            continue
        length = column.type.length or 10_000
        # The number outside the secret too: redacted, unique values must stay unique.
        for shape in (f"{n} password={secret}", f"{n} pw: {secret}"):
            if len(shape) <= length:
                values[column.name] = shape
                break
    return values, secret


WRITE_PATHS = ("core", "orm", "bulk")


@pytest.mark.parametrize("path", WRITE_PATHS)
def test_every_text_column_of_every_table_is_redacted_by_each_write_path(
    migrated_db: Database, path: str
) -> None:
    """What a new column gets without anyone listing it: every table, every free text and
    JSON column, written with Core INSERT … VALUES, the ORM, or bulk.insert_many."""
    classes = {m.local_table.name: m for m in Base.registry.mappers}
    checked = 0
    for t in Base.metadata.sorted_tables:
        if not text_columns(t) or t.name in ("audit_chain_head", "login_throttles"):
            continue
        values, secret = secret_values(t, serial())
        if not values:
            continue
        with migrated_db.writer.begin() as conn:
            # A valid row with its parents, taken out again: the same values with the secret
            # go back in through the write path under test.
            built = build_row(conn, t.name)
            key = {c.name: built[c.name] for c in t.primary_key.columns}
            conn.execute(t.delete().where(*(t.c[k] == v for k, v in key.items())))
            row = {**built, **values}
            if path == "core":
                conn.execute(t.insert().values(**row))
            elif path == "bulk":
                bulk.insert_many(conn, t, [row])
        if path == "orm":
            mapper = classes[t.name]
            with OrmSession(migrated_db.writer) as s:
                s.add(mapper.class_(**{mapper.get_property_by_column(c).key: row[c.name] for c in t.columns}))
                s.commit()
        with migrated_db.reader.connect() as conn:
            stored = conn.execute(select(t).where(*(t.c[k] == v for k, v in key.items()))).one()
        stored_text = dumped(dict(stored._mapping))
        assert secret not in stored_text, f"{t.name} through {path}: {stored_text}"
        assert "[REDACTED:" in stored_text
        checked += 1
    assert checked >= 30


# --------------------------------------------------------------------------------------------
# The corpus through every capture path


@dataclass
class World:
    """One backend after the corpus went through every capture path: where to look."""

    backend: str
    url: URL
    home: Path
    backups: Path
    env: dict[str, str]
    printed: list[str] = field(default_factory=list)  # what processes and tools answered
    logs: list[str] = field(default_factory=list)  # the server's log lines
    refused: list[str] = field(default_factory=list)  # requests the API refused (must be few)
    resources: set[str] = field(default_factory=set)  # the CRUD resources corpus lines were sent to
    created: set[str] = field(default_factory=set)  # ... and those that took one
    database_files: dict[str, bytes] = field(default_factory=dict)  # SQLite's, during the run

    def snapshot(self) -> None:
        """Keep a copy of the SQLite files as they are now (name@round)."""
        if self.url.database and self.backend == "sqlite":
            path = Path(self.url.database)
            taken = len({name.split("@")[1] for name in self.database_files})
            for p in path.parent.iterdir():
                if p.name.startswith(path.name):
                    self.database_files[f"{p.name}@{taken}"] = p.read_bytes()

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*MSP, *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        self.printed += [result.stdout, result.stderr]
        assert result.returncode == 0, (args, result.stderr[-2000:])
        return result


class Captured(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def server_logs(lines: list[str]) -> Iterator[None]:
    handler = Captured(lines)
    loggers = [logging.getLogger(n) for n in ("uvicorn.access", "uvicorn.error", "mspmode")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def chunks_of(texts: Iterable[str], size: int = 12_000) -> list[str]:
    """``texts`` joined by blank lines into pieces of at most about ``size`` characters."""
    out, piece = [], ""
    for t in texts:
        if piece and len(piece) + len(t) > size:
            out.append(piece)
            piece = ""
        piece = f"{piece}\n\n{t}" if piece else t
    return [*out, piece] if piece else out


def fits(column: Column[Any], value: str) -> bool:
    return (
        not isinstance(column.type, String)
        or isinstance(column.type, JSON)
        or len(value) <= (column.type.length or 10**9)
    )


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    backend = str(request.param)
    root = tmp_path_factory.mktemp(f"secrets-{backend}")
    url, drop = create_scratch_database(backend, root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSP_") or k.startswith("MSP_TEST_")}
    env.update(MSP_HOME=str(root / "home"), MSP_DATABASE_URL=url.render_as_string(hide_password=False))
    w = World(backend=backend, url=url, home=root / "home", backups=root / "backups", env=env)
    try:
        w.run("init")
        settings = Settings(home=w.home, database_url=env["MSP_DATABASE_URL"])
        app = create_app(settings)
        rt: Runtime = app.state.runtime
        try:
            # The logging handler after the server started: uvicorn sets its loggers up then.
            with serve_in_thread(app) as base, server_logs(w.logs):
                through_api(w, rt, base)
                through_mcp(w, rt)
                w.snapshot()  # the SQLite files while the server holds them open: the WAL too
            through_cli(w)
            through_import(w, root)
            through_hooks(w, root)
            w.run("backup", "--to", str(w.backups))
            w.snapshot()
        finally:
            rt.dispose()
        yield w
    finally:
        stop_service(env)  # the local service the hooks started: not left for 30 idle minutes
        drop()  # type: ignore[operator]


def api_key(rt: Runtime) -> str:
    auth.create_user(
        rt, local_actor(), username="tech", role="technician", password="correct horse battery staple"
    )
    return auth.create_api_key(rt, local_actor(), name="secrets test", role="technician", username="tech")[1]


def through_api(w: World, rt: Runtime, base: str) -> None:
    """Credentials (the vault-only secrets first), recorded commands, every CRUD resource's text
    and JSON fields, edits (audit diffs), contexts and transcripts, operation failures, queries."""
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {api_key(rt)}"}, timeout=120)

    def send(method: str, path: str, *, taken: bool = False, **kw: Any) -> httpx.Response:
        response = http.request(method, path, **kw)
        w.printed.append(response.text)
        if response.status_code >= 400 and not (taken and response.status_code == 409):
            w.refused.append(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response

    for case in CASES:
        for i, stored in enumerate(case.stored):
            send(
                "POST",
                "/api/credentials",
                json={
                    "service_name": f"vault {case.line}-{i}",
                    "credential_type": "password",
                    "password": stored,
                },
            )
    client_id = send("POST", "/api/clients", json={"name": "Acme Secrets"}).json()["id"]
    session_id = send(
        "POST",
        "/api/sessions",
        json={"session_title": "secrets", "started_at": "2026-01-02T10:00:00Z", "client_id": client_id},
    ).json()["id"]
    commands = [
        {
            "command": c.text if c.kind == "command" else f"cat /etc/app-{c.line}.conf",
            "exit_code": 1,
            "output": c.text,
            "host": f"api-{c.line % 7}",
            **({"session": c.text} if len(c.text) <= 255 else {}),
        }
        for c in CASES
    ]
    for i in range(0, len(commands), 50):
        send("POST", "/api/commands/batch", json={"commands": commands[i : i + 50]})

    # Every resource a technician may create, its free text and JSON fields filled with corpus
    # lines in turn (its parents: rows made through the API before it); and a host with one in
    # every text field and a trait named like a secret.
    parents: dict[str, list[str]] = {"clients": [client_id], "sessions": [session_id]}
    specs = [s for s in RESOURCES if s.write_role == "technician" and s.generic_create and free_text(s)]
    order = [t.name for t in Base.metadata.sorted_tables]
    specs.sort(key=lambda s: order.index(s.table.name))
    w.resources = {s.name for s in specs}
    turn, full = 0, set()
    for n, case in enumerate(CASES):
        for _ in range(len(specs)):
            spec = specs[turn % len(specs)]
            turn += 1
            body = crud_body(spec, parents, case)
            if body is None or spec.name in full:
                continue
            made = send("POST", f"/api/{spec.name}", json=body, taken=spec.name in w.created)
            if made.status_code == 201:
                w.created.add(spec.name)
                parents.setdefault(spec.table.name, []).append(made.json()["id"])
            elif made.status_code == 409 and spec.name in w.created:
                full.add(spec.name)  # one row a parent (a project's state): it has it
            break
        host = send(
            "POST",
            "/api/infrastructure",
            json={
                "hostname": f"api-host-{case.line}",
                "client_id": client_id,
                "notes": case.text,
                "environmental_notes": case.text,
                "limitations": [case.text],
                "traits": {"password": case.secrets[0], "note": case.text},
            },
        )
        if host.status_code == 201 and n % 2:
            edit = CASES[(n + 1) % len(CASES)].text
            send("PATCH", f"/api/infrastructure/{host.json()['id']}", json={"notes": edit, "role": "web"})
        if n % 3 == 0:
            send(
                "POST",
                "/api/operation-failures/record",
                json={
                    "operation_type": "api_call",
                    "operation_description": case.text,
                    "error_message": case.text,
                    "client_id": client_id,
                    "request_data": {"body": case.text, "password": case.secrets[0]},
                },
            )
        if n % 5 == 0:
            send("GET", "/api/problem-solutions", params={"q": case.text[:300]})
            send("GET", "/api/recall", params={"client": client_id, "q": case.text[:300]})
    transcript = [
        json.dumps(
            {"type": "user", "sessionId": "api-transcript", "message": {"role": "user", "content": c.text}}
        )
        for c in CASES
    ]
    send(
        "POST",
        "/api/conversation-contexts/transcript",
        json={"lines": transcript, "client": client_id, "session_id": session_id},
    )
    http.close()


def free_text(spec: ResourceSpec) -> bool:
    """Whether a row of ``spec`` has a free text or JSON field a caller writes (not a link table's
    keys, not a vocabulary), and the row is an entity of its own."""
    t = spec.table
    if spec.name == "credentials" or len(spec.repository.key_columns) > 1:
        return False  # credentials: the vault's tests; link tables: keys only
    return any(t.c[n].key in text_columns(t) and n not in vocabularies(t) for n in spec.writable_fields)


def crud_body(spec: ResourceSpec, parents: dict[str, list[str]], case: SecretCase) -> dict[str, Any] | None:
    """A body creating one row of ``spec``: its free text fields hold the corpus line (those too
    short for it the secret in a shape of its own), its JSON fields a list or object holding it
    (a secret under a key named password); None if a parent it needs does not exist yet. Two
    references to one table (a relationship's two services) get two rows."""
    t, n = spec.table, serial()
    hints = {
        k: str(v) for klass in type.mro(spec.model) for k, v in getattr(klass, "__annotations__", {}).items()
    }
    body: dict[str, Any] = {}
    used: dict[str, int] = {}
    for name in spec.writable_fields:
        column = t.c[name]
        if column.foreign_keys:
            (fk,) = column.foreign_keys
            target = fk.column.table.name
            k = used[target] = used.get(target, -1) + 1
            rows = parents.get(target, [])
            if len(rows) <= k and not column.nullable:
                return None
            if len(rows) > k:
                body[name] = rows[-1 - k]
        elif column.key not in text_columns(t) or name in vocabularies(t):
            body[name] = jsonable(value_for(t, column, n))
        elif isinstance(column.type, JSON):
            body[name] = (
                [case.text]
                if "list" in hints.get(name, "")
                else {"password": case.secrets[0], "note": case.text}
            )
        elif fits(column, case.text):
            body[name] = case.text
        else:
            body[name] = f"{n} password={case.secrets[0]}"[: column.type.length]
    return body


def through_mcp(w: World, rt: Runtime) -> None:
    """The MCP tools an agent calls: record_command, save_context, log_work_item."""
    actor: Actor = local_actor("mcp")
    session_id = learning.record_commands(rt, actor, [learning.CommandIn(command="hostname", exit_code=0)])[
        0
    ].row["session_id"]

    async def calls() -> None:
        async with Client(build_server(rt, fixed_actor(actor))) as client:
            # Two corpus lines a call: one as the command, the other as its output.
            for n in range(0, len(CASES), 2):
                one, other = CASES[n], CASES[(n + 1) % len(CASES)]
                command = one.text if one.kind == "command" else f"type C:\\app\\{one.line}.cfg"
                results = [
                    await client.call_tool(
                        "record_command",
                        {
                            "command": command,
                            "exit_code": 1,
                            "output": f"{one.text}\n{other.text}",
                            "host": f"mcp-{one.line % 5}",
                        },
                    ),
                    await client.call_tool(
                        "save_context",
                        {"title": f"mcp {one.line}", "text": one.text, "client": "Acme Secrets"},
                    )
                    if n % 4 == 0
                    else await client.call_tool(
                        "log_work_item",
                        {"description": one.text, "minutes": 5, "session_id": str(session_id)},
                    ),
                ]
                for result in results:
                    w.printed.extend(getattr(c, "text", "") for c in result.content)
                    assert not result.is_error, result.content

    anyio.run(calls)


def through_cli(w: World) -> None:
    """``msp`` commands in process: contexts, work items in a running session, tasks, hosts with
    notes and a trait named like a secret, clients, a session's summary."""
    runner = CliRunner()
    env = {"MSP_HOME": str(w.home), "MSP_DATABASE_URL": w.env["MSP_DATABASE_URL"]}

    def cli(*args: str) -> None:
        saved = {
            k: v for k, v in os.environ.items() if k.startswith("MSP_") and not k.startswith("MSP_TEST_")
        }
        for k in saved:
            del os.environ[k]
        try:
            result = runner.invoke(cli_app, list(args), env=env)
        finally:
            os.environ.update(saved)
        w.printed.append(result.output)
        assert result.exit_code == 0, (args, result.output, result.exception)

    cli("session", "start", "--client", "Acme Secrets")
    # Options first, then "--": a corpus line may begin with "-" (-----BEGIN …). The free text
    # commands take the corpus in pieces; hosts and clients one line each, in turn.
    for piece in chunks_of(c.text for c in CASES):
        cli("context", "save", "--title", "cli context", "--text", piece, "--client", "Acme Secrets")
        cli("work", "add", "--minutes", "5", "--", f"work\n{piece}")
        cli("task", "add", "--client", "Acme Secrets", "--description", piece, "--", "cli task")
    for case in CASES[::10]:
        t, s = case.text, case.secrets[0]
        cli(
            "host",
            "add",
            "--client",
            "Acme Secrets",
            "--notes",
            t,
            "--trait",
            f"password={s}",
            "--",
            f"cli-{case.line}",
        )
    for case in CASES[5::10]:
        cli("client", "add", "--notes", case.text, "--", f"cli {case.line} {case.text}"[:255])
    cli("session", "stop", "--summary", "\n".join(c.text for c in CASES[:40]))


def through_import(w: World, root: Path) -> None:
    """``msp import``: host lines with secrets in notes, limitations and traits (a key named
    password among them), command lines with secrets in command, output and session label."""
    lines: list[dict[str, Any]] = [{"kind": "client", "name": "Imported Secrets"}]
    for case in CASES:
        lines.append(
            {
                "kind": "host",
                "client": "Imported Secrets",
                "hostname": f"imp-{case.line}",
                "notes": case.text,
                "environmental_notes": case.text,
                "limitations": [case.text],
                "password": case.secrets[0],
                f"trait_{case.line}": case.text,
            }
        )
    for n, case in enumerate(CASES):
        lines.append(
            {
                "kind": "command",
                "host": f"imp-{case.line}",
                "command": case.text if case.kind == "command" else f"cat /srv/{case.line}.env",
                "exit_code": 1,
                "output": case.text,
                "at": f"2026-01-03T10:{n // 60:02d}:{n % 60:02d}Z",
                **({"session": case.text} if len(case.text) <= 255 else {}),
            }
        )
    history = root / "history.jsonl"
    history.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    report = json.loads(w.run("import", str(history), "--json").stdout)
    assert not report["bad_lines"] and report["commands"] == len(CASES) and report["hosts"] == len(CASES)
    checks = root / "checks.jsonl"
    checks.write_text("".join(json.dumps({"host": f"imp-{c.line}", "command": c.text}) + "\n" for c in CASES))
    w.run("check", "--json", "--batch", str(checks))


def through_hooks(w: World, root: Path) -> None:
    """The Claude Code hooks as Claude Code runs them, local mode: the corpus in commands,
    outputs, errors, prompts and a transcript saved at the next session start."""
    cwd, transcript = root, root / "transcript.jsonl"
    transcript.write_text(
        "".join(
            json.dumps({"type": "user", "sessionId": "hooks", "message": {"role": "user", "content": c.text}})
            + "\n"
            for c in CASES
        ),
        encoding="utf-8",
    )

    def base(event: str, session: str = "hooks-session") -> dict[str, Any]:
        return {
            "session_id": session,
            "transcript_path": str(transcript),
            "cwd": str(cwd),
            "permission_mode": "default",
            "hook_event_name": event,
        }

    def hook(event: str, payload: dict[str, Any]) -> None:
        proc = subprocess.run(
            hook_argv(event),
            input=json.dumps(payload),
            env=w.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        w.printed += [proc.stdout, proc.stderr]
        assert proc.returncode == 0, proc.stderr

    def bash(event: str, command: str, **extra: Any) -> dict[str, Any]:
        return {
            **base(event),
            "tool_name": "Bash",
            "tool_input": {"command": command, "description": "run"},
            "tool_use_id": f"toolu_{uuid.uuid4().hex[:12]}",
            **extra,
        }

    hook("SessionStart", {**base("SessionStart"), "source": "startup"})
    commands = chunks_of(c.text for c in CASES if c.kind == "command")
    outputs = chunks_of(c.text for c in CASES if c.kind != "command")
    for n, command in enumerate(commands):
        hook("PreToolUse", bash("PreToolUse", command))
        output = outputs[n % len(outputs)]
        if n % 2:
            hook("PostToolUseFailure", bash("PostToolUseFailure", command, error=f"Exit code 1\n{output}"))
        else:
            hook("PostToolUse", bash("PostToolUse", command, tool_response={"stdout": output, "stderr": ""}))
    for output in outputs:
        hook(
            "PostToolUse",
            bash("PostToolUse", "cat /etc/app.conf", tool_response={"stdout": output, "stderr": ""}),
        )
        hook("UserPromptSubmit", {**base("UserPromptSubmit"), "prompt": output})
    hook("Stop", {**base("Stop"), "stop_hook_active": False})
    hook("SessionEnd", {**base("SessionEnd"), "reason": "prompt_input_exit"})
    hook("SessionStart", {**base("SessionStart", "hooks-next"), "source": "startup"})


# --------------------------------------------------------------------------------------------
# Where the corpus could be left


def test_every_path_stored_the_corpus_redacted(world: World) -> None:
    """The capture paths wrote what they were given (redacted): the scans below look at rows
    that exist, and the API refused almost nothing."""
    engine = create_engine(world.url)
    try:
        with engine.connect() as conn:

            def count(sql: str) -> int:
                return int(conn.execute(text(sql)).scalar_one())

            assert count("SELECT count(*) FROM commands_run") >= 2 * len(CASES)
            assert count("SELECT count(*) FROM infrastructure WHERE notes LIKE '%[REDACTED:%'") >= len(CASES)
            assert count("SELECT count(*) FROM conversation_contexts") >= len(CASES) // 6
            assert count("SELECT count(*) FROM work_items") >= len(CASES) // 4
            assert count("SELECT count(*) FROM operation_failures") >= len(CASES) // 3
            assert count("SELECT count(*) FROM audit_log") >= len(CASES)
    finally:
        engine.dispose()
    assert len(world.refused) <= len(CASES) // 20, "\n".join(world.refused)
    assert world.created == world.resources


def test_the_database_holds_no_secret(world: World) -> None:
    if world.backend == "sqlite":
        names = {name.split("@")[0] for name in world.database_files}
        assert names >= {"msp.db", "msp.db-wal", "msp.db-shm"}, names
        assert len(world.database_files["msp.db-wal@0"]) > 100_000  # the WAL held the run's pages
        chunks = list(world.database_files.values())
    else:
        chunks = rows_of(world.url)
    assert not leaks(chunks)


def test_msp_home_holds_no_secret(world: World) -> None:
    """The one store (the hooks' index and the learning state), the hooks' log and queues, the
    current session."""
    stores = list((world.home / "cache").glob("hook-index-*.sqlite"))
    assert len(stores) == 1, stores
    with sqlite3.connect(f"file:{stores[0]}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM state").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM patterns").fetchone() != (0,)
    assert not leaks(files_under(world.home))


def test_the_backup_holds_no_secret(world: World) -> None:
    files = files_under(world.backups)
    assert files and sum(len(f) for f in files) > 100_000
    assert not leaks(files)


def test_logs_and_answers_hold_no_secret(world: World) -> None:
    assert any("POST /api/commands/batch" in line for line in world.logs)  # the logs were captured
    assert not leaks(line.encode() for line in [*world.logs, *world.printed])
