"""A repeat is only the same mistake if nothing changed in between (engine/changes.py): a
succeeded command that changes what the host allows lifts the earlier failures of the shape it
answers — the execution policy, a group, a path's mode, an installed program — and only those,
in the shell it is a command of, on the host (not inside a container)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mspmode.engine import Memory, add_host, check, parse, record
from mspmode.engine.changes import STATE_CHANGES, changes_in, hinted_packages
from mspmode.engine.learn import Learned
from mspmode.engine.tokenize import CMD, POSIX, POWERSHELL

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def _run(memory: Memory, host: str, command: str, code: int, output: str, minute: float) -> Learned:
    return record(memory, host, command, code, output, T0 + timedelta(minutes=minute), "s1")


def _policy_refusal(program: str, path: str) -> str:
    return (
        f"{program} : File {path} cannot be loaded because running scripts is disabled on this system.\n"
        "At line:1 char:1\n"
        f"+ {program}\n"
        f"+ {'~' * len(program)}\n"
        "    + CategoryInfo          : SecurityError: (:) [], PSSecurityException\n"
        "    + FullyQualifiedErrorId : UnauthorizedAccess"
    )


def _windows(memory: Memory, name: str, shell: str = "powershell") -> None:
    add_host(memory, name, {"shell_type": shell, "os": "Windows", "os_version": "10 22H2"})


def _linux(memory: Memory, name: str) -> None:
    add_host(memory, name, {"shell_type": "bash", "os": "Ubuntu", "os_version": "22.04"})


# ---- the table -------------------------------------------------------------------------------


def test_every_state_change_is_a_named_commented_row_of_known_shells() -> None:
    names = [row.name for row in STATE_CHANGES]
    assert len(names) == len(set(names))
    for row in STATE_CHANGES:
        assert row.comment and row.programs and row.dialects <= {POSIX, POWERSHELL, CMD}
        assert row.shapes or row.classes, row.name


# ---- the execution policy ----------------------------------------------------------------------


def test_a_policy_change_lifts_the_refused_shim_however_its_culprit_was_read() -> None:
    # The shim's path has spaces, so its culprit is read off the underline, not off the
    # refusal's wording: the change must lift the failure by its shape, not its culprit rule.
    memory = Memory()
    _windows(memory, "WS1")
    shim = r"C:\Program Files\Yarn\bin\yarn.ps1"
    _run(memory, "WS1", "yarn", 1, _policy_refusal("yarn", shim), 0)
    assert check(memory, "WS1", "yarn").verdict == "block"
    _run(memory, "WS1", "Set-ExecutionPolicy -Scope CurrentUser -ExecutionPolicy RemoteSigned", 0, "", 2)
    assert check(memory, "WS1", "yarn").verdict == "allow"
    assert check(memory, "WS1", "yarn install --frozen-lockfile").verdict == "allow"


def test_a_policy_change_for_this_process_only_lifts_nothing() -> None:
    memory = Memory()
    _windows(memory, "WS1")
    _run(memory, "WS1", "yarn", 1, _policy_refusal("yarn", r"C:\npm\yarn.ps1"), 0)
    _run(memory, "WS1", "Set-ExecutionPolicy -Scope Process -ExecutionPolicy Bypass", 0, "", 2)
    assert check(memory, "WS1", "yarn").verdict == "block"


def test_a_policy_change_through_a_nested_powershell_lifts_too() -> None:
    memory = Memory()
    _windows(memory, "WS1")
    _run(memory, "WS1", "yarn", 1, _policy_refusal("yarn", r"C:\npm\yarn.ps1"), 0)
    _run(
        memory,
        "WS1",
        'powershell -NoProfile -Command "Set-ExecutionPolicy RemoteSigned -Scope CurrentUser"',
        0,
        "",
        1,
    )
    assert check(memory, "WS1", "yarn").verdict == "allow"
    # the same words from cmd.exe run in the nested PowerShell; in sh they are no command
    nested = parse('powershell -Command "Set-ExecutionPolicy RemoteSigned"', CMD)
    assert [t.change.name for t in changes_in(nested)] == ["execution_policy"]
    assert changes_in(parse("Set-ExecutionPolicy RemoteSigned", POSIX)) == []


def test_unblocking_a_file_lifts_that_files_refusal_only() -> None:
    memory = Memory()
    _windows(memory, "WS1")
    signed = (
        r"File C:\tools\{0} cannot be loaded. The file C:\tools\{0} is not digitally signed. You cannot run "
        "this script on the current system.\n    + FullyQualifiedErrorId : UnauthorizedAccess"
    )
    _run(memory, "WS1", r".\collect.ps1", 1, signed.format("collect.ps1"), 0)
    _run(memory, "WS1", r".\report.ps1", 1, signed.format("report.ps1"), 1)
    _run(memory, "WS1", r"Unblock-File -Path C:\tools\collect.ps1", 0, "", 2)
    assert check(memory, "WS1", r".\collect.ps1").verdict == "allow"
    assert check(memory, "WS1", r".\report.ps1").verdict == "block"


# ---- permissions -------------------------------------------------------------------------------


def test_a_mode_change_lifts_the_refusals_of_that_path_not_every_refusal() -> None:
    memory = Memory()
    _linux(memory, "U1")
    _run(memory, "U1", "./deploy.sh --env prod", 126, "bash: ./deploy.sh: Permission denied", 0)
    _run(memory, "U1", "cat /var/log/auth.log", 1, "cat: /var/log/auth.log: Permission denied", 1)
    _run(memory, "U1", "chmod 755 deploy.sh", 0, "", 2)
    assert check(memory, "U1", "./deploy.sh --env prod").verdict == "allow"
    assert check(memory, "U1", "cat /var/log/auth.log").verdict == "block"
    _run(memory, "U1", "sudo setfacl -R -m u:ops:rX /var/log", 0, "", 3)
    assert check(memory, "U1", "cat /var/log/auth.log").verdict == "allow"  # a path under it


def test_a_group_change_lifts_the_accounts_refusals() -> None:
    memory = Memory()
    _linux(memory, "U1")
    socket = "Got permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock"
    _run(memory, "U1", "docker compose ps", 1, socket, 0)
    assert check(memory, "U1", "docker compose ps").verdict == "block"
    _run(memory, "U1", "sudo gpasswd -a ana docker", 0, "Adding user ana to group docker", 1)
    assert check(memory, "U1", "docker compose ps").verdict == "allow"


# ---- installed programs ------------------------------------------------------------------------


def test_installing_the_missing_program_lifts_its_not_found_only() -> None:
    memory = Memory()
    _linux(memory, "U1")
    _run(memory, "U1", "htop", 127, "bash: htop: command not found", 0)
    _run(memory, "U1", "nmap -sn 192.0.2.0/24", 127, "bash: nmap: command not found", 1)
    _run(memory, "U1", "sudo apt-get install -y htop", 0, "Setting up htop (3.0.5-7build2) ...", 2)
    assert check(memory, "U1", "htop").verdict == "allow"
    assert check(memory, "U1", "nmap -sn 192.0.2.0/24").verdict == "block"


def test_a_simulated_install_lifts_nothing() -> None:
    memory = Memory()
    _linux(memory, "U1")
    _run(memory, "U1", "htop", 127, "bash: htop: command not found", 0)
    _run(memory, "U1", "sudo apt-get install -s htop", 0, "Inst htop (3.0.5-7build2 Ubuntu:22.04/jammy)", 1)
    assert check(memory, "U1", "htop").verdict == "block"


def test_installing_the_package_the_error_named_lifts_the_program_it_brings() -> None:
    memory = Memory()
    _linux(memory, "U1")
    handler = "Command 'ifconfig' not found, but can be installed with:\n\nsudo apt install net-tools\n"
    _run(memory, "U1", "ifconfig eth0", 127, handler, 0)
    assert hinted_packages(handler) == {"net-tools"}
    assert check(memory, "U1", "ifconfig eth0").verdict == "block"
    _run(memory, "U1", "sudo apt install net-tools", 0, "Setting up net-tools ...", 1)
    assert check(memory, "U1", "ifconfig eth0").verdict == "allow"


def test_an_install_inside_a_container_lifts_nothing() -> None:
    memory = Memory()
    _linux(memory, "DK")
    _run(memory, "DK", "docker exec app sudo ls /root", 127, "sh: sudo: not found", 0)
    _run(memory, "DK", "docker exec app apk add sudo", 0, "OK: 9 MiB in 18 packages", 1)
    # the container is made again from its image, which still lacks sudo
    assert check(memory, "DK", "docker exec app sudo ls /root").verdict == "block"


def test_a_change_lifts_nothing_on_another_host() -> None:
    memory = Memory()
    _linux(memory, "U1")
    _linux(memory, "U2")
    _run(memory, "U1", "htop", 127, "bash: htop: command not found", 0)
    _run(memory, "U2", "sudo apt-get install -y htop", 0, "", 1)
    assert check(memory, "U1", "htop").verdict == "block"
