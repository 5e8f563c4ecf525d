"""Tokenising per shell, segments, wrappers and targets."""

from __future__ import annotations

import base64

import pytest

from mspmode.engine import parse, targets, tokenize
from mspmode.engine.keys import command_keys, proven_keys
from mspmode.engine.tokenize import CMD, POSIX, POWERSHELL, SQL, guess_dialect, normalize_program


def texts(command: str, dialect: str) -> list[str]:
    return [t.text for t in tokenize(command, dialect)]


def programs(command: str, dialect: str | None = None) -> list[str | None]:
    return [s.program for s in parse(command, dialect).segments]


def test_posix_quotes_operators_and_redirections() -> None:
    assert texts("grep -P 'a b' \"c $(d e)\" 2>&1 | wc -l && x || y; z &", POSIX) == [
        "grep", "-P", "'a b'", '"c $(d e)"', "2>&1", "|", "wc", "-l", "&&", "x", "||", "y", ";", "z", "&",
    ]  # fmt: skip
    values = [t.value for t in tokenize("echo 'a b' \"c\\\"d\" e\\ f $'g'", POSIX)]
    assert values == ["echo", "a b", 'c"d', "e f", "g"]


def test_posix_heredoc_comment_and_process_substitution() -> None:
    script = parse("cat <<EOF > out.txt\nhello; rm -rf /\nEOF\necho done # note", POSIX)
    assert [s.program for s in script.segments] == ["cat", "echo"]
    assert texts("diff <(sort a) <(sort b)", POSIX)[:2] == ["diff", "<("]
    assert programs("diff <(sort a) <(sort b)", POSIX) == ["diff", "sort", "sort"]


def test_posix_reserved_words_assignments_and_substitutions() -> None:
    assert programs("if grep -q x f; then systemctl restart a; fi", POSIX) == ["grep", "systemctl", None]
    assert programs("LANG=C FOO=1 sort -V f", POSIX) == ["sort"]
    assert programs("echo $(systemctl is-active smbd) `uname -r`", POSIX) == ["echo", "systemctl", "uname"]
    assert programs("for f in *.log; do gzip $f; done", POSIX) == [None, "gzip", None]


def test_same_host_wrappers_are_looked_through() -> None:
    seg = parse("sudo -u www-data env A=1 timeout 5 nice -n 10 grep -P x f", POSIX).segments[0]
    assert seg.program == "grep"
    assert seg.wrappers == ("sudo", "env", "timeout", "nice")
    keys = command_keys(parse("sudo -E systemctl restart x", POSIX))
    assert {"cmd:sudo", "cmd:systemctl", "opt:sudo:-E", "sub:systemctl:0:restart"} <= keys
    assert parse("command -v systemctl", POSIX).segments[0].program == "command"


def test_script_wrappers_nest_a_script() -> None:
    assert programs("bash -c 'systemctl status x | grep y'", POSIX) == ["bash", "systemctl", "grep"]
    assert programs('sh -lc "apt-get update && apt-get install -y curl"', POSIX) == [
        "sh",
        "apt-get",
        "apt-get",
    ]
    assert programs("powershell -NoProfile -Command \"Get-LocalUser | Select Name\"", POSIX) == [
        "powershell", "get-localuser", "select",
    ]  # fmt: skip
    encoded = base64.b64encode("Get-LocalUser".encode("utf-16-le")).decode()
    assert programs(f"powershell.exe -EncodedCommand {encoded}", CMD) == ["powershell", "get-localuser"]
    assert programs('cmd /c "dir C:\\ & ipconfig /all"', POWERSHELL) == ["cmd", "dir", "ipconfig"]
    assert programs("mysql -u root -e 'ALTER TABLE t ADD x INT'", POSIX) == ["mysql", "alter"]


@pytest.mark.parametrize(
    ("command", "dialect", "host", "inner"),
    [
        ("ssh root@192.0.2.9 'systemctl status nmbd'", POSIX, "192.0.2.9", "systemctl status nmbd"),
        (
            "ssh -p 2222 -i ~/.ssh/k admin@nas.local systemctl status smbd",
            POSIX,
            "nas.local",
            "systemctl status smbd",
        ),
        ("ssh -l admin -o StrictHostKeyChecking=no fw1 'uptime; df -h'", POSIX, "fw1", "uptime; df -h"),
        (
            "Invoke-Command -ComputerName AD1 -ScriptBlock { Get-LocalUser }",
            POWERSHELL,
            "AD1",
            " Get-LocalUser ",
        ),
        ("icm -cn FS-OLD { Get-Service }", POWERSHELL, "FS-OLD", " Get-Service "),
        ("Enter-PSSession -ComputerName dc01.example.local", POWERSHELL, "dc01.example.local", ""),
        ("psexec \\\\FS01 -u admin -s cmd /c ipconfig", CMD, "FS01", "cmd /c ipconfig"),
        ("winrs -r:WS12 dir C:\\", CMD, "WS12", "dir C:\\"),
    ],
)
def test_host_wrappers_name_the_target(command: str, dialect: str, host: str, inner: str) -> None:
    (target, script, chain), *_ = targets(parse(command, dialect))
    assert target == host
    assert script.text == inner
    assert chain and chain[-1].host == host


def test_invoke_command_with_several_computers() -> None:
    found = targets(parse("Invoke-Command -ComputerName AD1, AD2 -ScriptBlock { hostname }", POWERSHELL))
    assert [t[0] for t in found] == ["AD1", "AD2"]


def test_no_wrapper_means_no_target() -> None:
    ((target, script, chain),) = targets(parse("uptime", POSIX))
    assert target is None and chain == () and script.text == "uptime"


def test_powershell_blocks_parameters_and_call_operator() -> None:
    script = parse(
        "Get-ChildItem C:\\x | Where-Object { $_.Length -gt 1kb } | % { Remove-Item $_ }", POWERSHELL
    )
    assert [s.program for s in script.segments] == ["get-childitem", "where-object", None, "%", "remove-item"]
    assert programs("& 'C:\\Program Files\\App\\app.exe' /quiet", POWERSHELL) == ["app"]
    assert programs("if ($?) { git status } else { exit 1 }", POWERSHELL) == [None, None, "git", None]
    keys = command_keys(parse("Get-Content a.log -Tail:10 && Write-Host ok", POWERSHELL))
    assert {"opt:get-content:-tail", "op:&&", "cmd:write-host"} <= keys


def test_cmd_switches_if_and_for() -> None:
    assert texts('IF /I "%1"=="STATUS" GOTO STATUS', CMD) == ["IF", "/I", '"%1"=="STATUS"', "GOTO", "STATUS"]
    assert programs('IF /I "%1"=="x" GOTO x', CMD) == ["if", "goto"]
    assert programs("IF EXIST C:\\a.txt del C:\\a.txt", CMD) == ["if", "del"]
    assert programs("FOR %%f IN (*.txt) DO type %%f", CMD) == ["for", "type"]
    assert programs("dir/w", CMD) == ["dir"]
    assert "opt:dir:/w" in command_keys(parse("dir/w", CMD))
    assert "opt:dir:/a" in command_keys(parse("dir /A:H", CMD))


def test_sql_statements() -> None:
    script = parse("SELECT 'a;b' FROM t -- c;\n; UPDATE `t` SET x = 1 /* ; */", SQL)
    assert [s.program for s in script.segments] == ["select", "update"]
    assert texts('SELECT "x", [y] FROM t', SQL) == ["SELECT", '"x"', ",", "[y]", "FROM", "t"]


def test_dialect_guess() -> None:
    assert guess_dialect("Get-Service | Where-Object {$_.Status -eq 'Running'}") == POWERSHELL
    assert guess_dialect("SELECT * FROM users") == SQL
    assert guess_dialect('IF /I "%1"=="x" GOTO y') == CMD
    assert guess_dialect("ls -la /etc") == POSIX


def test_program_names_are_normalised() -> None:
    assert normalize_program("/usr/bin/systemctl") == "systemctl"
    assert normalize_program("C:\\Windows\\System32\\ROBOCOPY.EXE") == "robocopy"
    assert normalize_program("Get-LocalUser") == "get-localuser"


def test_unparseable_input_still_gives_tokens() -> None:
    script = parse("grep -P 'unterminated x", POSIX)
    assert not script.ok and script.problems
    assert script.segments[0].program == "grep"
    assert "opt:grep:-P" in command_keys(script)


def test_success_evidence_ignores_what_an_exit_status_does_not_prove() -> None:
    assert "cmd:systemctl" not in proven_keys(parse("systemctl status x || service x status", POSIX))
    assert "cmd:systemctl" not in proven_keys(parse("systemctl status x; echo done", POSIX))
    assert "cmd:systemctl" not in proven_keys(parse("systemctl status x | grep running", POSIX))
    assert "cmd:systemctl" in proven_keys(parse("systemctl status x && echo ok", POSIX))
    assert "cmd:get-localuser" in proven_keys(parse("Get-LocalUser | Select Name", POWERSHELL))
