"""The mechanisms real failure text calls for (issue 17), each on the error shape that needs it:
the literal promise, PowerShell's console wraps and assignments, permission refusals of one
account, container attribution, culprits read off fixes that only added words, SQL constructs
with their values left out, BusyBox version ranges and OS release families."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mspmode.engine import Memory, add_host, check, parse, record
from mspmode.engine.classify import classify, wrap_tolerant
from mspmode.engine.keys import command_keys
from mspmode.engine.learn import Learned

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _hosts(memory: Memory, names: tuple[str, ...], **traits: object) -> None:
    for name in names:
        add_host(memory, name, dict(traits))


def _run(memory: Memory, host: str, command: str, code: int, output: str, minute: float, s: str) -> Learned:
    return record(memory, host, command, code, output, at(minute), s)


# ---- the literal promise -------------------------------------------------------------------


def test_an_unclassified_failure_that_printed_words_blocks_its_exact_repeat() -> None:
    memory = Memory()
    _hosts(memory, ("ASA1",), shell_type="asa-cli", os="Cisco ASA", os_version="8.2(5)")
    odd = "Unable to acquire a session to the device; the tunnel said nothing useful"
    learned = _run(memory, "ASA1", "show vpn-sessiondb anyconnect", 1, odd, 0, "a")
    assert learned.record.failure_class == "unknown"
    assert check(memory, "ASA1", "show vpn-sessiondb anyconnect").verdict == "block"
    assert check(memory, "ASA1", "show vpn-sessiondb l2l").verdict == "allow"


def test_an_unclassified_failure_in_another_script_blocks_its_exact_repeat_too() -> None:
    memory = Memory()
    _hosts(memory, ("W7ZH",), shell_type="powershell", os="Windows", os_version="7 SP1", locale="zh-CN")
    odd = "无法连接到远程服务器。请检查网络设置后重试。"  # no ASCII word at all
    learned = _run(memory, "W7ZH", "Send-Report -To ops", 1, odd, 0, "a")
    assert learned.record.failure_class == "unknown"
    assert check(memory, "W7ZH", "Send-Report -To ops").verdict == "block"


def test_a_silent_failure_is_not_blocked_a_search_that_found_nothing_exits_1_too() -> None:
    memory = Memory()
    _hosts(memory, ("U1",), shell_type="bash", os="Ubuntu", os_version="22.04")
    _run(memory, "U1", "grep -q needle /var/log/syslog", 1, "", 0, "a")
    assert check(memory, "U1", "grep -q needle /var/log/syslog").verdict == "allow"


def test_a_transient_failure_is_never_blocked() -> None:
    memory = Memory()
    _hosts(memory, ("CI",), shell_type="bash", os="Ubuntu", os_version="22.04")
    eof = 'Error response from daemon: Head "https://registry-1.docker.io/v2/x/manifests/latest": EOF'
    assert _run(memory, "CI", "docker pull x:latest", 1, eof, 0, "a").record.is_transient
    assert check(memory, "CI", "docker pull x:latest").verdict == "allow"


# ---- reading the message -------------------------------------------------------------------


def test_a_message_wrapped_at_the_console_width_is_read_whole() -> None:
    wrapped = (
        "Get-TimeZone : The term 'Get-TimeZone' is not recognized as the name of a\n"
        "cmdlet, function, script file, or operable program."
    )
    found = classify(1, wrapped)
    assert found is not None and found.failure_class == "command_not_found"
    assert wrap_tolerant(r"a\ b[\ ]c\ {2}") == r"a\s+b[\ ]c\ {2}"  # not in classes or before a count


def test_localised_powershell_and_cmd_messages_are_classified() -> None:
    zh = (
        "touch : 无法将“touch”项识别为 cmdlet。\n"
        "    + CategoryInfo : ObjectNotFound: (touch:String) [], CommandNotFoundException"
    )
    de = 'Der Befehl "grep" ist entweder falsch geschrieben oder\nkonnte nicht gefunden werden.'
    zh_cmd = "'export' 不是内部或外部命令，也不是可运行的程序或批处理文件。"  # npm's exit status 1
    for text in (zh, de, zh_cmd):
        found = classify(1, text)
        assert found is not None and found.failure_class == "command_not_found", text


def test_powershell_runs_the_command_on_the_right_of_an_assignment() -> None:
    script = parse("$A =New-ScheduledTaskAction -Execute 'x.exe'", "powershell")
    assert [s.program for s in script.segments] == ["new-scheduledtaskaction"]
    assert "cmd:new-scheduledtaskaction" in command_keys(script)


# ---- permission refusals of one account ------------------------------------------------------


def test_a_permission_refusal_stops_the_same_account_until_sudo_a_read_or_a_group_change() -> None:
    memory = Memory()
    _hosts(memory, ("CORE",), shell_type="bash", os="Fedora CoreOS", os_version="30")
    refused = "Failed to stop datadog.service: Interactive authentication required."
    _run(memory, "CORE", "systemctl stop datadog", 1, refused, 0, "a")
    assert check(memory, "CORE", "systemctl stop datadog").verdict == "block"
    assert check(memory, "CORE", "systemctl restart nginx").verdict == "block"  # another change
    assert check(memory, "CORE", "systemctl status datadog").verdict == "allow"  # a read
    assert check(memory, "CORE", "sudo systemctl stop datadog").verdict == "allow"  # another account
    socket = "Got permission denied while trying to connect to the Docker daemon socket"
    _run(memory, "CORE", "docker ps", 1, socket, 10, "b")
    assert check(memory, "CORE", "docker images").verdict == "block"
    _run(memory, "CORE", "sudo usermod -aG docker core", 0, "", 11, "b")
    assert check(memory, "CORE", "docker ps").verdict == "allow"


def test_a_refused_file_is_that_file_not_the_program() -> None:
    memory = Memory()
    _hosts(memory, ("U1",), shell_type="bash", os="Ubuntu", os_version="22.04")
    _run(memory, "U1", "cat /etc/shadow", 1, "cat: /etc/shadow: Permission denied", 0, "a")
    assert check(memory, "U1", "cat /etc/shadow").verdict == "block"
    assert check(memory, "U1", "cat /etc/hostname").verdict == "allow"


# ---- containers ----------------------------------------------------------------------------


def test_a_failure_inside_a_container_is_the_containers_not_the_hosts() -> None:
    memory = Memory()
    _hosts(memory, ("DK",), shell_type="bash", os="Ubuntu", os_version="22.04")
    busybox = "grep: unrecognized option: P\nBusyBox v1.36.1 (2023-11-06) multi-call binary."
    _run(memory, "DK", "docker exec web grep -P '\\d+' /var/log/app.log", 1, busybox, 0, "a")
    assert check(memory, "DK", "docker exec web grep -P 'x' /etc/hosts").verdict == "block"
    assert check(memory, "DK", "grep -P 'x' /etc/hosts").verdict == "allow"  # the host's GNU grep
    assert check(memory, "DK", "docker exec db grep -P 'x' /etc/hosts").verdict == "allow"


def test_a_missing_program_named_in_a_nested_message_with_escaped_quotes_is_found() -> None:
    # runc's message quoted inside containerd's: exec: \"bash\": executable file not found
    memory = Memory()
    _hosts(memory, ("DK",), shell_type="bash", os="Ubuntu", os_version="22.04")
    runc = (
        "OCI runtime exec failed: exec failed: container_linux.go:380: starting container process "
        'caused: exec: \\"bash\\": executable file not found in $PATH: unknown'
    )
    learned = _run(memory, "DK", "docker exec -it cache bash", 126, runc, 0, "a")
    assert learned.culprit is not None and learned.culprit.key == "cmd:bash@ctr:cache"
    assert check(memory, "DK", "docker exec cache bash -c 'redis-cli ping'").verdict == "block"
    assert check(memory, "DK", "docker exec -it cache sh").verdict == "allow"
    assert check(memory, "DK", "bash -c 'uptime'").verdict == "allow"  # the host's bash


def test_a_missing_sudo_named_by_a_script_in_a_container_is_that_containers() -> None:
    memory = Memory()
    _hosts(memory, ("DK",), shell_type="bash", os="Ubuntu", os_version="22.04")
    _run(memory, "DK", "docker exec app ./run.sh", 127, "./run.sh: 12: ./run.sh: sudo: not found", 0, "a")
    assert check(memory, "DK", "docker exec app sudo ls").verdict == "block"
    assert check(memory, "DK", "sudo apt-get update").verdict == "allow"


# ---- culprits read off fixes ---------------------------------------------------------------


def test_an_option_is_the_program_the_error_names_even_when_the_command_it_runs_has_it() -> None:
    memory = Memory()
    _hosts(memory, ("MAC1",), shell_type="zsh", os="macOS", os_version="13.6")
    bsd = "xargs: illegal option -- r\nusage: xargs [-0opt] [-E eofstr] [-I replstr [-R replacements]]"
    learned = _run(memory, "MAC1", "find . -name '*.log' | xargs -r rm -r", 1, bsd, 0, "a")
    assert learned.culprit is not None and learned.culprit.key == "opt:xargs:-r"
    # the fix keeps rm -r: its success says nothing about xargs -r
    _run(memory, "MAC1", "find . -name '*.log' | xargs rm -r", 0, "", 1, "a")
    assert check(memory, "MAC1", "find . -name '*.log' | xargs -r rm -r").verdict == "block"
    assert check(memory, "MAC1", "git ls-files -d | xargs -r git rm").verdict == "block"


def test_a_fix_that_only_added_an_option_makes_the_culprit_the_call_without_it() -> None:
    memory = Memory()
    _hosts(
        memory,
        ("W16",),
        shell_type="powershell",
        os="Windows Server",
        os_version="2016",
        powershell_version="5.1",
    )
    ie = (
        "Invoke-WebRequest : The response content cannot be parsed because the Internet Explorer "
        "engine is not available"
    )
    _run(memory, "W16", "Invoke-WebRequest -Uri http://192.0.2.5/a.aspx", 1, ie, 0, "a")
    _run(memory, "W16", "Invoke-WebRequest -Uri http://192.0.2.5/a.aspx -UseBasicParsing", 0, "200", 1, "a")
    other = check(memory, "W16", "Invoke-WebRequest -Uri http://192.0.2.9/health")
    assert other.verdict == "block" and "-UseBasicParsing" in other.suggestions[0]
    assert (
        check(memory, "W16", "Invoke-WebRequest -Uri http://192.0.2.9/health -UseBasicParsing").verdict
        == "allow"
    )


def test_the_next_try_in_the_session_is_the_fix_even_in_other_words() -> None:
    memory = Memory()
    _hosts(memory, ("PC1",), shell_type="cmd", os="Windows", os_version="10 22H2")
    redirect = "ERROR: Input redirection is not supported, exiting the process immediately."
    _run(memory, "PC1", "timeout /t 5 /nobreak", 1, redirect, 0, "a")
    _run(memory, "PC1", "ping -n 6 127.0.0.1 > nul", 0, "", 1, "a")
    result = check(memory, "PC1", "timeout /t 30")
    assert result.verdict == "block" and result.suggestions[0].startswith("ping -n")


def test_a_sql_construct_is_matched_with_its_names_and_values_left_out() -> None:
    memory = Memory()
    _hosts(memory, ("MY8",), shell_type="mysql", os="Ubuntu", os_version="22.04", db_version="8.0.36")
    near = (
        "ERROR 1064 (42000): You have an error in your SQL syntax; check the manual that corresponds "
        "to your MySQL server version for the right syntax to use near 'identified by 'pw1'' at line 1"
    )
    # typed in lower case, as people do: the account must not become part of the culprit
    _run(memory, "MY8", "grant all on app.* to app@localhost identified by 'pw1';", 1, near, 0, "a")
    assert (
        check(memory, "MY8", "grant select on crm.* to bob@localhost identified by 'x';").verdict == "block"
    )
    assert check(memory, "MY8", "grant select on crm.* to bob@localhost;").verdict == "allow"


def test_an_option_that_took_the_last_operand_as_its_value_is_that_order_not_the_option() -> None:
    # BSD sed's -i takes the next word as the backup suffix: last before the file, it eats the
    # file and sed reads stdin. The culprit is -i followed by the last word alone; the same
    # call with -i first (or its suffix attached) is the fixed form and must not match.
    memory = Memory()
    _hosts(memory, ("BSD1",), shell_type="sh", os="FreeBSD", os_version="13.2")
    _hosts(memory, ("DEB1",), shell_type="bash", os="Debian", os_version="12")
    stdin = "sed: -I or -i may not be used with stdin"
    learned = _run(memory, "BSD1", "sed -e 's/^ifconfig_em0=.*//' -i /etc/rc.conf.local", 1, stdin, 0, "a")
    assert learned.culprit is not None and learned.culprit.key == "opt:sed:-i"
    _run(memory, "BSD1", "sed -i '' -e 's/^ifconfig_em0=.*//' /etc/rc.conf.local", 0, "", 1, "a")
    again = check(memory, "BSD1", "sed -e 's/^ifconfig_em0=.*//' -i /etc/rc.conf.local")
    assert again.verdict == "block" and again.suggestions[0].startswith("sed -i '' -e")
    assert check(memory, "BSD1", "sed -e 's/^#//' -i notes.txt").verdict == "block"
    assert check(memory, "BSD1", "sed -i '' -e 's/^#//' notes.txt").verdict == "allow"
    assert check(memory, "BSD1", "sed -e 's/^#//' -i.bak notes.txt").verdict == "allow"
    assert check(memory, "DEB1", "sed -e 's/^#//' -i notes.txt").verdict == "allow"  # GNU sed


def test_a_bare_word_a_windows_tool_refused_is_that_word_as_its_argument() -> None:
    memory = Memory()
    _hosts(memory, ("PC1",), shell_type="cmd", os="Windows", os_version="10 22H2")
    refused = "ERROR: Invalid argument/option - 'eq'.\nType \"TASKLIST /?\" for usage."
    _run(memory, "PC1", "tasklist /fi IMAGENAME eq chrome.exe", 1, refused, 0, "a")
    _run(memory, "PC1", 'tasklist /fi "IMAGENAME eq chrome.exe"', 0, "chrome.exe  4312", 1, "a")
    assert check(memory, "PC1", "tasklist /fi STATUS eq running").verdict == "block"
    assert check(memory, "PC1", 'tasklist /fi "STATUS eq running"').verdict == "allow"
    # a refused switch is left to its exact repeat: /RU belongs to schtasks /Create, not /Delete
    switch = "ERROR: Invalid argument/option - '/RU'.\nType \"SCHTASKS /DELETE /?\" for usage."
    _run(memory, "PC1", "schtasks /Delete /TN Backup /RU svc /F", 1, switch, 2, "a")
    assert check(memory, "PC1", "schtasks /Delete /TN Backup /RU svc /F").verdict == "block"
    assert (
        check(memory, "PC1", "schtasks /Create /TN Nightly /TR backup.cmd /SC DAILY /RU SYSTEM").verdict
        == "allow"
    )


def test_a_keyword_the_parser_stopped_at_after_a_name_is_that_construct_not_the_statement() -> None:
    # PostgreSQL before 10 wants a function's argument list: it stops at the keyword after the
    # bare name. The construct is "a name then RESTRICT"; the fixed form (name() RESTRICT) is
    # another construct, so its success neither resolves the failure nor hides the fix.
    memory = Memory()
    _hosts(memory, ("PG9",), shell_type="psql", os="CentOS", os_version="7.9", db_version="9.5.25")
    near = 'ERROR:  syntax error at or near "RESTRICT"\nLINE 1: DROP FUNCTION billing.recalc RESTRICT'
    _run(memory, "PG9", "DROP FUNCTION billing.recalc RESTRICT", 1, near, 0, "a")
    _run(memory, "PG9", "DROP FUNCTION billing.recalc() RESTRICT", 0, "DROP FUNCTION", 1, "a")
    again = check(memory, "PG9", "DROP FUNCTION billing.recalc RESTRICT")
    assert again.verdict == "block" and again.suggestions[0] == "DROP FUNCTION billing.recalc() RESTRICT"
    assert check(memory, "PG9", "DROP FUNCTION billing.close_month RESTRICT").verdict == "block"
    assert check(memory, "PG9", "DROP FUNCTION billing.close_month(integer) RESTRICT").verdict == "allow"


# ---- traits ----------------------------------------------------------------------------------


def test_a_busybox_failure_carries_to_other_busybox_versions_until_one_works() -> None:
    memory = Memory()
    for name, version in (("B29", "1.29.3"), ("B36", "1.36.1"), ("B31", "1.31.1"), ("B20", "1.20.2")):
        add_host(memory, name, {"shell_type": "sh", "busybox": version})
    refused = "grep: unrecognized option: P\nBusyBox v1.29.3 multi-call binary."
    _run(memory, "B29", "grep -oP 'x' f", 1, refused, 0, "a")
    assert check(memory, "B36", "grep -oP 'y' g").verdict == "warn"  # none worked yet
    _run(memory, "B31", "grep -oP 'z' h", 0, "z", 5, "b")  # it works from 1.31 on
    assert check(memory, "B36", "grep -oP 'y' g").verdict == "allow"
    assert check(memory, "B20", "grep -oP 'y' g").verdict == "warn"  # below the first that worked


def test_an_os_release_family_links_hosts_a_plain_word_trait_sets_apart() -> None:
    memory = Memory()
    base = {"shell_type": "bash", "package_manager": "apt"}
    add_host(memory, "MAC1", {"shell_type": "zsh", "os": "macOS", "os_version": "10.11.6"})
    add_host(memory, "MAC2", {"shell_type": "zsh", "os": "macOS", "os_version": "10.15.3"})
    add_host(memory, "WSL", {**base, "os": "Ubuntu", "os_version": "20.04", "init_system": "none (WSL init)"})
    add_host(memory, "VM", {**base, "os": "Ubuntu", "os_version": "20.04", "init_system": "systemd"})
    _run(memory, "MAC1", "du --max-depth=1", 1, "du: illegal option -- -\nusage: du [-d depth]", 0, "a")
    assert check(memory, "MAC2", "du --max-depth=2 /Users").verdict == "warn"
    no_systemd = "System has not been booted with systemd as init system (PID 1). Can't operate."
    _run(memory, "WSL", "sudo systemctl restart docker", 1, no_systemd, 1, "b")
    _run(memory, "WSL", "sudo service docker restart", 0, "", 2, "b")
    assert check(memory, "VM", "sudo systemctl restart docker").verdict == "allow"


def test_entering_a_devices_privileged_mode_after_a_refusal_is_the_fix() -> None:
    memory = Memory()
    _hosts(memory, ("ASA1",), shell_type="asa-cli", os="Cisco ASA", os_version="9.8(4)")
    refused = "show running-config\n             ^\nERROR: % Invalid input detected at '^' marker."
    _run(memory, "ASA1", "show running-config", 1, refused, 0, "a")
    _run(memory, "ASA1", "enable", 0, "asav-1# ", 1, "a")
    result = check(memory, "ASA1", "show running-config")
    assert result.verdict == "block"
    assert result.suggestions and result.suggestions[0] == "enable"
    # a bare look around after a failed call is still no fix
    memory = Memory()
    _hosts(memory, ("U1",), shell_type="bash", os="Ubuntu", os_version="22.04")
    _run(memory, "U1", "grep -P 'a\\d' f.txt", 2, "grep: unrecognized option '-P'", 0, "b")
    _run(memory, "U1", "uptime", 0, " 09:00 up 3 days", 1, "b")
    assert not check(memory, "U1", "grep -P 'a\\d' f.txt").suggestions


def test_bsd_getopt_refusing_a_dash_names_the_long_options_of_a_wrapper_too() -> None:
    memory = Memory()
    _hosts(memory, ("MAC1",), shell_type="zsh", os="macOS", os_version="13.6")
    usage = "xargs: illegal option -- -\nusage: xargs [-0opt] [-E eofstr] [-I replstr [-R replacements]]"
    _run(memory, "MAC1", "find . -name '*.la' -print0 | xargs --null rm -f", 1, usage, 0, "a")
    assert check(memory, "MAC1", "printf 'a\\0b\\0' | xargs --null echo").verdict == "block"
    assert check(memory, "MAC1", "find . -print0 | xargs -0 rm -f").verdict == "allow"


def test_a_dashless_option_cluster_is_read_as_option_letters() -> None:
    memory = Memory()
    _hosts(memory, ("OW1",), shell_type="ash", os="OpenWrt", os_version="19.07", busybox="1.30.1")
    refused = "ps: invalid option -- 'a'\nBusyBox v1.30.1 (2020-01-07 07:47:10 UTC) multi-call binary."
    _run(memory, "OW1", "ps ax", 1, refused, 0, "a")
    assert check(memory, "OW1", "ps aux | grep dropbear").verdict == "block"
    assert check(memory, "OW1", "ps w").verdict == "allow"
    assert "opt:tar:-x" in command_keys(parse("tar xzf a.tgz", "bash"))


def test_a_program_in_the_current_folder_not_run_by_name_is_that_program() -> None:
    memory = Memory()
    _hosts(memory, ("W1",), shell_type="powershell", os="Windows", os_version="10 22H2")
    hint = (
        "Suggestion [3,General]: The command ViVeTool.exe was not found, but does exist in the current"
        " location. Windows PowerShell does not load commands from the current location by default."
    )
    learned = _run(memory, "W1", "ViVeTool.exe /enable /id:29785186", 1, hint, 0, "a")
    assert learned.record.failure_class == "command_not_found"
    _run(memory, "W1", ".\\ViVeTool.exe /enable /id:29785186", 0, "Successfully set", 1, "a")
    result = check(memory, "W1", "ViVeTool.exe /query /id:29785186")
    assert result.verdict == "block" and result.suggestions[0].startswith(".\\ViVeTool.exe")


def test_a_package_missing_because_the_index_could_not_be_fetched_is_transient() -> None:
    out = (
        "WARNING: updating and opening http://dl-cdn.alpinelinux.org/alpine/v3.18/main: temporary error"
        " (try again later)\nERROR: unable to select packages:\n  curl (no such package):\n"
    )
    got = classify(1, out)
    assert got is not None and got.is_transient
    missing = "ERROR: unable to select packages:\n  yarn (no such package):\n    required by: world[yarn]"
    got = classify(1, missing)
    assert got is not None and not got.is_transient


def test_the_same_command_failing_for_a_capability_warns_on_a_host_alike() -> None:
    """PowerShell 5.1 refuses a parameter of a script the command downloads (catppuccin's
    install.ps1): the culprit is inside the script, so no key of the command finds it; the very
    command on a host of the same platform is warned about, not on a PowerShell 7 host."""
    memory = Memory()
    _hosts(
        memory,
        ("W10A", "W10B"),
        shell_type="powershell",
        os="Windows",
        os_version="10 22H2",
        powershell_version="5.1",
    )
    _hosts(
        memory, ("P7",), shell_type="powershell", os="Windows", os_version="11 23H2", powershell_version="7.4"
    )
    command = "irm https://example.org/install.ps1 | iex"
    refused = (
        "iex : A parameter cannot be found that matches parameter name 'AsHashtable'.\n"
        "    + FullyQualifiedErrorId : NamedParameterNotFound,"
        "Microsoft.PowerShell.Commands.InvokeExpressionCommand"
    )
    _run(memory, "W10B", command, 1, refused, 0, "a")
    assert check(memory, "W10B", command).verdict == "block"
    assert check(memory, "W10A", command).verdict == "warn"
    assert check(memory, "P7", command).verdict == "allow"
    _run(memory, "W10A", command, 0, "installed", 5, "b")
    assert check(memory, "W10A", command).verdict == "allow"


def test_windows_powershell_and_powershell_7_are_editions_not_versions() -> None:
    """A module PowerShell 7 cannot load (PS2EXE) is no warning for Windows PowerShell 5.1 on
    the same Windows release, nor the reverse: the editions differ in kind."""
    memory = Memory()
    _hosts(
        memory, ("P7",), shell_type="powershell", os="Windows", os_version="10 22H2", powershell_version="7.3"
    )
    _hosts(
        memory,
        ("P7B",),
        shell_type="powershell",
        os="Windows",
        os_version="10 22H2",
        powershell_version="7.4",
    )
    _hosts(
        memory,
        ("W51",),
        shell_type="powershell",
        os="Windows",
        os_version="10 22H2",
        powershell_version="5.1",
    )
    missing = (
        "Invoke-ps2exe : The term 'Invoke-ps2exe' is not recognized as the name of a cmdlet, function, "
        "script file, or operable program."
    )
    _run(memory, "P7", "Invoke-ps2exe .\\upgrade.ps1", 1, missing, 0, "a")
    assert check(memory, "P7B", "Invoke-ps2exe .\\upgrade.ps1").verdict == "warn"
    assert check(memory, "W51", "Invoke-ps2exe .\\upgrade.ps1").verdict == "allow"


def test_an_unclassified_failure_of_the_very_command_warns_on_a_host_alike() -> None:
    memory = Memory()
    _hosts(
        memory,
        ("A1", "A2"),
        shell_type="aruba-cli",
        os="ArubaOS-Switch",
        os_version="WC.16.10",
        model="2930F",
    )
    _hosts(memory, ("C1",), shell_type="ios-cli", os="Cisco IOS", os_version="15.2(4)E")
    odd = "The switch refused that request for reasons it did not print"
    learned = _run(memory, "A1", "show lldp info remote-device", 1, odd, 0, "a")
    assert learned.record.failure_class == "unknown"
    assert check(memory, "A2", "show lldp info remote-device").verdict == "warn"
    assert check(memory, "C1", "show lldp info remote-device").verdict == "allow"


def test_a_cmd_suggestion_quotes_with_double_quotes() -> None:
    memory = Memory()
    _hosts(memory, ("C16",), shell_type="cmd", os="Windows Server", os_version="2016")
    refused = "ERROR: Invalid argument/option - 'eq'.\nType \"TASKKILL /?\" for usage."
    _run(memory, "C16", "taskkill /f /fi USERNAME eq corp\\ann /im notepad.exe", 1, refused, 0, "a")
    _run(memory, "C16", 'taskkill /f /fi "USERNAME eq corp\\ann" /im notepad.exe', 0, "SUCCESS", 1, "a")
    result = check(memory, "C16", "taskkill /f /fi USERNAME eq corp\\ann /im notepad.exe")
    assert result.suggestions and '/fi "USERNAME eq corp\\ann"' in result.suggestions[0], result


def test_tcsh_polkit_and_client_library_messages_are_classified() -> None:
    cases = {
        "Illegal variable name.": "unsupported_syntax",  # tcsh on $( )
        "Bad : modifier in $ '/'.": "unsupported_syntax",  # tcsh on $PATH:/x
        "Failed to restart apache2.service: The name org.freedesktop.PolicyKit1 was not provided by any "
        ".service files": "permission_denied",
        "psql: SCRAM authentication requires libpq version 10 or above": "version_mismatch",
    }
    for text, expected in cases.items():
        found = classify(1, text)
        assert found is not None and found.failure_class == expected, (text, found)


def test_a_chinese_cmd_not_recognized_names_the_program_it_could_not_find() -> None:
    memory = Memory()
    _hosts(memory, ("C10ZH",), shell_type="cmd", os="Windows", os_version="10 22H2", locale="zh-CN")
    zh = "'rm' 不是内部或外部命令，也不是可运行的程序\n或批处理文件。"
    _run(memory, "C10ZH", "rm -rf dist", 1, zh, 0, "a")
    assert check(memory, "C10ZH", "rm -rf node_modules\\.cache").verdict == "block"
