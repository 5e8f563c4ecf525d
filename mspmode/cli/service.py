"""``msp local-service start|stop|status``: the local service of ``MSP_HOME``, which the hooks start on
demand (``mspmode/localservice.py``); these are for a person who wants to see or steer it."""

from __future__ import annotations

import time

import typer

from mspmode.cli.app import app, emit_json, load_settings
from mspmode.errors import ConfigError
from mspmode.hooks import config as hook_config
from mspmode.hooks import service as hook_files

service_app = typer.Typer(help="The local service the hooks, CLI and MCP tools ask.", no_args_is_help=True)
app.add_typer(service_app, name="local-service")
START_TIMEOUT = 300.0  # seconds: warming a large history on a loaded machine


def _config() -> hook_config.HookConfig:
    settings = load_settings()
    return hook_config.HookConfig(settings.home, settings.database_url)


def _describe(status: dict[str, object], home: str) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(str(status["started_at"]))))
    return (
        f"running: pid {status['pid']}, 127.0.0.1:{status['port']}, version {status['version']} "
        f"({status['code']}), since {started}, idle {float(str(status['idle_seconds'])):.0f}s "
        f"of {float(str(status['idle_limit_seconds'])):.0f}s; home {home}"
    )


@service_app.command("start")
def start(json_out: bool = typer.Option(False, "--json", help="Print the status as JSON.")) -> None:
    """Start the local service (if it is not running) and wait until it answers warm.

    The hooks start it themselves when a tool call needs it, and it exits after
    MSP_SERVICE_IDLE_MINUTES (default 30) without a request.
    """
    cfg = _config()
    if not hook_files.database_present(cfg):
        raise ConfigError(f"no database at {cfg.sqlite_path}: run `msp init` first")
    hook_files.ensure_started(cfg)
    try:
        status = hook_files.wait_ready(cfg, START_TIMEOUT)
    except hook_files.OtherCode:
        hook_files.stop(cfg)
        hook_files.ensure_started(cfg)
        status = hook_files.wait_ready(cfg, START_TIMEOUT)
    except hook_files.Unavailable as exc:
        raise ConfigError(f"{exc}; see {hook_files.path(cfg, hook_files.LOG_FILE)}") from None
    emit_json(status) if json_out else typer.echo(_describe(status, cfg.home))


@service_app.command("stop")
def stop() -> None:
    """Stop the local service: it saves what it learned and exits (the next hook starts it)."""
    cfg = _config()
    if hook_files.stop(cfg):
        typer.echo("stopped")
    elif hook_files.running(cfg.home):
        raise ConfigError("the local service did not stop; see " + hook_files.path(cfg, hook_files.LOG_FILE))
    else:
        typer.echo("not running")


@service_app.command("status")
def status(json_out: bool = typer.Option(False, "--json", help="Print the status as JSON.")) -> None:
    """Whether the local service runs, where, which version, and how long it has been idle.
    Exit 1 when it is not running (or not answering)."""
    cfg = _config()
    try:
        answer = hook_files.request(cfg, "GET", "/api/service", timeout=5.0)
    except hook_files.Unavailable as exc:
        state = "starting" if hook_files.running(cfg.home) else "not running"
        if json_out:
            emit_json({"running": False, "state": state, "reason": str(exc)})
        else:
            typer.echo(f"{state} ({exc})")
        raise typer.Exit(1) from None
    emit_json({"running": True, **answer}) if json_out else typer.echo(_describe(answer, cfg.home))
