"""Learning: grouping, fixes, culprits revealed by a fix, transplanting edits, traits."""

from __future__ import annotations

import pytest

from mspmode.engine import Memory, adapt, add_host, check, parse, record, resolve_host, similarity
from mspmode.engine.edits import rewrap
from mspmode.engine.learn import ingest
from mspmode.engine.tokenize import CMD, POSIX, POWERSHELL, SQL, targets

T0 = "2026-03-01T08:00:00Z"


def at(minute: int) -> str:
    return f"2026-03-01T08:{minute:02d}:00Z"


@pytest.mark.parametrize(
    ("failed", "fix", "new", "dialect", "expected"),
    [
        (
            "sed -i 's/a/b/' f.txt",
            "sed -i '' 's/a/b/' f.txt",
            "sed -i 's/x/y/g' g.conf",
            POSIX,
            "sed -i '' 's/x/y/g' g.conf",
        ),
        (
            "systemctl status nmbd",
            "service nmbd status",
            "systemctl restart smbd",
            POSIX,
            "service smbd restart",
        ),
        (
            "systemctl status nmbd",
            "service nmbd status",
            "sudo systemctl stop nmbd",
            POSIX,
            "sudo service nmbd stop",
        ),
        ("dnf install -y htop", "yum install -y htop", "dnf remove -y nano", POSIX, "yum remove -y nano"),
        ("apt-get install -y curl", "apk add --no-cache curl", "apt-get update", POSIX, "apk update"),
        (
            "git pull && git status",
            "git pull; if ($?) { git status }",
            "npm ci && npm test",
            POWERSHELL,
            "npm ci; if ($?) { npm test }",
        ),
        (
            "1..5 | ForEach-Object -Parallel { $_ }",
            "1..5 | ForEach-Object { $_ }",
            "gc a.txt | ForEach-Object -Parallel { ping $_ }",
            POWERSHELL,
            "gc a.txt | ForEach-Object { ping $_ }",
        ),
        (
            'IF /I "%1"=="A" GOTO A',
            'IF "%1"=="A" GOTO A',
            'IF /I "%2"=="B" GOTO B',
            CMD,
            'IF "%2"=="B" GOTO B',
        ),
        (
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS c INT",
            "ALTER TABLE t ADD COLUMN c INT",
            "ALTER TABLE u ADD COLUMN IF NOT EXISTS d TEXT",
            SQL,
            "ALTER TABLE u ADD COLUMN d TEXT",
        ),
        (
            "docker compose up -d",
            "docker-compose up -d",
            "docker compose logs -f web",
            POSIX,
            "docker-compose logs -f web",
        ),
        (
            "Get-CimInstance Win32_OperatingSystem",
            "Get-WmiObject Win32_OperatingSystem",
            "get-ciminstance win32_bios",
            POWERSHELL,
            "Get-WmiObject win32_bios",
        ),
        ("useradd -m bob", "adduser -D bob", "sudo useradd -m alice", POSIX, "sudo adduser -D alice"),
        # letters put in the other case are put so in the new option
        ("pacman -sy vim", "pacman -Sy vim", "pacman -ss emacs", POSIX, "pacman -Ss emacs"),
        # a URL's host taken from it
        ("whois https://a.org/wiki/Main", "whois a.org", "whois https://b.com/s?q=x", POSIX, "whois b.com"),
        # words put in another order; the options before them stay before them
        ("grep test.py test", "grep test test.py", "grep -lir . test", POSIX, "grep -lir test ."),
    ],
)
def test_adapt_transplants_the_edit(failed: str, fix: str, new: str, dialect: str, expected: str) -> None:
    assert adapt(parse(failed, dialect), parse(fix, dialect), parse(new, dialect)) == expected


def test_adapt_refuses_a_rewrite() -> None:
    failed, fix = parse("Get-LocalUser", POWERSHELL), parse("Get-WmiObject Win32_UserAccount", POWERSHELL)
    assert adapt(failed, fix, parse("Get-LocalUser -Name bob", POWERSHELL)) is None
    # …and an edit whose tokens the new command does not have.
    assert adapt(parse("date -d yesterday"), parse("date -v-1d"), parse("date -d '2 days ago'")) is None


def test_rewrap_puts_the_adapted_script_back_into_its_wrapper() -> None:
    outer = parse("ssh root@nas 'systemctl status nmbd'", POSIX)
    _host, _script, chain = targets(outer)[0]
    assert rewrap(outer, chain, "service nmbd status") == "ssh root@nas 'service nmbd status'"
    assert rewrap(outer, chain, "echo 'x'") == "ssh root@nas 'echo '\\''x'\\'''"


def test_similarity_prefers_the_same_job() -> None:
    failed = parse("systemctl status nmbd")
    assert similarity(failed, parse("service nmbd status")) == 1.0
    assert similarity(failed, parse("uptime")) == 0.0
    assert (
        similarity(parse("Get-LocalUser", POWERSHELL), parse("Get-WmiObject Win32_UserAccount", POWERSHELL))
        >= 0.5
    )
    assert similarity(parse("Get-LocalUser", POWERSHELL), parse("Get-Service", POWERSHELL)) < 0.5


def _nas(memory: Memory) -> None:
    add_host(
        memory,
        "NAS1",
        {"os": "ReadyNAS OS", "os_version": "6.10", "shell_type": "sh"},
        ip_address="192.0.2.9",
    )


def test_fix_is_the_next_similar_success_not_any_success() -> None:
    memory = Memory()
    _nas(memory)
    failed = record(memory, "NAS1", "systemctl status nmbd", 127, "-ash: systemctl: not found", at(0), "s1")
    unrelated = record(memory, "NAS1", "uptime", 0, "up 3 days", at(1), "s1")
    fix = record(memory, "NAS1", "service nmbd status", 0, "nmbd is running", at(2), "s2")
    assert failed.new_pattern and failed.culprit is not None and failed.culprit.key == "cmd:systemctl"
    assert unrelated.fixes == [] and fix.fixes == [failed.pattern_id]
    pattern = memory.patterns[failed.pattern_id or ""]
    assert pattern.fix_observed and pattern.workaround_commands == ["service nmbd status"]
    assert "service nmbd status" in pattern.recommended_solution


def test_fix_must_come_soon_after() -> None:
    memory = Memory()
    _nas(memory)
    failed = record(
        memory,
        "NAS1",
        "systemctl status nmbd",
        127,
        "-ash: systemctl: not found",
        "2026-03-01T08:00:00Z",
        "s1",
    )
    late = record(memory, "NAS1", "service nmbd status", 0, "ok", "2026-03-01T11:00:00Z", "s9")
    assert late.fixes == []
    assert not memory.patterns[failed.pattern_id or ""].fix_observed


def test_unnamed_culprit_is_revealed_by_the_fix_and_the_fixed_form_is_allowed() -> None:
    memory = Memory()
    add_host(memory, "mac", {"os": "macOS", "os_version": "14.5", "shell_type": "zsh"})
    failed = record(
        memory, "mac", "sed -i 's/a/b/' f.txt", 1, 'sed: 1: "f.txt": invalid command code f', at(0), "m"
    )
    assert failed.culprit is None
    fix = record(memory, "mac", "sed -i '' 's/a/b/' f.txt", 0, "", at(1), "m")
    assert fix.refined == [failed.pattern_id]
    pattern = memory.patterns[failed.pattern_id or ""]
    assert pattern.culprit is not None and pattern.culprit.key == "opt:sed:-i"
    assert check(memory, "mac", "sed -i 's/x/y/' g.txt").verdict == "block"
    assert check(memory, "mac", "sed -i '' 's/x/y/' g.txt").verdict == "allow"
    assert check(memory, "mac", "sed -n '1p' g.txt").verdict == "allow"
    # Another mac failing the same way without a named culprit joins the refined pattern.
    add_host(memory, "mac2", {"os": "macOS", "os_version": "13.6", "shell_type": "zsh"})
    again = record(
        memory, "mac2", "sed -i 's/q/r/' h.txt", 1, 'sed: 1: "h.txt": invalid command code h', at(5), "m2"
    )
    assert again.pattern_id == failed.pattern_id
    assert pattern.host_count == 2 and pattern.confidence_level == "confirmed"


def test_success_later_on_the_same_host_resolves_the_pattern() -> None:
    memory = Memory()
    add_host(memory, "DC1", {"shell_type": "powershell", "powershell_version": "2.0"})
    nr = "Get-LocalUser : The term 'Get-LocalUser' is not recognized as the name of a cmdlet"
    failed = record(memory, "DC1", "Get-LocalUser", 1, nr, at(0), "a")
    assert check(memory, "DC1", "Get-LocalUser -Name x").verdict == "block"
    upgraded = record(memory, "DC1", "Get-LocalUser -Name y", 0, "y True", at(30), "b")
    assert upgraded.resolved == [failed.pattern_id]
    assert check(memory, "DC1", "Get-LocalUser -Name x").verdict == "allow"
    assert check(memory, "DC1", "Get-LocalUser").verdict == "allow"  # the exact failed command too
    # and a new failure there brings it back
    record(memory, "DC1", "Get-LocalUser", 1, nr, at(40), "c")
    assert check(memory, "DC1", "Get-LocalUser -Name x").verdict == "block"


def test_traits_generalise_and_successes_refute() -> None:
    memory = Memory()
    for name, ps in (("A", "2.0"), ("B", "2.0"), ("C", "2.0"), ("D", "5.1")):
        add_host(
            memory,
            name,
            {
                "os": "Windows Server",
                "os_version": name,
                "shell_type": "powershell",
                "powershell_version": ps,
            },
        )
    add_host(memory, "L", {"os": "Ubuntu", "os_version": "22.04", "shell_type": "powershell"})
    nr = "Get-LocalUser : The term 'Get-LocalUser' is not recognized as the name of a cmdlet"
    record(memory, "A", "Get-LocalUser", 1, nr, at(0), "a")
    record(memory, "D", "Get-LocalUser", 0, "ok", at(1), "d")
    warn = check(memory, "B", "Get-LocalUser")
    assert warn.verdict == "warn" and warn.confidence == "suspected"
    assert "powershell_version=2.0" in warn.reason
    assert check(memory, "D", "Get-LocalUser").verdict == "allow"  # worked there
    assert check(memory, "L", "Get-LocalUser").verdict == "allow"  # shares only the shell
    record(memory, "B", "Get-LocalUser", 1, nr, at(2), "b")
    assert check(memory, "C", "Get-LocalUser").confidence == "likely"  # two hosts now
    record(memory, "C", "Get-LocalUser -Name z", 0, "ok", at(3), "c")  # a 2.0 host where it works
    assert check(memory, "C", "Get-LocalUser").verdict == "allow"
    add_host(
        memory,
        "E",
        {"os": "Windows Server", "os_version": "E", "shell_type": "powershell", "powershell_version": "2.0"},
    )
    assert check(memory, "E", "Get-LocalUser").verdict == "allow"  # the trait is refuted


def test_transient_failures_never_block() -> None:
    memory = Memory()
    for code, out in (
        (28, "curl: (28) Connection timed out"),
        (6, "curl: (6) Could not resolve host: x"),
        (7, "Connection refused"),
    ):
        learned = record(memory, "web", "curl -sS https://198.51.100.1/", code, out, at(0), "w")
        assert learned.classification is not None and learned.classification.is_transient
        result = check(memory, "web", "curl -sS https://198.51.100.1/")
        assert result.verdict == "allow" and "transient" in result.reason


def test_host_resolution() -> None:
    memory = Memory()
    add_host(
        memory, "D2TESTNAS", {"shell_type": "sh"}, aliases=["d2testnas.local", "nas"], ip_address="192.0.2.9"
    )
    add_host(memory, "ws01", {}, fqdn="ws01.corp.example.com")
    assert resolve_host(memory, "d2testnas") == "d2testnas"
    assert resolve_host(memory, "root@192.0.2.9") == "d2testnas"
    assert resolve_host(memory, "D2TESTNAS.LOCAL") == "d2testnas"
    assert resolve_host(memory, "WS01.corp.example.com") == "ws01"
    assert resolve_host(memory, "ws01.other.example") == "ws01"  # short name
    assert resolve_host(memory, "nope") is None
    record(memory, "D2TESTNAS", "systemctl status x", 127, "-ash: systemctl: not found", at(0), "s")
    for cmd in ("ssh root@192.0.2.9 systemctl start x", "ssh -p 22 admin@nas 'systemctl stop x'"):
        result = check(memory, None, cmd)
        assert (result.host, result.verdict) == ("D2TESTNAS", "block")
    assert check(memory, None, "systemctl start x").host is None


def test_pattern_maps_onto_the_failure_patterns_table() -> None:
    models = pytest.importorskip("mspmode.models.learning")
    memory = Memory()
    add_host(memory, "AD1", {"os": "Windows Server", "os_version": "2008 R2", "powershell_version": "2.0"})
    learned = record(
        memory,
        "AD1",
        "Get-LocalUser",
        1,
        "The term 'Get-LocalUser' is not recognized as the name of a cmdlet",
        at(0),
        "s",
    )
    record(memory, "AD1", "Get-WmiObject Win32_UserAccount", 0, "ok", at(1), "s")
    row = memory.patterns[learned.pattern_id or ""].row()
    columns = set(models.FailurePattern.__table__.columns.keys())
    assert set(row) <= columns, set(row) - columns
    assert row["pattern_type"] in models.PATTERN_TYPES
    assert row["severity"] in models.PATTERN_SEVERITIES
    assert row["culprit_kind"] in models.CULPRIT_KINDS
    assert row["confidence_level"] in models.CONFIDENCE_LEVELS
    assert len(row["pattern_signature"]) <= 500 and row["failure_description"] and row["root_cause"]
    assert row["workaround_commands"] == ["Get-WmiObject Win32_UserAccount"] and row["fix_observed"]
    assert row["affected_systems"] == ["AD1"] and row["affected_os_versions"] == ["Windows Server 2008 R2"]
    assert row["distinguishing_traits"] == {
        "os": "windows server",
        "os_major": "windows server 2008 r2",
        "os_release": "windows server 2008 r2",
        "powershell_version": "2.0",
    }


def test_ingest_reads_import_lines() -> None:
    memory = Memory()
    host = ingest(
        memory, {"kind": "host", "client": "X", "hostname": "h", "aliases": ["h.local"], "busybox": True}
    )
    assert host is not None and memory.hosts["h"].traits == {"busybox": True}
    assert ingest(memory, {"kind": "client", "name": "X"}) is None
    assert ingest(memory, {"kind": "check", "host": "h", "command": "x"}) is None
    learned = ingest(
        memory, {"kind": "command", "host": "h.local", "command": "ls", "exit_code": 0, "output": "ok"}
    )
    assert learned is not None and memory.commands[-1].host == "h"


def test_weak_traits_need_the_os_and_two_more() -> None:
    """Plain words (the OS name, init system, package manager) link hosts only when a release is
    not known to tell them apart: Ubuntu 20.04 and 22.04 are other releases, not alike."""
    memory = Memory()
    base = {"shell_type": "bash", "init_system": "systemd"}
    add_host(memory, "u20", {**base, "os": "Ubuntu", "os_version": "20.04", "package_manager": "apt"})
    add_host(memory, "u20b", {**base, "os": "Ubuntu", "os_version": "20.04", "package_manager": "apt"})
    add_host(memory, "u22", {**base, "os": "Ubuntu", "os_version": "22.04", "package_manager": "apt"})
    add_host(memory, "ubu", {**base, "os": "Ubuntu", "package_manager": "apt"})
    add_host(memory, "c7", {**base, "os": "CentOS", "os_version": "7", "package_manager": "yum"})
    add_host(memory, "c8", {**base, "os": "CentOS", "os_version": "8", "package_manager": "dnf"})
    record(memory, "u20", "docker compose up -d", 1, "docker: 'compose' is not a docker command.", at(0), "a")
    record(memory, "c7", "ip -br addr", 255, 'Option "-br" is unknown, try "ip -help".', at(1), "b")
    assert check(memory, "u20b", "docker compose ps").verdict == "warn"
    assert check(memory, "ubu", "docker compose ps").verdict == "warn"
    assert check(memory, "u22", "docker compose ps").verdict == "allow"
    assert check(memory, "c8", "ip -br link").verdict == "allow"
    assert check(memory, "u22", "ip -br link").verdict == "allow"
