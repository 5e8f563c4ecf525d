"""What a technician expects beyond the first pages, in Debian's Chromium against a real server
on each backend: what pre-checks stopped or warned about today (Home and the live feed), work
by category and failures with their recovery rate (Reports), each recalled fact's score (the
recall preview), a TOTP code shown like a revealed password, a verified backup run from the
admin page, and a session's PSA tickets with what it posted or still owes them (against a fake
SyncroMSP on loopback)."""

from __future__ import annotations

import re
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from typer.testing import CliRunner

from mspmode.cli.app import app as cli
from mspmode.db.base import utcnow
from mspmode.models.credentials import CredentialAuditLog
from mspmode.models.learning import CheckVerdict
from mspmode.models.operations import AuditLog, BackupLog
from mspmode.services import auth, crud, entities, hooks, psa, reports
from mspmode.services import backup as backups
from mspmode.services.actor import local_actor
from mspmode.services.resources import SPECS
from mspmode.vault import totp
from tests.dashboard.conftest import Site, sign_in
from tests.dashboard.seed import PASSWORD, TOTP_SEED
from tests.fakes.psa import VENDORS


def verdicts(site: Site, command: str) -> list[CheckVerdict]:
    with site.rt.db.read() as s:
        return list(s.scalars(select(CheckVerdict).where(CheckVerdict.command == command)))


def wait_for_verdicts(site: Site, command: str, count: int) -> list[CheckVerdict]:
    """The verdict rows of ``command`` once there are ``count`` (written just after the check)."""
    deadline = time.monotonic() + 20
    while True:
        rows = verdicts(site, command)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_a_command_stopped_by_a_check_is_on_home_and_in_the_live_feed(page: Page, site: Site) -> None:
    sign_in(page, "scoped")  # limited to Acme: DC01's verdicts are Acme's
    page.goto("/")
    expect(page.locator("#feed-status")).to_contain_text("Live")
    command = f"Get-LocalUser -Name {site.backend}-feed"
    token = auth.login(site.rt, "tech", PASSWORD, None).access_token
    answer = httpx.post(
        f"{site.base}/api/check",
        headers={"Authorization": f"Bearer {token}"},
        json={"host": "DC01", "command": command},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["verdict"] == "block"
    newest = page.locator("#feed li").first
    expect(newest).to_contain_text(command, timeout=20_000)
    expect(newest).to_contain_text("stopped")
    # The CLI's check feeds the same record.
    env = {
        "MSP_HOME": str(site.rt.settings.home),
        "MSP_DATABASE_URL": site.rt.db.url.render_as_string(hide_password=False),
    }
    result = CliRunner().invoke(cli, ["check", "--host", "DC01", "--json", "--", command], env=env)
    assert result.exit_code != 0 or '"block"' in result.output, result.output
    rows = wait_for_verdicts(site, command, 2)
    assert sorted(r.actor_type for r in rows) == ["cli", "user"]
    assert {(r.verdict, r.client_id, r.infrastructure_id) for r in rows} == {
        ("block", site.world.acme, site.world.dc01)
    }
    page.reload()
    expect(page.locator("#stopped-counts")).to_contain_text(f"{len(verdicts_today(site))} commands stopped")
    row = page.locator("#verdicts tbody tr", has=page.locator("code", has_text=command)).first
    expect(row).to_contain_text("stopped")
    expect(row).to_contain_text("DC01")
    expect(row.get_by_role("link", name="the pattern")).to_have_attribute(
        "href", f"/patterns/{site.world.pattern}"
    )


def verdicts_today(site: Site) -> list[CheckVerdict]:
    with site.rt.db.read() as s:
        return list(s.scalars(select(CheckVerdict).where(CheckVerdict.verdict == "block")))


def test_an_allowed_command_is_not_kept(site: Site) -> None:
    token = auth.login(site.rt, "tech", PASSWORD, None).access_token
    command = f"Get-Service -Name Spooler # {site.backend} allowed"
    answer = httpx.post(
        f"{site.base}/api/check",
        headers={"Authorization": f"Bearer {token}"},
        json={"host": "DC01", "command": command},
    )
    assert answer.json()["verdict"] == "allow"
    warned = httpx.post(
        f"{site.base}/api/check",
        headers={"Authorization": f"Bearer {token}"},
        json={"host": "DC01", "command": "Get-LocalUser -Name after-allow"},
    )
    assert warned.json()["verdict"] == "block"
    assert len(wait_for_verdicts(site, "Get-LocalUser -Name after-allow", 1)) == 1  # written by now
    assert verdicts(site, command) == []


def test_reports_show_work_by_category_and_failures_with_their_recovery_rate(page: Page, site: Site) -> None:
    sign_in(page, "tech")
    w = site.world
    page.goto(f"/reports?client={w.acme}&from={w.start}&to={w.end}")
    work = page.locator("#work-table tbody tr")
    by_category = {
        cells[1]: cells[3]
        for cells in (
            [c.strip() for c in work.nth(i).locator("td").all_inner_texts()] for i in range(work.count())
        )
    }
    assert by_category == {"maintenance": "1.25", "troubleshooting": "0.83"}
    expect(page.locator("#work-chart rect")).to_have_count(2)
    start, end = date.fromisoformat(w.start), date.fromisoformat(w.end)
    failed = reports.failures(site.rt, local_actor(), client_ref=str(w.acme), start=start, end=end)
    assert failed.failed >= 1
    summary = page.locator("#failure-summary")
    expect(summary).to_contain_text(f"{failed.failed} commands failed, {failed.recovered} recovered")
    rate = f"{failed.recovery_rate * 100:.0f}%" if failed.recovery_rate is not None else "n/a"
    expect(summary).to_contain_text(f"recovery rate {rate}")
    expect(page.locator("#failure-patterns")).to_contain_text("Get-LocalUser")
    # One bar per week and series: failed, recovered, stopped before running.
    bars = page.locator("#failure-chart rect")
    weeks = reports.failures_by_week(
        site.rt,
        local_actor(),
        client_ref=str(w.acme),
        start=date.fromisoformat(w.start),
        end=date.fromisoformat(w.end),
    )
    assert sum(x.failed for x in weeks) >= 1
    expect(bars).to_have_count(3 * len(weeks))
    titles = page.locator("#failure-chart g > title").all_text_contents()
    for x in weeks:
        label = x.week.strftime("%d %b")
        assert f"{label}, failed: {x.failed}" in titles
        assert f"{label}, stopped before running: {x.stopped}" in titles


def test_the_recall_preview_shows_each_facts_score(page: Page, site: Site) -> None:
    sign_in(page, "tech")
    page.goto(f"/recall?client={site.world.acme}")
    injected = hooks.session_start_injection(
        site.rt, local_actor("hook", "claude-code"), str(site.world.acme), None, touch=False
    )
    assert injected.facts
    rows = page.locator("#recall-scores tbody tr")
    expect(rows).to_have_count(len(injected.facts))
    for i, fact in enumerate(injected.facts):
        cells = [c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
        assert cells[0] == fact.title
        assert cells[2] == f"{fact.score:.3f}"
        assert fact.title in page.locator("#recall-text").inner_text() or fact.kind in ("context", "snippet")


def test_the_recall_preview_takes_a_client_by_name_as_by_id(page: Page, site: Site) -> None:
    """An address typed by hand names the client (the screenshots do): the same text as the
    form's id gives, not a 500; a client that does not exist is a 404."""
    sign_in(page, "tech")
    page.goto(f"/recall?client={site.world.acme}&q=local+users")
    by_id = page.locator("#recall-text").inner_text()
    by_name = page.goto("/recall?client=acme+corp&q=local+users")
    assert by_name is not None and by_name.status == 200
    assert page.locator("#recall-text").inner_text() == by_id
    expect(page.get_by_label("Client")).to_have_value(str(site.world.acme))
    unknown = page.goto("/recall?client=Nobody+Ltd")
    assert unknown is not None and unknown.status == 404


def test_a_totp_code_is_shown_after_the_password_and_audited(page: Page, site: Site) -> None:
    sign_in(page, "tech")
    cred = site.world.totp_credential
    page.goto(f"/credentials/{cred}")
    page.get_by_label("Password to show the code").fill("not my password at all")
    page.get_by_role("button", name="Show the current code").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert page.locator("#totp-code").count() == 0
    page.get_by_label("Password to show the code").fill(PASSWORD)
    before = totp.totp(TOTP_SEED)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Show the current code").click()
    after = totp.totp(TOTP_SEED)
    shown = page.locator("#totp-code").inner_text()
    assert shown in (before, after)
    assert TOTP_SEED not in page.content()
    # The code leaves the page when it expires, without scripts.
    refresh = posted.value.headers["refresh"]
    seconds, _, url = refresh.partition("; url=")
    assert 1 <= int(seconds) <= 30 and url == f"/credentials/{cred}"
    with site.rt.db.read() as s:
        logged = s.scalars(select(CredentialAuditLog).where(CredentialAuditLog.credential_id == cred)).all()
    assert [(r.action, r.success) for r in logged if r.action == "totp"] == [("totp", True)]


def test_a_revealed_password_leaves_the_page_on_its_own(page: Page, site: Site) -> None:
    sign_in(page, "tech")
    page.goto(f"/credentials/{site.world.credential}")
    page.get_by_label("Your password, again").fill(PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Reveal").click()
    seconds, _, url = posted.value.headers["refresh"].partition("; url=")
    assert int(seconds) == 30 and url == f"/credentials/{site.world.credential}"


def test_an_admin_runs_a_verified_backup_from_the_admin_page(page: Page, site: Site) -> None:
    sign_in(page, "admin")
    page.goto("/admin")
    with site.rt.db.read() as s:
        before = s.scalar(select(func.count()).select_from(BackupLog)) or 0
    page.get_by_role("button", name="Run a verified backup now").click()
    result = page.locator("#backup-result")
    expect(result).to_contain_text("Verification: passed", timeout=120_000)
    path = Path(re.search(r"to (\S+) \(", result.inner_text()).group(1))  # type: ignore[union-attr]
    assert path.exists() and backups.manifest_path(path).exists()
    with site.rt.db.read() as s:
        rows = s.scalars(select(BackupLog).order_by(BackupLog.backup_started_at)).all()
        audited = s.scalars(select(AuditLog).where(AuditLog.entity_type == "backup_log")).all()
    assert len(rows) == before + 1
    assert (rows[-1].verification_status, rows[-1].status, rows[-1].file_path) == (
        "passed",
        "succeeded",
        str(path),
    )
    assert any(a.actor_name == "admin" and a.entity_id == str(rows[-1].id) for a in audited)


def test_what_works_where_follows_a_command_recorded_after_it_was_shown(page: Page, site: Site) -> None:
    sign_in(page, "tech")
    page.goto("/works-where")
    headers = page.locator("table.matrix thead th")
    expect(headers.first).to_be_visible()
    assert "Windows Server 2022" not in headers.all_inner_texts()
    token = auth.login(site.rt, "tech", PASSWORD, None).access_token
    with httpx.Client(base_url=site.base, headers={"Authorization": f"Bearer {token}"}) as api:
        made = api.post(
            "/api/infrastructure",
            json={
                "client_id": str(site.world.acme),
                "hostname": f"WS-2022-{site.backend}",
                "os": "Windows Server",
                "os_version": "2022",
                "shell_type": "powershell",
                "powershell_version": "5.1",
            },
        )
        assert made.status_code == 201, made.text
        ran = api.post(
            "/api/commands",
            json={"command": "Get-LocalUser", "exit_code": 0, "host": f"WS-2022-{site.backend}"},
        )
        assert ran.status_code < 300, ran.text
    page.reload()
    row = page.locator("table.matrix tbody tr", has=page.locator("th code", has_text="Get-LocalUser"))
    by_platform = dict(
        zip(
            [h.strip() for h in headers.all_inner_texts()][1:],
            [c.strip() for c in row.locator("td").all_inner_texts()],
            strict=True,
        )
    )
    assert by_platform["Windows Server 2022"].startswith("✓ worked")


def test_msp_check_has_written_its_verdict_when_it_returns(site: Site) -> None:
    """The CLI's runtime closes its database when the command ends: the verdict is written
    first, never by a thread on a closed database (whose new connection nobody would close)."""
    env = {
        "MSP_HOME": str(site.rt.settings.home),
        "MSP_DATABASE_URL": site.rt.db.url.render_as_string(hide_password=False),
    }
    command = f"Get-LocalUser -Name {site.backend}-cli-ends"
    result = CliRunner().invoke(cli, ["check", "--host", "DC01", "--json", "--", command], env=env)
    assert '"block"' in result.output, result.output
    rows = verdicts(site, command)  # no waiting
    assert [(r.verdict, r.actor_type) for r in rows] == [("block", "cli")]


def test_a_sessions_psa_tickets_and_what_it_owes_them(page: Page, site: Site) -> None:
    rt, actor, vendor = site.rt, local_actor(), VENDORS["syncro"]
    fake = vendor.make()
    with fake.serve():
        row = psa.add_integration(
            rt,
            actor,
            vendor.kind,
            name=f"syncro-{uuid.uuid4().hex[:8]}",
            url=fake.base_url + vendor.path,
            secrets=psa.parse_secrets(vendor.kind, vendor.secrets),
        )
        ticket = fake.add_ticket(4711, "Printers offline at the front desk", "New")
        # A client of its own, so the other tests' reports of Acme stay as they are.
        client = crud.create_row(rt, actor, SPECS["clients"], {"name": f"Initech {uuid.uuid4().hex[:6]}"})
        started = (utcnow() - timedelta(hours=3)).replace(microsecond=0)
        ws = crud.create_row(
            rt,
            actor,
            SPECS["sessions"],
            {"client_id": client.id, "session_title": "Printer fleet", "started_at": started},
        )
        entities.add_work(rt, actor, "Fixed the print spooler", minutes=47, session_id=ws.id)
        psa.link_ticket(rt, actor, "4711", session_id=ws.id, integration=row.integration_name)
        crud.update_row(rt, actor, SPECS["sessions"], ws.id, {"ended_at": started + timedelta(hours=1)})

        sign_in(page, "tech")
        page.goto(f"/sessions/{ws.id}")
        tickets = page.locator("#tickets")
        expect(tickets).to_contain_text("4711")
        expect(tickets).to_contain_text("Printers offline at the front desk")
        expect(tickets).to_contain_text("New")
        expect(page.get_by_text("Nothing posted to the PSA for this session.")).to_be_visible()

        ticket["status"] = "Resolved"  # changed in the PSA since the link
        page.get_by_role("button", name="Read from the PSA again").click()
        expect(tickets).to_contain_text("Resolved")

        # The PSA refuses the key: the posts wait in the queue, with the reason naming it.
        fake.fail_next(401, times=4)
        page.get_by_role("button", name="Post the note and time now").click()
        posts = page.locator("#psa-posts")
        expect(posts.locator(".badge-queued").first).to_be_visible()
        expect(posts).to_contain_text(row.integration_name)
        assert fake.posts() == 0
        fake.script.clear()

        page.get_by_role("button", name="Post the note and time now").click()
        expect(posts.locator(".badge-posted")).to_have_count(2)
        expect(page.get_by_role("button", name="Post the note and time now")).to_have_count(0)
        assert len(fake.notes) == 1 and len(fake.times) == 1
        assert fake.times[0]["active_duration"] == 47 * 60  # SyncroMSP counts seconds
        # Asked again, nothing reaches the PSA twice.
        assert psa.post_session_now(rt, actor, ws.id).done == 0
        assert fake.posts() == 2

    page.goto(f"/reports?client={client.id}&from={started.date()}&to={utcnow().date()}")
    expect(page.locator("#psa-time")).to_contain_text("0.78 h posted")
    expect(page.locator("#psa-time")).to_contain_text("0.00 h not posted yet")
