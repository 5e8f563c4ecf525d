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

from collections.abc import Mapping

from mspmode.engine.lazyre import lazy
from mspmode.engine.memory import FailurePattern
from mspmode.engine.struct import struct

TYPE_CHECKING = False  # typing costs a pre-check hook 5 ms of imports
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "STRONG",
    "WEAK",
    "TraitMatch",
    "add_failing_host",
    "add_success_host",
    "block_confidence",
    "distinguishing_traits",
    "match_traits",
    "pattern_confidence",
    "remove_failing_host",
    "trait_features",
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

Feature = tuple[str, str]


def _norm(value: Any) -> str:
    return " ".join(str(value).split()).lower()


def trait_features(traits: Mapping[str, Any]) -> dict[Feature, str]:
    """The host's features with their strength."""
    out: dict[Feature, str] = {}
    os_name = traits.get("os")
    os_version = traits.get("os_version")
    if os_name and os_version:
        out[("os_release", _norm(f"{os_name} {os_version}"))] = STRONG
    for key, value in traits.items():
        k = str(key).lower()
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


def match_traits(pattern: FailurePattern, host: str, traits: Mapping[str, Any]) -> TraitMatch | None:
    """Whether ``host`` is like the hosts the pattern fails on, in a way not refuted."""
    if host in pattern.success_hosts:
        return None
    strong_hosts: dict[str, list[Feature]] = {}
    weak_hosts: dict[str, list[Feature]] = {}
    for feature, strength in trait_features(traits).items():
        if feature in pattern.refuted:
            continue
        for other in pattern.trait_hosts.get(feature, ()):
            if other == host:
                continue
            (strong_hosts if strength == STRONG else weak_hosts).setdefault(other, []).append(feature)
    matched: dict[str, list[Feature]] = dict(strong_hosts)
    for other, feats in weak_hosts.items():
        if len(feats) >= WEAK_NEEDED and any(f[0] == "os" for f in feats):
            matched.setdefault(other, []).extend(feats)
    if not matched:
        return None
    features = tuple(dict.fromkeys(f for feats in matched.values() for f in feats))
    hosts = tuple(sorted(matched))
    return TraitMatch(features, hosts, warn_confidence(len(hosts), pattern.fix_observed))


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
