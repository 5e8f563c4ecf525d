"""``make screenshots``: PNGs of the dashboard's main pages, from Debian's Chromium (the browser
the tests drive) against a real server over the tests' seeded SQLite database.

    python -m tests.dashboard.screenshots [OUT_DIR]    (default docs/screenshots)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright
from sqlalchemy import make_url

from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.server import create_app
from mspmode.services import learning
from mspmode.services.actor import local_actor
from mspmode.services.learning import verdicts
from tests.api.conftest import make_runtime
from tests.dashboard.conftest import CHROMIUM, sign_in
from tests.dashboard.seed import World, seed
from tests.servers import serve_in_thread


def pages(w: World) -> list[tuple[str, str]]:
    return [
        ("home", "/"),
        ("client", f"/clients/{w.acme}"),
        ("host", f"/hosts/{w.dc01}"),
        ("pattern", f"/patterns/{w.pattern}"),
        ("works-where", "/works-where"),
        ("session", f"/sessions/{w.session}"),
        ("reports", f"/reports?client={w.acme}&from={w.start}&to={w.end}"),
        ("search", "/search?q=LocalUser"),
        ("recall", "/recall?client=Acme+Corp&q=local+users"),
        ("credential", f"/credentials/{w.totp_credential}"),
        ("admin", "/admin"),
    ]


def main(out: Path) -> None:
    if not CHROMIUM.exists():
        raise SystemExit("Debian's chromium is missing: apt-get install chromium")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        db = Database(make_url(f"sqlite:///{home / 'msp.db'}"))
        try:
            schema.upgrade(db)
            rt = make_runtime(home, db)
            world = seed(rt)
            # Home's "stopped today" and the feed show a command a pre-check stopped.
            learning.check(rt, local_actor("api_key", "tech"), "DC01", "Get-LocalUser -Name svc-backup")
            verdicts.flush(rt)
            with serve_in_thread(create_app(rt.settings, db)) as base, sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM))
                context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
                page = context.new_page()
                sign_in(page, "admin")
                for name, path in pages(world):
                    response = page.goto(path)
                    assert response is not None and response.status == 200, f"{path}: {response}"
                    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
                    print(out / f"{name}.png")
                context.close()
                browser.close()
        finally:
            db.dispose()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
