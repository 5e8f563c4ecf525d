"""A small MSP world for the dashboard: two clients, a host on each, a failure on each with the
fix that worked, a billable session with work items on each, stored credentials (one with a
TOTP seed), and a user per role (one limited to Acme)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mspmode.db.base import utcnow
from mspmode.services import auth, crud
from mspmode.services import credentials as vault
from mspmode.services.actor import local_actor
from mspmode.services.learning import history
from mspmode.services.resources import SPECS
from mspmode.services.runtime import Runtime

PASSWORD = "correct horse battery staple"
USERS = {"admin": "admin", "tech": "technician", "readonly": "readonly", "scoped": "technician"}
SECRET = "Hunter2-rotate-me-soon"
TOTP_SEED = "JBSWY3DPEHPK3PXP"


@dataclass
class World:
    acme: uuid.UUID
    globex: uuid.UUID
    dc01: uuid.UUID
    globex_host: uuid.UUID
    pattern: uuid.UUID
    fix: str
    session: uuid.UUID
    credential: uuid.UUID
    start: str
    end: str
    work_item: uuid.UUID
    totp_credential: uuid.UUID
    # Globex's rows, which the user limited to Acme must never reach
    globex_pattern: uuid.UUID
    globex_session: uuid.UUID
    globex_work_item: uuid.UUID
    globex_credential: uuid.UUID


def seed(rt: Runtime) -> World:
    admin = local_actor()
    at = (utcnow() - timedelta(hours=2)).replace(microsecond=0)
    lines = [
        {"kind": "client", "name": "Acme Corp"},
        {"kind": "client", "name": "Globex"},
        {
            "kind": "host",
            "client": "Acme Corp",
            "hostname": "DC01",
            "os": "Windows Server",
            "os_version": "2008 R2",
            "shell_type": "powershell",
            "powershell_version": "2.0",
        },
        {
            "kind": "host",
            "client": "Globex",
            "hostname": "GX-WEB",
            "os": "Debian",
            "os_version": "12",
            "shell_type": "bash",
        },
        {
            "kind": "command",
            "host": "DC01",
            "command": "Get-LocalUser",
            "exit_code": 1,
            "session": "s1",
            "at": at.isoformat(),
            "output": "Get-LocalUser : The term 'Get-LocalUser' is not recognized as the name of a cmdlet",
        },
        {
            "kind": "command",
            "host": "DC01",
            "command": "Get-WmiObject Win32_UserAccount",
            "exit_code": 0,
            "session": "s1",
            "at": (at + timedelta(minutes=1)).isoformat(),
            "output": "Administrator",
        },
        {
            "kind": "command",
            "host": "GX-WEB",
            "command": "ifconfig eth0",
            "exit_code": 127,
            "session": "g1",
            "at": at.isoformat(),
            "output": "bash: ifconfig: command not found",
        },
        {
            "kind": "command",
            "host": "GX-WEB",
            "command": "ip addr show eth0",
            "exit_code": 0,
            "session": "g1",
            "at": (at + timedelta(minutes=1)).isoformat(),
            "output": "2: eth0: <BROADCAST,MULTICAST,UP>",
        },
    ]
    history.import_lines(rt, admin, [json.dumps(line) for line in lines], source="seed")
    clients = {c.name: c.id for c in crud.list_rows(rt, admin, SPECS["clients"]).items}
    hosts = {h.hostname: h.id for h in crud.list_rows(rt, admin, SPECS["infrastructure"]).items}
    pattern = crud.list_rows(
        rt, admin, SPECS["failure-patterns"], filters={"infrastructure_id": hosts["DC01"]}
    )
    globex_pattern = crud.list_rows(
        rt, admin, SPECS["failure-patterns"], filters={"infrastructure_id": hosts["GX-WEB"]}
    )
    acme = clients["Acme Corp"]
    crud.update_row(rt, admin, SPECS["clients"], acme, {"default_hourly_rate": "95.00"})
    started = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    ws = crud.create_row(
        rt,
        admin,
        SPECS["sessions"],
        {
            "client_id": acme,
            "session_title": "Renew certificates",
            "started_at": started,
            "ended_at": started + timedelta(hours=2),
        },
    )
    items = [
        crud.create_row(
            rt,
            admin,
            SPECS["work-items"],
            {
                "session_id": ws.id,
                "title": title,
                "description": title,
                "actual_minutes": minutes,
                "category": category,
            },
        )
        for title, minutes, category in (
            ("Renewed the SSL certificate on WEB1", 45, "maintenance"),
            ("Checked the backups", 30, "maintenance"),
            ("Traced the print spooler crash", 50, "troubleshooting"),
        )
    ]
    gws = crud.create_row(
        rt,
        admin,
        SPECS["sessions"],
        {
            "client_id": clients["Globex"],
            "session_title": "Globex web server",
            "started_at": started,
            "ended_at": started + timedelta(hours=1),
        },
    )
    globex_item = crud.create_row(
        rt,
        admin,
        SPECS["work-items"],
        {
            "session_id": gws.id,
            "title": "Patched GX-WEB",
            "description": "Patched GX-WEB",
            "actual_minutes": 20,
            "category": "security",
        },
    )
    cred = vault.create(
        rt,
        admin,
        vault.CREDENTIALS,
        {
            "client_id": acme,
            "service_name": "DC01 local admin",
            "credential_type": "password",
            "username": "Administrator",
            "password": SECRET,
        },
    )
    mfa = vault.create(
        rt,
        admin,
        vault.CREDENTIALS,
        {
            "client_id": acme,
            "service_name": "Acme M365 admin MFA",
            "credential_type": "totp",
            "totp_secret": TOTP_SEED,
        },
    )
    globex_cred = vault.create(
        rt,
        admin,
        vault.CREDENTIALS,
        {
            "client_id": clients["Globex"],
            "service_name": "GX-WEB root",
            "credential_type": "password",
            "password": "Globex-only-s3cret",
            "totp_secret": TOTP_SEED,
        },
    )
    for who, role in USERS.items():
        auth.create_user(
            rt,
            admin,
            username=who,
            role=role,
            password=PASSWORD,
            clients=[str(acme)] if who == "scoped" else None,
        )
    today = started.date()
    return World(
        acme=acme,
        globex=clients["Globex"],
        dc01=hosts["DC01"],
        globex_host=hosts["GX-WEB"],
        pattern=pattern.items[0].id,
        fix="Get-WmiObject Win32_UserAccount",
        session=ws.id,
        credential=cred.id,
        start=today.replace(day=1).isoformat(),
        end=today.isoformat(),
        work_item=items[0].id,
        totp_credential=mfa.id,
        globex_pattern=globex_pattern.items[0].id,
        globex_session=gws.id,
        globex_work_item=globex_item.id,
        globex_credential=globex_cred.id,
    )
