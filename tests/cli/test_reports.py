"""``msp report billing|work|failures``: JSON, tables and CSV a spreadsheet opens cleanly, and a
date range the wrong way round."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mspmode.services import crud, entities, reports
from mspmode.services.actor import local_actor
from mspmode.services.resources import RESOURCES
from tests.cli.test_entities import Msp, cli  # noqa: F401  (fixture)
from tests.cli.test_setup import msp, one_error_line

SPEC = {s.name: s for s in RESOURCES}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _billing_data(cli: Msp) -> None:  # noqa: F811
    cli("client", "add", "Acme Corp", "--rate", "90")
    rt, actor = cli.runtime(), local_actor()
    try:
        entities.start_session(rt, actor, client_ref="Acme Corp", now=T0)
        entities.add_work(
            rt,
            actor,
            '=HYPERLINK("http://x") renewed cert',
            minutes=50,
            category="security",
            now=T0 + timedelta(hours=1),
        )
        entities.add_work(
            rt,
            actor,
            "Café réseau, “quoted”, with commas",
            minutes=25,
            billable=False,
            now=T0 + timedelta(hours=2),
        )
        entities.stop_session(rt, actor, now=T0 + timedelta(hours=2))
        entities.start_session(rt, actor, client_ref="Acme Corp", now=T0 + timedelta(days=10))
        entities.add_work(rt, actor, "Outside the range", minutes=60, now=T0 + timedelta(days=10, hours=1))
        entities.stop_session(rt, actor, now=T0 + timedelta(days=10, hours=1))
    finally:
        rt.dispose()


def test_billing_report_json_table_and_csv(cli: Msp, tmp_path: Path) -> None:  # noqa: F811
    _billing_data(cli)
    report = cli.json(
        "report", "billing", "--client", "acme corp", "--from", "2026-03-01", "--to", "2026-03-02"
    )
    assert report["billable_hours"] == "0.83"  # 50 / 60
    assert report["billable_minutes"] == 50 and report["non_billable_minutes"] == 25
    assert report["amount"] == "74.70"  # 0.83 h × 90
    assert [len(s["items"]) for s in report["sessions"]] == [2]
    wider = cli.json(
        "report", "billing", "--client", "Acme Corp", "--from", "2026-03-01", "--to", "2026-03-12"
    )
    assert wider["billable_hours"] == "1.83"

    table = cli(
        "report", "billing", "--client", "Acme Corp", "--from", "2026-03-01", "--to", "2026-03-02"
    ).stdout
    assert "billable 0.83 h (50 min)" in table and "amount 74.70" in table

    out = tmp_path / "acme.csv"
    cli(
        "report",
        "billing",
        "--client",
        "Acme Corp",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-02",
        "--csv",
        str(out),
    )
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM spreadsheets need to read UTF-8
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == [
        "date",
        "session",
        "session_billable",
        "work_item",
        "category",
        "billable",
        "minutes",
        "hours",
    ]
    assert rows[1][3].startswith("'=HYPERLINK")  # a formula is text, not run
    assert rows[2][3] == "Café réseau, “quoted”, with commas" and rows[2][5] == "no"
    assert rows[-1][-2:] == ["50", "0.83"]
    assert all(len(r) == 8 for r in rows)


def test_work_and_failure_reports(cli: Msp) -> None:  # noqa: F811
    _billing_data(cli)
    work = cli.json("report", "work", "--from", "2026-03-01", "--to", "2026-03-31")
    assert {(w["client"], w["category"]): w["minutes"] for w in work} == {
        ("Acme Corp", "security"): 50,
        ("Acme Corp", "infrastructure"): 85,
    }
    cli("host", "add", "DC01", "--client", "Acme Corp")
    rt, actor = cli.runtime(), local_actor()
    try:
        host = entities.resolve(rt, actor, entities.find_host, "DC01")
        s = crud.create_row(
            rt, actor, SPEC["sessions"], {"client_id": host.client_id, "session_title": "x", "started_at": T0}
        )
        pattern = crud.create_row(
            rt,
            actor,
            SPEC["failure-patterns"],
            {
                "infrastructure_id": host.id,
                "pattern_type": "command_compatibility",
                "pattern_signature": "grep -P",
                "failure_description": "no -P",
                "root_cause": "BusyBox grep",
                "recommended_solution": "grep -E",
                "culprit": "grep -P",
                "fix_observed": True,
            },
        )
        for resolved in (True, True, False):
            crud.create_row(
                rt,
                actor,
                SPEC["commands"],
                {
                    "session_id": s.id,
                    "infrastructure_id": host.id,
                    "command_text": "grep -P x f",
                    "success": False,
                    "failure_pattern_id": pattern.id,
                    "resolved": resolved,
                    "executed_at": T0,
                },
            )
        crud.create_row(
            rt,
            actor,
            SPEC["commands"],
            {
                "session_id": s.id,
                "command_text": "ping x",
                "success": False,
                "is_transient": True,
                "executed_at": T0,
            },
        )
        crud.create_row(
            rt,
            actor,
            SPEC["commands"],
            {"session_id": s.id, "command_text": "ls", "success": True, "executed_at": T0},
        )
    finally:
        rt.dispose()
    report = cli.json("report", "failures", "--client", "Acme Corp")
    assert (report["failed_commands"], report["recovered"], report["transient"]) == (4, 2, 1)
    assert report["recovery_rate"] == 0.5
    top = report["top_patterns"][0]
    assert (top["culprit"], top["host"], top["failed_commands"], top["recovered"]) == (
        "grep -P",
        "DC01",
        3,
        2,
    )
    assert top["recovery_rate"] == 0.667 and top["fix"] == "grep -E"
    assert (
        cli.json("report", "failures", "--from", "2026-04-01", "--to", "2026-04-30")["failed_commands"] == 0
    )
    assert "4 failed command(s), 2 recovered (50%)" in cli("report", "failures").stdout


def test_bad_report_input_is_one_line(msp_env: dict[str, str], tmp_path: Path) -> None:
    assert msp(msp_env, "init").returncode == 0
    assert msp(msp_env, "client", "add", "Acme Corp").returncode == 0
    out = tmp_path / "never.csv"
    reversed_range = msp(
        msp_env,
        "report",
        "billing",
        "--client",
        "Acme Corp",
        "--from",
        "2026-03-31",
        "--to",
        "2026-03-01",
        "--csv",
        str(out),
    )
    assert one_error_line(reversed_range) == (
        "msp: error: the date range is the wrong way round: --from 2026-03-31 is after --to 2026-03-01"
    )
    assert not out.exists()
    unknown = msp(
        msp_env, "report", "billing", "--client", "Acme", "--from", "2026-03-01", "--to", "2026-03-31"
    )
    assert one_error_line(unknown) == "msp: error: no client 'Acme'; closest: Acme Corp"
    empty = msp(
        msp_env, "report", "billing", "--client", "Acme Corp", "--from", "2026-03-01", "--to", "2026-03-31"
    )
    assert empty.returncode == 0 and "billable 0.00 h (0 min)" in empty.stdout


CELLS = st.one_of(st.text(max_size=40), st.integers(), st.none())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(CELLS, min_size=3, max_size=3), max_size=8))
def test_csv_reads_back_cell_for_cell_and_never_starts_a_formula(rows: list[list[object]]) -> None:
    text = reports.to_csv(("a", "b", "c"), rows)
    back = list(csv.reader(io.StringIO(text, newline="")))
    assert back[0] == ["a", "b", "c"]
    assert len(back) == len(rows) + 1
    for written, read in zip(rows, back[1:], strict=True):
        for value, cell in zip(written, read, strict=True):
            if value is None:
                assert cell == ""
            elif isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
                assert cell == "'" + value
            else:
                assert cell == str(value)
            if isinstance(value, str):  # numbers stay numbers (-1 is not a formula)
                assert not cell.startswith(("=", "+", "-", "@"))
