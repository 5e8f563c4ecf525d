"""State changes: a command that succeeded and changed what the host allows, so that failures
it caused to go away are no longer known to repeat there.

A repeat is only the same mistake if nothing changed in between. ``Set-ExecutionPolicy
RemoteSigned`` makes ``npm`` (the ``npm.ps1`` shim) run where it was refused; ``usermod -aG
docker me`` lets the account use the docker socket; ``chmod +x deploy.sh`` lets the script run;
``apt-get install net-tools`` brings ``ifconfig``. Each kind of change is a row of
:data:`STATE_CHANGES`: the shells it is a command of, the programs (and the words one of which
it needs), the words that make it last only for the process, and which earlier failures it
lifts — by the error's *shape* (the classify rule that read it) or by its class — and whether
the failure must name what the change named (the path, the package).

Nothing here knows a particular failure: a row names a kind of change and the error shapes it
answers. :func:`lifts` is asked by ``learn`` for every failure still open on the host after a
success; the change runs in a place (the host, a container) and lifts only failures of that
place: the host. A change inside a container lifts nothing: the container is made again from
its image (``docker run`` at once, ``docker exec`` at the next deploy), which still lacks it.
"""

from __future__ import annotations

import re

from mspmode.engine.classify import COMMAND_NOT_FOUND, PERMISSION_DENIED
from mspmode.engine.keys import is_option
from mspmode.engine.lazyre import lazy
from mspmode.engine.struct import struct
from mspmode.engine.tokenize import CMD, POSIX, POWERSHELL, Script, Segment

__all__ = ["STATE_CHANGES", "StateChange", "Target", "changes_in", "lifts"]

# What a lifted failure must have in common with the change.
EVERY = "every"  # every failure of the shape on the host (a host or account setting)
PATH = "path"  # a failure whose command names the path changed (or a path under it)
PACKAGE = "package"  # a failure of the program installed, or whose error said to install it

_WINDOWS = frozenset({POWERSHELL, CMD})
_ANY = frozenset({POSIX, POWERSHELL, CMD})


@struct(frozen=True)
class StateChange:
    name: str
    dialects: frozenset[str]  # the shells it is a command of
    programs: frozenset[str]  # normalised program names
    verbs: frozenset[str]  # words one of which it needs (empty: none)
    temporary: frozenset[str]  # words that make it last only for this process: lifts nothing
    shapes: frozenset[str]  # classify rules of the failures it lifts
    classes: frozenset[str]  # … or their classes
    named: str  # EVERY, PATH or PACKAGE
    comment: str


def _change(
    name: str,
    dialects: frozenset[str],
    programs: str,
    *,
    verbs: str = "",
    temporary: str = "",
    shapes: str = "",
    classes: frozenset[str] = frozenset(),
    named: str = EVERY,
    comment: str,
) -> StateChange:
    return StateChange(
        name,
        dialects,
        frozenset(programs.split()),
        frozenset(verbs.split()),
        frozenset(temporary.split()),
        frozenset(shapes.split()),
        classes,
        named,
        comment,
    )


STATE_CHANGES: tuple[StateChange, ...] = (
    _change(
        "execution_policy",
        frozenset({POWERSHELL}),
        "set-executionpolicy",
        temporary="process",  # -Scope Process: this PowerShell only, the next one refuses again
        shapes="ps_execution_policy",
        comment="the policy that refused scripts (npm.ps1, a downloaded .ps1) changed for the user or host",
    ),
    _change(
        "unblock_file",
        frozenset({POWERSHELL}),
        "unblock-file",
        shapes="ps_execution_policy",
        named=PATH,
        comment="the downloaded file's zone mark is gone: RemoteSigned runs it now",
    ),
    _change(
        "group_membership",
        frozenset({POSIX}),
        "usermod gpasswd",
        verbs="-ag -g -a --append --groups --add",
        classes=frozenset({PERMISSION_DENIED}),
        comment="the account joined a group (usermod -aG docker me): what the group grants is its own now",
    ),
    _change(
        "group_membership_debian",
        frozenset({POSIX}),
        "adduser addgroup newgrp",
        classes=frozenset({PERMISSION_DENIED}),
        comment="adduser me docker (Debian), addgroup me docker (BusyBox), newgrp docker (this shell)",
    ),
    _change(
        "group_membership_windows",
        _WINDOWS,
        "add-localgroupmember add-adgroupmember",
        classes=frozenset({PERMISSION_DENIED}),
        comment="the account joined a Windows group (Administrators, Remote Management Users)",
    ),
    _change(
        "path_access",
        frozenset({POSIX}),
        "chmod chown chgrp setfacl",
        classes=frozenset({PERMISSION_DENIED}),
        named=PATH,
        comment="the mode, owner or ACL of a path changed: failures on it (or under it) may not repeat",
    ),
    _change(
        "path_access_windows",
        _WINDOWS,
        "icacls takeown cacls set-acl",
        classes=frozenset({PERMISSION_DENIED}),
        named=PATH,
        comment="the ACL or owner of a Windows path changed",
    ),
    _change(
        "package_installed",
        _ANY,
        "apt-get apt aptitude apk yum dnf microdnf zypper brew port pkg snap choco winget scoop"
        " install-module install-package install-script",
        verbs="install add in",
        # a simulation or a download installs nothing
        temporary="-s --simulate --dry-run --just-print --no-act --downloadonly --download-only -whatif",
        classes=frozenset({COMMAND_NOT_FOUND}),
        named=PACKAGE,
        comment="the missing program (or the package its error said to install) is installed now",
    ),
    _change(
        "package_installed_pacman",
        frozenset({POSIX}),
        "pacman",
        verbs="-s -sy -syu",
        classes=frozenset({COMMAND_NOT_FOUND}),
        named=PACKAGE,
        comment="pacman -S: the missing program is installed now (Arch, MSYS2)",
    ),
    _change(
        "package_installed_global",
        _ANY,
        "npm pnpm yarn",
        verbs="-g --global global",
        classes=frozenset({COMMAND_NOT_FOUND}),
        named=PACKAGE,
        comment="a global npm install puts the package's command on PATH (npm i -g pnpm)",
    ),
)

_BY_PROGRAM: dict[str, list[StateChange]] = {}
for _row in STATE_CHANGES:
    for _program in _row.programs:
        _BY_PROGRAM.setdefault(_program, []).append(_row)


@struct(frozen=True)
class Target:
    """One change a command made: the row, where it ran, and the names it acted on."""

    change: StateChange
    where: str  # the container it ran in ("" on the host)
    names: frozenset[str]  # paths (normalised) or package names the change named


# Words that are not names: modes (755, u+x, a=rX), owners (me:staff), the verb itself.
_MODE = lazy(
    r"""
    ^(?: [0-7]{3,4}                 # octal mode
       | [ugoa]*[-+=][rwxXst]*      # symbolic mode
       (?:,[ugoa]*[-+=][rwxXst]*)*
    )$
    """,
    re.VERBOSE,
)


_NOT_NAMES = frozenset({"install", "add", "i", "in", "global"})  # an installer's own verbs


def _norm_path(value: str, windows: bool) -> str:
    path = value.strip().strip("'\"").replace("\\", "/").rstrip("/")
    while path.startswith("./"):
        path = path[2:]
    return path.lower() if windows else path


def _package(value: str) -> str:
    # nginx/focal, pkg=1.2.3, pkg@latest, python3-pip:amd64: the package's name only
    name = re.split(r"[=/@]|:(?!:)", value.strip("'\""), maxsplit=1)[0]
    return name.lower()


def changes_in(script: Script) -> list[Target]:
    """The state changes ``script`` (a command that succeeded) made, on its own host."""
    out: list[Target] = []
    for seg in script.segments:  # same-host nesting included (powershell -Command "…")
        for row in _BY_PROGRAM.get(seg.program or "", ()):
            target = _target(row, seg)
            if target is not None:
                out.append(target)
    return out


def _target(row: StateChange, seg: Segment) -> Target | None:
    if seg.dialect not in row.dialects or seg.where:
        # another shell's word; or a change inside a container, which lasts until the container
        # is made again from its image (at once for docker run), and the image still lacks it
        return None
    words = [w.value.lower() for w in seg.args]
    if row.verbs and not any(w in row.verbs for w in words):
        return None
    if any(w in row.temporary for w in words):
        return None
    names: set[str] = set()
    windows = seg.dialect in _WINDOWS
    for w in seg.args:
        value = w.value
        if not value or is_option(w, seg.dialect) or value.lower() in _NOT_NAMES | row.verbs:
            continue
        path = _norm_path(value, windows)
        if row.named == PATH and not _MODE.match(value) and not (":" in path and "/" not in path):
            names.add(path)
        elif row.named == PACKAGE:
            names.add(_package(value))
    if row.named != EVERY and not names:
        return None
    return Target(row, seg.where, frozenset(n for n in names if n))


# "… can be installed with: sudo apt install net-tools", "Try: brew install coreutils",
# "Install-Module -Name Az": the package names an error says to install.
_INSTALL_HINT = lazy(
    r"""
    \b(?:install(?:-module|-package)?|add)         # the installer's verb
    (?:[ \t]+-{1,2}[\w-]+)*                         # its options (-y, --no-cache, -Name)
    ((?:[ \t]+[\w][\w.+:@/-]*){1,6})               # up to six package names on the line
    """,
    re.VERBOSE | re.IGNORECASE,
)


def hinted_packages(output: str) -> set[str]:
    """The packages a failure's output says to install."""
    found: set[str] = set()
    for m in _INSTALL_HINT.finditer(output):
        found.update(_package(word) for word in m.group(1).split())
    return found


def lifts(
    target: Target,
    shape: str,
    failure_class: str,
    where: str,
    failed: Script | None,
    output: str,
    program: str | None,
) -> bool:
    """Whether the change ``target`` lifts a failure of ``shape`` (its classify rule) and
    ``failure_class`` that happened in ``where`` (a container or "" for the host), of the
    command ``failed`` (parsed as it ran), which printed ``output`` and whose culprit names
    ``program``."""
    row = target.change
    if where != target.where:
        return False
    if shape not in row.shapes and failure_class not in row.classes:
        return False
    if row.named == EVERY:
        return True
    if row.named == PACKAGE:
        if program is not None and program.lower() in target.names:
            return True
        return bool(target.names & hinted_packages(output))
    return failed is not None and _names_path(target.names, failed)


def _names_path(paths: frozenset[str], failed: Script) -> bool:
    for seg in failed.segments:
        windows = seg.dialect in _WINDOWS
        for w in seg.words:
            value = _norm_path(w.value, windows)
            if not value or is_option(w, seg.dialect):
                continue
            base = value.rsplit("/", 1)[-1]
            for path in paths:
                if value == path or value.startswith(path + "/") or base == path.rsplit("/", 1)[-1]:
                    return True
    return False
