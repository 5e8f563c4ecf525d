"""The dashboard in Debian's Chromium against a real server over a seeded database: sign-in,
client → host → pattern with the learned fix, roles and client scoping, CSRF, the audited
reveal, the billing CSV and the recall preview against the CLI and the hook's own text."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import select
from typer.testing import CliRunner

from mspmode.cli.app import app as cli
from mspmode.models.credentials import CredentialAuditLog
from mspmode.models.operations import AuditLog
from mspmode.services import hooks
from mspmode.services.actor import local_actor
from tests.dashboard.conftest import Site, sign_in
from tests.dashboard.seed import PASSWORD, SECRET


def test_sign_in_then_client_host_pattern_shows_the_learned_fix(page: Page, site: Site) -> None:
    page.goto("/hosts")
    assert "/signin" in page.url  # not signed in: to the sign-in page first
    sign_in(page, "tech")
    page.goto("/clients")
    page.get_by_role("link", name="Acme Corp").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Corp")
    page.get_by_role("link", name="DC01").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("DC01")
    fails = page.locator("section", has=page.get_by_role("heading", name="What fails here"))
    expect(fails).to_contain_text(site.world.fix)
    fails.get_by_role("link").first.click()
    expect(
        page.locator("section", has=page.get_by_role("heading", name="What works instead"))
    ).to_contain_text(site.world.fix)
    assert page.locator("h1").count() == 1
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["msp_session"]["httpOnly"] and cookies["msp_session"]["sameSite"] == "Strict"


def test_a_technician_edits_a_pattern_and_the_change_is_audited(page: Page, site: Site) -> None:
    sign_in(page, "tech")
    page.goto(f"/patterns/{site.world.pattern}")
    page.get_by_label("Root cause", exact=True).fill("PowerShell 2.0 has no LocalAccounts module")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("Root cause", exact=True)).to_have_value(
        "PowerShell 2.0 has no LocalAccounts module"
    )
    with site.rt.db.read() as s:
        rows = s.scalars(
            select(AuditLog).where(
                AuditLog.entity_type == "failure_patterns", AuditLog.entity_id == str(site.world.pattern)
            )
        ).all()
    assert any(r.actor_name == "tech" and "root_cause" in (r.changes or {}) for r in rows)


def test_readonly_sees_no_edit_form(page: Page, site: Site) -> None:
    sign_in(page, "readonly")
    page.goto(f"/patterns/{site.world.pattern}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page.locator("form#edit-pattern").count() == 0
    assert page.locator("form#deactivate-pattern").count() == 0
    assert page.get_by_label("Root cause", exact=True).count() == 0
    page.goto(f"/sessions/{site.world.session}")
    assert page.locator("form[action^='/work-items/']").count() == 0


def test_another_clients_host_is_a_404(page: Page, site: Site) -> None:
    sign_in(page, "scoped")
    assert page.goto(f"/hosts/{site.world.dc01}").status == 200  # type: ignore[union-attr]
    response = page.goto(f"/hosts/{site.world.globex_host}")
    assert response is not None and response.status == 404
    page.goto("/hosts")
    expect(page.locator("main")).not_to_contain_text("GX-WEB")


def test_a_form_posted_without_its_csrf_token_is_refused(page: Page, site: Site) -> None:
    sign_in(page, "tech")
    page.goto(f"/patterns/{site.world.pattern}")
    page.locator("form#edit-pattern input[name=csrf_token]").evaluate("e => e.remove()")
    page.get_by_label("Recommended solution").fill("forged")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Save").click()
    assert posted.value.status == 403
    expect(page.locator("main")).to_contain_text("CSRF")
    page.goto(f"/patterns/{site.world.pattern}")
    expect(page.get_by_label("Recommended solution")).not_to_have_value("forged")


def test_a_credential_reveal_asks_the_password_and_is_audited(page: Page, site: Site) -> None:
    sign_in(page, "tech")
    page.goto(f"/credentials/{site.world.credential}")
    assert SECRET not in page.content()
    page.get_by_label("Your password, again").fill("not my password at all")
    page.get_by_role("button", name="Reveal").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert SECRET not in page.content()
    page.get_by_label("Your password, again").fill(PASSWORD)
    page.get_by_role("button", name="Reveal").click()
    expect(page.locator("#revealed-value")).to_have_text(SECRET)
    with site.rt.db.read() as s:
        logged = s.scalars(
            select(CredentialAuditLog).where(CredentialAuditLog.credential_id == site.world.credential)
        ).all()
    assert [(r.action, r.success) for r in logged if r.action == "reveal"] == [("reveal", True)]


def test_the_billing_csv_matches_msp_report_billing(page: Page, site: Site, tmp_path: Path) -> None:
    sign_in(page, "tech")
    w = site.world
    page.goto(f"/reports?client={w.acme}&from={w.start}&to={w.end}")
    expect(page.locator("#billing-chart rect")).not_to_have_count(0)
    with page.expect_download() as download:
        page.locator("#billing-csv").click()
    got = Path(download.value.path()).read_bytes()
    cli_file = tmp_path / "billing.csv"
    env = {
        "MSP_HOME": str(site.rt.settings.home),
        "MSP_DATABASE_URL": site.rt.db.url.render_as_string(hide_password=False),
    }
    result = CliRunner().invoke(
        cli,
        [
            "report",
            "billing",
            "--client",
            "Acme Corp",
            "--from",
            w.start,
            "--to",
            w.end,
            "--csv",
            str(cli_file),
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert got == cli_file.read_bytes()
    assert b"Renewed the SSL certificate on WEB1" in got


def test_the_recall_preview_is_what_the_session_start_hook_injects(page: Page, site: Site) -> None:
    sign_in(page, "tech")
    page.goto("/recall")
    page.get_by_label("Client").select_option(label="Acme Corp")
    page.get_by_role("button", name="Preview").click()
    shown = page.locator("#recall-text").inner_text()
    hook = hooks.session_start_context(
        site.rt, local_actor("hook", "claude-code"), str(site.world.acme), None
    )
    assert "Get-LocalUser" in hook
    assert shown.strip() == hook.strip()


def test_one_time_link_signs_in_once_and_sign_out_ends_it(page: Page, site: Site) -> None:
    from mspmode.services import auth

    link = auth.sign_in_link(site.rt, local_actor(), "admin")
    page.goto(f"/signin/link?token={link}")
    expect(page.get_by_role("heading", level=1)).to_have_text("What is happening")
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "msp_session")
    again = httpx.get(f"{site.base}/signin/link", params={"token": link}, follow_redirects=False)
    assert again.status_code == 401  # spent
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    stale = httpx.get(f"{site.base}/", cookies={"msp_session": cookie}, follow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"].startswith("/signin")


def test_msp_dashboard_prints_a_link_that_signs_in(page: Page, site: Site) -> None:
    env = {
        "MSP_HOME": str(site.rt.settings.home),
        "MSP_DATABASE_URL": site.rt.db.url.render_as_string(hide_password=False),
    }
    result = CliRunner().invoke(
        cli, ["dashboard", "--user", "tech", "--url", site.base, "--no-open"], env=env
    )
    assert result.exit_code == 0, result.output
    link = result.output.strip()
    assert link.startswith(f"{site.base}/signin/link?token=")
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("What is happening")
    expect(page.locator("header")).to_contain_text("tech (technician)")


def test_the_live_feed_shows_a_command_recorded_through_the_api(page: Page, site: Site) -> None:
    from mspmode.services import auth

    sign_in(page, "tech")
    page.goto("/")
    status = page.locator("#feed-status")
    expect(status).to_contain_text("Live")  # feed.js loaded under the CSP and the stream opened
    token = auth.login(site.rt, "tech", PASSWORD, None).access_token
    command = f"Get-Service -Name Spooler -ComputerName DC01 # {site.backend} feed"
    answer = httpx.post(
        f"{site.base}/api/commands",
        headers={"Authorization": f"Bearer {token}"},
        json={"command": command, "exit_code": 1, "output": "Cannot find any service", "host": "DC01"},
    )
    assert answer.status_code < 300, answer.text
    newest = page.locator("#feed li").first
    expect(newest).to_contain_text(command, timeout=20_000)
    expect(newest).to_contain_text("failed (exit 1)")
    # Without scripts the page still lists it, rendered by the server.
    plain = httpx.get(f"{site.base}/", cookies={c["name"]: c["value"] for c in page.context.cookies()})
    assert command in plain.text and '<script src="/static/feed.js"' in plain.text
    assert "script-src 'self'" in plain.headers["content-security-policy"]


def test_what_works_where_shows_failed_worked_and_unknown(page: Page, site: Site) -> None:
    from mspmode.services import auth

    token = auth.login(site.rt, "tech", PASSWORD, None).access_token
    with httpx.Client(base_url=site.base, headers={"Authorization": f"Bearer {token}"}) as api:
        made = api.post(
            "/api/infrastructure",
            json={
                "client_id": str(site.world.acme),
                "hostname": "WS-MATRIX",
                "os": "Windows Server",
                "os_version": "2019",
                "shell_type": "powershell",
                "powershell_version": "5.1",
            },
        )
        assert made.status_code == 201, made.text
        ran = api.post(
            "/api/commands", json={"command": "Get-LocalUser", "exit_code": 0, "host": "WS-MATRIX"}
        )
        assert ran.status_code < 300, ran.text
    sign_in(page, "tech")
    page.get_by_role("link", name="What works where").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What works where")
    table = page.locator("table.matrix")
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    row = table.locator("tbody tr", has=page.locator("th code", has_text="Get-LocalUser"))
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    by_platform = dict(zip(headers[1:], cells, strict=True))
    assert by_platform["Windows Server 2008 R2"].startswith("✗ failed")
    assert by_platform["PowerShell 2.0"].startswith("✗ failed")
    assert by_platform["Windows Server 2019"].startswith("✓ worked")
    assert by_platform["PowerShell 5.1"].startswith("✓ worked")
    assert "Debian 12" not in by_platform or by_platform["Debian 12"].startswith("? unknown")
