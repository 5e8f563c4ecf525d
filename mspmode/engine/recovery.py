"""Auto-recovery decisions (seed 004): given a classified failure and what was learned about
it, what to do next and how to say so — plain data in, plain data out.

    decide(Failure(failure_class="timeout", is_transient=True, ...))  ->  Decision(...)

The rule, by failure class:

    transient (timeout, network, dns, service_unavailable)
        ``retry_with_backoff``: the same command again after ``backoff_delays`` (exponential,
        capped); severity rises with how often it keeps happening.
    capability (command_not_found, unknown_option, unsupported_syntax, version_mismatch, …)
        ``use_learned_alternative`` when a workaround was observed on a host where the same
        thing failed; otherwise ``do_not_retry``: repeating it cannot work, and the technician
        is asked for the equivalent that the host supports.
    permission_denied, authentication_failure
        ``escalate_to_user``: no retry can grant rights or fix credentials; the decision names
        the action the person must take.
    not_found, configuration_error
        the learned alternative if there is one, else ``do_not_retry`` with what to check.
    unknown
        ``do_not_retry``: the output must be read by a person.

Also here: :func:`is_catastrophic`, the guard that keeps a regex with nested quantifiers
(``(a+)+``, ``(\\w*)*``) from ever being stored as a pattern's ``error_pattern``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The regex parser of the standard library (``sre_parse`` before 3.11, deprecated since).
from re import _parser as _sre_parse  # type: ignore[attr-defined]

from mspmode.engine.classify import (
    AUTHENTICATION_FAILURE,
    CAPABILITY_CLASSES,
    CONFIGURATION_ERROR,
    NOT_FOUND,
    PERMISSION_DENIED,
    TRANSIENT_CLASSES,
)

__all__ = [
    "DECISIONS",
    "Decision",
    "Failure",
    "backoff_delays",
    "decide",
    "is_catastrophic",
    "severity_level",
]

DECISIONS = ("retry_with_backoff", "use_learned_alternative", "escalate_to_user", "do_not_retry")
# The attempt strategy that carries out each decision (recovery_attempts.recovery_strategy).
STRATEGY = {
    "retry_with_backoff": "retry_with_backoff",
    "use_learned_alternative": "use_learned_alternative",
    "escalate_to_user": "escalate_to_user",
    "do_not_retry": "manual_fix",
}
MAX_RETRIES = 3
BACKOFF_BASE_S = 5.0
BACKOFF_FACTOR = 3.0
BACKOFF_CAP_S = 300.0

_LABEL = {
    "command_not_found": "the command does not exist there",
    "unknown_option": "an option is not supported there",
    "unknown_subcommand": "a subcommand is not supported there",
    "unsupported_syntax": "the syntax is not supported there",
    "version_mismatch": "the installed version does not support it",
    "usage_error": "it was called the wrong way",
    "permission_denied": "permission was denied",
    "authentication_failure": "authentication failed",
    "not_found": "something it names does not exist",
    "configuration_error": "the configuration is wrong",
    "timeout": "it timed out",
    "network": "the network failed",
    "dns": "a name did not resolve",
    "service_unavailable": "the service was unavailable",
    "unknown": "it failed for a reason no rule recognises",
}


@dataclass(frozen=True)
class Failure:
    """One failure as the decision needs it; ``workarounds`` are what worked instead."""

    failure_class: str
    is_transient: bool = False
    what: str = ""  # the command or the operation, already redacted
    host: str | None = None  # a display name; None: this machine / no host
    message: str | None = None  # the first error line
    culprit: str | None = None
    root_cause: str | None = None  # the pattern's, when it has one
    workarounds: tuple[str, ...] = ()
    occurrences: int = 1  # how often this pattern failed so far
    pattern_severity: str | None = None  # blocking / major / minor / info
    is_command: bool = True  # False: an operation (API call, backup…), not a command to re-run


@dataclass(frozen=True)
class Decision:
    retry_decision: str
    strategy: str
    severity_level: str
    failure_summary: str
    root_cause: str
    retry_explanation: str
    user_action_required: str | None
    suggested_commands: list[str] = field(default_factory=list)
    backoff_seconds: list[float] = field(default_factory=list)


def backoff_delays(
    retries: int = MAX_RETRIES,
    base: float = BACKOFF_BASE_S,
    factor: float = BACKOFF_FACTOR,
    cap: float = BACKOFF_CAP_S,
) -> list[float]:
    """Seconds to wait before each retry: base, base·factor, … never above ``cap``."""
    return [min(cap, base * factor**i) for i in range(max(0, retries))]


def severity_level(failure: Failure) -> str:
    """low / medium / high / critical: how much it stands in the technician's way."""
    cls = failure.failure_class
    if cls in TRANSIENT_CLASSES:
        return "medium" if failure.occurrences >= 5 else "low"
    if cls == AUTHENTICATION_FAILURE:
        return "critical" if failure.occurrences >= 3 else "high"
    if cls == PERMISSION_DENIED:
        return "high"
    if cls in CAPABILITY_CLASSES:
        return "medium" if failure.workarounds else "high"
    if cls in (NOT_FOUND, CONFIGURATION_ERROR):
        return "medium"
    return "low" if failure.pattern_severity == "info" and failure.occurrences < 3 else "medium"


def _where(failure: Failure) -> str:
    return f" on {failure.host}" if failure.host else ""


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def decide(failure: Failure) -> Decision:
    """What to do after ``failure``, with the sentences a technician reads."""
    cls = failure.failure_class
    label = _LABEL.get(cls, _LABEL["unknown"])
    what = _short(failure.what) if failure.what else "the operation"
    summary = f"`{what}` failed{_where(failure)}: {label}"
    if failure.message:
        summary += f" ({_short(failure.message, 200)})"
    cause = failure.root_cause or f"{label[0].upper()}{label[1:]}" + (
        f" (`{failure.culprit}`)" if failure.culprit else ""
    )
    severity = severity_level(failure)
    alternatives = [w for w in failure.workarounds if w and w != failure.what]
    noun = "command" if failure.is_command else "operation"

    if cls in TRANSIENT_CLASSES or (failure.is_transient and cls not in CAPABILITY_CLASSES):
        delays = backoff_delays()
        waits = ", ".join(f"{d:g}" for d in delays)
        action = None
        if failure.occurrences >= 5:
            action = (
                f"It keeps happening ({failure.occurrences}×): check the network path and the "
                f"service{_where(failure)} before retrying again."
            )
        return Decision(
            "retry_with_backoff",
            STRATEGY["retry_with_backoff"],
            severity,
            summary,
            cause,
            f"Transient: retry the same {noun} up to {len(delays)} times, waiting {waits} s.",
            action,
            [failure.what] if failure.what and failure.is_command else [],
            delays,
        )
    if cls in (PERMISSION_DENIED, AUTHENTICATION_FAILURE):
        if cls == PERMISSION_DENIED:
            action = (
                f"Run it with the rights it needs{_where(failure)} (sudo, an elevated "
                "PowerShell, or an account in the right group), or have the owner grant access."
            )
        else:
            action = (
                f"Check the credentials used{_where(failure)}: the password may have changed or "
                "expired, or the account is locked. Update the stored credential (msp cred) "
                "and sign in again."
            )
        return Decision(
            "escalate_to_user",
            STRATEGY["escalate_to_user"],
            severity,
            summary,
            cause,
            "Not retried: a retry cannot grant rights or fix credentials; a person must act.",
            action,
            [],
        )
    if alternatives:
        first = alternatives[0]
        return Decision(
            "use_learned_alternative",
            STRATEGY["use_learned_alternative"],
            severity,
            summary,
            cause,
            f"Not retried as it was: `{_short(first)}` worked instead where this failed before.",
            None,
            alternatives[:5],
        )
    if cls in CAPABILITY_CLASSES:
        action = (
            f"Find what{_where(failure) or ' here'} supports instead of "
            f"`{failure.culprit or what}`; once it works, it is learned as the alternative."
        )
        explanation = f"Not retried: the same {noun} cannot work there, and no alternative is known yet."
    elif cls == NOT_FOUND:
        action = "Check the name or path it uses exists there (spelling, share, drive, service name)."
        explanation = "Not retried: it names something that is not there; retrying changes nothing."
    elif cls == CONFIGURATION_ERROR:
        action = "Fix the configuration the error points at, then run it again."
        explanation = "Not retried until the configuration is fixed."
    else:
        action = "Read the output: no rule recognised this failure, so it is not retried automatically."
        explanation = "Not retried: the cause is not known."
    return Decision(
        "do_not_retry",
        STRATEGY["do_not_retry"],
        severity,
        summary,
        cause,
        explanation,
        action,
        [],
    )


# --------------------------------------------------------------------------------------------
# Regex guard

_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _has_nested_repeat(items: object, inside: bool) -> bool:
    for op, arg in items:  # type: ignore[attr-defined]
        name = str(op)
        if name in _REPEATS:
            _low, high, sub = arg
            unbounded = high is _sre_parse.MAXREPEAT or high > 100
            if inside and unbounded and name != "POSSESSIVE_REPEAT":
                return True
            if _has_nested_repeat(sub, inside or unbounded):
                return True
        elif name == "SUBPATTERN":
            if _has_nested_repeat(arg[-1], inside):
                return True
        elif name == "BRANCH":
            if any(_has_nested_repeat(b, inside) for b in arg[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT") and _has_nested_repeat(arg[1], inside):
            return True
    return False


def is_catastrophic(pattern: str) -> bool:
    """True when ``pattern`` cannot be stored: not a valid regex, or an unbounded repeat
    nested inside another one (``(a+)+``, ``(x*y?)*``), the shape that backtracks
    exponentially. Bounded gaps like ``.{0,200}?`` between escaped literals are fine."""
    try:
        parsed = _sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return True
    try:
        return _has_nested_repeat(parsed, False)
    except RecursionError:
        return True
