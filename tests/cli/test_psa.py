"""``msp psa``, ``msp ticket link`` and the session hooks, in process against a fake PSA: the
daily loop from connecting the PSA to the billing report, what is shown when the PSA is down,
and that the PSA's keys appear nowhere in plain text — database file, logs, errors,
``external_integrations``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from mspmode.cli.app import app
from mspmode.integrations.psa import units
from mspmode.models.integrations import ExternalIntegration
from tests.cli.test_entities import Msp, cli  # noqa: F401  (fixture)
from tests.fakes.psa import VENDORS


def add_psa(cli: Msp, kind: str, base: str, tmp_path: Path, name: str | None = None) -> None:  # noqa: F811
    v = VENDORS[kind]
    key_file = tmp_path / f"{kind}.key"
    key_file.write_text(v.secrets)
    args = [
        "psa",
        "add",
        kind,
        "--url",
        base + v.path,
        "--api-key-file",
        str(key_file),
        "--name",
        name or kind,
    ]
    opts = v.options
    if opts.get("username"):
        args += ["--username", opts["username"]]
    if opts.get("client_id"):
        args += ["--client-id", opts["client_id"]]
    for key, value in (opts.get("settings") or {}).items():
        args += [f"--{key}", value] if key in ("tenant", "member") else ["--setting", f"{key}={value}"]
    assert "sealed" in cli(*args).stdout


def test_the_daily_loop_with_a_psa(cli: Msp, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)
    v = VENDORS["connectwise"]
    fake = v.make()
    with fake.serve():
        fake.add_ticket(4711, "Printers offline", "In Progress")
        add_psa(cli, "connectwise", fake.base_url, tmp_path)
        listed = cli.json("psa", "list")
        assert listed[0]["kind"] == "connectwise" and listed[0]["secrets"] == ["password"]
        assert "ok, company acmemsp" in cli("psa", "test").stdout

        cli("client", "add", "Acme Corp")
        assert "no ticket 999" in cli.error("session", "start", "--client", "Acme Corp", "--ticket", "999")
        assert cli.json("session", "status") is None  # the refused start left nothing running
        started = cli("session", "start", "--client", "Acme Corp", "--ticket", "4711").stdout
        assert "linked connectwise ticket 4711: Printers offline [In Progress]" in started
        cli("work", "add", "Cleared the print queue on PRN1", "--minutes", "50")
        cli("work", "add", "Coffee with the office manager", "--minutes", "15", "--no-billable")
        fake.tickets[4711]["status"]["name"] = "Waiting on Client"
        status = cli.json("session", "status")
        assert [(t["ticket_number"], t["ticket_status"]) for t in status["tickets"]] == [
            ("4711", "Waiting on Client")
        ]
        assert "ticket 4711: Printers offline [Waiting on Client]" in cli("session", "status").stdout

        stopped = cli("session", "stop", "--summary", "Printing works again").stdout
        assert "posted note to ticket 4711" in stopped and "posted time to ticket 4711" in stopped
        assert len(fake.notes) == 1 and "Printing works again" in fake.notes[0]["text"]
        assert units.from_hours(fake.times[0]["actualHours"]) == 50
        assert fake.times[0]["billableOption"] == "Billable" and fake.times[0]["member"] == {
            "identifier": "jdoe"
        }
        assert "nothing due" in cli("psa", "sync").stdout
        billing = cli.json(
            "report", "billing", "--client", "Acme Corp", "--from", "2000-01-01", "--to", "2100-01-01"
        )
        assert (billing["psa_posted_minutes"], billing["psa_unposted_minutes"]) == (50, 0)

        # The PSA is down when the next session stops: the CLI returns, the posts wait.
        cli("session", "start", "--client", "Acme Corp", "--ticket", "4711")
        cli("work", "add", "Replaced the fuser", "--minutes", "30")
        fake.fail_next(503, times=10)
        stopped = cli("session", "stop").stdout
        assert "queued note for ticket 4711" in stopped and "msp psa sync" in stopped
        queue = cli.json("psa", "queue")
        assert sorted(q["kind"] for q in queue) == ["note", "time"] and queue[0]["last_http_status"] == 503
        text_out = cli(
            "report", "billing", "--client", "Acme Corp", "--from", "2000-01-01", "--to", "2100-01-01"
        )
        assert "50 min posted, 30 min not posted" in text_out.stdout
        fake.script.clear()
        assert cli("psa", "sync", "--all").exit_code == 0
        assert cli.json("psa", "queue") == [] and len(fake.times) == 2

        # --no-post: nothing goes to the PSA.
        cli("session", "start", "--client", "Acme Corp", "--ticket", "4711")
        cli("work", "add", "Quick look", "--minutes", "5")
        cli("session", "stop", "--no-post")
        assert len(fake.times) == 2 and cli.json("psa", "queue") == []

    # The PSA's key appears nowhere in plain text.
    secret = VENDORS["connectwise"].all_secrets[0]
    rt = cli.runtime()
    try:
        with rt.db.read() as s:
            calls = list(s.scalars(select(ExternalIntegration)))
            dump = "\n".join(
                str(row)
                for table in ("external_integrations", "integration_credentials", "psa_posts", "audit_log")
                for row in s.execute(text(f"SELECT * FROM {table}"))
            )
    finally:
        rt.dispose()
    assert len(calls) > 10 and secret not in dump
    for f in cli.home.iterdir():
        if f.is_file() and f.name.startswith("msp.db"):
            assert secret.encode() not in f.read_bytes(), f.name
    assert secret not in caplog.text


def test_secrets_come_from_stdin_never_an_argument(cli: Msp, tmp_path: Path) -> None:  # noqa: F811
    v = VENDORS["autotask"]
    fake = v.make()
    with fake.serve():
        runner = CliRunner()
        env = {"MSP_HOME": str(cli.home)}
        saved = {
            k: v for k, v in os.environ.items() if k.startswith("MSP_") and not k.startswith("MSP_TEST_")
        }
        for k in saved:
            del os.environ[k]
        try:
            only_one = runner.invoke(
                app,
                [
                    "psa",
                    "add",
                    "autotask",
                    "--url",
                    fake.base_url + v.path,
                    "--api-key-file",
                    "-",
                    "--username",
                    v.options["username"],
                    "--member",
                    "29682885",
                ],
                input="just-one-line\n",
                env=env,
            )
            assert "password" in str(only_one.exception) and "api_key=" in str(only_one.exception)
            ok = runner.invoke(
                app,
                [
                    "psa",
                    "add",
                    "autotask",
                    "--url",
                    fake.base_url + v.path,
                    "--api-key-file",
                    "-",
                    "--username",
                    v.options["username"],
                    "--member",
                    "29682885",
                ],
                input=v.secrets,
                env=env,
            )
            assert ok.exit_code == 0, ok.output
            wrong = runner.invoke(app, ["psa", "add", "autotask", "--url", "x", "--api-key", "k"], env=env)
            assert wrong.exit_code != 0  # there is no --api-key option
            tested = runner.invoke(app, ["psa", "test", "autotask"], env=env)
            assert tested.exit_code == 0 and "zone5" in tested.output, tested.output
        finally:
            os.environ.update(saved)
    assert "no session is running" in cli.error("ticket", "link", "1", "--psa", "nope")
    cli("client", "add", "Acme Corp")
    cli("session", "start", "--client", "Acme Corp")
    assert "no PSA integration 'nope'; known: autotask" in cli.error("ticket", "link", "1", "--psa", "nope")


def test_a_refused_key_is_one_line_naming_the_integration(cli: Msp, tmp_path: Path) -> None:  # noqa: F811
    v = VENDORS["syncro"]
    fake = v.make()
    with fake.serve():
        add_psa(cli, "syncro", fake.base_url, tmp_path, name="acme-syncro")
        fake.fail_next(401)
        out = cli("psa", "test", "acme-syncro", ok=False)
        assert out.exit_code == 1
        assert "acme-syncro" in out.stdout and "refused our credentials (HTTP 401)" in out.stdout
        assert cli.json("psa", "list")[0]["last_test"] == "failed"
