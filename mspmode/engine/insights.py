"""Environmental insights from failure patterns: which category, how important, how it reads,
and the per-client ``insights.md`` (seed 000's shape) — plain data in, plain data out.

    draft(PatternFacts(...), HostFacts(...), now)  ->  InsightDraft | None
    priority("blocking", occurrences=4, last_seen=..., now=...)  ->  1..10
    render_markdown("Dataforth", [HostSection(...)], now)  ->  str

Priority is severity × frequency × recency: the pattern's severity sets the ceiling (a
blocking failure 10, a minor one 4), frequency scales it from 0.55 for one occurrence to 1.0
at ten or more (logarithmically), and recency from 1.0 when seen in the last week down to 0.5
for what was last seen half a year ago or more.

An insight rests on the host's facts when it was learned (``basis``: OS, version, shell,
PowerShell version). The service keys each insight by pattern, host and basis, so when the host
changes — its PowerShell is upgraded — the old insight no longer matches and is deactivated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mspmode.engine.classify import TRANSIENT_CLASSES

__all__ = [
    "BASIS_FACTS",
    "CATEGORY_TITLES",
    "HostFacts",
    "HostSection",
    "InsightDraft",
    "PatternFacts",
    "basis_of",
    "better",
    "category_for",
    "draft",
    "priority",
    "render_markdown",
]

# The host facts an insight rests on: a change of any of them may make it wrong.
BASIS_FACTS = ("os", "os_version", "shell_type", "powershell_version")
SEVERITY_WEIGHT = {"blocking": 10.0, "major": 8.0, "minor": 4.0, "info": 2.0}
CONFIDENCE_RANK = {"confirmed": 3, "likely": 2, "suspected": 1}
CATEGORY_TITLES = {
    "command_constraints": "Command Constraints",
    "service_configuration": "Service Configuration",
    "version_limitations": "Version Limitations",
    "custom_installations": "Custom Installations",
    "network_constraints": "Network Constraints",
    "permissions": "Permissions",
    "compatibility": "Compatibility",
    "performance": "Performance",
    "security": "Security",
}
_CATEGORY = {
    "command_not_found": "command_constraints",
    "unknown_option": "command_constraints",
    "unknown_subcommand": "command_constraints",
    "unsupported_syntax": "command_constraints",
    "usage_error": "command_constraints",
    "version_mismatch": "version_limitations",
    "permission_denied": "permissions",
    "authentication_failure": "security",
    "not_found": "compatibility",
    "configuration_error": "service_configuration",
    "service_unavailable": "service_configuration",
    "timeout": "network_constraints",
    "network": "network_constraints",
    "dns": "network_constraints",
    "unknown": "compatibility",
}
# Words of a culprit or command -> the operation it belongs to (affected_operations).
_OPERATIONS = (
    (("localuser", "useraccount", "useradd", "usermod", "adduser", "aduser", "passwd"), "user_management"),
    (("localgroup", "group", "adgroup"), "group_management"),
    (("systemctl", "service", "init.d", "rc-service", "nmbd", "smbd"), "service_management"),
    (
        ("apt", "dnf", "yum", "opkg", "apk", "pacman", "zypper", "choco", "winget", "pip"),
        "package_management",
    ),
    (("ip", "ifconfig", "netsh", "route", "ping", "dig", "nslookup", "curl", "wget"), "networking"),
    (("copy", "robocopy", "xcopy", "rsync", "scp", "cp", "mv", "tar", "item"), "file_operations"),
    (("docker", "podman", "compose", "kubectl"), "containers"),
    (("mysql", "psql", "sqlcmd", "alter", "select", "column"), "database_changes"),
    (("grep", "sed", "awk", "find", "select-string"), "text_processing"),
)


@dataclass(frozen=True)
class PatternFacts:
    """What the insight is written from: a failure pattern and its evidence on one host."""

    id: str
    failure_class: str
    pattern_signature: str
    severity: str | None
    confidence_level: str
    culprit: str | None = None
    root_cause: str = ""
    recommended_solution: str = ""
    workaround_commands: tuple[str, ...] = ()
    triggering_commands: tuple[str, ...] = ()
    typical_error_messages: tuple[str, ...] = ()
    is_transient: bool = False
    occurrences: int = 1  # on this host
    last_seen: datetime | None = None


@dataclass(frozen=True)
class HostFacts:
    name: str
    ip_address: str | None = None
    os: str | None = None
    os_version: str | None = None
    shell_type: str | None = None
    powershell_version: str | None = None


@dataclass(frozen=True)
class InsightDraft:
    category: str
    title: str
    description: str  # markdown
    examples: list[str]
    affected_operations: list[str]
    confidence_level: str
    priority: int
    verification_count: int
    last_verified: datetime | None
    basis: str


@dataclass(frozen=True)
class HostSection:
    """One host's part of insights.md: its insights (category, title, description, examples,
    priority) and its recorded limitations."""

    host: HostFacts
    insights: Sequence[tuple[str, str, str, Sequence[str], int]]
    limitations: Sequence[str] = field(default_factory=tuple)


def basis_of(host: HostFacts) -> str:
    """The host facts an insight rests on, as one comparable string."""
    return "|".join(f"{k}={(getattr(host, k) or '').strip().lower()}" for k in BASIS_FACTS)


def category_for(p: PatternFacts, host: HostFacts) -> str:
    """The seed's category: a capability failure on a host with a telling version is a
    version limitation ("PowerShell 2.0 has no Get-LocalUser"), otherwise by failure class."""
    category = _CATEGORY.get(p.failure_class, "compatibility")
    if category == "command_constraints" and host.powershell_version and _powershellish(p):
        return "version_limitations"
    return category


def _powershellish(p: PatternFacts) -> bool:
    text = " ".join([p.culprit or "", *p.triggering_commands[:3]])
    return any("-" in w and w[:1].isupper() for w in text.split()) or "powershell" in text.lower()


def priority(severity: str | None, occurrences: int, last_seen: datetime | None, now: datetime) -> int:
    """1–10, higher is more important to avoid: severity × frequency × recency."""
    weight = SEVERITY_WEIGHT.get(severity or "", 5.0)
    n = max(1, occurrences)
    frequency = 0.55 + 0.45 * min(1.0, math.log10(n))
    recency = 1.0
    if last_seen is not None:
        days = max(0.0, (now - last_seen).total_seconds() / 86_400)
        recency = 1.0 if days <= 7 else max(0.5, 1.0 - 0.5 * (days - 7) / 173)
    return max(1, min(10, round(weight * frequency * recency)))


def affected_operations(p: PatternFacts) -> list[str]:
    words: list[str] = []
    for text in (p.culprit or "", *p.triggering_commands[:3]):
        for w in text.lower().replace("-", " ").replace("/", " ").split():
            words.append(w)
    found: list[str] = []
    for keys, operation in _OPERATIONS:
        if any(any(k == w or (len(k) > 4 and k in w) for w in words) for k in keys):
            found.append(operation)
    return found or [p.failure_class]


def _host_line(host: HostFacts) -> str:
    parts = [x for x in (host.os, host.os_version) if x]
    facts = " ".join(parts)
    if host.powershell_version:
        facts += (", " if facts else "") + f"PowerShell {host.powershell_version}"
    elif host.shell_type:
        facts += (", " if facts else "") + host.shell_type
    return facts


def draft(p: PatternFacts, host: HostFacts, now: datetime) -> InsightDraft | None:
    """The insight one pattern makes about one host, or None when it is not worth one: a
    transient failure seen fewer than three times, an unrecognised one seen once."""
    if (p.is_transient or p.failure_class in TRANSIENT_CLASSES) and p.occurrences < 3:
        return None
    if p.failure_class == "unknown" and p.occurrences < 2:
        return None
    category = category_for(p, host)
    facts = _host_line(host)
    subject = p.culprit or p.pattern_signature
    label = {
        "command_not_found": "not available",
        "unknown_option": "option not supported",
        "unknown_subcommand": "subcommand not supported",
        "unsupported_syntax": "syntax not supported",
        "version_mismatch": "needs another version",
        "usage_error": "used the wrong way",
        "permission_denied": "needs other rights",
        "authentication_failure": "authentication fails",
        "not_found": "not found",
        "configuration_error": "misconfigured",
        "service_unavailable": "service often unavailable",
        "timeout": "times out",
        "network": "network unreliable",
        "dns": "name resolution fails",
    }.get(p.failure_class, "fails")
    title = f"{host.name}: `{subject}` {label}" + (f" ({facts})" if facts else "")
    lines: list[str] = []
    if facts:
        lines.append(f"**Host facts:** {facts}")
    lines.append(f"**Avoid:** `{subject}`" + (f" — {p.root_cause}" if p.root_cause else ""))
    if p.typical_error_messages:
        lines.append(f"**Error:** `{p.typical_error_messages[-1][:300]}`")
    workarounds = [w for w in p.workaround_commands if w]
    if workarounds:
        lines.append("**Use instead:**\n" + "\n".join(f"- `{w}`" for w in workarounds[:5]))
    elif p.recommended_solution:
        lines.append(f"**What to do:** {p.recommended_solution}")
    when = p.last_seen.date().isoformat() if p.last_seen else "unknown"
    lines.append(
        f"**Seen:** {p.occurrences} failure(s) on this host, last {when}; confidence {p.confidence_level}"
    )
    return InsightDraft(
        category=category,
        title=title[:500],
        description="\n\n".join(lines),
        examples=workarounds[:5] or list(p.triggering_commands[:3]),
        affected_operations=affected_operations(p),
        confidence_level=p.confidence_level if p.confidence_level in CONFIDENCE_RANK else "suspected",
        priority=priority(p.severity, p.occurrences, p.last_seen, now),
        verification_count=max(1, p.occurrences),
        last_verified=p.last_seen,
        basis=basis_of(host),
    )


def better(
    a: tuple[str | None, bool, int, datetime | None], b: tuple[str | None, bool, int, datetime | None]
) -> bool:
    """Whether insight ``a`` should replace ``b`` on the same subject: (confidence, has a
    known alternative, priority, last verified) compared in that order."""

    def key(x: tuple[str | None, bool, int, datetime | None]) -> tuple[int, int, int, float]:
        confidence, has_fix, prio, verified = x
        return (
            CONFIDENCE_RANK.get(confidence or "", 0),
            int(has_fix),
            prio,
            verified.timestamp() if verified else 0,
        )

    return key(a) > key(b)


# --------------------------------------------------------------------------------------------
# insights.md


def _heading(host: HostFacts) -> str:
    facts = _host_line(host)
    inside = " - ".join(x for x in (host.ip_address, facts) if x)
    return f"## {host.name}" + (f" ({inside})" if inside else "")


def _bullets(description: str) -> list[str]:
    out: list[str] = []
    for block in description.split("\n\n"):
        block = block.strip()
        if not block or block.startswith("**Host facts:**"):
            continue
        first, *rest = block.splitlines()
        out.append(f"- {first}")
        out.extend(f"  {line}" for line in rest)
    return out


def render_markdown(client: str, sections: Iterable[HostSection], now: datetime) -> str:
    """The client's insights.md: per host, per category (highest priority first), each insight
    with what to avoid and the commands that work instead."""
    lines = [
        f"# Environmental Insights: {client}",
        "",
        f"Auto-generated from failure patterns and verified operations ({now.date().isoformat()}).",
    ]
    written = 0
    for section in sections:
        if not section.insights and not section.limitations:
            continue
        lines += ["", _heading(section.host)]
        by_category: dict[str, list[tuple[str, str, str, Sequence[str], int]]] = {}
        for item in section.insights:
            by_category.setdefault(item[0], []).append(item)
        order = sorted(by_category, key=lambda c: (-max(i[4] for i in by_category[c]), c))
        for category in order:
            lines += ["", f"### {CATEGORY_TITLES.get(category, category.replace('_', ' ').title())}"]
            for _, title, description, examples, prio in sorted(by_category[category], key=lambda i: -i[4]):
                # The heading names the host already.
                title = title.removeprefix(f"{section.host.name}: ")
                lines += ["", f"**{title}** (priority {prio})"]
                lines += _bullets(description)
                if examples:
                    lines += ["", "Correct commands:", "```", *examples, "```"]
                written += 1
        extra = [x for x in section.limitations if x]
        if extra:
            lines += ["", "### Recorded Limitations", ""] + [f"- {x}" for x in extra]
    if not written:
        lines += ["", "No active insights yet: nothing has failed on this client's hosts often enough."]
    return "\n".join(lines) + "\n"
