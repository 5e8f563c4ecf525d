"""The client side of the local service, with the standard library alone: find it, ask it,
start it, stop it; and what a hook keeps under ``MSP_HOME`` when it cannot be asked.

Files in ``MSP_HOME``
    ``service.json``   {"port", "pid", "version", "code", "started_at"}: written by the service
                       once it has warmed what it learned and listens; removed when it exits.
    ``service.token``  a random secret, 0600, new at every start: the service takes it as this
                       machine's own user (``Authorization: Bearer``). Never logged, never in
                       ``service.json``.
    ``service.lock``   held (``fcntl.flock`` / ``msvcrt.locking``) by the one running service
                       for its whole life: a second one started for the same ``MSP_HOME`` exits.
    ``journal.jsonl``  what PostToolUse hooks could not hand to the service, redacted; the
                       service records it (idempotently) when it starts and whenever it is
                       asked to record after that. ``journal.lock`` serialises writers with it,
                       ``journal.replay.lock`` the replays (one at a time, or a line is stored twice).
    ``hook-sessions/`` per Claude session: the commands it was warned about and chose to run
                       again (hashes), and whether it was told MSP Mode is degraded.

Protocol
    ``POST /api/hooks/{event}`` with the event's JSON (plus ``msp``: what only this machine
    knows: the current session, queued transcripts); the answer ``{"hook": …, "warned": bool}``.
    Loopback HTTP/1.1 over a plain socket: ``http.client`` costs a hook more imports than the
    whole request takes. A team server (``https://…``) is asked with ``http.client``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import zlib

from mspmode.hooks import config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mspmode.hooks.config import HookConfig

INFO_FILE = "service.json"
TOKEN_FILE = "service.token"
LOCK_FILE = "service.lock"
LOG_FILE = "service.log"
FAILED_FILE = "service.failed"  # touched by a service that could not start
RETRY_AFTER = 60.0  # seconds before a hook starts a service again after one failed
JOURNAL_FILE = "journal.jsonl"
JOURNAL_LOCK = "journal.lock"
REPLAY_LOCK = "journal.replay.lock"
SESSIONS_DIR = "hook-sessions"
CONNECT_TIMEOUT = 0.5  # loopback: a service that does not accept at once is not there
REQUEST_TIMEOUT = 20.0  # a PostToolUse that learns, a SessionStart that saves sessions
MAX_RESPONSE = 16 * 1024 * 1024


class Unavailable(Exception):
    """The service cannot be asked now (not running, starting, an error)."""


class OtherCode(Unavailable):
    """The running local service is of another version or install than this client."""


class Refused(Unavailable):
    """The service answered, with a 4xx: asking again will not change it."""


# --------------------------------------------------------------------------------------------
# Identity of the installed code


def package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def version() -> str:
    """``mspmode.__version__`` read from the file (importing it would run nothing more, but
    reading keeps a hook's imports to what it uses)."""
    try:
        with open(os.path.join(package_root(), "__init__.py"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("__version__"):
                    return line.split("=", 1)[1].strip().strip("\"'")
    except OSError:
        pass
    return "0"


def code_stamp() -> str:
    """The installed package's source files as they are now (names, sizes, mtimes): another
    install, an upgrade or an edited checkout is another stamp, and a client that sees one
    unlike the running service's restarts it."""
    root = package_root()
    parts: list[str] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in ("__pycache__", "static", "templates"):
                    stack.append(entry.path)
            elif entry.name.endswith(".py"):
                st = entry.stat()
                parts.append(f"{entry.path[len(root) :]}:{st.st_size}:{st.st_mtime_ns}")
    parts.sort()
    return f"{zlib.crc32(chr(10).join(parts).encode()):08x}"


# --------------------------------------------------------------------------------------------
# Files


def path(cfg_or_home: HookConfig | str, name: str) -> str:
    home = cfg_or_home if isinstance(cfg_or_home, str) else cfg_or_home.home
    return os.path.join(home, name)


def read_info(home: str) -> dict[str, Any]:
    try:
        with open(path(home, INFO_FILE), encoding="utf-8") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("port"), int) else {}


def read_token(home: str) -> str | None:
    try:
        with open(path(home, TOKEN_FILE), encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError:
        return None


def write_private(file: str, text: str) -> None:
    """Write ``text`` to ``file`` as 0600, atomically (a reader never sees half of it)."""
    tmp = f"{file}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, file)


# --------------------------------------------------------------------------------------------
# Locks: one service per MSP_HOME, one journal writer at a time


def try_lock(file: str, *, wait: bool = False) -> int | None:
    """An exclusive lock on ``file`` (created 0600): its descriptor, or None if another process
    holds it (``wait``: block until it is free). Released by :func:`unlock` or at exit."""
    os.makedirs(os.path.dirname(file), mode=0o700, exist_ok=True)
    fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt

            if os.fstat(fd).st_size == 0:
                os.write(fd, b"\0")  # msvcrt locks bytes: there must be one
            os.lseek(fd, 0, 0)
            mode = msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK
            msvcrt.locking(fd, mode, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        os.close(fd)
        return None
    return fd


def unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, 0)
        try:  # noqa: SIM105 - contextlib costs a hook imports
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
    os.close(fd)  # closing releases a flock


def running(home: str) -> bool:
    """Whether a service holds the lock of ``home`` (running, or starting and warming)."""
    fd = try_lock(path(home, LOCK_FILE))
    if fd is None:
        return True
    unlock(fd)
    return False


# --------------------------------------------------------------------------------------------
# Asking


def _request_loopback(
    port: int, method: str, target: str, token: str | None, body: bytes | None, timeout: float
) -> tuple[int, bytes]:
    head = [
        f"{method} {target} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Connection: close",
        "Accept: application/json",
    ]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    data = ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        raise Unavailable(f"not listening on port {port}: {exc}") from None
    try:
        sock.settimeout(timeout)
        sock.sendall(data)
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_RESPONSE:
                raise Unavailable("the answer is too large")
    except OSError as exc:
        raise Unavailable(f"{method} {target}: {exc}") from None
    finally:
        sock.close()
    raw = b"".join(chunks)
    header, sep, payload = raw.partition(b"\r\n\r\n")
    if not sep:
        raise Unavailable(f"{method} {target}: the connection closed before an answer")
    lines = header.split(b"\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise Unavailable(f"{method} {target}: not an HTTP answer") from None
    if any(line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower() for line in lines):
        payload = _unchunk(payload)
    return status, payload


def _unchunk(data: bytes) -> bytes:
    out, pos = [], 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            break
        size = int(data[pos:end].split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(data[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2
    return b"".join(out)


def _request_remote(
    base: str, method: str, target: str, token: str | None, body: bytes | None, timeout: float
) -> tuple[int, bytes]:
    import http.client  # a team server: TLS and proxies are http.client's business
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=timeout)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, parts.path.rstrip("/") + target, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(MAX_RESPONSE)
    except OSError as exc:
        raise Unavailable(f"{method} {target}: {exc}") from None
    finally:
        conn.close()


def request(
    cfg: HookConfig, method: str, target: str, body: Any = None, *, timeout: float | None = None
) -> Any:
    """One request to the service this configuration uses (the team server, or the local
    service of ``cfg.home`` as ``service.json`` names it); the JSON answer. Unavailable when it
    cannot answer, or when the running local service is of other code than this one."""
    raw = None if body is None else json.dumps(body).encode()
    if cfg.team:
        status, data = _request_remote(
            cfg.server or "", method, target, cfg.api_key(), raw, timeout or cfg.timeout
        )
    else:
        info = read_info(cfg.home)
        if not info:
            raise Unavailable("the local service is not running")
        if info.get("version") != version() or info.get("code") != code_stamp():
            raise OtherCode("the local service runs other code: it is being restarted")
        if info.get("database") != config.database_label(cfg.database_url, cfg.home):
            # Started for another database (another install sharing this MSP_HOME): never
            # answered or recorded by it; restarted for this one, as for other code.
            raise OtherCode("the local service serves another database: it is being restarted")
        status, data = _request_loopback(
            info["port"], method, target, read_token(cfg.home), raw, timeout or REQUEST_TIMEOUT
        )
    if status >= 300:
        message = data[:300].decode("utf-8", "replace")
        kind = Refused if 400 <= status < 500 else Unavailable
        raise kind(f"{method} {target}: HTTP {status} {message}")
    return json.loads(data) if data.strip() else None


# --------------------------------------------------------------------------------------------
# Starting and stopping


def spawn(cfg: HookConfig, *, replace: bool = False) -> None:
    """Start the local service of ``cfg.home`` in the background, detached from the caller
    (its own session, or ``DETACHED_PROCESS``); returns at once. A second start while one runs
    exits by itself (the lock); with ``replace`` it waits for the running one to stop."""
    import subprocess

    env = dict(os.environ, MSP_HOME=cfg.home)
    if cfg.database_url:
        env["MSP_DATABASE_URL"] = cfg.database_url
    root = os.path.dirname(package_root())
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    argv = [sys.executable, "-m", "mspmode.localservice", "--home", cfg.home]
    if replace:
        argv.append("--replace")
    os.makedirs(cfg.home, mode=0o700, exist_ok=True)
    if os.name == "nt":
        flags = 0x00000008 | 0x00000200  # DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP
        subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            creationflags=flags,
            close_fds=True,
        )
        return
    # POSIX: the launcher forks the service off and exits at once (waited for here, so no
    # zombie is left in a long-lived caller); the service is adopted by init.
    subprocess.run(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        check=False,
        timeout=30,
    )


def database_present(cfg: HookConfig) -> bool:
    """Whether there is a database to serve: an SQLite file that exists, or a server URL.
    Starting a service for a missing file would create an empty database."""
    from mspmode.hooks import config

    return config.missing_database(cfg) is None


def ensure_started(cfg: HookConfig) -> bool:
    """Start the local service unless one holds the lock; True if one was started."""
    if cfg.team or not database_present(cfg) or running(cfg.home):
        return False
    try:
        if time.time() - os.stat(path(cfg, FAILED_FILE)).st_mtime < RETRY_AFTER:
            return False  # it failed just now (see service.log): not one process per tool call
    except OSError:
        pass
    spawn(cfg)
    return True


def stop(cfg: HookConfig, timeout: float = 30.0) -> bool:
    """Ask the local service to stop and wait until its lock is free; True if one was stopped.
    A service that does not answer is ended by its pid."""
    if not running(cfg.home):
        return False
    info = read_info(cfg.home)
    asked = ask_stop(cfg.home)
    deadline = time.monotonic() + timeout
    while running(cfg.home):
        if time.monotonic() > deadline:
            if not asked or not isinstance(info.get("pid"), int):
                return False
            _terminate(info["pid"])
            asked = False
            deadline = time.monotonic() + 10
        time.sleep(0.05)
    return True


def ask_stop(home: str) -> bool:
    """Ask the local service of ``home`` to stop (it saves and exits); True if it was asked."""
    info = read_info(home)
    if not info:
        return False
    try:
        _request_loopback(info["port"], "POST", "/api/service/stop", read_token(home), b"{}", 5.0)
    except Unavailable:
        return False
    return True


def _terminate(pid: int) -> None:
    import signal

    try:  # noqa: SIM105 - contextlib costs a hook imports
        os.kill(pid, signal.SIGTERM)
    except OSError:
        pass


def wait_ready(cfg: HookConfig, timeout: float) -> dict[str, Any]:
    """Poll until the local service answers its status; its status, or Unavailable."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            answer = request(cfg, "GET", "/api/service")
            if isinstance(answer, dict):
                return answer
        except Unavailable as exc:
            last = exc
        time.sleep(0.05)
    raise Unavailable(f"the local service did not answer within {timeout:.0f}s ({last})")


# --------------------------------------------------------------------------------------------
# The journal: what could not be handed over


def journal_append(cfg: HookConfig, item: dict[str, Any]) -> None:
    """Append one command to the journal, redacted (the journal is a file), durably: the hook
    answers only after it is on disk."""
    from mspmode.vault.redact import redact  # standard library only; loaded when degraded

    line = dict(item)
    for key in ("command", "output", "reason"):
        if isinstance(line.get(key), str):
            line[key] = redact(line[key])
    text = json.dumps(line, ensure_ascii=False) + "\n"
    os.makedirs(cfg.home, mode=0o700, exist_ok=True)
    fd_lock = try_lock(path(cfg, JOURNAL_LOCK), wait=True)
    try:
        fd = os.open(path(cfg, JOURNAL_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        if fd_lock is not None:
            unlock(fd_lock)


# --------------------------------------------------------------------------------------------
# Per Claude session: warnings already given, "degraded" already said


def _session_file(cfg: HookConfig, session_id: Any, suffix: str) -> str | None:
    if not isinstance(session_id, str) or not session_id:
        return None
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in session_id)[:100]
    return os.path.join(cfg.home, SESSIONS_DIR, safe + suffix)


def command_key(session_id: str, command: str) -> str:
    """A key for one command in one session: two checksums, not the text (it may hold a
    secret, and this is a file)."""
    data = f"{session_id}\0{command.strip()}".encode()
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def was_warned(cfg: HookConfig, session_id: Any, command: str) -> bool:
    file = _session_file(cfg, session_id, ".warned")
    if file is None:
        return False
    try:
        with open(file, encoding="ascii") as f:
            return command_key(session_id, command) in f.read().split()
    except OSError:
        return False


def remember_warned(cfg: HookConfig, session_id: Any, command: str) -> None:
    file = _session_file(cfg, session_id, ".warned")
    if file is None:
        return
    os.makedirs(os.path.dirname(file), mode=0o700, exist_ok=True)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (command_key(session_id, command) + "\n").encode())
    finally:
        os.close(fd)


def _degraded_file(cfg: HookConfig, session_id: Any) -> str | None:
    return _session_file(cfg, session_id if session_id else "no-session", ".degraded")


def degraded_before(cfg: HookConfig, session_id: Any) -> bool:
    """Whether a hook of this Claude session already found MSP Mode degraded."""
    file = _degraded_file(cfg, session_id)
    return file is not None and os.path.exists(file)


def first_degraded(cfg: HookConfig, session_id: Any) -> bool:
    """True exactly once per Claude session (the first hook that finds MSP Mode degraded)."""
    file = _degraded_file(cfg, session_id)
    if file is None:
        return False
    os.makedirs(os.path.dirname(file), mode=0o700, exist_ok=True)
    try:
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return False
    except OSError:
        return True
    return True


def forget_session(cfg: HookConfig, session_id: Any) -> None:
    for suffix in (".warned", ".degraded"):
        file = _session_file(cfg, session_id, suffix)
        if file is not None:
            try:  # noqa: SIM105 - contextlib costs a hook imports
                os.unlink(file)
            except OSError:
                pass
