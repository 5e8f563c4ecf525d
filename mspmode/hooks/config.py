"""Where a hook finds things, read with the standard library alone (``settings.py`` needs
pydantic, which a hook may not import).

The same rules as :mod:`mspmode.settings`: ``MSP_HOME`` (default: the user data dir,
``~/.local/share/mspmode`` on Linux), ``MSP_DATABASE_URL`` (default: ``MSP_HOME/msp.db``).
``msp hooks install`` may add a ``--home`` to the installed command line (Claude Code does not
pass our environment) and writes ``MSP_HOME/hooks.json``::

    {"server": "https://msp.example:8000", "api_key_file": "/home/tech/.msp-key",
     "timeout": 3.0}

or, in local mode, the database it was installed for (``{"database_url": "sqlite:///…"}``), used
when ``MSP_DATABASE_URL`` is not set: Claude Code started from another shell still uses it.

With ``server`` set the hooks are in team mode: they talk to ``msp serve`` with ``urllib`` and
never open a database. ``hook.log`` in ``MSP_HOME`` gets one line per internal error, redacted.
"""

from __future__ import annotations

import json
import os
import sys
import time

# typing and dataclasses cost a hook 15 ms of imports, pathlib 5 (it loads urllib.parse and
# ipaddress): paths here are strings, made with os.path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    StrPath = str | os.PathLike[str]

CONFIG_FILE = "hooks.json"
LOG_FILE = "hook.log"
SESSION_FILE = "current-session.json"
LOG_MAX_BYTES = 1_000_000  # then the log starts again (one old copy kept)
DEFAULT_TIMEOUT = 3.0
# Installed to run in the background (Claude Code's ``async``): the tool's result goes to the
# model without waiting for them, and what they print is not read. PostToolUse (the tool
# succeeded) only records what ran; PostToolUseFailure stays in line, as its answer (what
# worked instead) is for the model.
ASYNC_EVENTS = frozenset({"PostToolUse"})


def default_home() -> str:
    """``platformdirs.user_data_path("mspmode", appauthor=False)`` without platformdirs."""
    user = os.path.expanduser("~")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(user, "AppData", "Local")
        return os.path.join(base, "mspmode")
    if sys.platform == "darwin":
        return os.path.join(user, "Library", "Application Support", "mspmode")
    base = os.environ.get("XDG_DATA_HOME", "").strip()
    return os.path.join(base or os.path.join(user, ".local", "share"), "mspmode")


class HookConfig:
    __slots__ = ("api_key_file", "database_url", "home", "mcp_servers", "server", "timeout")

    def __init__(
        self,
        home: StrPath,
        database_url: str | None,  # as given (MSP_DATABASE_URL); None: SQLite in home
        server: str | None = None,
        api_key_file: StrPath | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        mcp_servers: tuple[str, ...] = (),
    ) -> None:
        self.home: str = os.fspath(home)
        self.database_url, self.server = database_url, server
        self.api_key_file = os.fspath(api_key_file) if api_key_file is not None else None
        self.timeout = timeout
        self.mcp_servers = mcp_servers

    @property
    def team(self) -> bool:
        return bool(self.server)

    @property
    def sqlite_path(self) -> str | None:
        """The SQLite file of the database, or None for PostgreSQL/MariaDB."""
        return sqlite_path(self.database_url, self.home)

    def api_key(self) -> str | None:
        if self.api_key_file is None:
            return None
        try:
            with open(self.api_key_file, encoding="utf-8") as f:
                return f.read().strip() or None
        except OSError:
            return None


def sqlite_path(database_url: str | None, home: StrPath) -> str | None:
    if not database_url:
        return os.path.join(home, "msp.db")
    raw = database_url.strip()
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme.split("+", 1)[0] != "sqlite":
        return None
    path = rest[1:] if rest.startswith("/") else rest  # sqlite:///rel or sqlite:////abs
    path = path.split("?", 1)[0]
    if "%" in path:  # urllib.parse costs a hook 4 ms: only for a URL that needs it
        from urllib.parse import unquote

        path = unquote(path)
    return path or None


def missing_database(cfg: HookConfig) -> str | None:
    """What to tell when the hooks' SQLite database is not there (None: it is, or the hooks use
    a server). Never created here: an empty database would let every known failure through in
    silence (issue 16)."""
    path = None if cfg.team else cfg.sqlite_path
    if path is None or os.path.exists(path):
        return None
    return (
        f"MSP Mode's database {path} does not exist, so its hooks check and record nothing in this "
        "session. Tell the user to run `msp init`, or `msp hooks install` with MSP_DATABASE_URL set "
        "to the database MSP Mode should use."
    )


def database_label(database_url: str | None, home: StrPath) -> str:
    """A name for the database that never holds a password (the pre-check index's name)."""
    path = sqlite_path(database_url, home)
    if path is not None:
        return f"sqlite:{os.path.abspath(path)}"
    from urllib.parse import urlsplit

    parts = urlsplit((database_url or "").strip())
    scheme = parts.scheme.split("+", 1)[0]  # the same database whichever driver names it
    return f"{scheme}://{parts.hostname}:{parts.port}{parts.path}"


def load(home: str | os.PathLike[str] | None = None) -> HookConfig:
    """The configuration: ``home`` (the installed ``--home``) over ``MSP_HOME`` over the default."""
    env_home = os.environ.get("MSP_HOME", "").strip()
    base = os.fspath(home) if home else os.path.expanduser(env_home) if env_home else default_home()
    data = read_json(os.path.join(base, CONFIG_FILE))
    url = os.environ.get("MSP_DATABASE_URL", "").strip() or None
    if url is None and isinstance(data.get("database_url"), str):
        url = data["database_url"]
    key_file = data.get("api_key_file")
    timeout = data.get("timeout")
    servers = data.get("mcp_servers")
    return HookConfig(
        home=base,
        database_url=url,
        server=data.get("server") if isinstance(data.get("server"), str) else None,
        api_key_file=key_file if isinstance(key_file, str) and key_file else None,
        timeout=float(timeout) if isinstance(timeout, int | float) and timeout > 0 else DEFAULT_TIMEOUT,
        mcp_servers=tuple(s for s in servers if isinstance(s, str)) if isinstance(servers, list) else (),
    )


def read_json(path: StrPath) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def current_session(cfg: HookConfig) -> dict[str, Any]:
    """``MSP_HOME/current-session.json`` (written by ``msp session start``), or {}."""
    data = read_json(os.path.join(cfg.home, SESSION_FILE))
    return data if isinstance(data.get("session_id"), str) else {}


def log(cfg: HookConfig | None, event: str, message: str) -> None:
    """One redacted line in ``MSP_HOME/hook.log``; never raises (a hook must answer)."""
    try:
        from mspmode.vault.redact import redact  # stdlib-only, but 60 ms: only when logging

        home = cfg.home if cfg is not None else load().home
        os.makedirs(home, mode=0o700, exist_ok=True)
        path = os.path.join(home, LOG_FILE)
        try:
            if os.stat(path).st_size > LOG_MAX_BYTES:
                os.replace(path, path + ".1")
        except OSError:
            pass
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = redact(" ".join(message.split()))[:4000]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(f"{stamp} pid={os.getpid()} {event}: {line}\n")
    except Exception:  # logging must never be why a hook fails
        pass
