"""Human-readable text: pattern descriptions for the ``failure_patterns`` columns and the
reasons a pre-check gives. Plain sentences a technician can act on, built from the pattern's
state — never from a table of known commands.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from mspmode.engine.classify import CAPABILITY_CLASSES, STATE_CLASSES, TRANSIENT_CLASSES
from mspmode.engine.generalize import TraitMatch
from mspmode.engine.memory import FailurePattern, FixObservation, HostEvidence

__all__ = [
    "block_reason",
    "explain_pattern",
    "failure_description",
    "recommended_solution",
    "root_cause",
    "signature",
    "transient_reason",
    "verdict_lines",
    "warn_reason",
]

_CLASS_WORDS = {
    "command_not_found": "is not available",
    "unknown_option": "is not supported",
    "unknown_subcommand": "is not known",
    "unsupported_syntax": "is not supported by the shell or server",
    "version_mismatch": "needs another version",
    "usage_error": "was rejected",
    "permission_denied": "was denied",
    "authentication_failure": "failed to authenticate",
    "not_found": "names something that is not there",
    "configuration_error": "failed on a configuration error",
    "timeout": "timed out",
    "network": "failed on the network",
    "dns": "failed to resolve a name",
    "service_unavailable": "found a service down or busy",
    "unknown": "failed",
}


def _what(pattern: FailurePattern) -> str:
    if pattern.culprit is not None:
        return pattern.culprit.describe()
    if pattern.triggering_commands:
        return f"`{_short(pattern.triggering_commands[-1])}`"
    return "the command"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _short(text: str, limit: int = 120) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


def _day(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "an unknown time"


def _traits_text(traits: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in traits.items())


def signature(pattern: FailurePattern) -> str:
    where = f" on {_traits_text(pattern.distinguishing_traits)}" if pattern.distinguishing_traits else ""
    return _short(f"{pattern.failure_class}: {_what(pattern)}{where}", 500)


def failure_description(pattern: FailurePattern) -> str:
    hosts = ", ".join(pattern.affected_systems) or "no active host"
    return (
        f"{_cap(_what(pattern))} {_CLASS_WORDS.get(pattern.failure_class, 'failed')} "
        f"({pattern.occurrence_count}× on {hosts})."
    )


def root_cause(pattern: FailurePattern) -> str:
    if pattern.is_transient:
        return f"Transient {pattern.failure_class.replace('_', ' ')}: the same command may work when retried."
    if pattern.failure_class in STATE_CLASSES:
        return (
            "The state of the host (files, accounts, configuration) at the time; "
            "a repeat fails until it changes."
        )
    if pattern.distinguishing_traits:
        return (
            f"{_cap(_what(pattern))} {_CLASS_WORDS.get(pattern.failure_class, 'fails')} on hosts with "
            f"{_traits_text(pattern.distinguishing_traits)}"
            + (
                f"; it worked on {len(pattern.success_hosts)} other host(s)."
                if pattern.success_hosts
                else "."
            )
        )
    return f"{_cap(_what(pattern))} {_CLASS_WORDS.get(pattern.failure_class, 'fails')} on this host."


def recommended_solution(pattern: FailurePattern) -> str:
    if pattern.fixes:
        fix = pattern.fixes[-1]
        return f"Use `{_short(fix.fix_command)}` instead (worked on {fix.host or 'local'} at {_day(fix.at)})."
    if pattern.is_transient:
        return "Retry; check connectivity to the target if it keeps failing."
    return "No working alternative observed yet; find the equivalent this host supports."


def block_reason(pattern: FailurePattern, host: str, evidence: HostEvidence, exact: bool) -> str:
    """What failed, where and when. Not the fix: every answer carries it as a suggestion (adapted
    to the new command where possible), and a reason that repeated it made the agent read the
    fix twice (issue 16)."""
    how = "This exact command" if exact else _cap(_what(pattern))
    msg = pattern.typical_error_messages[-1] if pattern.typical_error_messages else ""
    text = (
        f"{how} failed on {host} ({pattern.failure_class}, "
        f"{evidence.count}× since {_day(evidence.first_seen)})"
        + (f": {_short(msg, 160).rstrip('.')}" if msg else "")
    )
    return text + "."


def warn_reason(pattern: FailurePattern, host: str, match: TraitMatch, names: list[str]) -> str:
    feats = ", ".join(f"{k}={v}" for k, v in match.features)
    text = (
        f"{_cap(_what(pattern))} failed on {', '.join(names)} ({pattern.failure_class}), "
        f"which share{'s' if len(names) == 1 else ''} {feats} with {host}"
    )
    if pattern.success_hosts:
        text += f"; it worked on {len(pattern.success_hosts)} host(s) without those traits"
    return text + "."


def transient_reason(pattern: FailurePattern | None, host: str, failure_class: str) -> str:
    return (
        f"The last run of this command on {host} failed transiently ({failure_class}); "
        "transient failures are never blocked — retrying is fine"
        + (" (it has failed this way before)" if pattern and pattern.occurrence_count > 1 else "")
        + "."
    )


def _best_fix(pattern: FailurePattern, host: str | None) -> FixObservation | None:
    if not pattern.fixes:
        return None
    if host is not None:
        for fix in reversed(pattern.fixes):
            if fix.host == host:
                return fix
    return pattern.fixes[-1]


def explain_pattern(pattern: FailurePattern) -> str:
    """A multi-line account of a pattern: what, where, why, what to do, and its fingerprint."""
    kind = "transient" if pattern.failure_class in TRANSIENT_CLASSES else "deterministic"
    hosts = ", ".join(pattern.affected_systems) or "-"
    lines = [
        pattern.pattern_signature or signature(pattern),
        f"  class: {pattern.failure_class} ({kind}),"
        f" severity {pattern.severity}, confidence {pattern.confidence_level}",
        f"  culprit: {pattern.culprit.describe() if pattern.culprit else 'none named'}",
        f"  fails on: {hosts}; worked on {len(pattern.success_hosts)} other host(s)",
        f"  root cause: {pattern.root_cause or root_cause(pattern)}",
        f"  do instead: {pattern.recommended_solution or recommended_solution(pattern)}",
        pattern.fingerprint.explain(),
    ]
    return "\n".join(lines)


def verdict_lines(pattern: FailurePattern, name: Callable[[str], str]) -> list[str]:
    """Why the pre-check answers as it does for this pattern, host by host (``name`` turns a
    host key into what to show)."""
    what = _what(pattern)
    failing = [name(h) for h in pattern.active_hosts()]
    resolved = [name(h) for h, ev in pattern.hosts.items() if ev.resolved_at is not None]
    if pattern.is_transient or pattern.failure_class in TRANSIENT_CLASSES:
        return [f"Never blocks: {pattern.failure_class} is transient; a repeat gets retry advice instead."]
    if pattern.failure_class in STATE_CLASSES:
        lines = [
            f"Blocks an exact repeat on {', '.join(failing)}: it failed on the state of that host."
            if failing
            else "Blocks nothing now: it worked again where it had failed.",
            "Never generalised to other hosts: their files, accounts and settings are their own.",
        ]
    elif pattern.failure_class in CAPABILITY_CLASSES and pattern.culprit is not None:
        lines = [
            f"Blocks any command using {what} on {', '.join(failing)}"
            f" (confidence {pattern.confidence_level})."
            if failing
            else f"Blocks nothing now: {what} worked again where it had failed."
        ]
        if pattern.distinguishing_traits:
            lines.append(
                f"Warns on other hosts with {_traits_text(pattern.distinguishing_traits)}:"
                " what the failing hosts share that no host where it worked has."
            )
        else:
            lines.append("Warns on no other host: the failing hosts share no trait it worked without.")
    elif pattern.failure_class in CAPABILITY_CLASSES:
        lines = [
            f"Blocks an exact repeat on {', '.join(failing) or 'no host'}: the error named no culprit"
            " to look for in other commands."
        ]
    else:
        lines = ["Never blocks: the failure could not be classified (a search finding nothing exits 1 too)."]
    if pattern.success_hosts:
        worked = sorted(name(h) for h in pattern.success_hosts)
        lines.append(f"Evidence against: it worked on {', '.join(worked)}.")
    if resolved:
        lines.append(f"Resolved on {', '.join(resolved)}: it worked there after failing.")
    fix = _best_fix(pattern, None)
    if fix is not None:
        lines.append(
            f"Suggests `{_short(fix.fix_command)}`, which worked on {name(fix.host)} at {_day(fix.at)}"
            " (adapted to the command checked where the edit carries over)."
        )
    return lines
