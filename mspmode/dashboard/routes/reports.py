"""Reports: billing per client and period (the CSV is ``msp report billing --csv``'s file),
with billable hours per week as an SVG chart."""

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
