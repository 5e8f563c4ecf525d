"""Redaction throughput on a mixed corpus: what every captured command and output costs.

    python bench/redact.py [--mb 24] [--max-seconds 90] [--seed 7]

The corpus is synthetic and reproducible: short MSP commands (about 2 % carrying a secret) and
multi-KB outputs (syslog, journal, PowerShell tables, HTTP traces, JSON) with a secret in some.
Each pass redacts the whole corpus; passes repeat until ``--mb`` MB were processed or the time
runs out. Printed: MB/s overall and per kind, per-command latency (p50/p99), first with the rules
alone, then with a KnownSecrets of 1,000 vault secrets; and hostile inputs' times.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import time

from mspmode.vault.known import KnownSecrets
from mspmode.vault.redact import redact

HOSTS = ["dc01", "fs01", "sql01", "web01", "nas01", "10.0.4.21", "192.0.2.15", "rds01.contoso.local"]
COMMANDS = [
    "systemctl status {svc} --no-pager",
    "journalctl -u {svc} --since '1 hour ago' --no-pager",
    "ssh -p 2222 admin@{host} 'df -h && free -m'",
    "Get-Service -ComputerName {host} -Name {svc} | Restart-Service -PassThru",
    "Get-ADUser -Filter * -Properties PasswordLastSet | Where-Object {{ $_.Enabled }}",
    "docker run -d --name {svc} -p 8080:80 -e TZ=Europe/Berlin nginx:1.25",
    "grep -P 'error|fail' /var/log/{svc}/error.log | tail -n 50",
    "tar -xzpf /backups/{svc}-2024-05-01.tar.gz -C /srv/{svc}",
    "robocopy C:\\Data \\\\{host}\\backup /MIR /R:2 /W:5 /LOG:C:\\logs\\{svc}.log",
    "Invoke-Command -ComputerName {host} -ScriptBlock {{ Get-Volume | Format-Table -AutoSize }}",
    "curl -sS https://{host}/api/v1/status?page=2&per_page=50",
    "mysql -h {host} -u app -p {svc}",
    "kubectl -n {svc} get pods -o wide",
    "Test-NetConnection -ComputerName {host} -Port 443",
    "rsync -avzP /srv/{svc}/ backup@{host}:/volume1/{svc}/",
]
SECRET_COMMANDS = [
    "mysql -u root -p{pw} {svc}",
    "sshpass -p '{pw}' ssh admin@{host} uptime",
    "net user svc_{svc} {pw} /add",
    "$s = ConvertTo-SecureString '{pw}' -AsPlainText -Force",
    "curl -H 'Authorization: Bearer {token}' https://{host}/api",
    "PGPASSWORD={pw} psql -h {host} -U postgres",
    "git clone https://bob:{pw}@{host}/infra.git",
]
LOG_LINES = [
    "May  1 10:22:{s:02d} {host} sshd[{pid}]: Accepted publickey for admin from 203.0.113.{n} port {port}",
    "May  1 10:22:{s:02d} {host} sshd[{pid}]: Failed password for invalid user test from 198.51.100.{n}",
    "May  1 10:22:{s:02d} {host} systemd[1]: Started {svc}.service - {svc} daemon.",
    "2024-05-01T10:22:{s:02d}Z INFO  [{svc}] GET /api/v2/items?page={n}&sort=name 200 {port}ms",
    "2024-05-01T10:22:{s:02d}Z WARN  [{svc}] token bucket low: {n} tokens left, key=rate:{host}",
    "{svc}     Running  Automatic  {svc} Service Host    LocalSystem",
    '{{"id": "{guid}", "name": "{svc}", "status": "ok", "cpu": {n}.{pid}, "path": "/srv/{svc}/data"}}',
    "    Directory: C:\\ProgramData\\{svc}\\logs\\{n}",
    "< HTTP/1.1 200 OK\n< Content-Type: application/json\n< X-Request-Id: {guid}",
    "kernel: [ {pid}.{port}] EXT4-fs (sda{n}): mounted filesystem with ordered data mode",
]
SECRET_LINES = [
    "DB_PASSWORD={pw}",
    "> Authorization: Basic {token}",
    "export GITHUB_TOKEN=ghp_{gh}",
    "Server={host};Database={svc};User Id=sa;Password={pw};",
    "aws_secret_access_key = {aws}",
]
SERVICES = ["nginx", "postgresql", "spooler", "wuauserv", "sshd", "crm", "backup", "veeam", "iis", "redis"]


def _fill(rng: random.Random, template: str) -> str:
    alnum = string.ascii_letters + string.digits
    return template.format(
        svc=rng.choice(SERVICES),
        host=rng.choice(HOSTS),
        pw="".join(rng.choices(alnum + "!#@", k=14)) + "9",
        token="".join(rng.choices(alnum, k=32)),
        gh="".join(rng.choices(alnum, k=36)),
        aws="".join(rng.choices(alnum + "/+", k=40)),
        guid=f"{rng.getrandbits(128):032x}",
        s=rng.randrange(60),
        n=rng.randrange(1, 255),
        pid=rng.randrange(100, 65000),
        port=rng.randrange(1024, 65535),
    )


def build_corpus(rng: random.Random, megabytes: float = 4.0) -> tuple[list[str], list[str]]:
    """(commands, outputs): about 20 % of the bytes commands, 80 % outputs of 2-64 KB."""
    commands: list[str] = []
    outputs: list[str] = []
    target = int(megabytes * 1_000_000)
    size = 0
    while size < target * 0.2:
        template = rng.choice(SECRET_COMMANDS) if rng.random() < 0.02 else rng.choice(COMMANDS)
        commands.append(_fill(rng, template))
        size += len(commands[-1])
    while size < target:
        lines = []
        length = rng.choice([2_000, 4_000, 8_000, 16_000, 64_000])
        while sum(map(len, lines)) < length:
            lines.append(_fill(rng, rng.choice(LOG_LINES)))
        if rng.random() < 0.1:
            lines.insert(rng.randrange(len(lines)), _fill(rng, rng.choice(SECRET_LINES)))
        outputs.append("\n".join(lines))
        size += len(outputs[-1])
    return commands, outputs


def run(commands: list[str], outputs: list[str], known: KnownSecrets | None, mb: float, limit: float) -> None:
    per_pass = sum(map(len, commands)) + sum(map(len, outputs))
    done = 0
    time_commands = time_outputs = 0.0
    bytes_commands = bytes_outputs = 0
    latencies: list[float] = []
    started = time.perf_counter()
    while done < mb * 1_000_000 and time.perf_counter() - started < limit:
        for text in commands:
            t0 = time.perf_counter()
            redact(text, known)
            latencies.append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        for text in outputs:
            redact(text, known)
        t2 = time.perf_counter()
        time_commands += sum(latencies[-len(commands) :])
        time_outputs += t2 - t1
        bytes_commands += sum(map(len, commands))
        bytes_outputs += sum(map(len, outputs))
        done += per_pass
    total = time_commands + time_outputs
    latencies.sort()
    p50 = statistics.median(latencies) * 1e6
    p99 = latencies[int(len(latencies) * 0.99)] * 1e6
    print(f"  processed {done / 1e6:.1f} MB in {total:.1f} s: {done / 1e6 / total:.1f} MB/s overall")
    rate = bytes_commands / 1e6 / time_commands
    print(f"  commands: {rate:.1f} MB/s, one command p50 {p50:.0f} us, p99 {p99:.0f} us")
    print(f"  outputs : {bytes_outputs / 1e6 / time_outputs:.1f} MB/s")


HOSTILE = {
    "a-a-a-... (200 KB)": "a-" * 100_000,
    "'mysql ' x 35k": "mysql " * 35_000,
    "password=password=...": "password=" * 22_000,
    "BEGIN PRIVATE KEY, no END": "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 200_000,
    "'https://' x 25k": "https://" * 25_000,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, default=24.0, help="MB to redact per configuration (default 24)")
    parser.add_argument("--max-seconds", type=float, default=90.0, help="time limit per configuration")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    commands, outputs = build_corpus(rng)
    size = (sum(map(len, commands)) + sum(map(len, outputs))) / 1e6
    print(f"corpus: {len(commands):,} commands, {len(outputs):,} outputs, {size:.1f} MB per pass")

    print("rules only:")
    run(commands, outputs, None, args.mb, args.max_seconds)

    alnum = string.ascii_letters + string.digits + "!#@-_"
    stored = ["".join(rng.choices(alnum, k=rng.randrange(8, 40))) for _ in range(1000)]
    stored += [
        " ".join(rng.choices(["maple", "river", "copper", "lantern", "orbit"], k=4)) for _ in range(10)
    ]
    known = KnownSecrets(os.urandom(32), stored)
    # A few of them appear in the outputs, as a vault secret pasted into a session would.
    for i in range(0, len(outputs), 25):
        outputs[i] = outputs[i] + f"\nlogged in with {stored[i % len(stored)]}\n"
    print(f"rules + KnownSecrets of {len(known):,} vault secrets:")
    run(commands, outputs, known, args.mb, args.max_seconds)
    leaked = sum(stored[i % len(stored)] in redact(outputs[i], known) for i in range(0, len(outputs), 25))
    print(f"  vault secrets left in the outputs: {leaked}")

    print("hostile inputs (linear time expected):")
    for name, text in HOSTILE.items():
        t0 = time.perf_counter()
        redact(text, known)
        print(f"  {name:<28} {len(text) / 1e3:6.0f} KB in {(time.perf_counter() - t0) * 1e3:6.1f} ms")


if __name__ == "__main__":
    main()
