"""Database URL parsing: every malformed input is a ConfigError, never a crash, and the
password never appears in the message."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mspmode.errors import ConfigError
from mspmode.settings import Settings, display_url, parse_database_url


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("sqlite:////var/lib/msp/msp.db", "sqlite"),
        ("postgresql://u:p@db.example/msp", "postgresql+psycopg"),
        ("postgresql+psycopg://u:p@db.example:5433/msp", "postgresql+psycopg"),
        ("mysql://u:p@db.example/msp", "mysql+pymysql"),
        ("mariadb+pymysql://u:p@db.example/msp", "mariadb+pymysql"),
    ],
)
def test_supported_urls_get_our_driver(raw: str, driver: str) -> None:
    assert parse_database_url(raw).drivername == driver


def test_default_database_is_sqlite_in_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert settings.db_url.drivername == "sqlite"
    assert settings.db_url.database == str(tmp_path / "msp.db")
    assert settings.key_path("vault") == tmp_path / "vault.key"


def test_display_url_hides_the_password() -> None:
    assert "hunter2" not in display_url(parse_database_url("postgresql://u:hunter2@h/db"))


secretish = st.text(
    alphabet=st.characters(codec="ascii", exclude_characters="@/:?#%"), min_size=6, max_size=20
)


@given(scheme=st.text(max_size=20), password=secretish, rest=st.text(max_size=40))
@example(scheme="", password="MSP_DA", rest="")  # hypothesis found it in the message's own words
def test_any_url_is_parsed_or_refused_without_leaking(scheme: str, password: str, rest: str) -> None:
    raw = f"{scheme}://user:{password}@{rest}"
    try:
        parse_database_url(raw)
    except ConfigError as exc:
        # A "password" that is a piece of the message's own words (MSP_DA…) is not a leak.
        fixed = str(ConfigError(_REFUSED))
        assert password not in str(exc) or password in f"{scheme}{rest}user" or password in fixed


_REFUSED = (
    "MSP_DATABASE_URL is not a database URL (scheme ''); expected sqlite:///PATH, "
    "postgresql+psycopg://USER:PASS@HOST/DB, mysql+pymysql://… or mariadb+pymysql://…"
)


@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(raw: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_database_url(raw)
