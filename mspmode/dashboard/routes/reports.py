"""Reports for a period: billing per client (the CSV is ``msp report billing --csv``'s file)
with billable hours per week; work by category (``msp report work``) with its hours; failures
and how often they were recovered (``msp report failures``) with failures, recoveries and
commands stopped per week. Charts are SVG drawn on the server."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from mspmode.dashboard import charts
from mspmode.dashboard.web import Person, RuntimeDep, csrf_protect, render
from mspmode.db.base import utcnow
from mspmode.services import overview, reports

router = APIRouter(dependencies=[Depends(csrf_protect)])
Day = Annotated[date | None, Query(alias="from")]
FAILURE_SERIES = ["failed", "recovered", "stopped before running"]


@router.get("/reports")
def report_page(
    request: Request,
    rt: RuntimeDep,
    me: Person,
    client: str | None = None,
    start: Day = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    today = utcnow().date()
    start, end = start or today.replace(day=1), end or today
    report = reports.billing(rt, me, client, start, end) if client else None
    chart = charts.bars([(w.strftime("%d %b"), h) for w, h in reports.weekly_hours(report)]) if report else []
    work = reports.work_summary(rt, me, client_ref=client or None, start=start, end=end)
    failed = reports.failures(rt, me, client_ref=client or None, start=start, end=end)
    weeks = reports.failures_by_week(rt, me, client_ref=client or None, start=start, end=end)
    return render(
        request,
        "reports.html",
        me,
        clients=overview.clients(rt, me),
        client=client or "",
        start=start,
        end=end,
        report=report,
        chart=chart,
        chart_size=(charts.WIDTH, charts.HEIGHT),
        work=work,
        work_chart=charts.bars(reports.hours_by_category(work)),
        failed=failed,
        weeks=weeks,
        failure_chart=charts.grouped(
            [(w.week.strftime("%d %b"), [w.failed, w.recovered, w.stopped]) for w in weeks], FAILURE_SERIES
        ),
        failure_series=FAILURE_SERIES,
    )


@router.get("/reports/billing.csv")
def billing_csv(
    rt: RuntimeDep,
    me: Person,
    client: str,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> Response:
    report = reports.billing(rt, me, client, start, end)
    body = reports.csv_bytes(reports.BILLING_COLUMNS, reports.billing_rows(report))
    name = f"billing-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
