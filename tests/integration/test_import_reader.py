"""An import read by a second process (``services/learning/reader.py``) stores exactly what an
import read in one process stores — redaction by the rules and by the vault's known secrets
included — on every backend; a reading process that fails or is left behind fails the import
and leaves nothing, and no child process outlives it."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mspmode import engine
from mspmode.db import bulk, schema
from mspmode.db.redaction import Redactor
from mspmode.db.session import Database
from mspmode.models.core import Session as WorkSession
from mspmode.models.learning import FailurePattern, ProblemSolution
from mspmode.models.work import CommandRun
from mspmode.services import credentials, learning
from mspmode.services.actor import local_actor
from mspmode.services.learning import reader, text
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file
from mspmode.vault.redact import redact
from tests.conftest import create_scratch_database
from tests.corpora import load_secret_cases, vault_plaintexts
from tests.rows import build_row

ADMIN = local_actor()
VAULT_SECRET = "Tr0ub4dor&3-vault-only"  # no rule knows it: only the known secrets do


def history(path: Path, commands: int) -> Path:
    lines: list[str] = [
        json.dumps({"kind": "client", "name": "Acme"}),
        json.dumps(
            {"kind": "host", "client": "Acme", "hostname": "web1", "os": "Ubuntu", "os_version": "22.04"}
        ),
        json.dumps({"kind": "host", "client": "Acme", "hostname": "dc1", "shell_type": "powershell"}),
        "",
        "{not json",
        json.dumps({"kind": "check", "host": "web1", "command": "ls"}),
        json.dumps({"kind": "telemetry"}),
        json.dumps({"kind": "command", "host": "web1", "exit_code": 0}),
    ]
    for i in range(commands):
        host = ("web1", "dc1", "WEB1", None)[(i // 9) % 4]  # a failure and its fix on one host
        at = f"2026-01-{1 + i // 400:02d}T{(i // 20) % 24:02d}:{i % 60:02d}:00Z"
        if i % 9 == 0:
            event = {
                "command": f"tool{i % 50} --frobnicate {i}",
                "exit_code": 1,
                "output": f"tool{i % 50}: unrecognized option '--frobnicate'",
            }
        elif i % 9 == 1:
            event = {"command": f"tool{(i - 1) % 50} --frob {i}", "exit_code": 0, "output": "done"}
        elif i % 9 == 2:
            event = {
                "command": f"mysql -u root -pS3cr3tPass{i % 7}! -e 'select 1'",
                "exit_code": 0,
                "output": f"login with {VAULT_SECRET} ok",
            }
        elif i % 9 == 3:
            # Read in the shell of the host the wrapper names, which changes below.
            event = {
                "command": f"ssh admin@dc1 'Get-LocalUser -Name u{i % 11}'",
                "exit_code": 1,
                "output": "The term 'Get-LocalUser' is not recognized as the name of a cmdlet",
            }
        else:
            event = {"command": f"uptime {i % 13}", "exit_code": 0, "output": f"up {i} days\n" * (i % 3)}
        lines.append(
            json.dumps({"kind": "command", "host": host, "at": at, "session": f"s{i // 100}", **event})
        )
        if i == commands // 2:
            # dc1 changes shell halfway: the reading process applies the line to its copy of
            # the memory, to read what follows in the dialect the learning reads it in.
            lines.append(
                json.dumps({"kind": "host", "client": "Acme", "hostname": "dc1", "shell_type": "cmd"})
            )
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def runtimes(backend: str, tmp_path: Path) -> Iterator[Callable[[str], Runtime]]:
    made: list[tuple[Runtime, Callable[[], None]]] = []

    def make(name: str) -> Runtime:
        url, drop = create_scratch_database(backend, tmp_path / name)
        home = tmp_path / name / "home"
        home.mkdir(parents=True)
        for key in KEY_NAMES:
            ensure_key_file(key, home / f"{key}.key")
        db = Database(url)
        schema.upgrade(db)
        rt = Runtime(Settings(home=home, database_url=url.render_as_string(hide_password=False)), db)
        credentials.create(
            rt,
            ADMIN,
            credentials.CREDENTIALS,
            {"service_name": "vault only", "credential_type": "password", "password": VAULT_SECRET},
        )
        made.append((rt, drop))  # type: ignore[arg-type]
        return rt

    yield make
    for rt, drop in made:
        rt.dispose()
        drop()


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the children ``os.fork`` made (it still forks)."""
    pids: list[int] = []
    real = os.fork

    def fork() -> int:
        pid = real()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return pids


def stored(rt: Runtime) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with rt.db.read() as s:
        commands = s.execute(
            select(
                CommandRun.command_text,
                CommandRun.output_summary,
                CommandRun.host,
                CommandRun.exit_code,
                CommandRun.success,
                CommandRun.failure_category,
                CommandRun.culprit,
                CommandRun.fingerprint,
                CommandRun.resolved,
                CommandRun.executed_at,
            ).order_by(CommandRun.executed_at, CommandRun.id)
        ).all()
        patterns = s.execute(
            select(
                FailurePattern.id,
                FailurePattern.culprit,
                FailurePattern.occurrence_count,
                FailurePattern.workaround_commands,
            ).order_by(FailurePattern.id)
        ).all()
    # Rows with the same time come in id order, and ids are random: compare them sorted.
    return sorted(tuple(map(str, r)) for r in commands), [tuple(r) for r in patterns]


def report_of(report: learning.ImportReport) -> dict[str, Any]:
    return {k: v for k, v in report.to_dict().items() if k not in ("seconds", "commands_per_second")}


def single_threaded(deadline_s: float = 30.0) -> bool:
    """``reader.can_fork()`` once threads an earlier test in this worker left (a check's verdict
    writer, a server's) have ended: a fork is only taken in a single-threaded process."""
    deadline = time.monotonic() + deadline_s
    while not reader.can_fork() and time.monotonic() < deadline:
        time.sleep(0.05)
    return reader.can_fork()


def test_a_file_read_by_a_second_process_is_imported_as_one_process_imports_it(
    runtimes: Callable[[str], Runtime], tmp_path: Path, forks: list[int]
) -> None:
    assert single_threaded(), (
        "the fork path is what this test is about: run it on Linux; threads left: "
        f"{[t.name for t in threading.enumerate()]}"
    )
    path = history(tmp_path / "history.jsonl", 5 * reader.CHUNK + 37)  # several chunks and a rest
    one, two = runtimes("one"), runtimes("two")
    seen: list[int] = []
    alone = learning.import_file(one, ADMIN, path, parallel=False)
    assert forks == []
    forked = learning.import_file(two, ADMIN, path, parallel=True, progress=seen.append)
    assert len(forks) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)  # reaped

    assert report_of(forked) == report_of(alone)
    assert forked.commands == 5 * reader.CHUNK + 37 and forked.bad_lines == [
        (5, forked.bad_lines[0][1]),
        (8, "lacks the field 'command'"),
    ]
    assert seen == sorted(seen) and seen[-1] == path.stat().st_size and len(seen) >= 6
    commands, patterns = stored(two)
    assert (commands, patterns) == stored(one)
    assert forked.patterns_new >= 50 and forked.fixes >= 50
    everything = repr(commands)
    assert "S3cr3tPass" not in everything and VAULT_SECRET not in everything
    assert "[REDACTED:" in everything


def test_a_reading_process_that_fails_fails_the_import_with_the_name_of_its_error(tmp_path: Path) -> None:
    assert single_threaded()
    capture: Any = object()  # never used: the file is missing before any line is read
    with pytest.raises(reader.ReaderError, match=r"failed in its process \(FileNotFoundError\)"):  # noqa: SIM117
        with reader.chunks(capture, [], tmp_path / "gone.jsonl", fork=True) as chunks:
            list(chunks)


def test_an_import_that_fails_while_the_file_is_read_stores_nothing_and_leaves_no_process(
    runtimes: Callable[[str], Runtime], tmp_path: Path, forks: list[int]
) -> None:
    path = history(tmp_path / "history.jsonl", 4 * reader.CHUNK)
    rt = runtimes("one")

    def interrupted(done: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C after the first chunk, the child still reading

    with pytest.raises(KeyboardInterrupt):
        learning.import_file(rt, ADMIN, path, parallel=True, progress=interrupted)
    assert len(forks) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)
    assert stored(rt) == ([], [])
    # And the next import works.
    assert learning.import_file(rt, ADMIN, path, parallel=True).commands == 4 * reader.CHUNK


def test_prepared_lines_are_what_the_recorder_would_have_made_of_them(
    runtimes: Callable[[str], Runtime],
) -> None:
    rt = runtimes("one")
    capture = text.Capture(rt)
    raw = json.dumps(
        {
            "kind": "command",
            "host": "web1",
            "command": "curl -H 'Authorization: Bearer abcdef0123456789abcdef' https://x.test",
            "exit_code": 0,
            "output": f"{VAULT_SECRET}\x00\n" + "x" * 100_000,
        }
    )
    number, kind, payload = reader.prepare(capture, {}, 7, raw)  # type: ignore[misc]
    item = reader.command_of(json.loads(raw))
    assert (number, kind) == (7, "command")
    assert payload[0] == text.prepare_command(capture, item.command)
    assert payload[2] == text.prepare_output(capture, item.output)
    assert "abcdef0123456789abcdef" not in payload[0] and VAULT_SECRET not in payload[2]
    assert payload[3] == "web1" and payload[6] is None  # read ahead only with a memory given
    memory = engine.Memory()
    engine.add_host(memory, "WEB1", {"shell_type": "powershell"})
    ahead = reader.prepare(capture, {}, 7, raw, memory)
    assert ahead is not None and ahead[2][:6] == payload[:6]
    assert ahead[2][6] == engine.read_ahead(memory, "web1", payload[0], 0, payload[2])
    assert ahead[2][6].dialects == ("powershell", None)
    assert reader.prepare(capture, {}, 8, b"   \n") is None
    assert reader.prepare(capture, {}, 9, b"[1]") == (9, "bad", "not a JSON object but list")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
HOST_FIELDS = st.sampled_from(
    ["hostname", "name", "aliases", "ip_address", "fqdn", "client", "shell_type", "os", "os_version", "x"]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(HOST_FIELDS, JSON_VALUES, max_size=6))
def test_a_host_line_of_any_shape_never_fails_the_reading_process(fields: dict[str, Any]) -> None:
    """The reading process applies host lines to its copy of the memory before the learning
    checks them: a line the learning refuses must not end the import there."""
    memory = engine.Memory()
    raw = json.dumps({"kind": "host", **fields})
    capture: Any = object()  # a host line is not redacted here
    assert reader.prepare(capture, {}, 1, raw, memory) == (1, "event", json.loads(raw))


WIDE_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**70)  # around and beyond orjson's 64 bits
    | st.floats()  # NaN and infinities too: json writes and reads them, orjson refuses them
    | st.text(max_size=20)
    | st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=4),  # lone surrogates
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
LINE_FIELDS = st.sampled_from(["kind", "command", "exit_code", "output", "host", "at", "session", "x"])


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(LINE_FIELDS, WIDE_VALUES, max_size=6),
    st.sampled_from(["command", "host", None]),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "str"]),
    st.booleans(),
)
def test_a_line_is_parsed_exactly_as_json_parses_it(
    fields: dict[str, Any], kind: str | None, encoding: str, ascii_only: bool
) -> None:
    """``reader.parse_json`` takes orjson's result only where it is ``json.loads``'s: the same
    values and types, or the same refusal (a bad line either way)."""
    if kind is not None:
        fields = {"kind": kind, **fields}
    dumped = json.dumps(fields, ensure_ascii=ascii_only)
    raw: bytes | str = dumped if encoding == "str" else dumped.encode(encoding, "surrogatepass")
    try:
        expected: Any = repr(json.loads(raw))
    except (ValueError, UnicodeDecodeError) as exc:
        expected = type(exc)
    try:
        got: Any = repr(reader.parse_json(raw))
    except (ValueError, UnicodeDecodeError) as exc:
        got = type(exc)
    assert got == expected


@pytest.mark.parametrize("depth", [500, 1_000, 1_100, 100_000])
def test_a_deeply_nested_line_is_read_or_is_a_bad_line_never_a_failed_import(depth: int) -> None:
    """orjson reads 1,024 levels, ``json`` as deep as the recursion limit lets it: a line either
    reader takes is read, one too deep for both is a bad line with its number."""
    nested = "[" * depth + "]" * depth
    raw = f'{{"kind": "command", "command": "uptime", "exit_code": 0, "x": {nested}}}'.encode()
    # Nothing of the vault to redact; the write path's redactor notes what was redacted.
    capture: Any = SimpleNamespace(known_secrets=None, db=SimpleNamespace(redactor=Redactor()))
    prepared = reader.prepare(capture, {}, 4, raw)
    assert prepared is not None
    if depth <= 500:
        assert reader.parse_json(raw) == json.loads(raw)
    if depth <= 1_000:
        assert prepared[1] == "command" and prepared[2][0] == "uptime"
    elif depth > 1_024:  # beyond orjson's limit, and json's
        assert prepared == (4, "bad", "not JSON (nested too deeply)")


def corpus_history(path: Path, fillers: int) -> Path:
    """Every line of the secrets corpus as a command line (its text as the command, or as the
    output of a failing one: patterns and drafts are written from those), among ``fillers``
    routine commands, so that it spans several of the reading process's chunks."""
    lines = [json.dumps({"kind": "host", "hostname": "web1", "os": "Ubuntu"})]
    cases = load_secret_cases()
    for i, case in enumerate(cases):
        if case.kind == "command":
            lines.append(
                json.dumps({"kind": "command", "host": "web1", "command": case.text, "exit_code": 2})
            )
        else:
            lines.append(
                json.dumps(
                    {"kind": "command", "host": "web1", "command": f"cat conf{i}", "exit_code": 1,
                     "output": case.text}
                )
            )  # fmt: skip
        fix = {"kind": "command", "host": "web1", "command": f"cat conf{i}.bak", "exit_code": 0}
        filler = {"kind": "command", "host": "web1", "command": f"uptime {i}", "exit_code": 0}
        lines += [json.dumps(fix)] + [json.dumps(filler)] * (fillers // len(cases))
    path.write_text("\n".join(lines) + "\n")
    return path


def stored_texts(rt: Runtime) -> str:
    """Every text and JSON column of the tables an import writes, as one string."""
    with rt.db.read() as s:
        rows = [
            dict(r._mapping)
            for table in (CommandRun, FailurePattern, ProblemSolution, WorkSession)
            for r in s.execute(select(table.__table__))
        ]
    return json.dumps(rows, default=str, ensure_ascii=False)


def test_an_import_read_by_a_second_process_stores_every_corpus_secret_redacted(
    runtimes: Callable[[str], Runtime], tmp_path: Path, forks: list[int]
) -> None:
    """The reading process's redaction is taken as it is (sealed ``Redacted`` text): what it
    stored is what ``redact`` makes of each corpus text with the vault's secrets, and no
    corpus secret is anywhere in what the import wrote."""
    assert single_threaded()
    rt = runtimes("one")
    for n, plaintext in enumerate(vault_plaintexts()):
        credentials.create(
            rt,
            ADMIN,
            credentials.CREDENTIALS,
            {"service_name": f"corpus {n}", "credential_type": "password", "password": plaintext},
        )
    path = corpus_history(tmp_path / "corpus.jsonl", 3 * reader.CHUNK)
    report = learning.import_file(rt, ADMIN, path, parallel=True)
    assert len(forks) == 1 and not report.bad_lines and report.patterns_new > 0 and report.fixes > 0
    blob = stored_texts(rt)
    leaked = [
        f"line {case.line}: {secret!r}"
        for case in load_secret_cases()
        for secret in case.secrets
        if secret in blob or json.dumps(secret)[1:-1] in blob
    ]
    assert not leaked
    with rt.db.read() as s:
        commands = set(s.scalars(select(CommandRun.command_text)))
    for case in load_secret_cases():
        if case.kind == "command":
            assert text.prepare_command(rt, case.text) in commands


def test_a_secret_the_vault_learns_during_an_import_is_not_stored_from_later_lines(
    runtimes: Callable[[str], Runtime], tmp_path: Path, forks: list[int]
) -> None:
    """Lines the reading process redacted before a secret joined the vault are sealed with the
    vault as it was: the write path does not take them as redacted, and redacts them again
    with the secret."""
    assert single_threaded()
    rt = runtimes("one")
    late = "Qw7-joined-the-vault-late"
    lines = [
        json.dumps({"kind": "command", "host": "web1", "command": f"login {late} {i}", "exit_code": 0})
        for i in range(4 * reader.CHUNK)
    ]
    path = tmp_path / "late.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rt.reload_keyring()  # the known secrets read from the vault as it is now: none rebuilt meanwhile
    assert rt.known_secrets is not None

    def vault_learns(done: int) -> None:
        rt.remember_secret(late)  # as credentials.create does once it stored one

    report = learning.import_file(rt, ADMIN, path, parallel=True, progress=vault_learns)
    assert len(forks) == 1 and report.commands == 4 * reader.CHUNK
    with rt.db.read() as s:
        commands = list(s.scalars(select(CommandRun.command_text)))
    assert len(commands) == 4 * reader.CHUNK
    # The first chunk was stored before the vault knew it; every line after, redacted.
    later = {f"login [REDACTED:vault] {i}" for i in range(reader.CHUNK, 4 * reader.CHUNK)}
    assert later <= set(commands)


def test_plain_text_handed_to_the_write_path_is_redacted(runtimes: Callable[[str], Runtime]) -> None:
    """What is not ``Redacted`` text as the redactor made it is redacted on the way in — a
    plain string, text redacted and then cut or joined, text redacted without the vault's
    secrets."""
    rt = runtimes("one")
    cut = text.prepare_command(rt, f"mysql -u root -pS3cr3tPass1! -e 'select 1' {VAULT_SECRET}")
    rows = [
        "mysql -u root -pS3cr3tPass2! -e 'select 1'",
        cut[:9] + "-pS3cr3tPass3!",
        redact(f"echo {VAULT_SECRET}"),  # the rules only
    ]
    table = CommandRun.__table__
    with rt.db.writer.begin() as conn:
        built = []
        for command in rows:
            row = build_row(conn, "commands_run")  # a valid row with its parents, taken out again
            conn.execute(table.delete().where(table.c.id == row["id"]))
            built.append({**row, "command_text": command, "import_key": None})
        bulk.insert_many(conn, table, built)  # type: ignore[arg-type]
    with rt.db.read() as s:
        stored = set(s.scalars(select(CommandRun.command_text)))
    assert stored == {
        "mysql -u root -p[REDACTED:password] -e 'select 1'",
        "mysql -u -p[REDACTED:password]",
        "echo [REDACTED:vault]",
    }, stored
