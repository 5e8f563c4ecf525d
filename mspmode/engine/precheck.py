"""Pre-check a command before it runs: block, warn or allow, with the reason, the patterns and
the fixes that worked (adapted to this command where the edit transplants).

The look-up is by dictionary only: the command's culprit keys (``cmd:…``, ``opt:…``, ``op:…``)
find candidate patterns in ``Memory.by_culprit`` and the exact normalised command finds its
last run in ``Memory.exact``; each candidate is then judged for the target host:

* it failed there (and was not resolved since) → **block**;
* it worked there, or on hosts sharing the traits that would link them → evidence against;
* the host shares unrefuted distinguishing traits with hosts it failed on → **warn**;
* transient failures are never blocked, only explained.
"""

from __future__ import annotations

from mspmode.engine import explain
from mspmode.engine.classify import CAPABILITY_CLASSES, STATE_CLASSES, TRANSIENT_CLASSES, UNKNOWN
from mspmode.engine.culprit import contains_culprit
from mspmode.engine.edits import adapt, already_fixed, rewrap
from mspmode.engine.generalize import TraitMatch, block_confidence, match_traits
from mspmode.engine.keys import command_keys
from mspmode.engine.lazyre import lazy
from mspmode.engine.memory import (
    LOCAL,
    CommandRecord,
    FailurePattern,
    FixObservation,
    Host,
    HostScope,
    Memory,
    host_key,
    resolve_host,
)
from mspmode.engine.normalize import normalize_command
from mspmode.engine.reading import parse_for_host
from mspmode.engine.struct import field, struct
from mspmode.engine.tokenize import Nested, Script, parse_cached, targets

TYPE_CHECKING = False  # typing costs a pre-check hook 5 ms of imports
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ALLOW", "BLOCK", "VERDICTS", "WARN", "CheckResult", "check", "culprit_blocks", "exact_blocks"]

BLOCK = "block"
WARN = "warn"
ALLOW = "allow"
VERDICTS = (BLOCK, WARN, ALLOW)
_RANK = {BLOCK: 2, WARN: 1, ALLOW: 0}
_CONFIDENCE_RANK = {"confirmed": 2, "likely": 1, "suspected": 0}
MAX_SUGGESTIONS = 5


@struct(frozen=True)
class CheckResult:
    host: str | None
    command: str
    verdict: str
    confidence: str | None
    reason: str
    suggestions: tuple[str, ...] = ()
    pattern_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``msp check --json`` contract."""
        return {
            "host": self.host,
            "command": self.command,
            "verdict": self.verdict,
            "confidence": self.confidence,
            "reason": self.reason,
            "suggestions": list(self.suggestions),
            "pattern_ids": list(self.pattern_ids),
        }


@struct
class _Finding:
    verdict: str
    pattern: FailurePattern
    confidence: str
    reason: str
    match: TraitMatch | None = None
    exact: bool = False


@struct
class _Target:
    key: str
    display: str | None
    script: Script
    chain: tuple[Nested, ...]
    findings: list[_Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check(
    memory: Memory, host: str | Host | None, command: str, scope: HostScope | None = None
) -> CheckResult:
    """Judge ``command`` for ``host`` (None: found from the command's wrapper, else the local
    machine; a :class:`Host` when the caller knows which), the names in it meaning the hosts
    ``scope`` sees. Never raises: an internal error gives ``allow`` with the error as the reason."""
    command = command if isinstance(command, str) else ("" if command is None else str(command))
    try:
        return _check(memory, host, command, scope)
    except Exception as exc:  # the hook must answer; the reason carries the bug
        shown = host if isinstance(host, str) else None
        return CheckResult(shown, command, ALLOW, None, f"engine error: {type(exc).__name__}: {exc}")


def _unknown_key(memory: Memory, name: str) -> str:
    """The key a host nobody recorded is judged under: none of a host the scope does not see."""
    key = host_key(name)
    return key if key not in memory.hosts else f"\x00{key}"


def _check(memory: Memory, host: str | Host | None, command: str, scope: HostScope | None) -> CheckResult:
    if isinstance(host, Host):
        given_name: str | None = host.name
        given_key = host.key
    else:
        given_name = host.strip() if isinstance(host, str) and host.strip() else None
        given_key = LOCAL
        if given_name:
            found = resolve_host(memory, given_name, scope)
            given_key = found if found is not None else _unknown_key(memory, given_name)
    outer = parse_for_host(memory, given_key, command)
    evaluated: list[_Target] = []
    for target_name, script, chain in targets(outer):
        if target_name is None:
            key = given_key
            display = memory.display_name(key) if key in memory.hosts else given_name
        else:
            found = resolve_host(memory, target_name, scope, given_key)
            key = found if found is not None else _unknown_key(memory, target_name)
            display = memory.display_name(key) if found is not None else target_name
            if found is not None and script.text and memory.traits(key).get("shell_type"):
                script = parse_for_host(memory, key, script.text)
        target = _Target(key, display, script, chain)
        _evaluate(memory, target)
        evaluated.append(target)
    best = max(evaluated, key=lambda t: (_verdict_of(t)[0], len(t.findings)))
    return _result(memory, best, outer, command)


def _verdict_of(target: _Target) -> tuple[int, str]:
    if not target.findings:
        return 0, ALLOW
    top = max(target.findings, key=lambda f: _RANK[f.verdict])
    return _RANK[top.verdict], top.verdict


def _evaluate(memory: Memory, target: _Target) -> None:
    script, key = target.script, target.key
    name = target.display or "this machine"
    norm = normalize_command(script)
    keys = command_keys(script)
    last_exact = memory.exact.get((key, norm))
    exact_success_after = -1
    seen: set[str] = set()
    if last_exact is not None:
        last = memory.commands[last_exact]
        if last.succeeded:
            exact_success_after = last.index
            target.notes.append(f"This exact command succeeded on {name} before ({_when(last.at)}).")
        elif last.is_transient or (last.failure_class in TRANSIENT_CLASSES):
            p = memory.patterns.get(last.pattern_id or "")
            target.notes.append(explain.transient_reason(p, name, last.failure_class or "transient"))
        elif exact_blocks(memory, last):
            p = memory.patterns.get(last.pattern_id or "")
            if p is not None and p.is_active:
                ev = p.hosts.get(key)
                if ev is not None and ev.resolved_at is None:
                    seen.add(p.id)
                    conf = block_confidence(p, key)
                    target.findings.append(
                        _Finding(BLOCK, p, conf, explain.block_reason(p, name, ev, True), exact=True)
                    )
        else:
            target.notes.append(
                f"It failed on {name} before with an error we could not classify; not blocked."
            )
    for k in keys:
        for pid in memory.by_culprit.get(k, ()):
            if pid in seen:
                continue
            seen.add(pid)
            p = memory.patterns[pid]
            if not culprit_blocks(p):
                continue
            assert p.culprit is not None
            if not contains_culprit(p.culprit, keys, script) or already_fixed(p, script):
                continue
            ev = p.hosts.get(key)
            if ev is not None and ev.resolved_at is None:
                if exact_success_after > ev.last_index:
                    continue  # this very command worked after the failure
                conf = block_confidence(p, key)
                target.findings.append(_Finding(BLOCK, p, conf, explain.block_reason(p, name, ev, False)))
                continue
            if key in p.success_hosts or ev is not None:
                target.notes.append(f"{_cap(p.culprit.describe())} failed elsewhere but worked on {name}.")
                continue
            if p.failure_class not in CAPABILITY_CLASSES:
                continue  # the state of another host (its files, accounts, settings) is its own
            match = match_traits(p, key, memory.traits(key), memory.traits)
            if match is not None:
                names = [memory.display_name(h) or "local" for h in match.hosts]
                reason = explain.warn_reason(p, name, match, names)
                target.findings.append(_Finding(WARN, p, match.confidence, reason, match=match))
    if exact_success_after < 0:
        _same_command_alike(memory, target, norm, key, name, seen)


def _same_command_alike(
    memory: Memory, target: _Target, norm: str, key: str, name: str, seen: set[str]
) -> None:
    """The very command failed on a host alike for what the platform cannot do (a capability
    class): warn, as for a culprit, when its culprit is none the command shows (a parameter
    inside the script it runs, a statement shape, an option order) and so finds no key."""
    for index in memory.failed_commands.get(norm, ()):
        rec = memory.commands[index]
        p = memory.patterns.get(rec.pattern_id or "")
        if rec.host == key or p is None or p.id in seen:
            continue
        seen.add(p.id)
        if not p.is_active or p.is_transient or p.failure_class not in _ALIKE_CLASSES:
            continue
        if key in p.success_hosts or key in p.hosts:
            continue
        match = match_traits(p, key, memory.traits(key), memory.traits)
        if match is not None:
            names = [memory.display_name(h) or "local" for h in match.hosts]
            reason = explain.warn_reason(p, name, match, names)
            target.findings.append(_Finding(WARN, p, match.confidence, reason, match=match))


def exact_blocks(memory: Memory, rec: CommandRecord) -> bool:
    """Whether the exact repeat of a failed record is stopped on its host: every failure that
    is not transient — an unclassified one too, when it printed words to go by (a silent
    non-zero exit is a search that found nothing as often as a failure)."""
    if rec.succeeded or rec.is_transient or rec.failure_class in TRANSIENT_CLASSES:
        return False
    if rec.failure_class in CAPABILITY_CLASSES or rec.failure_class in STATE_CLASSES:
        return True
    p = memory.patterns.get(rec.pattern_id or "")
    return p is not None and _WORDS.search(p.fingerprint.normalized_message) is not None


def culprit_blocks(p: FailurePattern) -> bool:
    """Whether a pattern's culprit stops other commands that contain it (on the hosts it failed
    on; capability classes also warn on hosts alike): what the host cannot do, and a refusal
    or a setting of the host that named what it refused (the account's program, the script)."""
    if not p.is_active or p.is_transient or p.culprit is None:
        return False
    return p.failure_class in CAPABILITY_CLASSES or p.failure_class in STATE_CLASSES


# What the very command failing on a host alike warns about: what the platform cannot do, and
# a failure no rule could read (the rule: an unknown class is evidence for caution).
_ALIKE_CLASSES = CAPABILITY_CLASSES | {UNKNOWN}

_WORDS = lazy(r"[^\W\d_]{3}")  # three letters of any script: localized messages have words too


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _when(at: object) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if hasattr(at, "strftime") else "earlier"


def _result(memory: Memory, target: _Target, outer: Script, command: str) -> CheckResult:
    if not target.findings:
        reason = " ".join(target.notes) or "No recorded failure matches this command on this host."
        return CheckResult(target.display, command, ALLOW, None, reason)
    findings = sorted(
        target.findings,
        key=lambda f: (
            _RANK[f.verdict],
            _CONFIDENCE_RANK.get(f.confidence, 0),
            bool(f.pattern.fixes),
            f.pattern.occurrence_count,
        ),
        reverse=True,
    )
    top = findings[0]
    verdict = top.verdict
    suggestions: list[str] = []
    for f in findings:
        if f.verdict != verdict:
            continue
        for s in _suggestions(memory, f, target, outer):
            if s not in suggestions and s.strip() != command.strip():
                suggestions.append(s)
    ids = tuple(dict.fromkeys(f.pattern.id for f in findings))
    reason = top.reason
    if len(findings) > 1:
        reason += f" ({len(findings) - 1} more pattern(s) match.)"
    return CheckResult(
        target.display, command, verdict, top.confidence, reason, tuple(suggestions[:MAX_SUGGESTIONS]), ids
    )


def _ordered_fixes(finding: _Finding, key: str, script: Script) -> list[FixObservation]:
    """The pattern's fixes, the one whose failed command did the most like this one first (the
    same verb: systemctl enable → chkconfig, systemctl restart → service), then those seen on
    this host, then on hosts alike, newest first."""
    fixes = list(reversed(finding.pattern.fixes))
    near = set(finding.match.hosts) if finding.match else set()
    words = _words_of(script.text)
    return sorted(
        fixes,
        key=lambda fx: (
            -len(words & _words_of(fx.failed_command)),
            0 if fx.host == key else (1 if fx.host in near else 2),
        ),
    )


def _words_of(text: str) -> set[str]:
    return {w for w in text.lower().split() if len(w) >= 2}


def _adapt_nested(failed: Script, fixed: Script, script: Script, pattern: FailurePattern) -> str | None:
    """The fix transplanted into a same-host nested script (``sudo bash -c '…'``) and wrapped back."""
    for nested in script.nested:
        if nested.host is not None or nested.start == nested.end:
            continue
        culprit = pattern.culprit
        if culprit is not None and not contains_culprit(culprit, command_keys(nested.script), nested.script):
            continue
        inner = adapt(failed, fixed, nested.script)
        if inner is not None:
            return rewrap(script, (nested,), inner)
    return None


def _suggestions(memory: Memory, finding: _Finding, target: _Target, outer: Script) -> list[str]:
    out: list[str] = []
    for fix in _ordered_fixes(finding, target.key, target.script):
        failed = parse_cached(fix.failed_command, fix.dialect)
        fixed = parse_cached(fix.fix_command, fix.dialect)
        adapted = adapt(failed, fixed, target.script)
        if adapted is None:
            adapted = _adapt_nested(failed, fixed, target.script, finding.pattern)
        if adapted is not None:
            out.append(rewrap(outer, target.chain, adapted))
        out.append(rewrap(outer, target.chain, fix.fix_command))
    return out
