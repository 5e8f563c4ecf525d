"""Fix transfer after a failure: what to run instead of a command that just failed, from the fixes
learned for its pattern and for patterns of the same error shape.

Each fix (failed command → fixing command) is transplanted onto the new command by
:func:`edits.adapt`. Before that, words of the pair that the old error *printed* are read again
from the new error at the same place (after the same words): ``git: 'brnch' is not a git command
… most similar command is branch`` taught ``git brnch`` → ``git branch``; for ``git chekcout``
the new error names ``chekcout`` and suggests ``checkout``, so the pair becomes ``git chekcout``
→ ``git checkout`` and transplants. A fix that needs a printed value the new error does not
print is not offered for another error: it answered that message only.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from difflib import SequenceMatcher
from functools import lru_cache

from mspmode.engine.edits import adapt, derivation
from mspmode.engine.learn import Learned, fixed_key
from mspmode.engine.memory import FailurePattern, FixObservation, Memory
from mspmode.engine.normalize import normalize, normalize_command
from mspmode.engine.reading import parse_for_host
from mspmode.engine.tokenize import POSIX, WORD, Script, parse_cached

__all__ = ["printed_fix", "related_patterns", "reread", "suggest_fixes"]

_OUT_TOKEN = re.compile(r"[^\s'\"`‘’“”,;()\[\]{}<>]+")
_WORD = re.compile(r"[A-Za-z]{2}")
_CONTEXT = 3  # words before a printed value that find its place in another message
_MIN_LIKENESS = 0.5  # difflib ratio a candidate printed word needs to be taken for a typo


def related_patterns(memory: Memory, learned: Learned) -> list[FailurePattern]:
    """The pattern the failure ``learned`` recorded joined, then the patterns of the same class
    that are the same failure with another word: the same normalised message (culprit masked),
    a culprit of the same kind in the same program, or the same message once each command's own
    words are masked in it (an error that echoes its argument)."""
    return list(_related(memory, learned, sorted(memory.patterns)))


def _fix_candidates(memory: Memory, learned: Learned, own: FailurePattern) -> set[str]:
    """The ids of every pattern :func:`_related` can take a fix from for ``learned``: those with
    a fix of this very command, and those of its class with a fix (the indexes
    :func:`learn.record` keeps). Only the test in :func:`_related` decides; this only spares it
    the patterns that cannot pass it."""
    return memory.fixed_commands.get(learned.record.normalized, set()) | memory.fixed_by_class.get(
        own.failure_class, set()
    )


def _related(memory: Memory, learned: Learned, candidates: Iterable[str]) -> Iterator[FailurePattern]:
    """:func:`related_patterns` among ``candidates`` (pattern ids, in the order given), one at
    a time after the failure's own pattern: a caller that has what it needs stops early."""
    rec = learned.record
    own = memory.patterns.get(learned.pattern_id or "")
    if own is None:
        return
    yield own
    same_hash = (
        set(memory.by_fingerprint.get(learned.fingerprint.message_hash, ())) if learned.fingerprint else set()
    )
    if not _WORD.search(own.fingerprint.normalized_message):
        same_hash = set()  # an error that says nothing is no shape to share (one per program)
    shape: str | None = None
    for pid in candidates:
        p = memory.patterns.get(pid)
        if p is None or p is own:
            continue
        if any(_same_command(fx, rec.normalized) for fx in p.fixes[-3:]):
            yield p  # this very command failed before (in other words) and was fixed
            continue
        if p.failure_class != own.failure_class:
            continue
        if pid not in same_hash and not _same_culprit_kind(own, p):
            if shape is None:
                message = rec.output or "\n".join(own.typical_error_messages[-1:])
                shape = _echo_shape(message, rec.effective, rec.dialect)
            seen = [(_failure_text(memory, fx, p), fx.failed_command, fx.dialect) for fx in p.fixes[-3:]]
            if p.typical_error_messages and p.triggering_commands:
                seen.append((p.typical_error_messages[-1], p.triggering_commands[-1], rec.dialect))
            if not _WORD.search(shape) or not any(_echo_shape(m, c, d) == shape for m, c, d in seen):
                message = rec.output or "\n".join(own.typical_error_messages[-1:])
                if not _same_advice(message, p, memory):
                    continue
        yield p


# A command an error tells you to run, quoted: ``Run `vagrant up` first``, ``(e.g. 'git pull
# ...')``. Two errors that give the same advice, which the fix followed, are one failure.
_ADVICE = re.compile(r"[`'\"‘“»„«](?P<run>[A-Za-z][\w.-]*(?: [^\s`'\"’”«»“]+)+)[`'\"’”«»“]")


def _advice(message: str) -> set[str]:
    return {" ".join(w for w in m.group("run").split() if w != "...") for m in _ADVICE.finditer(message)}


def _same_advice(message: str, pattern: FailurePattern, memory: Memory) -> bool:
    """Whether ``message`` and the error a fix of ``pattern`` fixed quote the same command to
    run, and the fix ran it."""
    advice = _advice(message)
    if not advice:
        return False
    for fx in pattern.fixes[-3:]:
        fixed = " ".join(fx.fix_command.split())
        for run in advice & _advice(_failure_text(memory, fx, pattern)):
            if len(run.split()) >= 2 and run in fixed:
                return True
    return False


# Related patterns whose fixes a failure tries, besides its own and those that fixed this very
# command. A message that says little (``bash: X: command not found``, the culprit masked) is
# the message of every pattern of its kind, and each of their fixes is transplanted in turn:
# past this many, the most recently fixed are tried.
RELATED_TRIED = 100


def _to_try(memory: Memory, learned: Learned, own: FailurePattern, tried: int | None) -> list[str]:
    """The ids of the patterns whose fixes :func:`suggest_fixes` tries, in id order: every
    candidate (:func:`_fix_candidates`), or, when there are more than ``tried``, the ``tried``
    most recently fixed of those related, and those with a fix of this very command."""
    candidates = _fix_candidates(memory, learned, own)
    if tried is None or len(candidates) <= tried:
        return sorted(candidates)
    always = memory.fixed_commands.get(learned.record.normalized, set())
    chosen = set(always)

    def last_fixed(pid: str) -> tuple[float, str]:
        at = memory.patterns[pid].last_fix_at
        return (at.timestamp() if at is not None else float("-inf"), pid)

    recent = sorted((pid for pid in candidates if pid in memory.patterns), key=last_fixed, reverse=True)
    for p in _related(memory, learned, recent):
        if p is not own and p.id not in chosen:
            chosen.add(p.id)
            if len(chosen - always) >= tried:
                break
    return sorted(chosen)


def suggest_fixes(
    memory: Memory, learned: Learned, limit: int = 5, *, tried: int | None = RELATED_TRIED
) -> list[str]:
    """What to run instead of the command ``learned`` just recorded as failed: the fixes of its
    pattern, most recent first (those seen on its host first), then those of the related
    patterns (:func:`related_patterns`), each transplanted onto this command by :func:`adapt`.
    A fix that does not transplant is offered as it was only when it fixed this very command:
    a fix of another command would be a wrong suggestion. ``tried``: how many related patterns
    are tried at most (:data:`RELATED_TRIED`; None: all)."""
    rec = learned.record
    own = memory.patterns.get(learned.pattern_id or "")
    if own is None:
        return []
    # Only the patterns with a fix count, in the order of related_patterns: the indexes give
    # every one that can be related, and the first ``limit`` suggestions are all that is kept.
    patterns = (p for p in _related(memory, learned, _to_try(memory, learned, own, tried)) if p.fixes)
    script = parse_for_host(memory, rec.host, rec.effective)
    new_output = rec.output or "\n".join(own.typical_error_messages[-1:])
    out: list[str] = []
    for pattern in patterns:
        if len(out) >= limit:
            break
        for fix in sorted(reversed(pattern.fixes), key=lambda fx: fx.host != rec.host):
            old_output = _failure_text(memory, fix, pattern)
            printed = printed_fix(fix.fix_command, old_output, new_output)
            if printed is not None:
                # The error printed the fix: take what the new error prints in its place — or
                # the transplanted fix when it is that and more (the user's own options kept).
                failed = parse_cached(fix.failed_command, fix.dialect)
                adapted = adapt(failed, parse_cached(fix.fix_command, fix.dialect), script)
                if adapted is None or not set(printed.split()) <= set(adapted.split()):
                    adapted = printed
                if adapted not in out and adapted != " ".join(rec.effective.split()):
                    out.append(adapted)
                continue
            pair = reread(fix, old_output, new_output, script)
            if pair is not None:
                adapted = adapt(pair[0], pair[1], script)
                if adapted is not None and adapted not in out and adapted.strip() != rec.effective.strip():
                    out.append(adapted)
                    continue
            head = _printed_first_step(fix, old_output, new_output)
            if head is not None:
                # the error printed what to run first (… run: bin/rails db:migrate RAILS_ENV=test)
                adapted = f"{head} && {rec.effective.strip()}"
                if adapted not in out:
                    out.append(adapted)
                continue
            if pattern is not own and _read_off_message(fix, old_output, new_output):
                continue
            failed = parse_cached(fix.failed_command, fix.dialect)
            adapted = adapt(failed, parse_cached(fix.fix_command, fix.dialect), script)
            if adapted is None and normalize_command(failed) == rec.normalized:
                adapted = fix.fix_command
            if adapted is not None and adapted not in out and adapted.strip() != rec.effective.strip():
                out.append(adapted)
    return out[:limit]


def printed_fix(fix_command: str, old_output: str, new_output: str) -> str | None:
    """When the old error printed the fix (``… set the remote as upstream, use`` / ``git push
    --set-upstream origin master``; ``Run "yarn add redux" instead``): what the new error prints
    in the same place — between the same words on a line, or on the line after the same line.
    None when the old error did not print it or the new one prints nothing there."""
    fix = " ".join(fix_command.split())
    if not fix or not old_output or not new_output:
        return None
    old = [" ".join(line.split()) for line in old_output.splitlines()]
    old = [line for line in old if line]
    new = [" ".join(line.split()) for line in new_output.splitlines()]
    new = [line for line in new if line]
    program = fix.split(" ", 1)[0]
    for i, line in enumerate(old):
        at = line.find(fix)
        if at < 0:
            continue
        before, after = line[:at], line[at + len(fix) :]
        if before or after:
            found = [
                x[len(before) : len(x) - len(after)]
                for x in new
                if len(x) > len(before) + len(after) and x.startswith(before) and x.endswith(after)
            ]
        elif i > 0:
            found = [new[j + 1] for j in range(len(new) - 1) if new[j] == old[i - 1]]
        else:
            found = []
        for candidate in found:
            if _basename(candidate.split(" ", 1)[0]) == _basename(program):
                return candidate  # the same program (bin/rails is rails)
        return None
    return None


def _basename(program: str) -> str:
    return re.split(r"[\\/]", program)[-1]


def _printed_first_step(fix: FixObservation, old_output: str, new_output: str) -> str | None:
    """For a fix that ran something first and then the failed command again (``X && cmd``),
    when the old error printed that first step: what the new error prints in its place."""
    failed = " ".join(fix.failed_command.split())
    fixed = " ".join(fix.fix_command.split())
    if not fixed.endswith(" && " + failed):
        return None
    head = fixed[: -len(" && " + failed)]
    if "&&" in head or head not in " ".join(old_output.split()):
        return None
    printed = printed_fix(head, old_output, new_output)
    return None if printed == head else printed  # the same step for every failure: adapted instead


def _same_command(fix: FixObservation, normalized: str) -> bool:
    return fixed_key(fix) == normalized


def _same_culprit_kind(a: FailurePattern, b: FailurePattern) -> bool:
    """Both failures named a culprit of one kind in one program (git's unknown subcommand
    ``brnch`` and ``st``): the same failure with another word."""
    ca, cb = a.culprit, b.culprit
    return ca is not None and cb is not None and ca.kind == cb.kind and ca.program == cb.program


def _failure_text(memory: Memory, fix: FixObservation, pattern: FailurePattern) -> str:
    """What the failure a fix fixed printed: its record's output when memory keeps outputs,
    else the pattern's last typical message."""
    if 0 <= fix.failed_index < len(memory.commands):
        output = memory.commands[fix.failed_index].output
        if output:
            return output
    return "\n".join(pattern.typical_error_messages[-1:])


def _read_off_message(fix: FixObservation, message: str, new_message: str = "") -> bool:
    """Whether the fix uses a value its error printed (``No module named 'x'`` → ``pip install
    x``) that the new error does not print: such a fix answers that message, not another
    failure of the same shape."""
    before = {t.value for t in parse_cached(fix.failed_command, fix.dialect).tokens}
    added = {
        t.value
        for t in parse_cached(fix.fix_command, fix.dialect).tokens
        if t.kind == WORD and len(t.value) >= 3 and t.value not in before
    }
    # (a word made from one of the command's own — /a/b of /a/b/c — was not read off the error)
    return any(
        value in message and value not in new_message and not any(derivation(b, value) for b in before)
        for value in added
    )


@lru_cache(maxsize=65_536)
def _echo_shape(message: str, command: str, dialect: str) -> str:
    """The normalised message with the words of the command that failed, and the choices it
    offers, masked in it.
    Remembered: every failure compares its shape with those of the other patterns, whose
    messages and commands do not change."""
    words = {t.value for t in parse_cached(command, dialect).tokens if t.kind == WORD and len(t.value) >= 2}
    for word in sorted(words, key=len, reverse=True):
        message = _mask_standalone(message, word)
    for _name, shape in CHOICE_SHAPES:
        # the choices offered differ with the word that failed (did you mean gist / git, gitg)
        message = shape.sub(lambda m: m.group(0)[: m.start("choices") - m.start()] + "<choices>", message)
    return normalize(message)


def _mask_standalone(text: str, word: str) -> str:
    out: list[str] = []
    pos = 0
    while (i := text.find(word, pos)) >= 0:
        j = i + len(word)
        before = text[i - 1] if i else " "
        after = text[j] if j < len(text) else " "
        if before.isalnum() or before in "_-" or after.isalnum() or after in "_-":
            out.append(text[pos:j])
        else:
            out.append(text[pos:i] + "<arg>")
        pos = j
    out.append(text[pos:])
    return "".join(out)


@lru_cache(maxsize=16_384)
def _out_tokens(text: str) -> tuple[str, ...]:
    """The words of an error. Remembered: a failure reads the errors of every related
    pattern's fixes, which do not change."""
    out = []
    for t in _OUT_TOKEN.findall(text):
        t = t.rstrip(".:!?")
        if t:
            out.append(t)
    return tuple(out)


def _read_again(value: str, old: Sequence[str], new: Sequence[str]) -> str | None:
    """The word at ``value``'s place in ``new``: after the words that come before it in ``old``
    (two or three of them, or the first word of the message when it is the second), or before
    the words that follow it (a word that starts the message: ``ls: Unknown command``). Where
    ``old`` prints the word more than once (in a list of choices, then as its pick), the place
    where the words on both sides agree wins, else the word most places read."""
    reads: list[str] = []
    for i, t in enumerate(old):
        if t != value:
            continue
        after, before = _place_after(i, value, old, new), _place_before(i, value, old, new)
        at_end = after is not None and i + 1 == len(old) and after + 1 == len(new)
        if after is not None and (after == before or at_end):
            return new[after]  # the words on both sides agree on the place
        reads.extend(new[j] for j in (after, before) if j is not None)
    counts = Counter(reads).most_common(2)
    if not counts or (len(counts) == 2 and counts[0][1] == counts[1][1]):
        return None  # read nowhere, or places that disagree as much as they agree
    return counts[0][0]


def _place_after(i: int, value: str, old: Sequence[str], new: Sequence[str]) -> int | None:
    if i == 0:
        return None
    for c in range(min(_CONTEXT, i), 0, -1):
        context = old[i - c : i]
        if value in context or (c == 1 and i != 1):
            continue
        if any(old[k : k + c] == context for k in range(i - c)):
            continue  # the same words come before another word earlier: no place of its own
        starts = [0] if c == i == 1 else range(len(new) - c)
        for j in starts:
            if new[j : j + c] == context and j + c < len(new):
                return j + c
    return None


def _place_before(i: int, value: str, old: Sequence[str], new: Sequence[str]) -> int | None:
    for c in range(min(_CONTEXT, len(old) - i - 1), 1, -1):
        context = old[i + 1 : i + 1 + c]
        if value in context or any(old[k : k + c] == context for k in range(i + 2, len(old) - c + 1)):
            continue
        for j in range(1, len(new) - c + 1):
            if new[j : j + c] == context:
                return j - 1
    return None


def reread(
    fix: FixObservation, old_output: str, new_output: str, new_script: Script | None = None
) -> tuple[Script, Script] | None:
    """The fix's (failed, fixing) pair with the words its error printed read again from
    ``new_output``; None when nothing changes, or a word the fix added cannot be read again.

    A word is read again at its place (after the same words), or — for a word the fix put in
    place of a failed one, when it was the printed word most like that failed word (a typo
    fixed from a list of candidates) — as the printed word most like the new failed word."""
    if not old_output or not new_output:
        return None
    failed = parse_cached(fix.failed_command, fix.dialect)
    fixed = parse_cached(fix.fix_command, fix.dialect)
    old, new = _out_tokens(old_output), _out_tokens(new_output)
    old_choices, new_choices = _candidates(old_output), _candidates(new_output)
    seen = set(old) | set(old_choices)
    before = {t.value for t in failed.tokens if t.kind == WORD}
    added = {t.value for t in fixed.tokens if t.kind == WORD and len(t.value) >= 2} - before
    replaced = _replacements(failed, fixed)
    subst: dict[str, str] = {}
    chosen: set[str] = set()
    for tok in (*failed.tokens, *fixed.tokens):
        v = tok.value
        if tok.kind != WORD or len(v) < 2 or v not in seen or v in subst:
            continue
        again = _read_again(v, old, new)
        if (again is None or again == v) and v in replaced:
            # not found again, or printed unchanged (a fixed list): was it the likest choice?
            again = _closest_again(replaced[v], v, old_choices, new_choices, subst, failed, new_script)
            if again is not None:
                chosen.add(v)
                was = replaced[v]
                subst.setdefault(was, subst.get(was) or _aligned(was, failed, new_script) or was)
        if again is None:
            if v not in before:
                return None  # the fix used a value of that message only
            continue
        if again != v:
            subst[v] = again
            taken = replaced.get(v)
            if taken is not None and taken not in seen and taken not in subst:
                # The fix put the printed word in place of the failed one (-patch → --patch, the
                # error said "did you mean --patch"): the new command's word in that place goes.
                now = _aligned(taken, failed, new_script)
                if now is not None:
                    subst[taken] = now
    removed = before - {t.value for t in fixed.tokens if t.kind == WORD}
    if not subst or any(subst.get(v, v) == v for v in (added & seen & set(replaced)) - chosen):
        # Nothing to read again, or the fix took a word the new error prints unchanged (a list
        # of all commands): it was not chosen by the failure, so it does not carry over.
        return None
    if any(v in subst for v in removed) and not any(v in subst or v in chosen for v in added):
        return None  # the word the fix replaced is another one now, its replacement is not known
    return (
        parse_cached(_rewrite(failed, subst), fix.dialect),
        parse_cached(_rewrite(fixed, subst), fix.dialect),
    )


def _replacements(failed: Script, fixed: Script) -> dict[str, str]:
    """Word put in → word it replaced, for the words the fix swapped one for one."""
    f = [t.value for t in failed.tokens]
    x = [t.value for t in fixed.tokens]
    out: dict[str, str] = {}
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, f, x, autojunk=False).get_opcodes():
        if tag == "replace" and i2 - i1 == j2 - j1:
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                out.setdefault(x[j], f[i])
    return out


def _common_start(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _closest(word: str, candidates: Sequence[str]) -> tuple[str | None, float]:
    """The candidate most like ``word`` (difflib ratio; ties go to the longer common start,
    then to the first listed) and its ratio."""
    best, score, rank = None, 0.0, (0.0, 0)
    for c in dict.fromkeys(candidates):
        if c == word or len(c) < 2:
            continue
        r = SequenceMatcher(None, word, c, autojunk=False).ratio()
        key = (r, _common_start(word, c))
        if key > rank:
            best, score, rank = c, r, key
    return best, score


def _closest_again(
    was: str,
    put: str,
    old: Sequence[str],
    new: Sequence[str],
    subst: dict[str, str],
    failed: Script,
    new_script: Script | None,
) -> str | None:
    """The printed word most like the new failed word, when ``put`` was the printed word most
    like ``was`` in the old error (else None: the fix did not choose that way)."""
    if _closest(was, old)[0] != put:
        return None
    if len(set(old) - {was}) < 2 <= len(set(new)):
        return None  # one choice offered: how the fix would choose among several is not known
    now = subst.get(was) or _aligned(was, failed, new_script)
    if now is None or now == was:
        return None
    best, score = _closest(now, new)
    return best if best is not None and score >= _MIN_LIKENESS else None


# Where an error offers its choices, besides one per line and comma lists: (name, regex whose
# ``choices`` group holds them). Rules per shape of message, not per program.
CHOICE_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # "Did you mean gist?", "(did you mean one of revert?)", "Did you mean `build`?",
    # "Did you mean git, gitg or gist?", "maybe you meant: * scan"
    (
        "did_you_mean",
        re.compile(
            r"""(?ix) \b(?:did\ you\ mean|maybe\ you\ meant|perhaps\ you\ meant)
            (?:\ one\ of(?:\ these)?|\ this)?   # the list's own words
            [\s:?*]*
            (?P<choices>[^?\n]+)                  # up to the question mark or the line's end
            """
        ),
    ),
    # "usage: git bisect [help|start|bad|good|…]": the alternatives of a usage line
    (
        "usage_alternatives",
        re.compile(r"(?i)\busage:[^\n]*?[\[(](?P<choices>[\w-]+(?:\s*\|\s*[\w-]+)+)[\])]"),
    ),
    # "command 're' is ambiguous:" then "    rebase recover remove": words under a heading
    (
        "listed_under_heading",
        re.compile(r":[ \t]*\n[ \t]+(?P<choices>[a-z][\w-]*(?:[ \t]+[a-z][\w-]*)+)[ \t]*$", re.M),
    ),
)
_CHOICE_SPLIT = re.compile(r"\s*(?:,|\||\bor\b|\*|\s)\s*")


@lru_cache(maxsize=16_384)
def _candidates(output: str) -> tuple[str, ...]:
    """The words an error offers as choices: alone on a line (a list, one per line), in a
    comma-separated list (``did you mean one of blame, phase, rebase?``), or in one of the
    :data:`CHOICE_SHAPES`. Remembered, as :func:`_out_tokens`."""
    out: list[str] = []
    for line in output.splitlines():
        words = _out_tokens(line)
        if len(words) == 1:
            out.append(words[0])
            continue
        parts = [p for p in line.split(",")]
        if len(parts) < 2:
            continue
        for k, part in enumerate(parts):
            ws = _out_tokens(part)
            if ws:
                out.append(ws[-1] if k == 0 else ws[0])
    for _name, shape in CHOICE_SHAPES:
        for m in shape.finditer(output):
            for word in _CHOICE_SPLIT.split(m.group("choices")):
                word = word.strip("`'\"‘’“”.:()")
                if word and word not in out:
                    out.append(word)
    return tuple(out)


def _aligned(word: str, failed: Script, new_script: Script | None) -> str | None:
    """The word of the new command in the place of ``word`` in the failed one."""
    if new_script is None:
        return None
    # Options aside (npm urgrade / npm -g isntall gulp): the words in their order; an option
    # among the options.
    option = word.startswith("-")
    f = [t.value for t in failed.tokens if t.value.startswith("-") == option]
    n = [t.value for t in new_script.tokens if t.value.startswith("-") == option]
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, f, n, autojunk=False).get_opcodes():
        if tag == "replace" and word in f[i1:i2] and f[i1:i2].index(word) < j2 - j1:
            return n[j1 + f[i1:i2].index(word)]
    return None


def _rewrite(script: Script, subst: dict[str, str]) -> str:
    text = script.text
    for tok in sorted(script.tokens, key=lambda t: t.start, reverse=True):
        if tok.kind != WORD:
            continue
        value = subst.get(tok.value)
        if value is None:
            # a word made from a printed one (foo.io → http://foo.io) is made from the new one
            inside = [v for v in subst if len(v) >= 3 and v in tok.value and derivation(v, tok.value)]
            if len(inside) != 1:
                continue
            value = tok.value.replace(inside[0], subst[inside[0]])
        text = text[: tok.start] + _quoted(value, script.dialect) + text[tok.end :]
    return text


def _quoted(value: str, dialect: str) -> str:
    if dialect == POSIX:
        return shlex.quote(value)
    return "'" + value.replace("'", "''") + "'" if any(c.isspace() for c in value) else value
