# ruff: noqa: E501 - the sessions are hand-written text: long lines are the data
"""Builds the transcript corpus for ``bench/compress.py``: realistic Claude Code sessions of MSP
work, in the transcript's own JSONL shape, each with its key facts.

    python bench/corpora/transcripts/build.py      # rewrites *.jsonl, *.facts.json beside it

Each session is written by hand below — the prompts, the agent's words, the commands and the
errors are the ones an MSP technician sees — and the long tool outputs (event logs, journals,
file listings, config files) are generated from fixed seeds so the files stay reproducible.
Every record carries the fields Claude Code writes (uuid, parentUuid, sessionId, cwd,
timestamp, version, message ids, usage), because a real transcript does.

``<name>.facts.json`` lists what a summary must keep, by kind — command, error, decision,
path, host, credential — as exact text to find in the summary, and ``secrets``: values that
must never appear in it. Hosts not named by a wrapper are found through ``inventory.json``,
the hostnames a database would know.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VERSION = "2.1.19"

INVENTORY = [
    "DC01",
    "DC02",
    "FS01",
    "SQL01",
    "RDS01",
    "WEB01",
    "web01.acme.local",
    "mx1.acme.local",
    "nas01",
    "pfsense-hq",
    "esx01",
    "esx02",
    "veeam01",
    "PRINT01",
    "AP-LOBBY",
    "sw-core-01",
    "db-shop-01",
    "backup01",
    "exch-hybrid",
    "jump01",
    "vpn01",
    "app01",
    "app02",
    "mon01",
]


class Session:
    def __init__(self, name: str, cwd: str, start: datetime, seed: int) -> None:
        self.name = name
        self.cwd = cwd
        self.session_id = str(uuid.UUID(int=random.Random(seed).getrandbits(128)))
        self.at = start
        self.rng = random.Random(seed)
        self.lines: list[dict[str, Any]] = []
        self.parent: str | None = None
        self.tool_n = 0

    def _base(self, kind: str) -> dict[str, Any]:
        self.at += timedelta(seconds=self.rng.randint(2, 40))
        me = str(uuid.UUID(int=self.rng.getrandbits(128)))
        rec = {
            "parentUuid": self.parent,
            "isSidechain": False,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": VERSION,
            "gitBranch": "main",
            "type": kind,
            "uuid": me,
            "timestamp": self.at.isoformat().replace("+00:00", "Z"),
        }
        self.parent = me
        return rec

    def user(self, text: str) -> None:
        rec = self._base("user")
        rec["message"] = {"role": "user", "content": text}
        self.lines.append(rec)

    def _assistant(self, content: list[dict[str, Any]]) -> None:
        rec = self._base("assistant")
        rec["requestId"] = f"req_{self.rng.getrandbits(64):016x}"
        rec["message"] = {
            "id": f"msg_{self.rng.getrandbits(96):024x}",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": content,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.rng.randint(4, 12),
                "cache_creation_input_tokens": self.rng.randint(200, 4000),
                "cache_read_input_tokens": self.rng.randint(10000, 60000),
                "output_tokens": self.rng.randint(40, 900),
                "service_tier": "standard",
            },
        }
        self.lines.append(rec)

    def say(self, text: str) -> None:
        self._assistant([{"type": "text", "text": text}])

    def tool(self, name: str, data: dict[str, Any], result: str, *, error: bool = False) -> None:
        self.tool_n += 1
        tid = f"toolu_{self.rng.getrandbits(96):024x}"
        self._assistant([{"type": "tool_use", "id": tid, "name": name, "input": data}])
        rec = self._base("user")
        rec["message"] = {
            "role": "user",
            "content": [{"tool_use_id": tid, "type": "tool_result", "content": result, "is_error": error}],
        }
        if name == "Bash":
            out, _, err = result.partition("\n__STDERR__\n")
            rec["toolUseResult"] = {"stdout": out, "stderr": err, "interrupted": False, "isImage": False}
            rec["message"]["content"][0]["content"] = result.replace("\n__STDERR__\n", "\n")
        self.lines.append(rec)

    def bash(self, command: str, output: str, *, exit_code: int = 0, description: str = "") -> None:
        data = {"command": command, "description": description or command.split()[0]}
        text = output if exit_code == 0 else f"Exit code {exit_code}\n{output}"
        self.tool("Bash", data, text, error=exit_code != 0)

    def summary(self, text: str) -> None:
        self.lines.append({"type": "summary", "summary": text, "leafUuid": self.parent})

    def write(self, facts: dict[str, Any]) -> None:
        (HERE / f"{self.name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in self.lines))
        (HERE / f"{self.name}.facts.json").write_text(json.dumps(facts, indent=2) + "\n")


# ---- generated long outputs ---------------------------------------------------------------------


def event_log(rng: random.Random, n: int, host: str) -> str:
    sources = [
        (
            "Microsoft-Windows-GroupPolicy",
            1500,
            "Information",
            "The Group Policy settings for the computer were processed successfully. There were no changes detected since the last successful processing of Group Policy.",
        ),
        (
            "Service Control Manager",
            7036,
            "Information",
            "The Windows Update service entered the running state.",
        ),
        (
            "Microsoft-Windows-Security-Auditing",
            4624,
            "Information",
            "An account was successfully logged on.",
        ),
        (
            "NETLOGON",
            5807,
            "Warning",
            "During the past 4.23 hours there have been 37 connections to this Domain Controller from client machines whose IP addresses don't map to any of the existing sites in the enterprise.",
        ),
        (
            "Microsoft-Windows-Time-Service",
            37,
            "Information",
            "The time provider NtpClient is currently receiving valid time data from time.windows.com,0x9.",
        ),
        (
            "DFSR",
            4012,
            "Warning",
            "The DFS Replication service stopped replication on the folder with the following local path: C:\\Windows\\SYSVOL\\domain.",
        ),
    ]
    rows = [
        "   Index Time          EntryType   Source                 InstanceID Message",
        "   ----- ----          ---------   ------                 ---------- -------",
    ]
    t = datetime(2025, 3, 11, 7, 58, tzinfo=UTC)
    for i in range(n):
        src, eid, kind, msg = rng.choice(sources)
        t -= timedelta(minutes=rng.randint(1, 50))
        rows.append(f"   {884200 - i:>6} {t:%b %d %H:%M}  {kind:<11} {src[:22]:<22} {eid:>10} {msg}")
    return "\n".join(rows)


def journal(rng: random.Random, n: int, host: str, unit: str) -> str:
    msgs = [
        f"{unit}[{{pid}}]: 2025/03/11 09:{{m:02d}}:{{s:02d}} [notice] {{pid}}#0: signal process started",
        "systemd[1]: Reloading The nginx HTTP and reverse proxy server...",
        "systemd[1]: Reloaded The nginx HTTP and reverse proxy server.",
        "kernel: [UFW BLOCK] IN=eth0 OUT= MAC=00:16:3e:5a:21:0c SRC=185.220.101.{m} DST=203.0.113.10 LEN=40 PROTO=TCP SPT=443 DPT=22",
        "CRON[{pid}]: (root) CMD (test -x /usr/bin/certbot -a \\! -d /run/systemd/system && perl -e 'sleep int(rand(43200))' && certbot -q renew)",
        "sshd[{pid}]: Accepted publickey for deploy from 198.51.100.23 port 5{m}12 ssh2: ED25519 SHA256:Qk3v8Jd2mK1x",
    ]
    t = datetime(2025, 3, 11, 6, 0, tzinfo=UTC)
    out = []
    for _ in range(n):
        t += timedelta(seconds=rng.randint(3, 300))
        line = rng.choice(msgs).format(
            pid=rng.randint(1000, 40000), m=rng.randint(0, 59), s=rng.randint(0, 59)
        )
        out.append(f"{t:%b %d %H:%M:%S} {host} {line}")
    return "\n".join(out)


def nginx_conf(server: str) -> str:
    blocks = [
        "user www-data;\nworker_processes auto;\npid /run/nginx.pid;\ninclude /etc/nginx/modules-enabled/*.conf;\n",
        "events {\n    worker_connections 768;\n    # multi_accept on;\n}\n",
    ]
    body = [
        "server {",
        f"    server_name {server};",
        "    listen 443 ssl http2;",
        "    listen [::]:443 ssl http2;",
    ]
    body += [
        f"    ssl_certificate /etc/letsencrypt/live/{server}/fullchain.pem;",
        f"    ssl_certificate_key /etc/letsencrypt/live/{server}/privkey.pem;",
        "    include /etc/letsencrypt/options-ssl-nginx.conf;",
        "    ssl_dhparam /etc/letsencrypt/ssl-dhparams.pem;",
        "    root /var/www/shop/public;",
        "    index index.php index.html;",
    ]
    for loc in ("/", "/api/", "/static/", "/media/", "/admin/", "/healthz", "/.well-known/acme-challenge/"):
        body += [
            f"    location {loc} {{",
            "        try_files $uri $uri/ /index.php?$query_string;",
            "        proxy_set_header Host $host;",
            "        proxy_set_header X-Real-IP $remote_addr;",
            "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "        proxy_read_timeout 120s;",
            "    }",
        ]
    body.append("}")
    numbered = (blocks[0] + blocks[1] + "\n".join(body)).splitlines()
    return "\n".join(f"{i:>6}\t{line}" for i, line in enumerate(numbered, 1))


def du_listing(rng: random.Random, n: int, root: str) -> str:
    names = ["surveillance", "homes", "backup", "logs", "photo", "video", "docker", "web", "archive", "scans"]
    out = []
    for _ in range(n):
        path = f"{root}/{rng.choice(names)}/{rng.choice(names)}/{rng.randint(2019, 2025)}-{rng.randint(1, 12):02d}"
        out.append(f"{rng.randint(1, 900)}.{rng.randint(0, 9)}G\t{path}")
    return "\n".join(out)


def mailbox_table(rng: random.Random, n: int) -> str:
    first = ["anna", "ben", "carla", "dieter", "eva", "felix", "gina", "hans", "ines", "jonas", "j"]
    last = ["mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "doe"]
    rows = [
        "Name                      Alias          Database                       ProhibitSendQuota",
        "----                      -----          --------                       -----------------",
    ]
    for _ in range(n):
        f, la = rng.choice(first), rng.choice(last)
        rows.append(
            f"{f.title()} {la.title():<20} {f}.{la:<12} EURPR0{rng.randint(1, 9)}DG{rng.randint(100, 999)}-db{rng.randint(10, 99):<8} 99 GB (106,300,440,576 bytes)"
        )
    return "\n".join(rows)


def pf_rules(rng: random.Random, n: int) -> str:
    out = []
    for i in range(n):
        src = f"10.{rng.randint(0, 40)}.{rng.randint(0, 255)}.0/24"
        port = rng.choice([22, 53, 80, 123, 443, 445, 1194, 3389, 5060, 8443])
        out.append(
            f'pass in quick on igb1 inet proto tcp from {src} to any port = {port} flags S/SA keep state label "USER_RULE: rule {i}" ridentifier 17{rng.randint(10000000, 99999999)}'
        )
    return "\n".join(out)


PROSE = [
    "Let me look at this step by step. First I want to understand what the current state of the system is, "
    "so that any change I make is based on what is actually there rather than on assumptions. ",
    "This output is long, so I'll summarise the relevant parts: most of the entries are routine informational "
    "messages that are expected on a healthy system and do not point at the problem. ",
    "Before changing anything on a production system I'd normally take a snapshot or at least a copy of the "
    "configuration file, so that we can roll back quickly if something behaves unexpectedly afterwards. ",
    "There are a few possible explanations here, and I'll go through them in order of likelihood, checking each "
    "against the evidence we have so far before moving on to the next one. ",
]


def prose(rng: random.Random, k: int) -> str:
    return "".join(rng.choice(PROSE) for _ in range(k))


# ---- the sessions -----------------------------------------------------------------------------


def ps2_dc() -> None:
    s = Session("ps2-dc-local-users", "/home/tech/clients/acme", datetime(2025, 3, 11, 8, 2, tzinfo=UTC), 11)
    s.user("On DC01 at Acme, reset the local support account and check why GPOs stopped replicating to DC02.")
    s.say("I'll start by looking at the Group Policy and DFSR events on DC01. " + prose(s.rng, 3))
    s.bash(
        "Invoke-Command -ComputerName DC01 -ScriptBlock { Get-EventLog -LogName System -Newest 120 }",
        event_log(s.rng, 120, "DC01"),
    )
    s.say(
        prose(s.rng, 2)
        + "DFSR event 4012 means SYSVOL replication stopped on DC01 for longer than MaxOfflineTimeInDays."
    )
    s.bash(
        "Invoke-Command -ComputerName DC01 -ScriptBlock { Get-LocalUser -Name support }",
        "",
        exit_code=1,
    )
    s.lines[-1]["message"]["content"][0]["content"] = (
        "Exit code 1\nGet-LocalUser : The term 'Get-LocalUser' is not recognized as the name of a cmdlet, "
        "function, script file, or operable program. Check the spelling of the name, or if a path was included, "
        "verify that the path is correct and try again.\nAt line:1 char:14\n+ Get-LocalUser <<<<  -Name support\n"
        "    + CategoryInfo          : ObjectNotFound: (Get-LocalUser:String) [], CommandNotFoundException\n"
        "    + FullyQualifiedErrorId : CommandNotFoundException"
    )
    s.say(
        "DC01 runs Windows Server 2008 R2 with PowerShell 2.0, so the LocalAccounts module does not exist. "
        "We will use `net user` instead of `Get-LocalUser` on this host. " + prose(s.rng, 2)
    )
    s.bash(
        "Invoke-Command -ComputerName DC01 -Credential (Get-Credential 'ACME\\svc-helpdesk') -ScriptBlock { net user support /active:yes }",
        "The command completed successfully.",
    )
    s.tool(
        "Write",
        {
            "file_path": "C:\\Scripts\\Acme\\reset-support.ps1",
            "content": "param([string]$User = 'support')\n" + "net user $User /active:yes\n" * 3,
        },
        "File created successfully at: C:\\Scripts\\Acme\\reset-support.ps1",
    )
    s.bash(
        "Invoke-Command -ComputerName DC01 -ScriptBlock { dfsrdiag pollad; dfsrmig /getglobalstate }",
        "Operation Succeeded\nCurrent DFSR global state: 'Eliminated'\nSucceeded.",
    )
    s.say(
        "Decision: SYSVOL on DC02 will be re-seeded with an authoritative restore from DC01 rather than rebuilding DC02. "
        + prose(s.rng, 2)
    )
    s.bash(
        "Invoke-Command -ComputerName DC02 -ScriptBlock { wmic /namespace:\\\\root\\microsoftdfs path dfsrVolumeConfig where volumeGuid='5B0A1F2C' call ResumeReplication }",
        "ERROR:\nDescription = Invalid query",
        exit_code=1,
    )
    s.say(
        "The volume GUID was wrong; TODO: look up the real SYSVOL volume GUID on DC02 with 'wmic volume get DeviceID' before retrying."
    )
    s.write(
        {
            "command": [
                "Get-LocalUser -Name support",
                "net user support /active:yes",
                "dfsrdiag pollad; dfsrmig /getglobalstate",
                "call ResumeReplication",
            ],
            "error": [
                "The term 'Get-LocalUser' is not recognized as the name of a cmdlet",
                "Description = Invalid query",
            ],
            "decision": [
                "We will use `net user` instead of `Get-LocalUser` on this host",
                "re-seeded with an authoritative restore from DC01 rather than rebuilding DC02",
            ],
            "path": ["C:\\Scripts\\Acme\\reset-support.ps1"],
            "host": ["DC01", "DC02"],
            "credential": ["ACME\\svc-helpdesk"],
            "secrets": [],
        }
    )


def nginx_cert() -> None:
    s = Session(
        "nginx-cert-expired", "/home/tech/clients/acme-shop", datetime(2025, 3, 12, 14, 30, tzinfo=UTC), 23
    )
    s.user(
        "shop.acme.example shows ERR_CERT_DATE_INVALID since this morning. Host is web01.acme.local, fix it."
    )
    s.say("I'll check nginx's config and the certificate on web01. " + prose(s.rng, 2))
    s.bash(
        "ssh deploy@web01.acme.local 'sudo nginx -t'",
        "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\nnginx: configuration file /etc/nginx/nginx.conf test is successful",
    )
    s.tool("Read", {"file_path": "/etc/nginx/sites-available/shop.conf"}, nginx_conf("shop.acme.example"))
    s.bash(
        "ssh deploy@web01.acme.local 'sudo journalctl -u nginx -u certbot --since yesterday --no-pager'",
        journal(s.rng, 160, "web01", "nginx"),
    )
    s.bash(
        "ssh deploy@web01.acme.local 'sudo certbot renew --cert-name shop.acme.example'",
        "Saving debug log to /var/log/letsencrypt/letsencrypt.log\nProcessing /etc/letsencrypt/renewal/shop.acme.example.conf\n"
        "Renewing an existing certificate for shop.acme.example\n"
        "Certbot failed to authenticate some domains (authenticator: nginx). The Certificate Authority reported these problems:\n"
        "  Domain: shop.acme.example\n  Type:   connection\n  Detail: 203.0.113.10: Fetching http://shop.acme.example/.well-known/acme-challenge/x2Yk: Timeout during connect (likely firewall problem)\n"
        "Failed to renew certificate shop.acme.example with error: Some challenges have failed.",
        exit_code=1,
    )
    s.say(
        "Port 80 is closed at the edge firewall, so HTTP-01 cannot work. We decided to switch to the DNS-01 challenge "
        "with the Cloudflare plugin instead of opening port 80. " + prose(s.rng, 2)
    )
    s.tool(
        "Edit",
        {
            "file_path": "/etc/letsencrypt/renewal/shop.acme.example.conf",
            "old_string": "authenticator = nginx",
            "new_string": "authenticator = dns-cloudflare\ndns_cloudflare_credentials = /root/.secrets/cloudflare.ini",
        },
        "The file /etc/letsencrypt/renewal/shop.acme.example.conf has been updated.",
    )
    s.bash(
        "ssh deploy@web01.acme.local 'sudo certbot renew --cert-name shop.acme.example --dns-cloudflare --dns-cloudflare-credentials /root/.secrets/cloudflare.ini'",
        "Renewing an existing certificate for shop.acme.example\n\nSuccessfully renewed certificate for shop.acme.example",
    )
    s.bash(
        "ssh deploy@web01.acme.local 'sudo systemctl reload nginx && curl -sI https://shop.acme.example | head -1'",
        "HTTP/2 200",
    )
    s.say(
        "The Cloudflare token is read from $CLOUDFLARE_API_TOKEN when the ini is regenerated; it is not stored in the repo. "
        + prose(s.rng, 1)
    )
    s.write(
        {
            "command": [
                "ssh deploy@web01.acme.local 'sudo certbot renew --cert-name shop.acme.example'",
                "--dns-cloudflare-credentials /root/.secrets/cloudflare.ini",
                "sudo systemctl reload nginx",
            ],
            "error": ["Timeout during connect (likely firewall problem)"],
            "decision": [
                "switch to the DNS-01 challenge with the Cloudflare plugin instead of opening port 80"
            ],
            "path": [
                "/etc/nginx/sites-available/shop.conf",
                "/etc/letsencrypt/renewal/shop.acme.example.conf",
                "/root/.secrets/cloudflare.ini",
            ],
            "host": ["web01.acme.local"],
            "credential": ["CLOUDFLARE_API_TOKEN"],
            "secrets": [],
        }
    )


def mariadb_backup() -> None:
    s = Session("mariadb-backup-denied", "/srv/ops/globex", datetime(2025, 3, 13, 2, 15, tzinfo=UTC), 37)
    s.user("Nightly backup of the shop database on db-shop-01 failed again. Find out why and fix it.")
    s.bash(
        "ssh root@db-shop-01 'tail -n 200 /var/log/backup/mysqldump.log'",
        journal(s.rng, 200, "db-shop-01", "backup"),
    )
    s.bash(
        "ssh root@db-shop-01 \"mysqldump -u backup_ro -p'Gl0bex!Bkp#2025' --single-transaction shop_prod > /backup/shop_prod.sql\"",
        "mysqldump: Got error: 1045: \"Access denied for user 'backup_ro'@'localhost' (using password: YES)\" when trying to connect",
        exit_code=2,
    )
    s.say(prose(s.rng, 2) + "The password in the cron job is stale since the rotation last week.")
    s.tool(
        "Read",
        {"file_path": "/etc/mysql/backup.cnf"},
        "     1\t[client]\n     2\tuser=backup_ro\n     3\tpassword=Gl0bex!Bkp#2025\n",
    )
    s.say(
        "We'll keep the credentials in /etc/mysql/backup.cnf with mode 600 and use --defaults-extra-file rather than "
        "a password on the command line. The new password comes from the vault entry 'Globex MariaDB backup_ro'. "
        + prose(s.rng, 2)
    )
    s.bash("msp cred reveal 'Globex MariaDB backup_ro' --field password", "[revealed to clipboard]")
    s.tool(
        "Edit",
        {
            "file_path": "/etc/mysql/backup.cnf",
            "old_string": "password=Gl0bex!Bkp#2025",
            "new_string": "password=Rot8ed-Mar-2025!x",
        },
        "The file /etc/mysql/backup.cnf has been updated.",
    )
    s.bash(
        "ssh root@db-shop-01 'mysqldump --defaults-extra-file=/etc/mysql/backup.cnf --single-transaction shop_prod | gzip > /backup/shop_prod.sql.gz && ls -lh /backup'",
        "\n".join(
            f"-rw-r----- 1 root backup {s.rng.randint(100, 999)}M Mar {d:>2} 02:1{d % 10} shop_prod-2025-03-{d:02d}.sql.gz"
            for d in range(1, 13)
        ),
    )
    s.summary(
        "Backup of shop_prod on db-shop-01 fixed: stale backup_ro password replaced, defaults-extra-file used."
    )
    s.write(
        {
            "command": [
                "mysqldump --defaults-extra-file=/etc/mysql/backup.cnf --single-transaction shop_prod",
                "msp cred reveal 'Globex MariaDB backup_ro' --field password",
            ],
            "error": ["Access denied for user 'backup_ro'@'localhost' (using password: YES)"],
            "decision": ["use --defaults-extra-file rather than a password on the command line"],
            "path": ["/etc/mysql/backup.cnf", "/var/log/backup/mysqldump.log"],
            "host": ["db-shop-01"],
            "credential": ["Globex MariaDB backup_ro"],
            "secrets": ["Gl0bex!Bkp#2025", "Rot8ed-Mar-2025!x"],
        }
    )


def m365_mailbox() -> None:
    s = Session(
        "m365-shared-mailbox", "/home/tech/clients/contoso", datetime(2025, 3, 14, 10, 5, tzinfo=UTC), 41
    )
    s.user("Contoso: convert j.doe's mailbox to a shared mailbox and give the sales team full access.")
    s.bash(
        'pwsh -Command "Connect-ExchangeOnline -UserPrincipalName admin@contoso.onmicrosoft.com -ShowBanner:$false; Get-Mailbox -ResultSize 200 | Format-Table Name,Alias,Database,ProhibitSendQuota"',
        mailbox_table(s.rng, 200),
    )
    s.bash(
        'pwsh -Command "Set-Mailbox -Identity j.doe@contoso.com -Type Shared"',
        "Set-Mailbox: The operation couldn't be performed because object 'j.doe@contoso.com' couldn't be found on 'AM6PR04A008DC03.EURPRD04.PROD.OUTLOOK.COM'.",
        exit_code=1,
    )
    s.say(
        prose(s.rng, 2)
        + "The primary SMTP address is john.doe@contoso.com; j.doe is only an alias in the on-premises AD."
    )
    s.bash('pwsh -Command "Set-Mailbox -Identity john.doe@contoso.com -Type Shared"', "")
    s.bash(
        'pwsh -Command "Add-MailboxPermission -Identity john.doe@contoso.com -User sales@contoso.com -AccessRights FullAccess -AutoMapping $true"',
        "Identity             User                 AccessRights  IsInherited Deny\n--------             ----                 ------------  ----------- ----\njohn.doe             sales@contoso.com    {FullAccess}  False       False",
    )
    s.say(
        "Decision: the licence is removed from the converted mailbox after 30 days, not immediately, so the litigation hold can be checked first. "
        "The admin login used the 'Contoso Global Admin' entry; MFA was approved by the client. "
        + prose(s.rng, 2)
    )
    s.write(
        {
            "command": [
                "Set-Mailbox -Identity john.doe@contoso.com -Type Shared",
                "Add-MailboxPermission -Identity john.doe@contoso.com -User sales@contoso.com -AccessRights FullAccess",
            ],
            "error": [
                "The operation couldn't be performed because object 'j.doe@contoso.com' couldn't be found"
            ],
            "decision": ["the licence is removed from the converted mailbox after 30 days, not immediately"],
            "path": [],
            "host": [],
            "credential": ["Contoso Global Admin"],
            "secrets": [],
        }
    )


def nas_disk_full() -> None:
    s = Session("nas-disk-full", "/home/tech/clients/initech", datetime(2025, 3, 15, 16, 40, tzinfo=UTC), 53)
    s.user("The Synology nas01 (10.20.0.15) at Initech says the volume is full and Hyper Backup fails.")
    s.bash(
        "ssh admin@10.20.0.15 'df -h /volume1'",
        "Filesystem      Size  Used Avail Use% Mounted on\n/dev/md2         11T   11T   12M 100% /volume1",
    )
    s.bash(
        "ssh admin@10.20.0.15 'du -h --max-depth=3 /volume1 | sort -rh | head -n 150'",
        du_listing(s.rng, 150, "/volume1"),
        exit_code=1,
    )
    s.lines[-1]["message"]["content"][0]["content"] = (
        "Exit code 1\nsh: sort: unrecognized option '-h'\nBusyBox v1.16.1 (2024-05-13 16:58:55 CST) multi-call binary.\n"
        + du_listing(s.rng, 150, "/volume1")
    )
    s.say(
        "nas01 uses BusyBox sort without -h. "
        + prose(s.rng, 2)
        + "I'll use du -k and sort -n instead of sort -h on this host."
    )
    s.bash(
        "ssh admin@10.20.0.15 'du -k -d 2 /volume1 | sort -n | tail -n 40'",
        du_listing(s.rng, 40, "/volume1").replace("G\t", "000000\t"),
    )
    s.bash(
        "ssh admin@10.20.0.15 'find /volume1/surveillance -name \"*.mp4\" -mtime +90 -delete'",
        "find: /volume1/surveillance/cam3/2024-11: Permission denied",
        exit_code=1,
    )
    s.bash(
        "ssh admin@10.20.0.15 'sudo find /volume1/surveillance -name \"*.mp4\" -mtime +90 -delete && df -h /volume1'",
        "Filesystem      Size  Used Avail Use% Mounted on\n/dev/md2         11T  8.9T  2.1T  81% /volume1",
    )
    s.say(
        "We agreed with Initech to keep surveillance footage for 90 days and to rotate it weekly with a scheduled task on nas01. "
        + prose(s.rng, 1)
    )
    s.write(
        {
            "command": [
                "du -h --max-depth=3 /volume1 | sort -rh | head -n 150",
                "du -k -d 2 /volume1 | sort -n | tail -n 40",
                'sudo find /volume1/surveillance -name "*.mp4" -mtime +90 -delete',
            ],
            "error": ["sort: unrecognized option '-h'", "Permission denied"],
            "decision": ["keep surveillance footage for 90 days and to rotate it weekly"],
            "path": ["/volume1/surveillance"],
            "host": ["10.20.0.15", "nas01"],
            "credential": [],
            "secrets": [],
        }
    )


def pfsense_rule() -> None:
    s = Session(
        "pfsense-rdp-rule", "/home/tech/clients/umbrella", datetime(2025, 3, 16, 9, 0, tzinfo=UTC), 67
    )
    s.summary("Earlier: RDP from the branch office to RDS01 broken after the pfSense 2.7.2 upgrade.")
    s.user("Continue with the RDP problem from the branch: 10.30.0.0/24 cannot reach RDS01 on 3389.")
    s.bash("ssh admin@pfsense-hq 'pfctl -sr'", pf_rules(s.rng, 140))
    s.say(prose(s.rng, 3) + "There is no pass rule for 10.30.0.0/24 to 3389 on the IPsec interface.")
    s.bash(
        "ssh admin@pfsense-hq 'pfSsh.php playback addrule enc0 10.30.0.0/24 10.10.0.25 3389'",
        "Unknown playback file: addrule",
        exit_code=1,
    )
    s.say(
        "pfSense has no playback script to add rules, so rules must be added in the web GUI or via config.xml. "
        "We chose to add the rule in the GUI under Firewall > Rules > IPsec and document it, instead of editing config.xml by hand. "
        + prose(s.rng, 2)
    )
    s.bash("ssh admin@pfsense-hq 'cp /conf/config.xml /conf/backup/config-2025-03-16.xml'", "")
    s.bash(
        "Test-NetConnection -ComputerName RDS01 -Port 3389",
        "ComputerName     : RDS01\nRemoteAddress    : 10.10.0.25\nRemotePort       : 3389\nTcpTestSucceeded : True",
    )
    s.say(
        "Next step: ask Umbrella to confirm from a branch PC; the IPsec PSK is in the 'Umbrella IPsec HQ-Branch' credential and was not changed."
    )
    s.write(
        {
            "command": [
                "pfctl -sr",
                "pfSsh.php playback addrule enc0 10.30.0.0/24 10.10.0.25 3389",
                "Test-NetConnection -ComputerName RDS01 -Port 3389",
            ],
            "error": ["Unknown playback file: addrule"],
            "decision": [
                "add the rule in the GUI under Firewall > Rules > IPsec and document it, instead of editing config.xml by hand"
            ],
            "path": ["/conf/config.xml", "/conf/backup/config-2025-03-16.xml"],
            "host": ["pfsense-hq", "RDS01"],
            "credential": ["Umbrella IPsec HQ-Branch"],
            "secrets": [],
        }
    )


def main() -> None:
    for build in (ps2_dc, nginx_cert, mariadb_backup, m365_mailbox, nas_disk_full, pfsense_rule):
        build()
    (HERE / "inventory.json").write_text(json.dumps(INVENTORY, indent=2) + "\n")


if __name__ == "__main__":
    main()
