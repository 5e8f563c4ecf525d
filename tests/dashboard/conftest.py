"""A real server (the app ``msp serve`` runs, uvicorn on a free loopback port) over a seeded
database of each backend, and Debian's Chromium driven by Playwright. No browser is downloaded:
a missing /usr/bin/chromium fails these tests (``.ci/run`` installs it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.server import create_app
from mspmode.services.runtime import Runtime
from tests.api.conftest import make_runtime
from tests.conftest import BACKENDS, create_scratch_database
from tests.dashboard.seed import PASSWORD, World, seed
from tests.servers import serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")


@dataclass
class Site:
    base: str
    rt: Runtime
    world: World
    backend: str


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    backend = str(request.param)
    home = tmp_path_factory.mktemp(f"dash-{backend}")
    url, drop = create_scratch_database(backend, home)
    db = Database(url)
    try:
        schema.upgrade(db)
        rt = make_runtime(home, db)
        world = seed(rt)
        with serve_in_thread(create_app(rt.settings, db)) as base:
            yield Site(base, rt, world, backend)
    finally:
        db.dispose()
        drop()  # type: ignore[operator]


# Per module: while Playwright's sync API runs, its event loop is this thread's running loop,
# and a later module's ``anyio.run`` (the MCP client tests) in the same worker would refuse to start.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Debian's chromium is missing: apt-get install chromium (.ci/run does)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM))
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(base_url=site.base, accept_downloads=True)
    yield context.new_page()
    context.close()


def sign_in(page: Page, who: str, password: str = PASSWORD) -> None:
    page.goto("/signin")
    page.get_by_label("User name").fill(who)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/signin" not in url)
