"""Group messages (log lines, error messages) by template, with one configuration for every source.

Two steps, both general (no word of any particular system is known here):

1. **Masking, token by token.** A message is split on blanks; each distinct token is masked once:
   the named rules of :mod:`normalize` that need no digit (URLs, e-mail addresses, paths, host
   names) and then the rule that a token carrying a digit is a value (``blk_-16``, ``10:05:25``,
   ``core.2275``: the whole value; a ``key=`` or ``key:`` prefix and brackets around it are kept).
   Booleans and nulls (``ret:true``, ``ws=null``) and tokens over 256 characters are values too;
   empty brackets (``()``) stand for an empty value; a weekday and month name before a masked
   day make one date. Runs of variables become one ``<*>``, so a list of values does not change
   a message's length.
2. **Position-wise variability.** Masked messages of the same length that differ in one position
   only form a *family*. A position is variable for the family — the family merges into one
   template with ``<*>`` there — when the family shows ``min_variants`` distinct values at it, or
   when one of its values there is already a variable (the position is known to vary). Merging
   repeats until nothing changes, so several variable positions are found one after the other.
   Guards keep constant words apart: the first token (usually the event's verb or component)
   only varies when its values are not plain words, and a template keeps at least two words.

The work is done per distinct message and per distinct token — after every digit is made 0, as
no rule tells one digit from another — so repeated lines cost a dictionary look-up: :func:`group`
is meant for batches (a day of logs, every failure of a host). :func:`message_key` masks one
message; :func:`template_regex` turns a template into a regex of escaped literals and atomic
bounded gaps; :func:`grouping_accuracy` and :func:`fga` are Loghub's metrics.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from mspmode.engine.normalize import MASKS

__all__ = [
    "MIN_VARIANTS",
    "VARIABLE",
    "Grouping",
    "fga",
    "group",
    "grouping_accuracy",
    "mask_tokens",
    "message_key",
    "template_regex",
]

VARIABLE = "<*>"
MIN_VARIANTS = 4  # distinct values that make a position variable for a family
MIN_CONSTANT_WORDS = 2  # words a template keeps after a merge
MAX_TOKEN = 256  # longer tokens are values outright
_GAP = r"\S.{0,200}?"  # what a variable matches in template_regex: bounded and lazy

# Named rules of normalize.MASKS that mask a token without needing a digit in it (the digit rule
# below covers addresses, numbers, times, versions, hashes with digits).
TOKEN_RULES = ("url", "email", "windows_path", "posix_path", "fqdn")
_RULES = tuple(m for m in MASKS if m.name in TOKEN_RULES)
_OPEN = "=([{\"':|"  # a value starts after a blank or one of these
_DIGIT_VALUE = re.compile(
    r"(?<![^\s" + re.escape(_OPEN) + r"])"  # at the start of a token or after key= ( [ …
    r"[^\s\d" + re.escape(_OPEN) + r"]*+"  # the value's letters before its first digit
    r"(?:\d|<\*>)\S*?"  # a digit (or a variable already masked), then the rest …
    r"(?=[)\]}\"',;:.]*+(?:\s|$))",  # … up to the closing punctuation of the token
    re.MULTILINE,
)
_EMPTY = re.compile(r"^([(\[{\"'])([)\]}\"'])([,;:.]?)$", re.MULTILINE)
# Literal values that are no words: booleans and nulls (``overlap:true``, ``ws=null``).
_LITERAL = re.compile(
    r"(?<![^\s" + re.escape(_OPEN) + r"])(?:true|false|null|none|nil)(?=[)\]}\"',;:.]*+(?:\s|$))",
    re.MULTILINE | re.IGNORECASE,
)
_LITERALS = ("true", "false", "null", "none", "nil")
_LITERAL_SPELLINGS = frozenset(f(w) for w in _LITERALS for f in (str.lower, str.upper, str.title))
_STEPS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # (what a token must contain for the rule to apply, rule, replacement)
    *((r.name, r.regex, VARIABLE) for r in _RULES),
    ("digit", _DIGIT_VALUE, VARIABLE),
    ("empty", _EMPTY, r"\1" + VARIABLE + r"\2\3"),
    ("literal", _LITERAL, VARIABLE),
)
_WORD = re.compile(r"[^<\d]*[A-Za-z]{2}[^<\d]*$")  # a constant word: letters, no digit, no <*>
# Dates spelled with a weekday and a month name (the day of month is masked already).
_DATE = re.compile(
    r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
    r"(?= <\*>)"
)
_KEY = re.compile(r"^[^<\s]*?[=:]")
_PUNCT = "()[]{}\"',;:."


def mask_tokens(tokens: Sequence[str]) -> list[str]:
    """Each token with its variable parts masked as ``<*>`` (one token in, one token out)."""
    out = list(tokens)
    if "\n".join(out).count("\n") != max(0, len(out) - 1):
        out = [t.replace("\n", " ") for t in out]
    # A token of letters only is a word, unless it is a literal value (true, null…); only the
    # other tokens go through the rules, and each rule only sees those that have what it needs.
    literals = _LITERAL_SPELLINGS.intersection(out)
    if literals:
        out = [VARIABLE if t in literals else t for t in out]
    # A token this long is data (a blob, a dump), and the rules' cost stays bounded per token.
    if max(map(len, out), default=0) > MAX_TOKEN:
        out = [VARIABLE if len(t) > MAX_TOKEN else t for t in out]
    idx = [i for i, t in enumerate(out) if not t.isalpha()]
    rest = [out[i] for i in idx]
    for name, regex, replacement in _STEPS:
        text = "\n".join(rest)
        needle = _NEEDLES.get(name)
        if needle is not None and needle not in text:
            continue  # no token has what the rule needs
        if name not in _SELECT:  # the rule goes over every token at once
            if regex.search(text) is None:
                continue
            done = regex.sub(replacement, text).split("\n")
            rest = done if len(done) == len(rest) else [_sub1(regex, replacement, t) for t in rest]
            continue
        some = _SELECT[name](rest)
        if some:
            done = regex.sub(replacement, "\n".join([rest[j] for j in some])).split("\n")
            if len(done) != len(some):  # a rule joined or split lines (none should)
                done = [_sub1(regex, replacement, rest[j]) for j in some]
            for j, t in zip(some, done, strict=True):
                rest[j] = t
    for i, t in zip(idx, rest, strict=True):
        out[i] = t
    return out


def _sub1(regex: re.Pattern[str], replacement: str, token: str) -> str:
    return regex.sub(replacement, token).replace("\n", " ")


# What a token must contain for a rule to apply (checked on all tokens at once first), and which
# tokens go through the rule (the others are left alone: most tokens are words).
_NEEDLES = {"url": "://", "email": "@", "windows_path": "\\", "posix_path": "/", "fqdn": "."}
_SELECT: dict[str, Callable[[list[str]], list[int]]] = {
    "url": lambda rest: [j for j, t in enumerate(rest) if "://" in t],
    "email": lambda rest: [j for j, t in enumerate(rest) if "@" in t],
    "windows_path": lambda rest: [j for j, t in enumerate(rest) if "\\" in t],
    "posix_path": lambda rest: [j for j, t in enumerate(rest) if "/" in t],
    "fqdn": lambda rest: [j for j, t in enumerate(rest) if t.count(".") >= 2],
    "empty": lambda rest: [j for j, t in enumerate(rest) if len(t) <= 3],
}


def _collapse(tokens: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for t in tokens:
        if t == VARIABLE and out and out[-1] == VARIABLE:
            continue
        out.append(t)
    return tuple(out)


def message_key(message: str) -> tuple[str, ...]:
    """A single message masked (step 1): the key it is grouped under before any merge."""
    text = message if isinstance(message, str) else ("" if message is None else str(message))
    return _collapse(mask_tokens(text.split()))


@dataclass(frozen=True, slots=True)
class Grouping:
    """``labels[i]`` is the group of message i (0, 1, … in order of first appearance);
    ``templates[g]`` the template of group g, variables shown as ``<*>``."""

    labels: list[int]
    templates: list[str]

    def members(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.templates]
        for i, g in enumerate(self.labels):
            out[g].append(i)
        return out


def group(messages: Sequence[str], min_variants: int = MIN_VARIANTS) -> Grouping:
    """Group ``messages`` by template. Deterministic for a given input; never raises."""
    msgs = list(messages)
    distinct = list(dict.fromkeys(msgs))
    if not all(isinstance(m, str) for m in distinct):
        msgs = [m if isinstance(m, str) else ("" if m is None else str(m)) for m in msgs]
        distinct = list(dict.fromkeys(msgs))
    # Every digit made 0 first (no rule tells one digit from another, so the masking is the
    # same): lines and tokens that differ only in their numbers are masked once.
    folded = _fold_digits(distinct)
    lines = list(dict.fromkeys(folded))
    tokens = list(dict.fromkeys("\n".join(lines).split()))
    get = dict(zip(tokens, mask_tokens(tokens), strict=True)).__getitem__
    key_of_line = {line: " ".join(map(get, line.split())) for line in lines}
    key_of = {m: key_of_line[f] for m, f in zip(distinct, folded, strict=True)}
    # Per distinct key (few): rules that span tokens, runs of variables made one.
    shaped = {k: _collapse(_DATE.sub(VARIABLE, k).split()) for k in dict.fromkeys(key_of.values())}
    parent = _merge(list(dict.fromkeys(shaped.values())), max(2, min_variants))
    ids: dict[tuple[str, ...], int] = {}
    label_of_key: dict[str, int] = {}
    for k, t in shaped.items():
        while t in parent:
            t = parent[t]
        label_of_key[k] = ids.setdefault(t, len(ids))
    label_of = {m: label_of_key[k] for m, k in key_of.items()}
    return Grouping(list(map(label_of.__getitem__, msgs)), [" ".join(k) for k in ids])


_ZEROS = bytes.maketrans(b"123456789", b"000000000")


def _fold_digits(messages: list[str]) -> list[str]:
    text = "\n".join(messages)
    if text.count("\n") != max(0, len(messages) - 1):  # a message holds a line break
        return [_fold_digits([m])[0] if "\n" not in m else m for m in messages]
    try:
        folded = text.encode("utf-8", "surrogatepass").translate(_ZEROS).decode("utf-8", "surrogatepass")
    except UnicodeError:
        return messages
    return folded.split("\n") if messages else []


def _merge(keys: list[tuple[str, ...]], k: int) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Union the keys that differ at a variable position (see the module's docstring)."""
    parent: dict[tuple[str, ...], tuple[str, ...]] = {}
    live = set(keys)
    by_len: dict[int, list[tuple[str, ...]]] = {}
    for key in keys:
        by_len.setdefault(len(key), []).append(key)
    for length in sorted(by_len):
        if len(by_len[length]) < 2:
            continue
        changed = True
        while changed:
            changed = False
            live_keys = sorted(x for x in by_len[length] if x in live)
            for p in range(length):
                # Members of a family agree everywhere but at p: split on another position first
                # (cheap), and look for families only where the values at p can make a merge.
                anchor = 1 if p == 0 else 0
                groups: dict[str, list[tuple[str, ...]]] = {}
                for key in live_keys:
                    if key in live:
                        groups.setdefault(key[anchor] if length > 1 else "", []).append(key)
                for group in groups.values():
                    if len(group) < 2:
                        continue
                    values = {key[p] for key in group}
                    if len(values) < 2 or (len(values) < k and not any(VARIABLE in v for v in values)):
                        continue
                    changed |= _merge_at(p, group, k, parent, live, by_len[length])
    return parent


def _merge_at(
    p: int,
    group: list[tuple[str, ...]],
    k: int,
    parent: dict[tuple[str, ...], tuple[str, ...]],
    live: set[tuple[str, ...]],
    bucket: list[tuple[str, ...]],
) -> bool:
    families: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for key in group:
        if key in live:
            families.setdefault(key[:p] + key[p + 1 :], []).append(key)
    changed = False
    for rest, members in families.items():
        if len(members) < 2 or not _variable(p, [m[p] for m in members], rest, k):
            continue
        merged = (*rest[:p], VARIABLE, *rest[p:])
        for m in members:
            if m != merged:
                parent[m] = merged
                live.discard(m)
        if merged not in live:
            live.add(merged)
            bucket.append(merged)
        changed = True
    return changed


def _variable(p: int, values: list[str], rest: tuple[str, ...], k: int) -> bool:
    if sum(1 for t in rest if _WORD.match(t)) < MIN_CONSTANT_WORDS:
        return False
    if p == 0 and all(_WORD.match(v) for v in values):
        return False
    if len(values) >= k:
        return True
    # A position already known to vary (one value is a variable, the others share its key).
    # A position already known to vary: one value is a variable, the others share its key and
    # are values too (host names, ``LOCAL(<*>)``), not plain words (``HTTPS`` vs ``SOCKS5``).
    if len({_prefix(v) for v in values}) != 1:
        return False
    cores = [_KEY.sub("", v).strip(_PUNCT) for v in values]
    return VARIABLE in cores and not any(c.isalpha() for c in cores)


def _prefix(token: str) -> str:
    m = _KEY.match(token)
    return m.group(0) if m else ""


def template_regex(template: str) -> str:
    """A regex for the messages of ``template``, built from escaped literals only: each variable
    is a bounded lazy gap, and a gap with the literal after it is an atomic group — the gap
    stops at the first place the literal follows and never comes back — so no input makes the
    regex backtrack over combinations of gaps (no nested quantifier, no catastrophic case)."""
    text = " ".join(template.split())
    pieces = text.split(VARIABLE)
    out = [_literal(pieces[0])]
    for piece in pieces[1:]:
        out.append("(?>" + _GAP + _literal(piece) + ")" if piece else _GAP)
    return "".join(out)


def _literal(text: str) -> str:
    return r"\s+".join(re.escape(w) for w in text.split(" "))


# --------------------------------------------------------------------------------------------
# Metrics (Loghub's definitions; only the partition counts, not the labels' names)


def _partition(labels: Sequence[object]) -> set[frozenset[int]]:
    groups: dict[object, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    return {frozenset(v) for v in groups.values()}


def grouping_accuracy(truth: Sequence[object], predicted: Sequence[object]) -> float:
    """GA: the share of messages whose predicted group has exactly the messages of their true group."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    if not truth:
        return 0.0
    correct = _partition(truth) & _partition(predicted)
    return sum(len(g) for g in correct) / len(truth)


def fga(truth: Sequence[object], predicted: Sequence[object]) -> float:
    """FGA: F1 of PGA (correct groups / predicted groups) and RGA (correct / true groups)."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    if not truth:
        return 0.0
    t, p = _partition(truth), _partition(predicted)
    correct = len(t & p)
    pga, rga = correct / len(p), correct / len(t)
    return 2 * pga * rga / (pga + rga) if pga + rga else 0.0
