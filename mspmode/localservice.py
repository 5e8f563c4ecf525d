"""The local service: ``python -m mspmode.localservice --home DIR [--replace] [--foreground]``.

The same application a team runs (``mspmode.server:create_app``: the REST API with the MCP
tools), served by uvicorn on 127.0.0.1 at a port the system picks, for one ``MSP_HOME``: the
hooks, the CLI and the MCP tools ask it instead of loading what was learned themselves. The
files it keeps in ``MSP_HOME`` (``service.json``, ``service.token``, ``service.lock``) are
described in :mod:`mspmode.hooks.service`, which is also how everything else finds, starts and
stops it.

Life
    Started on demand (detached) by the first hook that needs it, by ``msp hooks install`` and
    by ``msp local-service start``. It takes the lock (a second one exits; ``--replace`` waits for
    the one being stopped), writes a new token, listens, loads what was learned (the last
    state in the one store, caught up with the database) and records what hooks journaled while it was
    down; only then does it write ``service.json``, so a client that finds it gets warm
    answers. It exits after ``MSP_SERVICE_IDLE_MINUTES`` without a request, on
    ``POST /api/service/stop`` (what a client of other code asks) or on SIGTERM/SIGINT,
    saving what it learned into the one store for the next start.

On POSIX the launcher forks the service into a session of its own and returns; on Windows the
caller detaches it (``DETACHED_PROCESS``). Composition root, like ``server.py``: nothing
imports it.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import secrets
import socket
import sys
import threading
import time
from typing import Any

from mspmode.hooks import config as hook_config
from mspmode.hooks import service as files

REPLACE_WAIT = 60.0  # seconds --replace waits for the old service to let go of the lock
log = logging.getLogger("mspmode.localservice")


class LocalService:
    """What the app's service routes see of the process that serves it (``app.state``)."""

    def __init__(self, port: int, idle_limit: float) -> None:
        self.port = port
        self.pid = os.getpid()
        self.started_at = time.time()
        self.last_request = time.monotonic()
        self.idle_limit = idle_limit
        self.version = files.version()
        self.code = files.code_stamp()
        self.stopping = threading.Event()

    def status(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "port": self.port,
            "version": self.version,
            "code": self.code,
            "started_at": self.started_at,
            "idle_seconds": round(time.monotonic() - self.last_request, 3),
            "idle_limit_seconds": self.idle_limit,
        }

    def stop(self) -> None:
        self.stopping.set()


class _Touch:
    """ASGI wrapper: every request resets the idle clock."""

    def __init__(self, app: Any, state: LocalService) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            self.state.last_request = time.monotonic()
        await self.app(scope, receive, send)


def _take_lock(home: str, replace: bool) -> int | None:
    file = files.path(home, files.LOCK_FILE)
    fd = files.try_lock(file)
    deadline = time.monotonic() + (REPLACE_WAIT if replace else 0)
    while fd is None and time.monotonic() < deadline:
        time.sleep(0.1)
        fd = files.try_lock(file)
    return fd


def _log_to_file(home: str) -> None:
    fd = os.open(files.path(home, files.LOG_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s pid=%(process)d %(name)s: %(message)s")
    logging.getLogger("mspmode").setLevel(logging.INFO)


def _forget(file: str) -> None:
    try:  # noqa: SIM105
        os.unlink(file)
    except FileNotFoundError:
        pass


class NoDatabase(Exception):
    """The SQLite file the service was started for is not there."""


def serve(home: str, on_ready: Any = None) -> int:
    """Run the service of ``home`` until it is idle, stopped or signalled (the lock is held)."""
    # Start-up makes a few hundred thousand objects that live as long as the service (the
    # application, what was learned): without the cyclic collector walking them again and
    # again while they are made, and, once made, out of its way for good (frozen).
    gc.disable()
    import uvicorn

    from mspmode import server
    from mspmode.services import hooks as hook_service
    from mspmode.services.actor import local_actor
    from mspmode.settings import Settings

    info_file = files.path(home, files.INFO_FILE)
    journal = files.path(home, files.JOURNAL_FILE)
    try:  # noqa: SIM105
        os.unlink(info_file)  # a service killed before it could remove it
    except FileNotFoundError:
        pass
    settings = Settings()
    db = settings.db_url
    if db.drivername.startswith("sqlite") and db.database and not os.path.exists(db.database):
        # Opening it would create an empty database: every known failure let through, in silence.
        raise NoDatabase(f"no database at {db.database}: not started (run `msp init`)")
    token = secrets.token_urlsafe(32)
    files.write_private(files.path(home, files.TOKEN_FILE), token + "\n")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    state = LocalService(sock.getsockname()[1], settings.service_idle_minutes * 60)
    app = server.create_app(settings)
    rt = app.state.runtime
    rt.local_token = token
    app.state.local_service = state
    keeper = hook_service.IndexKeeper(rt)
    app.state.index_keeper = keeper
    started = time.monotonic()
    actor = local_actor("hook", "claude-code")
    hook_service.warm(rt, actor, keeper)
    gc.freeze()
    gc.enable()
    log.info("warm in %.2fs", time.monotonic() - started)
    config = uvicorn.Config(
        _Touch(app, state), log_level="warning", access_log=False, proxy_headers=False, lifespan="on"
    )
    uv = uvicorn.Server(config)

    def watch() -> None:
        try:
            _watch()
        except BaseException:
            log.exception("the service's watch failed: exiting")
        finally:  # whatever ends the watch ends the service: never a live process no one finds
            uv.should_exit = True

    def _watch() -> None:
        while not uv.started:
            if uv.should_exit:
                return
            time.sleep(0.01)
        info = {
            "port": state.port,
            "pid": state.pid,
            "version": state.version,
            "code": state.code,
            "started_at": state.started_at,
            # The database it serves, as the hooks name it (no password): a hook installed for
            # another one has this service replaced rather than answer from the wrong memory.
            "database": hook_config.database_label(settings.database_url, home),
        }
        import json

        files.write_private(info_file, json.dumps(info))
        if on_ready is not None:
            on_ready()
        log.info("listening on 127.0.0.1:%d", state.port)
        while not uv.should_exit:
            if state.stopping.wait(1.0):
                log.info("stop asked")
                break
            # A hook that found the service down (killed, restarting) journaled its command
            # while this one started: learned now, not when the next command happens to come.
            if os.path.exists(journal):
                try:
                    hook_service.replay_journal(rt, actor, keeper)
                except Exception as exc:  # the next PostToolUse or start takes it up again
                    log.warning("journal not replayed: %s", type(exc).__name__)
            if time.monotonic() - state.last_request > state.idle_limit:
                log.info("idle for %.0fs: exiting", state.idle_limit)
                break

    watcher = threading.Thread(target=watch, name="msp-service-watch", daemon=True)
    watcher.start()
    try:
        uv.run(sockets=[sock])
    finally:
        _remove_if_ours(info_file, state.pid)
        keeper.close(30.0)
        try:
            hook_service.save_state(rt)
        except Exception as exc:  # the next start replays from the database instead
            log.warning("state not saved: %s", type(exc).__name__)
        rt.dispose()
    return 0


def _remove_if_ours(info_file: str, pid: int) -> None:
    import json

    try:
        with open(info_file, encoding="utf-8") as f:
            if json.loads(f.read()).get("pid") != pid:
                return
        os.unlink(info_file)
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mspmode.localservice")
    parser.add_argument("--home", required=True)
    parser.add_argument("--replace", action="store_true", help="wait for a running service to stop")
    parser.add_argument("--foreground", action="store_true", help="do not fork into the background")
    args = parser.parse_args(argv)
    home = os.path.abspath(args.home)
    os.environ["MSP_HOME"] = home
    os.makedirs(home, mode=0o700, exist_ok=True)
    if not args.foreground and os.name == "posix" and os.fork():
        os._exit(0)  # the launcher returns; the service goes on in the child, in its own session
    if not args.foreground and os.name == "posix":
        os.setsid()
    lock = _take_lock(home, args.replace)
    if lock is None:
        return 0  # another service has this MSP_HOME
    if not args.foreground:
        _log_to_file(home)
        sys.stdin.close()
    failed = files.path(home, files.FAILED_FILE)
    try:
        return serve(home, lambda: _forget(failed))
    except NoDatabase as exc:
        log.warning("%s", exc)
        with open(failed, "a"):
            os.utime(failed)
        return 1
    except Exception:
        log.exception("the local service failed")
        with open(failed, "a"):
            os.utime(failed)
        return 1
    finally:
        files.unlock(lock)


if __name__ == "__main__":
    raise SystemExit(main())
