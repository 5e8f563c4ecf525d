"""Learning: record a command's result, group failures into patterns, and learn the fix.

:func:`record` is the one way memory grows. A failure is classified, its culprit found, its
fingerprint computed and it joins (or starts) a pattern. A success is evidence: it resolves
patterns whose culprit it contains on that host, refutes the traits of hosts where it worked,
and may be the *fix* of a recent deterministic failure on the same host — the next successful
command, in the same session or soon after, that does the same job (similar arguments) without
the culprit.

A fix is kept as the pair (failed command, fixing command). :func:`adapt` transplants that edit
onto a new command: tokens the fix kept from the failed command are slots filled from the new
command, tokens it added are literals (``sed -i X f`` → ``sed -i '' X f`` makes
``sed -i 's/a/b/' g`` into ``sed -i '' 's/a/b/' g``). When the fix rewrote everything there is
nothing to transplant and the fix is suggested as it was.
"""

from __future__ import annotations

import re
import shlex
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from typing import Any

from mspmode.engine import explain
from mspmode.engine.classify import CAPABILITY_CLASSES, STATE_CLASSES, UNKNOWN, Classification, classify
from mspmode.engine.culprit import (
    COMMAND,
    NONE,
    OPERATOR,
    OPTION,
    SUBCOMMAND,
    Culprit,
    command_keys,
    contains_culprit,
    find_culprit,
    option_keys,
    positionals,
    proven_keys,
    scripts_of,
)
from mspmode.engine.fingerprint import Fingerprint, error_pattern, fingerprint
from mspmode.engine.generalize import (
    add_failing_host,
    add_success_host,
    distinguishing_traits,
    pattern_confidence,
    remove_failing_host,
    trait_features,
)
from mspmode.engine.memory import (
    LOCAL,
    CommandRecord,
    FailurePattern,
    FixObservation,
    Host,
    HostEvidence,
    Memory,
    add_host,
    resolve_host,
    utc,
)
from mspmode.engine.normalize import clean_output, normalize_command
from mspmode.engine.tokenize import (
    OP,
    POSIX,
    POWERSHELL,
    WORD,
    Nested,
    Script,
    Token,
    dialect_for_shell,
    parse_cached,
    targets,
)

__all__ = [
    "FIX_WINDOW",
    "SESSION_WINDOW",
    "Learned",
    "adapt",
    "already_fixed",
    "culprit_from_edit",
    "dialect_of",
    "ingest",
    "parse_for_host",
    "record",
    "refresh_pattern",
    "rewrap",
    "similarity",
    "take_touched",
]

FIX_WINDOW = timedelta(minutes=30)  # a fix in another session must come this soon after
SESSION_WINDOW = timedelta(hours=8)  # … and within the same session, this soon
FIX_SIMILARITY = 0.5
PENDING_PER_HOST = 20
MAX_TRIGGERING = 10
MAX_MESSAGES = 5
_NAMESPACE = uuid.UUID("6f1c1e4e-5b7a-4f0e-9a7e-3d1f0c2b8a11")


@dataclass(slots=True)
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
# Hosts and dialects


def dialect_of(memory: Memory, key: str | None) -> str | None:
    if key is None:
        return None
    return dialect_for_shell(memory.traits(key).get("shell_type"))


def parse_for_host(memory: Memory, key: str | None, command: str) -> Script:
    """``command`` parsed in the dialect of the host's shell (guessed when unknown)."""
    return parse_cached(command, dialect_of(memory, key))


def _host_for(memory: Memory, name: str | None) -> str:
    if name is None or not str(name).strip():
        return LOCAL
    found = resolve_host(memory, str(name))
    if found is not None:
        return found
    return add_host(memory, str(name), auto_created=True).key


# --------------------------------------------------------------------------------------------
# Recording


def record(
    memory: Memory,
    host: str | None,
    command: str,
    exit_code: int | None,
    output: str | bytes | None,
    at: datetime | str | None = None,
    session: str | None = None,
) -> Learned:
    """Record one command run on ``host`` (None: the local machine, or the target its wrapper
    names) and learn from it. Never raises on odd input."""
    command = command if isinstance(command, str) else ("" if command is None else str(command))
    if exit_code is not None and not isinstance(exit_code, int):
        try:
            exit_code = int(exit_code)
        except (TypeError, ValueError):
            exit_code = None
    session = None if session is None else str(session)
    when = utc(at)
    given = _host_for(memory, host)
    script = parse_for_host(memory, given, command)
    target_name, effective, _chain = targets(script)[0]
    key = _host_for(memory, target_name) if target_name else given
    if target_name and dialect_of(memory, key):
        # Read the remote script the way its host's shell does, whoever named the host: a
        # replay from the store names the target itself and must learn the same thing.
        effective = parse_for_host(memory, key, effective.text)
    out = clean_output(output)
    classification = classify(exit_code, out)
    rec = CommandRecord(
        index=len(memory.commands),
        host=key,
        command=command,
        exit_code=exit_code,
        output=out if memory.keep_outputs else "",
        at=when,
        session=session,
        effective=effective.text,
        dialect=effective.dialect,
        normalized=normalize_command(effective),
        failure_class=classification.failure_class if classification else None,
        is_transient=classification.is_transient if classification else False,
    )
    memory.commands.append(rec)
    learned = Learned(record=rec, classification=classification)
    if classification is None:
        _learn_from_success(memory, rec, effective, learned)
    else:
        _learn_from_failure(memory, rec, effective, classification, out, learned)
    memory.exact[(key, rec.normalized)] = rec.index
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
) -> None:
    cls = classification.failure_class
    culprit = find_culprit(classification, output, script)
    pattern: FailurePattern | None = None
    if culprit is None and cls in CAPABILITY_CLASSES:
        pattern = _explained_by_known_culprit(memory, script, cls)
        if pattern is not None:
            culprit = pattern.culprit
    fp = fingerprint(cls, culprit, output)
    group = f"{cls}|{culprit.key}" if culprit else f"{cls}|{fp.message_hash}"
    if culprit is None and not _HAS_WORD.search(fp.normalized_message):
        # A failure that printed nothing (or no word) is told apart only by what ran: one
        # pattern per program, not one for every silent failure of any command.
        group += "|" + "+".join(sorted({seg.program for seg in script.segments if seg.program}))
    if pattern is None:
        pid = memory.by_group.get(group)
        pattern = memory.patterns.get(pid) if pid else None
    if pattern is None:
        pattern = FailurePattern(
            id=str(uuid.uuid5(_NAMESPACE, group)),
            group_key=group,
            failure_class=cls,
            is_transient=classification.is_transient,
            culprit=culprit,
            fingerprint=fp,
            pattern_type=classification.pattern_type,
            severity=classification.severity,
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
        add_failing_host(pattern, rec.host, memory.traits(rec.host))
    else:
        if ev.resolved_at is not None:
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
                    remove_failing_host(p, rec.host)
                    learned.resolved.append(p.id)
                    refresh_pattern(memory, p)
            elif rec.host not in p.success_hosts:
                add_success_host(p, rec.host, memory.traits(rec.host))
                refresh_pattern(memory, p)
    _learn_fixes(memory, rec, script, all_keys, learned)


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
        if (
            culprit is not None
            and contains_culprit(culprit, keys, script)
            and not already_fixed(pattern, script)
        ):
            keep.append(idx)
            continue
        failed_script = parse_for_host(memory, rec.host, failed.effective)
        sim = similarity(failed_script, script)
        if sim < FIX_SIMILARITY or not _same_job(failed_script, script, pattern):
            keep.append(idx)
            continue
        inserts = _inserts_after(failed_script, script, pattern.culprit)
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
            )
        )
        pattern.fix_observed = True
        pattern.last_fix_at = rec.at
        learned.fixes.append(pattern.id)
        if pattern.culprit is None and pattern.failure_class in CAPABILITY_CLASSES:
            refined = culprit_from_edit(failed_script, script)
            if refined is not None:
                _rekey(memory, pattern, refined)
                pattern.fixes[-1].inserts = _inserts_after(failed_script, script, refined)
                learned.refined.append(pattern.id)
        refresh_pattern(memory, pattern)
    memory.pending[rec.host] = keep


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


_AT_LINE = re.compile(r"^At line:\d+")
_HAS_WORD = re.compile(r"[A-Za-z]{2}")
_PIECE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


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


# --------------------------------------------------------------------------------------------
# Edits: culprit from a fix, "already fixed", transplanting a fix


def _flat(script: Script) -> list[Token]:
    return [t for t in script.tokens if not (t.kind == OP and t.text == "\n")]


def _roles(script: Script) -> dict[tuple[int, int], tuple[str, str | None]]:
    """(start, end) of each top-level word → (role, program): program / option / arg."""
    roles: dict[tuple[int, int], tuple[str, str | None]] = {}
    top = {(t.start, t.end) for t in script.tokens}
    for seg in script.segments:
        if seg.program is None:
            continue
        for i, w in enumerate(seg.words):
            span = (w.start, w.end)
            if span not in top:
                continue
            if i == seg.program_at:
                roles[span] = ("program", seg.program)
            elif i > seg.program_at and w.text.startswith(("-", "/")) and not w.quoted and len(w.text) > 1:
                roles[span] = ("option", seg.program)
            elif i > seg.program_at:
                roles.setdefault(span, ("arg", seg.program))
    return roles


def culprit_from_edit(failed: Script, fix: Script) -> Culprit | None:
    """The culprit a fix reveals when the error named none: the option it removed, replaced or
    added a value after, the operator it replaced, or the program it swapped."""
    f, x = _flat(failed), _flat(fix)
    roles = _roles(failed)
    ops = SequenceMatcher(None, [t.text for t in f], [t.text for t in x], autojunk=False).get_opcodes()
    for tag, i1, i2, _j1, _j2 in ops:
        if tag == "equal":
            continue
        touched = f[i1:i2] if tag in ("delete", "replace") else ([f[i1 - 1]] if i1 > 0 else [])
        for tok in touched:
            role, prog = roles.get((tok.start, tok.end), ("", None))
            if tok.kind in ("op", "redir"):
                return Culprit(OPERATOR, tok.text, "op:" + tok.text, rule="fix_edit")
            if role == "option" and prog:
                spelled = option_keys(tok, failed.dialect)[0]
                return Culprit(OPTION, tok.text, f"opt:{prog}:{spelled}", prog, rule="fix_edit")
            if role == "program" and prog and tag != "insert":
                return Culprit(COMMAND, tok.value, "cmd:" + prog, prog, rule="fix_edit")
    return None


def _rekey(memory: Memory, pattern: FailurePattern, culprit: Culprit) -> None:
    pattern.culprit = culprit
    memory.by_culprit.setdefault(culprit.key, []).append(pattern.id)
    memory.by_group.setdefault(f"{pattern.failure_class}|{culprit.key}", pattern.id)
    _seed_evidence(memory, pattern, next(iter(pattern.hosts), LOCAL))


def _inserts_after(
    failed: Script, fix: Script, culprit: Culprit | None
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Tokens the fix inserted right after the culprit token (``-i`` → ``-i ''``)."""
    if culprit is None or culprit.kind in (NONE,):
        return ()
    f, x = _flat(failed), _flat(fix)
    out: list[tuple[str, tuple[str, ...]]] = []
    ops = SequenceMatcher(None, [t.text for t in f], [t.text for t in x], autojunk=False).get_opcodes()
    for tag, i1, _i2, j1, j2 in ops:
        if tag == "insert" and i1 > 0 and f[i1 - 1].text == culprit.text:
            out.append((culprit.text, tuple(t.text for t in x[j1:j2])))
    return tuple(out)


def already_fixed(pattern: FailurePattern, script: Script) -> bool:
    """Whether the command already has the fix's edit (its culprit followed by what the fix
    inserted after it), so the culprit's presence is no longer a repeat of the failure."""
    for fix in pattern.fixes:
        for anchor, inserted in fix.inserts:
            n = len(inserted)
            for sub in scripts_of(script):
                toks = [t.text for t in _flat(sub)]
                for i, t in enumerate(toks):
                    if t == anchor and tuple(toks[i + 1 : i + 1 + n]) == inserted:
                        return True
    return False


def _pre(tokens: list[Token], j: int, text: str) -> str:
    if j == 0:
        return ""
    gap = text[tokens[j - 1].end : tokens[j].start]
    return gap if gap and not gap.strip() else (" " if gap or tokens[j].start > tokens[j - 1].end else "")


def adapt(failed: Script, fix: Script, new: Script) -> str | None:
    """The fix's edit applied to ``new``, or None when it cannot be transplanted (the fix
    rewrote the command, or ``new`` lacks the tokens the fix changed)."""
    f, x, n = _flat(failed), _flat(fix), _flat(new)
    if not f or not x or not n:
        return None
    xt, nt = [t.text for t in x], [t.text for t in n]
    # Compare as the shell does: PowerShell, cmd and SQL ignore case.
    fold = new.dialect != POSIX
    ft = [t.text.lower() if fold else t.text for t in f]
    xc = [t.lower() for t in xt] if fold else xt
    nc = [t.lower() for t in nt] if fold else nt
    fx = SequenceMatcher(None, ft, xc, autojunk=False).get_opcodes()
    if not any(tag == "equal" for tag, *_ in fx):
        return None
    image: list[list[int]] = [[] for _ in f]
    gap: list[list[int]] = [[] for _ in range(len(f) + 1)]
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, ft, nc, autojunk=False).get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                image[i1 + k].append(j1 + k)
        elif tag == "replace":
            # The ends match up (tar xvf foo.tar / tar --extract -f "foo bar.tar": the archive is
            # the last word of both); what the new command has more goes with the first word.
            extra = max(0, (j2 - j1) - (i2 - i1))
            for k, j in enumerate(range(j1, j2)):
                image[min(i1 + max(0, k - extra), i2 - 1)].append(j)
        elif tag == "insert":
            gap[i1].extend(range(j1, j2))
    # Tokens the fix moved (systemctl status X → service X status) are slots, not literals.
    removed = {i for tag, i1, i2, _j1, _j2 in fx if tag in ("delete", "replace") for i in range(i1, i2)}
    by_text: dict[str, list[int]] = {}
    for i in sorted(removed):
        by_text.setdefault(ft[i], []).append(i)
    moved: dict[int, int] = {}
    for tag, _i1, _i2, j1, j2 in fx:
        if tag in ("insert", "replace"):
            for j in range(j1, j2):
                cands = by_text.get(xc[j])
                if cands and len(cands) == 1 and cands[0] not in moved.values():
                    moved[j] = cands[0]
    moved_from = set(moved.values())

    pieces: list[tuple[str, str]] = []

    def emit_n(j: int) -> None:
        pieces.append((_pre(n, j, new.text), nt[j]))

    for tag, i1, i2, j1, j2 in fx:
        if tag == "equal":
            for i in range(i1, i2):
                for j in gap[i]:
                    emit_n(j)
                for j in image[i]:
                    emit_n(j)
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            # Token for token: transplant the changes to tokens the new command shares, keep the
            # new command's own data where it differs (apt-get install -y x → apk add y).
            same = 0
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                for k in gap[i]:
                    emit_n(k)
                if image[i] and all(nc[k] == ft[i] for k in image[i]):
                    pieces.append((_pre(x, j, fix.text), xt[j]))
                    same += 1
                elif len(image[i]) == 1 and (d := _derive(x[j], [f[i]], [image[i]], n, new.dialect)):
                    # The fix derived this word from the failed one (javac foo → javac foo.java):
                    # derive it the same way from the new command's word.
                    pieces.append((_pre(x, j, fix.text), d))
                    same += 1
                else:
                    for k in image[i]:
                        emit_n(k)
            if not same:
                return None
            continue
        for i in range(i1, i2):
            for j in gap[i]:
                emit_n(j)
            if i in moved_from:
                continue
            if any(nc[j] != ft[i] for j in image[i]):
                return None
        for j in range(j1, j2):
            if j in moved and image[moved[j]]:
                first = True
                for k in image[moved[j]]:
                    pieces.append((_pre(x, j, fix.text) if first else _pre(n, k, new.text), nt[k]))
                    first = False
            elif (copied := _copy_of(xc[j], ft, image)) is not None:
                # The fix repeated a word of the failed command (cd foo → mkdir -p foo && cd foo):
                # the new command's word goes there.
                pieces.append((_pre(x, j, fix.text), nt[copied]))
            elif derived := _derive(x[j], f, image, n, new.dialect):
                # … or a word derived from one (tar xf foo.tar → mkdir -p foo && …).
                pieces.append((_pre(x, j, fix.text), derived))
            else:
                if x[j].kind == WORD and xc[j] in nc and xc[j] not in ft:
                    return None  # the new command has that part of the fix already
                pieces.append((_pre(x, j, fix.text), xt[j]))
    for j in gap[len(f)]:
        emit_n(j)
    if not pieces:
        return None
    out = pieces[0][1]
    for pre, text in pieces[1:]:
        # A literal that started the fix now follows a token of the new command (sudo …), or a
        # token that started the new command follows a literal (mkdir -p foo && cd …).
        joined = _wordish(out[-1]) or out.endswith(("&&", "||", ";", "|"))
        if not pre and out and text and joined and _wordish(text[0]):
            pre = " "
        out += pre + text
    if " ".join(out.split()) == " ".join(new.text.split()):
        return None
    return out


def _copy_of(token: str, failed: list[str], image: list[list[int]]) -> int | None:
    """Where in the new command the one word of the failed command equal to ``token`` went
    (None when no word, or several, of the failed command are ``token``, or it has no single
    image, or the word is an operator)."""
    if not token or not _wordish(token[0]) or failed.count(token) != 1:
        return None
    seen = image[failed.index(token)]
    return seen[0] if len(seen) == 1 else None


_SEPARATORS = ".-_/:"


def _derivation(x: str, y: str) -> Callable[[str], str | None] | None:
    """How ``y`` was made from ``x``, as a function to make the same from another word: the same
    word, a suffix or a prefix added, or cut at a separator (foo.tar → foo). None: no relation."""
    if y == x:
        return lambda v: v
    # An affix joins at punctuation (foo → foo.java, foo.io → http://foo.io); letters added to a
    # word (base → rebase, log → login) are a different word, not a derivation.
    if len(x) >= 3 and len(y) > len(x) and y.startswith(x) and not y[len(x)].isalnum():
        suffix = y[len(x) :]
        return lambda v: v + suffix
    if len(x) >= 3 and len(y) > len(x) and y.endswith(x) and not y[-len(x) - 1].isalnum():
        prefix = y[: -len(x)]
        return lambda v: prefix + v
    if len(y) >= 2 and len(x) > len(y) and x.startswith(y) and x[len(y)] in _SEPARATORS:
        sep = x[len(y)]
        return lambda v: v[: v.index(sep, 1)] if sep in v[1:] else None
    return None


def _derive(
    token: Token, failed: list[Token], image: list[list[int]], new: list[Token], dialect: str
) -> str | None:
    """``token`` of a fix made again from the new command, when it was made from exactly one
    word of the failed command (quoted for the shell where the result needs it)."""
    if token.kind != WORD or not token.value:
        return None
    results: set[str] = set()
    for i, tok in enumerate(failed):
        if tok.kind != WORD or len(image[i]) != 1 or tok.text.startswith("-"):
            continue
        how = _derivation(tok.value, token.value)
        if how is None:
            continue
        made = how(new[image[i][0]].value)
        if not made:
            return None
        results.add(made)
    if len(results) != 1:
        return None
    made = results.pop()
    if dialect == POSIX:
        return shlex.quote(made)
    return _quote(made, "'", dialect) if any(c.isspace() for c in made) else made


def _wordish(ch: str) -> bool:
    return ch.isalnum() or ch in "-_./\\'\"$%@~+:"


def _quote(text: str, quote: str, dialect: str) -> str:
    if quote == "'":
        if dialect == POWERSHELL:
            return "'" + text.replace("'", "''") + "'"
        return "'" + text.replace("'", "'\\''") + "'"
    if quote == '"':
        if dialect == POWERSHELL:
            return '"' + text.replace('"', '`"') + '"'
        return '"' + re.sub(r'(["\\$`])', r"\\\1", text) + '"' if dialect == POSIX else '"' + text + '"'
    return text


def rewrap(outer: Script, chain: tuple[Nested, ...], inner_text: str) -> str:
    """Put ``inner_text`` back where the innermost script of ``chain`` came from, through every
    wrapper up to ``outer`` (``ssh h 'old'`` → ``ssh h 'new'``)."""
    if not chain:
        return inner_text
    scripts = [outer, *(n.script for n in chain[:-1])]
    text = inner_text
    for parent, item in zip(reversed(scripts), reversed(chain), strict=True):
        if not (0 <= item.start <= item.end <= len(parent.text)) or item.start == item.end == 0:
            return inner_text
        quoted = _quote(text, item.quote, parent.dialect)
        if item.wrapper == "invoke-command":
            quoted = " " + text.strip() + " "
        text = parent.text[: item.start] + quoted + parent.text[item.end :]
    return text


# --------------------------------------------------------------------------------------------
# Derived columns


def refresh_pattern(memory: Memory, pattern: FailurePattern) -> None:
    """Note that the pattern changed and bring its schema columns up to date with its state
    (with ``memory.lazy_refresh``, only what the pre-check reads; the text when taken)."""
    memory.touched.add(pattern.id)
    active = pattern.active_hosts()
    pattern.host_count = len(active)
    pattern.is_active = bool(active) or pattern.is_transient
    if not memory.lazy_refresh:
        _refresh_columns(memory, pattern, active)


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
