"""Learning: record a command's result, group failures into patterns, and learn the fix.

:func:`record` is the one way memory grows. A failure is classified, its culprit found, its
fingerprint computed and it joins (or starts) a pattern. A success is evidence: it resolves
patterns whose culprit it contains on that host, refutes the traits of hosts where it worked,
and may be the *fix* of a recent deterministic failure on the same host — the next successful
command, in the same session or soon after, that does the same job (similar arguments) without
the culprit.

A fix is kept as the pair (failed command, fixing command); ``edits`` reads the culprit off the
edit when the error named none, and transplants the edit onto new commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from mspmode.engine import explain
from mspmode.engine.changes import PATH, Target, changes_in, lifts
from mspmode.engine.classify import (
    CAPABILITY_CLASSES,
    CONFIGURATION_ERROR,
    STATE_CLASSES,
    UNKNOWN,
    Classification,
    classify,
)
from mspmode.engine.culprit import (
    COMMAND,
    SUBCOMMAND,
    Culprit,
    contains_culprit,
    has_words,
)
from mspmode.engine.culprit_find import find_culprit
from mspmode.engine.edits import added_words, already_fixed, culprit_from_edit, inserts_after
from mspmode.engine.fingerprint import Fingerprint, error_pattern, fingerprint
from mspmode.engine.generalize import (
    add_failing_host,
    add_success_host,
    distinguishing_traits,
    pattern_confidence,
    platform,
    remove_failing_host,
    trait_features,
)
from mspmode.engine.keys import SHORTCUTS, command_keys, positionals, proven_keys, scripts_of
from mspmode.engine.lazyre import lazy
from mspmode.engine.memory import (
    LOCAL,
    CommandRecord,
    FailurePattern,
    FixObservation,
    Host,
    HostEvidence,
    HostScope,
    Memory,
    add_host,
    utc,
)
from mspmode.engine.normalize import clean_output, normalize_command
from mspmode.engine.reading import Reading, host_for, parse_for_host, read_command
from mspmode.engine.struct import field, struct
from mspmode.engine.tokenize import (
    WORD,
    Script,
    parse_cached,
)

TYPE_CHECKING = False  # typing costs a pre-check hook 5 ms of imports
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "FIX_WINDOW",
    "SESSION_WINDOW",
    "Learned",
    "fixed_key",
    "ingest",
    "record",
    "refresh_pattern",
    "similarity",
    "take_touched",
]

FIX_WINDOW = timedelta(minutes=30)  # a fix in another session must come this soon after
SESSION_WINDOW = timedelta(hours=8)  # … and within the same session, this soon
FIX_SIMILARITY = 0.5
PENDING_PER_HOST = 20
MAX_TRIGGERING = 10
MAX_MESSAGES = 5
FAILURE_OUTPUT_KEPT = 4_000  # characters of a failure's output kept without ``keep_outputs``
_NAMESPACE = "6f1c1e4e-5b7a-4f0e-9a7e-3d1f0c2b8a11"


def _pattern_id(group: str) -> str:
    """A pattern's id: the same group gives the same id on every machine and every replay."""
    import uuid  # here, not at the top: it loads ``platform``, 4 ms of every pre-check hook

    return str(uuid.uuid5(uuid.UUID(_NAMESPACE), group))


@struct
class Learned:
    """What one :func:`record` call learned."""

    record: CommandRecord
    classification: Classification | None = None
    culprit: Culprit | None = None
    fingerprint: Fingerprint | None = None
    pattern_id: str | None = None
    new_pattern: bool = False
    fixes: list[str] = field(default_factory=list)  # patterns whose fix this success is
    resolved: list[str] = field(default_factory=list)  # patterns this success resolved on the host
    refined: list[str] = field(default_factory=list)  # patterns whose culprit the fix revealed


# --------------------------------------------------------------------------------------------
# Recording


def record(
    memory: Memory,
    host: str | Host | None,
    command: str,
    exit_code: int | None,
    output: str | bytes | None,
    at: datetime | str | None = None,
    session: str | None = None,
    reading: Reading | None = None,
    scope: HostScope | None = None,
) -> Learned:
    """Record one command run on ``host`` (None: the local machine, or the target its wrapper
    names; a :class:`Host` when the caller knows which) and learn from it. Never raises on odd
    input. ``reading``: what ``reading.read_ahead`` made of this command, exit code and output,
    if it ran before. ``scope``: whose hosts the names in it may mean (None: every host's)."""
    command = command if isinstance(command, str) else ("" if command is None else str(command))
    if exit_code is not None and not isinstance(exit_code, int):
        try:
            exit_code = int(exit_code)
        except (TypeError, ValueError):
            exit_code = None
    session = None if session is None else str(session)
    when = utc(at)
    given = host_for(memory, host, scope)
    dialects, key, effective = read_command(memory, given, command, host_for, scope)
    assert key is not None
    if reading is not None:
        out, classification = reading.output, reading.classification
        ahead = reading if reading.dialects == dialects else None
    else:
        out = clean_output(output)
        classification = classify(exit_code, out)
        ahead = None
    rec = CommandRecord(
        index=len(memory.commands),
        host=key,
        command=command,
        exit_code=exit_code,
        # A failure's words are read again when its fix is transplanted onto another failure.
        output=out if memory.keep_outputs else (out[:FAILURE_OUTPUT_KEPT] if classification else ""),
        at=when,
        session=session,
        effective=effective.text,
        dialect=effective.dialect,
        normalized=normalize_command(effective),
        failure_class=classification.failure_class if classification else None,
        is_transient=classification.is_transient if classification else False,
        previous_on_host=memory.last_on_host.get(key, -1),
    )
    memory.commands.append(rec)
    memory.last_on_host[key] = rec.index
    learned = Learned(record=rec, classification=classification)
    if classification is None:
        _learn_from_success(memory, rec, effective, learned)
    else:
        _learn_from_failure(memory, rec, effective, classification, out, learned, ahead)
    memory.exact[(key, rec.normalized)] = rec.index
    if classification is not None and not rec.is_transient:
        memory.failed_commands.setdefault(rec.normalized, []).append(rec.index)
    return learned


def ingest(memory: Memory, event: Mapping[str, Any]) -> Learned | Host | None:
    """Apply one history line of the import format (``kind`` host / command); other kinds
    (client, check, unknown) are ignored and give None."""
    kind = event.get("kind")
    if kind == "host":
        name = event.get("hostname") or event.get("name")
        if not isinstance(name, str) or not name.strip():
            return None
        traits = {k: v for k, v in event.items() if k not in ("kind", "hostname", "name")}
        aliases = event.get("aliases") or []
        return add_host(
            memory,
            name,
            traits,
            aliases=[a for a in aliases if isinstance(a, str)] if isinstance(aliases, list) else [],
            ip_address=event.get("ip_address") if isinstance(event.get("ip_address"), str) else None,
            fqdn=event.get("fqdn") if isinstance(event.get("fqdn"), str) else None,
            client=event.get("client") if isinstance(event.get("client"), str) else None,
        )
    if kind == "command":
        return record(
            memory,
            event.get("host"),
            event.get("command") or "",
            event.get("exit_code"),
            event.get("output"),
            event.get("at"),
            event.get("session"),
        )
    return None


def _learn_from_failure(
    memory: Memory,
    rec: CommandRecord,
    script: Script,
    classification: Classification,
    output: str,
    learned: Learned,
    ahead: Reading | None = None,
) -> None:
    cls = classification.failure_class
    culprit = ahead.culprit if ahead is not None else find_culprit(classification, output, script)
    pattern: FailurePattern | None = None
    if culprit is None and cls in CAPABILITY_CLASSES:
        pattern = _explained_by_known_culprit(memory, script, cls)
        if pattern is not None:
            culprit = pattern.culprit
    if ahead is not None and ahead.fingerprint is not None and culprit is ahead.culprit:
        fp = ahead.fingerprint
    else:
        fp = fingerprint(cls, culprit, output)
    group = _group(cls, culprit, fp, memory.traits(rec.host))
    if culprit is None and not _HAS_WORD.search(fp.normalized_message):
        # A failure that printed nothing (or no word) is told apart only by what ran: one
        # pattern per program, not one for every silent failure of any command.
        programs = {SHORTCUTS.get(seg.program, seg.program) for seg in script.segments if seg.program}
        group += "|" + "+".join(sorted(programs))
    if pattern is None:
        pid = memory.by_group.get(group)
        pattern = memory.patterns.get(pid) if pid else None
    if pattern is None:
        pattern = FailurePattern(
            id=_pattern_id(group),
            group_key=group,
            failure_class=cls,
            is_transient=classification.is_transient,
            culprit=culprit,
            fingerprint=fp,
            pattern_type=classification.pattern_type,
            severity=classification.severity,
            shape=classification.rule,
            first_seen=rec.at,
            last_seen=rec.at,
        )
        memory.patterns[pattern.id] = pattern
        memory.by_group[group] = pattern.id
        if culprit is not None:
            memory.by_culprit.setdefault(culprit.key, []).append(pattern.id)
            _seed_evidence(memory, pattern, rec.host)
        learned.new_pattern = True
    memory.by_group.setdefault(group, pattern.id)
    memory.by_fingerprint.setdefault(fp.message_hash, set()).add(pattern.id)

    pattern.occurrence_count += 1
    pattern.last_seen = rec.at or pattern.last_seen
    pattern.first_seen = pattern.first_seen or rec.at
    pattern.is_active = True
    ev = pattern.hosts.get(rec.host)
    if ev is None:
        pattern.hosts[rec.host] = HostEvidence(
            rec.host, rec.at, rec.at, 1, rec.effective, last_index=rec.index
        )
        pattern.host_count += 1
        add_failing_host(pattern, rec.host, memory.traits(rec.host))
    else:
        if ev.resolved_at is not None:
            pattern.host_count += 1
            add_failing_host(pattern, rec.host, memory.traits(rec.host))
        ev.count += 1
        ev.last_seen = rec.at or ev.last_seen
        ev.last_command = rec.effective
        ev.last_index = rec.index
        ev.resolved_at = None
        ev.resolved_by = None
    if rec.host in pattern.success_hosts:
        # It worked here once and fails now: the newer observation wins.
        pattern.success_hosts.discard(rec.host)
        pattern.refuted = set()
        for other in pattern.success_hosts:
            pattern.refuted.update(trait_features(memory.traits(other)))
    _remember(pattern.triggering_commands, rec.effective, MAX_TRIGGERING)
    _remember(pattern.typical_error_messages, _first_error_line(output), MAX_MESSAGES)

    rec.culprit = culprit
    rec.pattern_id = pattern.id
    learned.culprit = culprit
    learned.fingerprint = fp
    learned.pattern_id = pattern.id
    if cls in CAPABILITY_CLASSES or cls in STATE_CLASSES or cls == UNKNOWN:
        # An unclassified failure can be fixed too (git push without upstream → --set-upstream):
        # its fix is learned, though the pre-check never blocks on it.
        pend = memory.pending.setdefault(rec.host, [])
        pend.append(rec.index)
        del pend[:-PENDING_PER_HOST]
    refresh_pattern(memory, pattern)


def _group(cls: str, culprit: Culprit | None, fp: Fingerprint, traits: Mapping[str, Any]) -> str:
    """What makes failures one pattern: the class and the culprit (its token run too) on one
    platform — ``grep -P`` refused by BusyBox and by macOS are two failures, each with its own
    fix — or, without a culprit, the class and the normalised message."""
    if culprit is None:
        return f"{cls}|{fp.message_hash}"
    what = culprit.key + ("|" + " ".join(culprit.sequence) if culprit.kind == "syntax" else "")
    where = culprit.where or platform(traits)
    return f"{cls}|{what}" + (f"|{where}" if where else "")


def _explained_by_known_culprit(memory: Memory, script: Script, cls: str) -> FailurePattern | None:
    """A failure whose message names nothing may still be one we know: a pattern of the same
    class whose culprit (learned from an earlier fix) this command contains."""
    keys = command_keys(script)
    for key in sorted(keys):
        for pid in memory.by_culprit.get(key, ()):
            p = memory.patterns[pid]
            known = p.failure_class == cls and p.culprit and contains_culprit(p.culprit, keys, script)
            if known and not already_fixed(p, script):
                return p
    return None


def _seed_evidence(memory: Memory, pattern: FailurePattern, failing_host: str) -> None:
    """A new pattern learns at once from earlier successes of its culprit on other hosts."""
    assert pattern.culprit is not None
    for host, idx in memory.successes.get(pattern.culprit.key, {}).items():
        if host == failing_host:
            continue
        rec = memory.commands[idx]
        script = parse_for_host(memory, host, rec.effective)
        if contains_culprit(pattern.culprit, command_keys(script), script) and not already_fixed(
            pattern, script
        ):
            add_success_host(pattern, host, memory.traits(host))


def _learn_from_success(memory: Memory, rec: CommandRecord, script: Script, learned: Learned) -> None:
    keys = proven_keys(script)
    all_keys = command_keys(script)
    for change in changes_in(script):
        _release(memory, rec, learned, change)
    # A fix first: a success that is the failed command with something added has the culprit
    # and is no sign the failure went away.
    _learn_fixes(memory, rec, script, all_keys, learned)
    for key in keys:
        memory.successes.setdefault(key, {})[rec.host] = rec.index
        for pid in memory.by_culprit.get(key, ()):
            p = memory.patterns[pid]
            if p.culprit is None or p.is_transient or not contains_culprit(p.culprit, keys, script):
                continue
            if already_fixed(p, script):
                continue
            ev = p.hosts.get(rec.host)
            if ev is not None:
                if ev.resolved_at is None:
                    ev.resolved_at = rec.at or ev.last_seen
                    ev.resolved_by = rec.command
                    p.host_count -= 1
                    remove_failing_host(p, rec.host)
                    learned.resolved.append(p.id)
                    refresh_pattern(memory, p)
            elif rec.host not in p.success_hosts:
                add_success_host(p, rec.host, memory.traits(rec.host))
                refresh_pattern(memory, p)


def _release(memory: Memory, rec: CommandRecord, learned: Learned, change: Target) -> None:
    """Resolve on the host every open failure the state change lifts (changes.STATE_CHANGES)."""
    for p in memory.patterns.values():
        ev = p.hosts.get(rec.host)
        if ev is None or ev.resolved_at is not None:
            continue
        failed = memory.commands[ev.last_index] if 0 <= ev.last_index < len(memory.commands) else None
        where = p.culprit.where if p.culprit is not None else ""
        program = p.culprit.program if p.culprit is not None else None
        if not lifts(
            change,
            p.shape,
            p.failure_class,
            where,
            parse_for_host(memory, rec.host, ev.last_command) if change.change.named == PATH else None,
            failed.output if failed is not None else "",
            program,
        ):
            continue
        ev.resolved_at = rec.at or ev.last_seen
        ev.resolved_by = rec.command
        p.host_count -= 1
        remove_failing_host(p, rec.host)
        learned.resolved.append(p.id)
        refresh_pattern(memory, p)


# --------------------------------------------------------------------------------------------
# Learning the fix


def _soon_after(failed: CommandRecord, fix: CommandRecord) -> bool:
    if failed.at is not None and fix.at is not None:
        delta = fix.at - failed.at
        if delta < timedelta(0):
            return False
        if failed.session is not None and failed.session == fix.session:
            return delta <= SESSION_WINDOW
        return delta <= FIX_WINDOW
    # Without timestamps: the same session, or a record not far behind on the same host.
    if failed.session is not None and failed.session == fix.session:
        return True
    return fix.index - failed.index <= PENDING_PER_HOST * 3


def fixed_key(fix: FixObservation) -> str:
    """The failed command of ``fix`` as the exact-repeat index knows a command: a failure of
    that command finds the fix under it (:attr:`Memory.fixed_commands`)."""
    return normalize_command(parse_cached(fix.failed_command, fix.dialect))


def _learn_fixes(
    memory: Memory, rec: CommandRecord, script: Script, keys: frozenset[str], learned: Learned
) -> None:

    pend = memory.pending.get(rec.host)
    if not pend:
        return
    keep: list[int] = []
    for idx in pend:
        failed = memory.commands[idx]
        pattern = memory.patterns.get(failed.pattern_id or "")
        if pattern is None or not _soon_after(failed, rec):
            continue  # dropped: too old for a fix (or not a pattern any more)
        if failed.normalized == rec.normalized:
            continue  # the same command worked this time: not a fix, and nothing left to wait for
        culprit = pattern.culprit
        failed_script = parse_for_host(memory, rec.host, failed.effective)
        if (
            culprit is not None
            and contains_culprit(culprit, keys, script)
            and not already_fixed(pattern, script)
            and not (
                # the very next try in the session kept the culprit and added something to it
                # (a module imported first, the program's full path, --user): a fix, not a sign
                # that it works now as it was
                added_words(failed_script, script) and _next_in_session(memory, failed, rec)
            )
            and not _reordered(failed_script, script)
        ):
            keep.append(idx)  # the culprit ran again as it was: no fix (and it worked, or not)
            continue
        sim = similarity(failed_script, script)
        alike = sim >= FIX_SIMILARITY and _same_job(failed_script, script, pattern)
        if not alike and not _next_in_session(memory, failed, rec):
            keep.append(idx)
            continue
        inserts = inserts_after(failed_script, script, pattern.culprit)
        pattern.fixes.append(
            FixObservation(
                rec.host,
                failed.effective,
                rec.effective,
                rec.at,
                rec.session,
                sim,
                rec.dialect,
                inserts,
                failed_index=failed.index,
                fix_index=rec.index,
                added=added_words(failed_script, script),
            )
        )
        pattern.fix_observed = True
        pattern.last_fix_at = rec.at
        memory.fixed_commands.setdefault(fixed_key(pattern.fixes[-1]), set()).add(pattern.id)
        memory.fixed_by_class.setdefault(pattern.failure_class, set()).add(pattern.id)
        learned.fixes.append(pattern.id)
        if pattern.culprit is None and pattern.failure_class in _REFINED_CLASSES:
            refined = culprit_from_edit(failed_script, script)
            if refined is not None and _adoptable(memory, pattern, refined, failed):
                _rekey(memory, pattern, refined)
                pattern.fixes[-1].inserts = inserts_after(failed_script, script, refined)
                learned.refined.append(pattern.id)
        if pattern.culprit is not None:
            pattern.fixes[-1].kept = contains_culprit(pattern.culprit, keys, script) or bool(
                pattern.culprit.absent
            )
        refresh_pattern(memory, pattern)
    memory.pending[rec.host] = keep


# Classes whose culprit a fix may reveal: what the host can do, and a setting of the host that
# a fix only had to add something to get past (Invoke-WebRequest … -UseBasicParsing).
_REFINED_CLASSES = CAPABILITY_CLASSES | {CONFIGURATION_ERROR}


def _adoptable(memory: Memory, pattern: FailurePattern, culprit: Culprit, failed: CommandRecord) -> bool:
    """Whether a culprit read off a fix may stand for the failure: never a whole program that
    worked on the host before it failed (then only the exact command is known to fail), and
    for a setting of the host only "the command without what the fix added"."""
    if pattern.failure_class == CONFIGURATION_ERROR and not culprit.absent:
        return False
    if culprit.kind == COMMAND and culprit.key.startswith("use:"):
        before = memory.successes.get(culprit.key, {}).get(failed.host)
        if before is not None and before < failed.index:
            worked = parse_for_host(memory, failed.host, memory.commands[before].effective)
            if not (culprit.absent and contains_absent(worked, culprit.absent)):
                return False
    return True


def contains_absent(script: Script, words: tuple[str, ...]) -> bool:
    return has_words(script, words)


def _reordered(failed: Script, fix: Script) -> bool:
    """The fix has the failed command's very words in another order (a flag moved before the
    file name, ln's source and target swapped): the order was what failed."""
    a = [t.text for t in failed.tokens]
    b = [t.text for t in fix.tokens]
    return a != b and sorted(a) == sorted(b)


# Bare commands that change what the session may do: a network device's privileged mode, a
# root shell. Run right after a failure they are the next try at the job, not a look around.
MODE_STEPS: frozenset[str] = frozenset({"enable", "en", "su", "sudo", "doas"})


def _next_in_session(memory: Memory, failed: CommandRecord, fix: CommandRecord) -> bool:
    """Whether ``fix`` is what was run next on that host in the failure's session: the order of
    the work says it was the next try at the same job, however different its words."""
    if failed.session is None or failed.session != fix.session:
        return False
    words = fix.effective.split()
    mode_step = len(words) == 1 and words[0].lower() in MODE_STEPS
    if not words[1:] and not mode_step and failed.effective.split()[1:]:
        return False  # a bare command after a call with arguments (uptime) is a look around
    return fix.previous_on_host == failed.index


def _programs(script: Script) -> set[str]:
    names: set[str] = set()
    for seg in script.segments:
        if seg.program:
            names.add(seg.program)
        names.update(seg.wrappers)
    return names


def _same_job(failed: Script, fix: Script, pattern: FailurePattern) -> bool:
    """A fix runs the same program, or replaces a program (or its subcommand) that is itself
    the culprit (``docker compose`` → ``docker-compose``)."""
    if pattern.culprit is not None and pattern.culprit.kind in (COMMAND, SUBCOMMAND):
        return True
    return bool(_programs(failed) & _programs(fix))


_AT_LINE = lazy(r"^At line:\d+")
_HAS_WORD = lazy(r"[A-Za-z]{2}")
_PIECE = lazy(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def _pieces(script: Script) -> frozenset[str]:
    cached = script.memo.get("pieces")
    if isinstance(cached, frozenset):
        return cached
    out: set[str] = set()
    for sub in scripts_of(script):
        for tok in sub.tokens:
            if tok.kind == WORD:
                out.update(p.lower() for p in _PIECE.findall(tok.value) if len(p) >= 2)
    result = frozenset(out)
    script.memo["pieces"] = result
    return result


def _args(script: Script) -> tuple[str, ...]:
    cached = script.memo.get("args")
    if isinstance(cached, tuple):
        return cached
    args: list[str] = []
    for seg in script.segments:
        if seg.program is not None:
            args.extend(w.value.lower() for w in positionals(seg) if w.value)
    result = tuple(args)
    script.memo["args"] = result
    return result


def similarity(failed: Script, other: Script) -> float:
    """How much ``other`` does the job of ``failed``: the share of the failed command's
    arguments (all of them, or all but a leading verb) it also has, or of the word pieces
    (``Get-LocalUser`` → get, local, user) when there are no arguments to compare."""
    fa, oa = _args(failed), set(_args(other))
    scores = [0.0]
    if fa:
        scores.append(sum(1 for a in fa if a in oa) / len(fa))
        if len(fa) >= 2:
            scores.append(sum(1 for a in fa[1:] if a in oa) / (len(fa) - 1))
    fp, op = _pieces(failed), _pieces(other)
    if fp:
        scores.append(len(fp & op) / len(fp))
    return max(scores)


def _remember(items: list[str], item: str, limit: int) -> None:
    if item and item not in items:
        items.append(item)
        del items[:-limit]


def _first_error_line(output: str) -> str:
    for line in output.splitlines():
        s = line.strip()
        if s and not s.startswith("+ ") and not _AT_LINE.match(s):
            return s[:300]
    return output.strip()[:300]


def _rekey(memory: Memory, pattern: FailurePattern, culprit: Culprit) -> None:
    pattern.culprit = culprit
    memory.by_culprit.setdefault(culprit.key, []).append(pattern.id)
    traits = memory.traits(next(iter(pattern.hosts), LOCAL))
    memory.by_group.setdefault(
        _group(pattern.failure_class, culprit, pattern.fingerprint, traits), pattern.id
    )
    _seed_evidence(memory, pattern, next(iter(pattern.hosts), LOCAL))


# --------------------------------------------------------------------------------------------
# Derived columns


def refresh_pattern(memory: Memory, pattern: FailurePattern) -> None:
    """Note that the pattern changed and bring its schema columns up to date with its state
    (with ``memory.lazy_refresh``, only what the pre-check reads; the text when taken)."""
    memory.touched.add(pattern.id)
    # host_count (the hosts where it still fails) is kept as evidence comes and goes.
    pattern.is_active = pattern.host_count > 0 or pattern.is_transient
    if not memory.lazy_refresh:
        _refresh_columns(memory, pattern, pattern.active_hosts())


def take_touched(memory: Memory) -> list[FailurePattern]:
    """The patterns changed since the last call, with every column current; forgets them."""
    taken = [memory.patterns[pid] for pid in sorted(memory.touched) if pid in memory.patterns]
    memory.touched.clear()
    if memory.lazy_refresh:
        for pattern in taken:
            _refresh_columns(memory, pattern, pattern.active_hosts())
    return taken


def _refresh_columns(memory: Memory, pattern: FailurePattern, active: list[str]) -> None:
    pattern.confidence_level = pattern_confidence(pattern)
    pattern.distinguishing_traits = distinguishing_traits(pattern)
    pattern.error_message_hash = pattern.fingerprint.message_hash
    pattern.error_pattern = error_pattern(pattern.fingerprint.normalized_message, pattern.culprit_text)
    pattern.affected_systems = [memory.display_name(h) or "local" for h in active]
    versions: list[str] = []
    for h in active:
        t = memory.traits(h)
        label = " ".join(str(t[k]) for k in ("os", "os_version") if t.get(k))
        if label and label not in versions:
            versions.append(label)
    pattern.affected_os_versions = versions
    pattern.workaround_commands = list(dict.fromkeys(f.fix_command for f in reversed(pattern.fixes)))[:5]
    pattern.alternative_approaches = pattern.workaround_commands[1:]
    pattern.pattern_signature = explain.signature(pattern)
    pattern.failure_description = explain.failure_description(pattern)
    pattern.root_cause = explain.root_cause(pattern)
    pattern.recommended_solution = explain.recommended_solution(pattern)
