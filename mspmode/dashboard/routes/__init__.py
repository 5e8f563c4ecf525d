"""One module per area; every router refuses a form posted without its CSRF token."""

from mspmode.dashboard.routes import (
    admin,
    clients,
    credentials,
    feed,
    hosts,
    patterns,
    recall,
    reports,
    session,
    work,
)

ROUTERS = [
    session.router,
    feed.router,
    clients.router,
    hosts.router,
    patterns.router,
    work.router,
    reports.router,
    recall.router,
    credentials.router,
    admin.router,
]
