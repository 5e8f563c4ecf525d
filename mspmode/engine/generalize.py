"""Generalise a failure from the hosts it happened on to hosts that are alike in what matters.

A host's traits become *features*, each strong or weak:

* strong — the OS *with* its version (``Windows Server 2008 R2``), the PowerShell version, a
  flag such as ``busybox: true``, any other trait whose value carries a version
  (``database: MySQL 5.5``). Sharing one strong feature with a failing host is enough.
* weak — the OS family alone, the init system, the package manager, other plain words. Three
  of them, one being the OS, are needed together.
* ignored — the shell alone (every Linux box has bash), the role, where the host is.

A feature is *refuted* when the culprit worked on a host that has it: "Windows Server" cannot
be why Get-LocalUser fails if it worked on another Windows Server. Only unrefuted features count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mspmode.engine.lazyre import lazy
from mspmode.engine.memory import FailurePattern
from mspmode.engine.struct import struct

TYPE_CHECKING = False  # typing costs a pre-check hook 5 ms of imports
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "FLAVOURS",
    "PLATFORM_SHELLS",
    "STRONG",
    "WEAK",
    "TraitMatch",
    "add_failing_host",
    "add_success_host",
    "block_confidence",
    "distinguishing_traits",
    "match_traits",
    "os_major",
    "pattern_confidence",
    "platform",
    "remove_failing_host",
    "trait_features",
    "version_of",
    "warn_confidence",
]

STRONG = "strong"
WEAK = "weak"
# Weak features needed together (one being the OS family): the same OS, init system and package
# manager make hosts alike; the same OS and init system alone (CentOS 7 and 8) do not.
WEAK_NEEDED = 3

# Traits that say where a host is or what it is for, not what it can run; the shell alone is
# too common to tell hosts apart (the issue: "not on hosts that merely share a shell").
_IGNORED = frozenset(
    {
        "shell_type",
        "shell",
        "role",
        "site",
        "location",
        "notes",
        "description",
        "owner",
        "asset_type",
        "status",
        "serial",
        "serial_number",
        "environment",
        "tags",
        "client",
        "hostname",
        "name",
        "ip_address",
        "aliases",
        "fqdn",
        "mac_address",
        "contact",
        "purpose",
        "domain",
        "workgroup",
        "subnet",
        "network",
        "vlan",
        "gateway",
        "dns",
        "dns_servers",
        "timezone",
        "rack",
        "datacenter",
        "limitations",
        "environmental_notes",
        "kind",
    }
)

_WEAK_NAMED = frozenset({"os", "init_system", "package_manager"})
_HAS_DIGIT = lazy(r"\d")
_VERSION = lazy(r"(\d+(?:\.\d+)*)")
_MAJOR = lazy(r"^(\d+)(?:[.(]|$)")
_VERSIONED = lazy(r"^v?\d")

# Shells found on one platform only: the shell alone says what the host can run (cmd.exe is
# Windows, tcsh is a BSD root shell and pfSense's, a device CLI is that device). Ubiquitous
# shells (bash, sh, zsh, PowerShell) say nothing of the kind and stay ignored.
PLATFORM_SHELLS = frozenset({"cmd", "cmd.exe", "command.com", "tcsh", "csh"})
_DEVICE_SHELL_SUFFIXES = ("-cli", "routeros", "junos", "ios", "asa", "fortios", "procurve")

# Failures the shell (or a device's CLI) decides itself: what it runs, parses and accepts. Only
# for these does a platform shell alone make hosts alike.
SHELL_VERDICTS = frozenset({"command_not_found", "unsupported_syntax", "usage_error", "unknown_subcommand"})

# Traits that name a flavour whose every version shares what it lacks: a failure there carries
# to the flavour's other versions until one of them works (then: the failing side of it only).
FLAVOURS = frozenset({"busybox"})

# Traits a host may differ in without that saying anything: its version (os_version is read into
# os_release and os_major), and the ignored ones. Any other trait both hosts have with different
# words (init_system systemd vs none, package_manager apt vs apk) says they are not alike.
_NO_VETO = frozenset({"os", "os_version"})

# Versioned traits whose versions fall into editions that differ in kind, not in degree: two
# hosts on either side of the line are not alike, whatever else they share. Windows PowerShell
# (5.1 and before, .NET Framework) and PowerShell 6+ (Core, .NET) load different modules and
# take different parameters.
_EDITIONS: dict[str, Callable[[tuple[int, ...]], str]] = {
    "powershell_version": lambda v: "core" if v[0] >= 6 else "desktop",
}

Feature = tuple[str, str]


def os_major(os_version: str) -> str | None:
    """The release family of an OS version: ``10.15.3`` → ``10``, ``2008 R2 SP1`` → ``2008 r2``,
    ``10 22H2`` → ``10``, ``6.10`` → ``6``; None when it carries no number first."""
    tokens = str(os_version).lower().split()
    if not tokens:
        return None
    m = _MAJOR.match(tokens[0])
    if not m:
        return None
    if "." in tokens[0] or "(" in tokens[0]:
        return m.group(1)
    return tokens[0] + (" r2" if len(tokens) > 1 and tokens[1] == "r2" else "")


def platform(traits: Mapping[str, Any]) -> str:
    """The platform a host's failures belong to (never mixed in one pattern): a BusyBox flavour,
    else the OS family, else the shell; "" when nothing is known."""
    if traits.get("busybox"):
        return "busybox"
    os_name = traits.get("os")
    if os_name:
        return _norm(os_name)
    shell = traits.get("shell_type")
    return _norm(shell) if shell else ""


def _platform_shell(value: str) -> bool:
    return value in PLATFORM_SHELLS or value.endswith(_DEVICE_SHELL_SUFFIXES)


def version_of(value: object) -> tuple[int, ...] | None:
    m = _VERSION.search(str(value))
    return tuple(int(x) for x in m.group(1).split(".")[:4]) if m else None


def _norm(value: Any) -> str:
    return " ".join(str(value).split()).lower()


def trait_features(traits: Mapping[str, Any]) -> dict[Feature, str]:
    """The host's features with their strength."""
    out: dict[Feature, str] = {}
    os_name = traits.get("os")
    os_version = traits.get("os_version")
    if os_name and os_version:
        out[("os_release", _norm(f"{os_name} {os_version}"))] = STRONG
        major = os_major(str(os_version))
        if major:
            out[("os_major", _norm(f"{os_name} {major}"))] = STRONG
    shell = traits.get("shell_type")
    if isinstance(shell, str) and _platform_shell(_norm(shell)):
        out[("shell_type", _norm(shell))] = STRONG
    for key, value in traits.items():
        k = str(key).lower()
        if k in FLAVOURS and value:
            out[(k, "*")] = STRONG  # the flavour itself, whatever its version
        if (
            k in _IGNORED
            or k == "os_version"
            or value is None
            or isinstance(value, list | dict | tuple | set)
        ):
            continue
        if isinstance(value, bool):
            if value:
                out[(k, "true")] = STRONG
            continue
        v = _norm(value)
        if not v or v in ("none", "unknown", "n/a", "false", "no"):
            continue
        if k == "powershell_version":
            out[(k, v if "." in v else v + ".0")] = STRONG
        elif k in _WEAK_NAMED or not _HAS_DIGIT.search(v):
            out[(k, v)] = WEAK
        else:
            out[(k, v)] = STRONG
    return out


def add_failing_host(pattern: FailurePattern, host: str, traits: Mapping[str, Any]) -> None:
    for feature in trait_features(traits):
        hosts = pattern.trait_hosts.setdefault(feature, [])
        if host not in hosts:
            hosts.append(host)


def remove_failing_host(pattern: FailurePattern, host: str) -> None:
    for hosts in pattern.trait_hosts.values():
        if host in hosts:
            hosts.remove(host)


def add_success_host(pattern: FailurePattern, host: str, traits: Mapping[str, Any]) -> None:
    pattern.success_hosts.add(host)
    pattern.refuted.update(trait_features(traits))


@struct(frozen=True)
class TraitMatch:
    features: tuple[tuple[str, str], ...]  # the shared, unrefuted features that matched
    hosts: tuple[str, ...]  # failing hosts that share them
    confidence: str


def match_traits(
    pattern: FailurePattern,
    host: str,
    traits: Mapping[str, Any],
    traits_of: Callable[[str], Mapping[str, Any]] | None = None,
) -> TraitMatch | None:
    """Whether ``host`` is like the hosts the pattern fails on, in a way not refuted: it shares
    a strong feature with one of them (a flavour within the versions that failed), and has no
    trait that sets it apart from that host (``traits_of`` gives a failing host's traits)."""
    if host in pattern.success_hosts:
        return None
    mine = trait_features(traits)
    strong_hosts: dict[str, list[Feature]] = {}
    weak_hosts: dict[str, list[Feature]] = {}
    for feature, strength in mine.items():
        if feature in pattern.refuted and feature[1] != "*":
            continue
        if feature[0] == "shell_type" and pattern.failure_class not in SHELL_VERDICTS:
            continue  # an option of another program is that program's, not the shell's
        shown: Feature | None = feature
        if feature[1] == "*":
            shown = _flavour_range(pattern, feature[0], traits.get(feature[0]))
        if shown is None:
            continue
        for other in pattern.trait_hosts.get(feature, ()):
            if other == host:
                continue
            (strong_hosts if strength == STRONG else weak_hosts).setdefault(other, []).append(shown)
    matched: dict[str, list[Feature]] = dict(strong_hosts)
    known_release = any(f[0] == "os_release" for f in mine)
    for other, feats in weak_hosts.items():
        if len(feats) >= WEAK_NEEDED and any(f[0] == "os" for f in feats) and not known_release:
            matched.setdefault(other, []).extend(feats)
    if traits_of is not None:
        relevant = _kinds(traits)
        matched = {o: f for o, f in matched.items() if not _set_apart(relevant, traits_of(o))}
    if not matched:
        return None
    features = tuple(dict.fromkeys(f for feats in matched.values() for f in feats))
    hosts = tuple(sorted(matched))
    return TraitMatch(features, hosts, warn_confidence(len(hosts), pattern.fix_observed))


def _flavour_range(pattern: FailurePattern, key: str, value: object) -> Feature | None:
    """Whether a host of a flavour at version ``value`` is on the failing side: any version while
    none worked; below the lowest that worked when those failed below it (above the highest when
    above it); else only the versions that failed."""
    mine = version_of(value) if not isinstance(value, bool) else None
    worked = [v for k, val in pattern.refuted if k == key and val != "*" and (v := version_of(val))]
    failed = [
        v
        for (k, val), hosts in pattern.trait_hosts.items()
        if k == key and val != "*" and hosts and (v := version_of(val))
    ]
    if not worked:
        return (key, "any version (none worked)")
    if mine is None or not failed:
        return None
    if max(failed) < min(worked):
        low = ".".join(map(str, min(worked)))
        return (key, f"below {low}") if mine < min(worked) else None
    if min(failed) > max(worked):
        high = ".".join(map(str, max(worked)))
        return (key, f"above {high}") if mine > max(worked) else None
    return (key, ".".join(map(str, mine))) if mine in failed else None


def _kinds(mine: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """The traits of a host that can set another apart: (key, lower-case key, value)."""
    out: list[tuple[str, str, Any]] = []
    for key, value in mine.items():
        k = str(key).lower()
        if k in _IGNORED or k in _NO_VETO or k in FLAVOURS or isinstance(value, bool | list | dict):
            continue
        out.append((key, k, value))
    return out


def _set_apart(mine: list[tuple[str, str, Any]], theirs: Mapping[str, Any]) -> bool:
    """A trait both hosts have (``mine``: :func:`_kinds` of one) with values that differ in kind
    (init_system systemd / none, model CHR / RB5009), not only in version."""
    for key, k, value in mine:
        other = theirs.get(key)
        if other is None or other == value or isinstance(other, bool | list | dict):
            continue  # (the same value: most hosts a pattern fails on are alike)
        a, b = _norm(value), _norm(other)
        edition = _EDITIONS.get(k)
        va, vb = version_of(a), version_of(b)
        if edition is not None and va and vb and edition(va) != edition(vb):
            return True
        if a != b and not (_VERSIONED.match(a) and _VERSIONED.match(b)):
            return True  # (two versions of one thing are a range, not a difference in kind)
    return False


def warn_confidence(sharing_hosts: int, fix_observed: bool) -> str:
    if sharing_hosts >= 3 or (sharing_hosts >= 2 and fix_observed):
        return "confirmed"
    if sharing_hosts >= 2 or fix_observed:
        return "likely"
    return "suspected"


def block_confidence(pattern: FailurePattern, host: str) -> str:
    """Confidence of a block on a host where the pattern failed: it was seen there, so at least
    likely; confirmed once it failed twice there, on several hosts, or a fix was observed."""
    ev = pattern.hosts.get(host)
    if ev is None:
        return "suspected"
    if ev.count >= 2 or pattern.fix_observed or len(pattern.active_hosts()) >= 2:
        return "confirmed"
    return "likely"


def pattern_confidence(pattern: FailurePattern) -> str:
    hosts = len(pattern.active_hosts())
    if hosts >= 3 or (hosts >= 2 and pattern.fix_observed):
        return "confirmed"
    if hosts >= 2 or pattern.fix_observed or pattern.occurrence_count >= 2:
        return "likely"
    return "suspected"


def distinguishing_traits(pattern: FailurePattern) -> dict[str, str]:
    """Unrefuted features every active failing host shares (or, failing that, those of the
    most hosts) — what the failure seems to depend on."""
    active = set(pattern.active_hosts())
    if not active:
        return {}
    counts = {
        f: len(active.intersection(hosts))
        for f, hosts in pattern.trait_hosts.items()
        if f not in pattern.refuted and active.intersection(hosts)
    }
    if not counts:
        return {}
    best = max(counts.values())
    return {k: v for (k, v), n in sorted(counts.items()) if n == best}
