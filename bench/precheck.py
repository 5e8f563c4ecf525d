"""Pre-check latency and import throughput at the scale of the budgets (DESIGN.md): a history of
100k commands on 2,000 hosts that leaves 10k failure patterns, in a fresh SQLite database.

    python bench/precheck.py [--commands 100000] [--hosts 2000] [--patterns 10000] [--checks 3000]

1. Writes the history as a JSONL file (clients, hosts with traits, commands: mostly routine
   successes, failures of ~10k distinct culprits across shells and error shapes, some fixed
   right after, some repeated on other hosts), reproducibly (seeded).
2. Imports it with the real import path (``learning.import_file``: the file read, checked and
   redacted by a second process, the engine, batched inserts, patterns, drafts, the audit row)
   and prints commands/s.
   Budget: ≥ 10k commands/s into SQLite (DESIGN.md).
3. Pre-checks a mix of commands (exact repeats of failures, the same culprit with other
   arguments, the culprit on hosts sharing traits, routine commands, unknown commands, commands
   through ssh) through ``learning.check`` — the service call an API request or the CLI makes:
   lock, change check against the database, redaction, the engine — and prints p50/p99 of the
   wall clock and of the thread's CPU time (on a shared machine the wall clock's tail is the
   scheduler's: a check preempted for a time slice; the CPU time is the check's own cost).
   Budget: p99 ≤ 2 ms in process.
4. For context: rebuilding the state from the database (a new API worker) and loading it
   from the one store (what the local service and the CLI start from).

The load average is printed before and after: the machine's other work is part of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mspmode.db import schema
from mspmode.services import learning
from mspmode.services.actor import local_actor
from mspmode.services.learning import cache
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file

PROFILES: list[dict[str, Any]] = [
    {
        "os": "Windows Server",
        "os_version": "2008 R2",
        "shell_type": "powershell",
        "powershell_version": "2.0",
    },
    {
        "os": "Windows Server",
        "os_version": "2012 R2",
        "shell_type": "powershell",
        "powershell_version": "4.0",
    },
    {"os": "Windows Server", "os_version": "2019", "shell_type": "powershell", "powershell_version": "5.1"},
    {
        "os": "Ubuntu",
        "os_version": "22.04",
        "shell_type": "bash",
        "init_system": "systemd",
        "package_manager": "apt",
    },
    {
        "os": "Debian",
        "os_version": "12",
        "shell_type": "bash",
        "init_system": "systemd",
        "package_manager": "apt",
    },
    {
        "os": "CentOS",
        "os_version": "7",
        "shell_type": "bash",
        "init_system": "systemd",
        "package_manager": "yum",
    },
    {"os": "Alpine Linux", "os_version": "3.19", "shell_type": "sh", "package_manager": "apk"},
    {"os": "ReadyNAS OS", "os_version": "6.10", "shell_type": "sh", "busybox": True},
    {"os": "macOS", "os_version": "14.5", "shell_type": "zsh", "package_manager": "brew"},
    {"os": "MS-DOS", "os_version": "6.22", "shell_type": "cmd"},
]


def _out(*lines: str) -> str:
    return "\n".join(lines)


POSIX_OK = [
    ("uptime", " 10:01:02 up 12 days,  3:04,  1 user,  load average: 0.10, 0.08, 0.05"),
    (
        "df -h",
        _out("Filesystem      Size  Used Avail Use% Mounted on", "/dev/sda1        40G   21G   17G  56% /"),
    ),
    (
        "free -m",
        _out("               total        used        free", "Mem:            7963        2312        4120"),
    ),
    (
        "ls -la /etc/nginx/sites-enabled",
        _out("total 8", "drwxr-xr-x 2 root root 4096 Jan  1 10:00 .", "lrwxrwxrwx 1 root root   34 default"),
    ),
    (
        "cat /etc/os-release | grep VERSION",
        _out('VERSION="22.04.4 LTS (Jammy Jellyfish)"', 'VERSION_ID="22.04"'),
    ),
    (
        "ps aux | grep -v grep | grep nginx",
        "www-data  1234  0.0  0.1  55280  5432 ?  S  10:00  0:00 nginx: worker",
    ),
    (
        "tail -n 50 /var/log/syslog",
        _out(*(f"Jan  1 10:00:{i:02d} host CRON[{900 + i}]: (root) CMD (run-parts)" for i in range(20))),
    ),
    (
        "ip addr show eth0",
        _out("2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500", "    inet 192.0.2.10/24"),
    ),
]
PS_OK = [
    (
        "Get-Service | Where-Object {$_.Status -eq 'Running'}",
        _out("Status   Name               DisplayName", "------   ----               -----------",
             "Running  BITS               Background Intelligent Transfer"),
    ),
    (
        "Get-Process | Sort-Object CPU -Descending | Select-Object -First 5",
        _out("Handles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName",
             "    812      45    98212     112340     512.34   4120   0 sqlservr"),
    ),
    (
        "Get-EventLog -LogName System -Newest 20",
        _out("Index Time          EntryType   Source                 InstanceID Message",
             " 9812 Jan 01 10:00  Information Service Control Manager  1073748860 The service started."),
    ),
    (
        "Get-ChildItem C:\\Windows\\Temp",
        _out("    Directory: C:\\Windows\\Temp", "", "Mode                LastWriteTime     Length Name",
             "-a---        1/1/2026  10:00 AM       1024 setup.log"),
    ),
    (
        "ipconfig /all",
        _out("Windows IP Configuration", "", "   Host Name . . . . . . . . . . . . : DC01",
             "   IPv4 Address. . . . . . . . . . . : 192.0.2.5"),
    ),
]  # fmt: skip
CMD_OK = [
    ("dir C:\\", " Volume in drive C has no label.\n Directory of C:\\\n"),
    ("net user", "User accounts for \\\\TS\n"),
]


def ps_not_recognized(word: str) -> str:
    return (
        f"{word} : The term '{word}' is not recognized as the name of a cmdlet, function, script file, or "
        "operable program. Check the spelling of the name, or if a path was included, verify that the path "
        f"is correct and try again.\nAt line:1 char:{len(word) + 1}\n+ {word} <<<< \n    + CategoryInfo"
        f"          : ObjectNotFound: ({word}:String) [], CommandNotFoundException\n"
        "    + FullyQualifiedErrorId :"
        " CommandNotFoundException"
    )


def failure(rng: random.Random, k: int, profile: dict[str, Any]) -> tuple[str, int, str, str | None]:
    """The k-th distinct culprit, in the host's shell: (command, exit code, output, a fix or None)."""
    shell = profile["shell_type"]
    kind = k % 4
    if shell == "powershell":
        if kind in (0, 1):
            word = f"Get-Widget{k}"
            return (
                f"{word} -Name srv{rng.randrange(99)}",
                1,
                ps_not_recognized(word),
                f"Get-WmiObject Win32_Widget{k} -Filter \"Name='srv1'\"",
            )
        param = f"Flag{k}"
        out = (
            f"Get-ChildItem : A parameter cannot be found that matches parameter name '{param}'.\n"
            f"At line:1 char:15\n+ Get-ChildItem -{param} C:\\Data\n+               ~~~~~~\n"
            "    + CategoryInfo          : InvalidArgument: (:) "
            "[Get-ChildItem], ParameterBindingException"
        )
        return f"Get-ChildItem -{param} C:\\Data", 1, out, "Get-ChildItem C:\\Data"
    if shell == "cmd":
        return f'IF /X{k} "%1"=="A" GOTO A', 1, f"Invalid switch - /X{k}", 'IF "%1"=="A" GOTO A'
    if kind in (0, 1):
        tool = f"tool{k}ctl"
        prefix = "-ash" if profile.get("busybox") else shell
        out = f"{prefix}: {tool}: not found" if shell == "sh" else f"{shell}: {tool}: command not found"
        return f"{tool} status svc{rng.randrange(50)}", 127, out, f"service svc{rng.randrange(50)} status"
    opt = f"--opt{k}"
    out = (
        f"grep: unrecognized option '{opt}'\nUsage: grep [OPTION]... PATTERNS [FILE]...\n"
        "Try 'grep --help' for more information."
    )
    return f"grep {opt} error /var/log/syslog", 2, out, "grep -E error /var/log/syslog"


def make_history(path: Path, commands: int, hosts: int, patterns: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    host_names = [f"h{i:04d}" for i in range(hosts)]
    profile = {name: PROFILES[i % len(PROFILES)] for i, name in enumerate(host_names)}
    at = datetime(2026, 1, 1, tzinfo=UTC)
    failed: list[tuple[str, str, str]] = []  # (host, command, fix)
    counts = {"commands": 0, "failures": 0}
    with path.open("w", encoding="utf-8") as out:

        def emit(event: dict[str, Any]) -> None:
            out.write(json.dumps(event) + "\n")

        for c in range(20):
            emit({"kind": "client", "name": f"Client {c:02d}"})
        for i, name in enumerate(host_names):
            emit({"kind": "host", "client": f"Client {i % 20:02d}", "hostname": name,
                  "ip_address": f"10.{i // 250}.{i % 250}.1", **profile[name]})  # fmt: skip
        k = 0
        repeats = commands // 50
        runs: dict[str, int] = {}
        while counts["commands"] < commands:
            name = host_names[rng.randrange(hosts)]
            prof = profile[name]
            runs[name] = runs.get(name, 0) + 1
            session = f"{name}-s{runs[name] // 30}"  # a work session: about 30 commands on a host
            at += timedelta(seconds=rng.randrange(5, 90))
            left = commands - counts["commands"]
            if k < patterns and rng.random() < (patterns - k) / max(1, left - repeats) * 1.02:
                command, code, output, fix = failure(rng, k, prof)
                k += 1
                emit({"kind": "command", "host": name, "command": command, "exit_code": code,
                      "output": output,
                      "at": at.isoformat(), "session": session})  # fmt: skip
                counts["commands"] += 1
                counts["failures"] += 1
                if fix and rng.random() < 0.3 and counts["commands"] < commands:
                    at += timedelta(seconds=30)
                    emit({"kind": "command", "host": name, "command": fix, "exit_code": 0, "output": "ok",
                          "at": at.isoformat(), "session": session})  # fmt: skip
                    counts["commands"] += 1
                failed.append((name, command, fix or ""))
                continue
            if failed and rng.random() < 0.02:
                # A known failure again, on a host of the same kind.
                host, command, _ = failed[rng.randrange(len(failed))]
                twin = host_names[(host_names.index(host) + len(PROFILES) * rng.randrange(1, 5)) % hosts]
                emit({"kind": "command", "host": twin, "command": command, "exit_code": 1,
                      "output": "failed again",
                      "at": at.isoformat(), "session": session})  # fmt: skip
                counts["commands"] += 1
                counts["failures"] += 1
                continue
            shell = prof["shell_type"]
            pool = PS_OK if shell == "powershell" else CMD_OK if shell == "cmd" else POSIX_OK
            command, output = pool[rng.randrange(len(pool))]
            output += f"\n(as of {at:%Y-%m-%d %H:%M:%S}, {rng.randrange(10**6)} bytes in)"  # outputs differ
            emit({"kind": "command", "host": name, "command": command, "exit_code": 0, "output": output,
                  "at": at.isoformat(), "session": session})  # fmt: skip
            counts["commands"] += 1
    return {"failed": failed, "hosts": host_names, "profile": profile, **counts}


def checks_for(history: dict[str, Any], n: int, seed: int = 11) -> list[tuple[str | None, str]]:
    rng = random.Random(seed)
    hosts, failed, profile = history["hosts"], history["failed"], history["profile"]
    out: list[tuple[str | None, str]] = []
    for i in range(n):
        kind = i % 6
        host, command, _ = failed[rng.randrange(len(failed))]
        if kind == 0:
            out.append((host, command))  # exact repeat where it failed
        elif kind == 1:
            out.append((host, command.split(" ")[0] + " --other-args x y"))  # same culprit
        elif kind == 2:
            twin = hosts[(hosts.index(host) + len(PROFILES)) % len(hosts)]
            out.append((twin, command))  # a host sharing its traits
        elif kind == 3:
            name = hosts[rng.randrange(len(hosts))]
            pool = PS_OK if profile[name]["shell_type"] == "powershell" else POSIX_OK
            out.append((name, pool[rng.randrange(len(pool))][0]))  # routine
        elif kind == 4:
            out.append((hosts[rng.randrange(len(hosts))], f"never-seen-{i} --flag"))  # unknown
        else:
            index = hosts.index(host)
            out.append((None, f"ssh root@10.{index // 250}.{index % 250}.1 '{command}'"))  # through ssh
    return out


def percentiles(samples: list[float]) -> str:
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {qs[49] * 1000:.3f} ms  p99 {qs[98] * 1000:.3f} ms  max {max(samples) * 1000:.2f} ms"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def runtime(home: Path) -> Runtime:
    for name in KEY_NAMES:
        ensure_key_file(name, home / f"{name}.key")
    return Runtime(Settings(home=home, database_url=f"sqlite:///{home / 'msp.db'}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--hosts", type=int, default=2_000)
    parser.add_argument("--patterns", type=int, default=10_000)
    parser.add_argument("--checks", type=int, default=3_000)
    args = parser.parse_args()
    actor = local_actor()
    print(f"load average    {load_average()}")
    with tempfile.TemporaryDirectory(prefix="msp-bench-precheck-") as tmp:
        home = Path(tmp)
        history_path = home / "history.jsonl"
        started = time.perf_counter()
        history = make_history(history_path, args.commands, args.hosts, args.patterns)
        print(
            f"history         {history['commands']:,} commands ({history['failures']:,} failures) on "
            f"{args.hosts:,} hosts, {history_path.stat().st_size / 1e6:.0f} MB, written in "
            f"{time.perf_counter() - started:.1f} s"
        )
        rt = runtime(home)
        schema.upgrade(rt.db)
        report = learning.import_file(rt, actor, history_path)
        st = cache.cached(rt)
        assert st is not None
        print(
            f"msp import      {report.commands:,} commands in {report.seconds:.2f} s = "
            f"{report.per_second:,.0f} commands/s (budget ≥ 10,000/s); {len(st.memory.patterns):,} patterns, "
            f"{report.fixes:,} fixes learned"
        )
        if report.bad_lines:
            sys.exit(f"bad lines in the generated history: {report.bad_lines[:3]}")

        checks = checks_for(history, args.checks)
        for host, command in checks[:200]:
            learning.check(rt, actor, host, command)  # warm-up: parse caches, connections
        samples, cpu, verdicts = [], [], {"block": 0, "warn": 0, "allow": 0}
        for host, command in checks:
            t0, c0 = time.perf_counter(), time.thread_time()
            result = learning.check(rt, actor, host, command)
            cpu.append(time.thread_time() - c0)
            samples.append(time.perf_counter() - t0)
            verdicts[result["verdict"]] += 1
        print(
            f"pre-check       {len(samples):,} checks against {report.commands:,} commands / "
            f"{len(st.memory.patterns):,} patterns: {percentiles(samples)} (budget p99 ≤ 2 ms); "
            f"{verdicts['block']} block, {verdicts['warn']} warn, {verdicts['allow']} allow"
        )
        print(f"  CPU time      {percentiles(cpu)} (the thread's own work, without preemption)")

        cold = runtime(home)
        t0 = time.perf_counter()
        learning.check(cold, actor, checks[0][0], checks[0][1])
        rebuilt = time.perf_counter() - t0
        learning.use_store(cold)
        t0 = time.perf_counter()
        learning.save_state(cold)
        saved = time.perf_counter() - t0
        reader = runtime(home)
        learning.use_store(reader)
        t0 = time.perf_counter()
        learning.check(reader, actor, checks[0][0], checks[0][1])
        loaded = time.perf_counter() - t0
        size = learning.store_path(reader).stat().st_size / 1e6
        print(
            f"cold start      rebuild from the database {rebuilt:.2f} s; the one store {size:.0f} MB: "
            f"state written {saved:.2f} s, loaded and checked {loaded:.2f} s"
        )
        for r in (rt, cold, reader):
            r.dispose()
    print(f"load average    {load_average()}")


if __name__ == "__main__":
    main()
