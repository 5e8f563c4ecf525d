"""Reading a history file for an import: each line parsed and checked, and the text of its
command redacted and cut to size, before the learning sees it — in a second process when the
file is large.

The learning must take the commands one by one, in order: each learns from those before it.
The reading needs nothing the learning knows — the JSON, the checks of each field and, costing
most, the redaction of every command and output — so on Linux a file of ``PARALLEL_FROM``
bytes or more is read by a forked child. It sends the prepared lines through a pipe in chunks
of ``CHUNK`` lines while the parent learns from the chunk before, and the two use both cores.
The child also reads each command ahead (``engine.read_ahead``: its dialect, the failure's
class, culprit and fingerprint) with its copy of the learning's memory, to which it applies
the file's host lines; the learning takes a reading only if it reads the command the same way.

The child is forked once the recording has begun, so it redacts with the same snapshot of the
vault's known secrets as the recording (``text.Capture``); it touches no database connection,
and leaves with ``os._exit`` (no clean-up of what it inherited). Only its redacted output
crosses the pipe, the commands' and outputs' texts sealed (``vault.redact.seal``): the parent
gets them back as ``Redacted`` text, which the write path stores without redacting it again —
and as plain text, redacted again, if the seal is not its fork's or the vault's secrets
changed meanwhile. A failure in the child reaches the parent as the name of the exception,
without its message. With other threads running (a fork would copy their locks but not the threads)
or without ``fork``, the same reading runs in the importing process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from mspmode import engine
from mspmode.errors import MSPError, ValidationError
from mspmode.services.learning import text
from mspmode.services.learning.command import CommandIn, exit_code_value, host_label, utc_at
from mspmode.vault.redact import Sealed, seal, unseal

if TYPE_CHECKING:
    from mspmode.vault.known import KnownSecrets

CHUNK = 2_000  # lines a message from the reading process holds; progress is reported as often
CHUNK_BYTES = 32 * 2**20  # or fewer, once their lines add up to this: a chunk's memory is bounded
PARALLEL_FROM = 4_000_000  # bytes: below this (about 8,000 commands), a fork costs more than it saves
# A longer line is reported as bad and read past, never held: a command's text and output are
# cut far below this anyway, and a line is parsed whole.
MAX_LINE_BYTES = 16 * 2**20

# One line as the learning takes it: its number, its kind and what it carries —
# "command": a ``command.PreparedCommand``; "event": the parsed line of any other kind;
# "bad": why the line cannot be used.
Prepared = tuple[int, str, Any]
Chunk = tuple[int, list[Prepared]]  # bytes read so far, the prepared lines


class BadLineError(Exception):
    """A line of an import file that cannot be used; the message says why."""


class ReaderError(MSPError):
    """The process reading the file failed or ended before the file did (out of memory, say):
    the import is rolled back, and the message names the failure."""


class LongLine:
    """A line longer than the limit it was read with, skipped: only its size is kept."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size


def bounded_lines(handle: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[bytes | LongLine]:
    """The lines of ``handle`` (with their newline), each of at most ``limit`` bytes before
    it; a longer one is read past in pieces and given as a :class:`LongLine`, so memory stays
    bounded whatever the file holds (one huge line, no newline at all)."""
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        size = len(line)
        while not line.endswith(b"\n"):
            line = handle.readline(2**20)
            if not line:
                break
            size += len(line)
        yield LongLine(size)


def prepare(
    capture: text.Capture,
    cleaned: dict[str, str],
    number: int,
    raw: bytes | str | LongLine,
    memory: engine.Memory | None = None,
) -> Prepared | None:
    """Line ``number`` as the learning takes it; None for a blank line. With ``memory`` (the
    learning's, as it was when the reading began), a command is also read ahead
    (``engine.read_ahead``) and a host line added to ``memory``, so that the commands after it
    are read in its shell's dialect."""
    if isinstance(raw, LongLine):
        return (number, "bad", f"longer than {MAX_LINE_BYTES // 2**20} MiB ({raw.size:,} bytes): not read")
    if not raw.strip():
        return None
    try:
        try:
            event = parse_json(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadLineError(f"not JSON ({_short(str(exc))})") from None
        except RecursionError:
            raise BadLineError("not JSON (nested too deeply)") from None
        if not isinstance(event, dict):
            raise BadLineError(f"not a JSON object but {type(event).__name__}")
        kind = event.get("kind")
        if not isinstance(kind, str) or not kind:
            raise BadLineError("lacks the field 'kind'")
        if kind != "command":
            if kind == "host" and memory is not None:
                engine.ingest(memory, event)
            return (number, "event", event)
        item = command_of(event)
    except BadLineError as exc:
        return (number, "bad", str(exc))
    command = text.prepare_command(capture, item.command, cleaned)
    output = text.prepare_output(capture, item.output, cleaned)
    label = host_label(item.host)
    reading = None
    if memory is not None:
        reading = engine.read_ahead(memory, label, command, item.exit_code, output)
    return (
        number,
        "command",
        (command, item.exit_code, output, label, item.at, text.prepare_label(item.session, 255), reading),
    )


def parse_json(raw: bytes | str) -> Any:
    """``json.loads(raw)``, taken from orjson (four times faster) where the two agree: orjson
    refuses what ``json`` takes (NaN, lone surrogates, a byte order mark, UTF-16) and reads an
    integer beyond 64 bits as a float, so those lines are read again by ``json``, as are the
    lines other than commands (few, and their values nest)."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)
    if type(event) is dict and event.get("kind") == "command" and not _floats_in(event):
        return event
    return json.loads(raw)


def _floats_in(value: Any) -> bool:
    """Whether a float stands anywhere in ``value``, however deep (a loop, not a recursion:
    orjson reads 1,024 levels)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float:
            return True
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
    return False


def read(
    capture: text.Capture, lines: Iterable[bytes | str | LongLine], memory: engine.Memory | None = None
) -> Iterator[Chunk]:
    """The prepared lines of ``lines``, in chunks, in this process (``memory``: see
    ``prepare``)."""
    cleaned: dict[str, str] = {}
    done = 0
    held = 0  # bytes of the lines in ``items``
    items: list[Prepared] = []
    for number, raw in enumerate(lines, 1):
        done += len(raw)
        item = prepare(capture, cleaned, number, raw, memory)
        if item is not None:
            items.append(item)
            held += len(raw)
        if number % CHUNK == 0 or held >= CHUNK_BYTES:
            yield done, items
            items, held = [], 0
    yield done, items


def can_fork() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


@contextlib.contextmanager
def chunks(
    capture: text.Capture,
    lines: Iterable[bytes | str | LongLine],
    path: Path | None = None,
    *,
    fork: bool = False,
    memory: engine.Memory | None = None,
) -> Iterator[Iterator[Chunk]]:
    """The prepared lines of ``lines`` in chunks: read by a forked child from ``path`` (the
    file ``lines`` come from) when ``fork`` and ``can_fork()``, else in this process. The
    child also reads each command ahead with its copy of ``memory`` (the learning's, which
    it never touches); in this process that would only move the work."""
    if not (fork and path is not None and can_fork()):
        yield read(capture, lines)
        return
    receive, send = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(receive)
        _child(Connection(send, readable=False), capture, path, memory)
    os.close(send)
    connection = Connection(receive, writable=False)
    try:
        yield _received(connection, capture)
    finally:
        connection.close()  # a child still writing gets a broken pipe
        with contextlib.suppress(ChildProcessError):  # reaped by someone else (SIGCHLD ignored)
            if os.waitpid(pid, os.WNOHANG) == (0, 0):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


def _sealed(items: list[Prepared], known: KnownSecrets | None) -> tuple[list[Prepared], Sealed]:
    """``items`` without their commands' and outputs' texts, and those texts sealed."""
    texts: list[str] = []
    out: list[Prepared] = []
    for number, kind, payload in items:
        if kind == "command":
            command, exit_code, output, *rest = payload
            texts += (command, output)
            payload = (None, exit_code, None, *rest)
        out.append((number, kind, payload))
    return out, seal(texts, known)


def _unsealed(items: list[Prepared], sealed: Sealed, capture: text.Capture) -> list[Prepared]:
    """``_sealed`` undone: the texts put back, as ``Redacted`` text where the seal holds (and
    noted by the write path's redactor, which meets plain copies of them in patterns)."""
    unsealed = unseal(sealed, capture.known_secrets)
    capture.db.redactor.note(unsealed, capture.known_secrets)
    texts = iter(unsealed)
    out: list[Prepared] = []
    for number, kind, payload in items:
        if kind == "command":
            _, exit_code, _, *rest = payload
            payload = (next(texts), exit_code, next(texts), *rest)
        out.append((number, kind, payload))
    return out


def _received(connection: Connection, capture: text.Capture) -> Iterator[Chunk]:
    while True:
        try:
            message = connection.recv()
        except EOFError:
            raise ReaderError("the process reading the file ended before the file did") from None
        if message[0] == "chunk":
            yield message[1], _unsealed(message[2], message[3], capture)
        elif message[0] == "end":
            return
        else:
            raise ReaderError(f"reading the file failed in its process ({message[1]})")


def _child(connection: Connection, capture: text.Capture, path: Path, memory: engine.Memory | None) -> None:
    code = 1
    try:
        with path.open("rb") as handle:
            for done, items in read(capture, bounded_lines(handle), memory):
                connection.send(("chunk", done, *_sealed(items, capture.known_secrets)))
        connection.send(("end",))
        code = 0
    except BaseException as exc:
        # The name only: a message could quote the file's text.
        with contextlib.suppress(BaseException):
            connection.send(("error", type(exc).__name__))
    finally:
        os._exit(code)


# --------------------------------------------------------------------------------------------
# The fields of a command line


def command_of(event: dict[str, Any]) -> CommandIn:
    """The command a ``{"kind": "command"}`` line reports, its fields checked."""
    command = event.get("command")
    if not isinstance(command, str) or not command.strip():
        raise BadLineError("lacks the field 'command'")
    if "exit_code" not in event:
        raise BadLineError("lacks the field 'exit_code'")
    try:
        exit_code = exit_code_value(event["exit_code"])
    except ValidationError as exc:
        raise BadLineError(str(exc)) from None
    output = event.get("output")
    if output is not None and not isinstance(output, str):
        if isinstance(output, bool) or not isinstance(output, int | float):
            raise BadLineError("output must be text")
        output = str(output)
    host = event.get("host")
    if host is not None and not isinstance(host, str):
        raise BadLineError("host must be a host's name or address")
    session = event.get("session")
    if session is not None and not isinstance(session, str | int):
        raise BadLineError("session must be a label")
    return CommandIn(
        command=command,
        exit_code=exit_code,
        output=output,
        host=host,
        at=_at(event.get("at")),
        session=None if session is None else str(session),
    )


def _at(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadLineError("at must be an ISO 8601 time")
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadLineError(f"at is not an ISO 8601 time: {_short(value)!r}") from None
    try:
        return utc_at(at)
    except ValidationError as exc:
        raise BadLineError(str(exc)) from None


def _short(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
