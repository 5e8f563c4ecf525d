"""Recall scoring: which remembered facts to put in front of an agent, and in what words.

Pure Python on plain data (standard library only), so a Claude Code hook can call it without the
web or database stack::

    from mspmode.engine.recall import Candidate, RecallQuery, recall
    result = recall(candidates, RecallQuery(query="dc01 gpo", client="Acme", hosts=("DC01",)))
    result.markdown        # facts, best first, within the budget (≤ max_chars characters)
    result.used            # ids of the candidates that made it in (the caller bumps their usage)

The score of a candidate is the product of five factors, each explained by :func:`score`:

    relevance    how much of the query its title and body contain (1.0 without a query)
    importance   its importance 1–10, as importance / 5
    decay        0.5 ** (age / half_life) — 1.0 for a hard fact (``decays=False``: a host
                 constraint such as "PowerShell 2.0 only" is as true in a year as today)
    usage        1 + 0.2·log2(1 + times recalled), at most 2
    match        client, project, host and tag agreement; a fact about *another* client is
                 never recalled (score 0), nor is a superseded or inactive one

Tokens are estimated as characters / 4 (:func:`estimate_tokens`), the same estimate
``compress`` reports, so budgets and reduction figures speak one unit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

DEFAULT_BUDGET_TOKENS = 1500
MAX_CHARS = 10_000
DEFAULT_HALF_LIFE_DAYS = 30.0
# Decay never drives an old fact below this share of its score: it falls behind newer ones
# but is still found when nothing fresher matches.
DECAY_FLOOR = 0.05
ITEM_MAX_CHARS = 600
# Relevance reads this much of a fact: the words that matter in a summary come early.
RELEVANCE_SCAN_CHARS = 8000

# Order of the sections in the assembled markdown; kinds not listed go last, as "Other".
SECTIONS: tuple[tuple[str, str], ...] = (
    ("constraint", "Host constraints"),
    ("insight", "Host insights"),
    ("decision", "Decisions"),
    ("project_state", "Project state"),
    ("task", "Open tasks"),
    ("snippet", "Facts"),
    ("context", "Earlier sessions"),
)

_WORD = re.compile(r"\w+", re.UNICODE)
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ed", "es", "s")


@dataclass(frozen=True)
class Candidate:
    """One remembered fact that might be recalled.

    ``kind`` picks its section (see ``SECTIONS``: constraint, insight, decision, project_state,
    task, snippet, context). ``client``, ``project`` and ``host`` are whatever identifiers the
    caller uses consistently (ids or names, compared case-insensitively); None means "not tied
    to one". ``updated_at`` must be timezone-aware or naive UTC.
    """

    id: str
    kind: str
    title: str
    body: str = ""
    importance: int = 5
    updated_at: datetime | None = None
    usage_count: int = 0
    tags: tuple[str, ...] = ()
    client: str | None = None
    project: str | None = None
    host: str | None = None
    decays: bool = True
    active: bool = True
    superseded: bool = False


@dataclass(frozen=True)
class RecallQuery:
    """What the agent is doing now: free-text ``query`` (a prompt, a command), the client,
    project and hosts in play, wanted tags, the clock and the budget."""

    query: str = ""
    client: str | None = None
    project: str | None = None
    hosts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    now: datetime | None = None
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS
    budget_tokens: int = DEFAULT_BUDGET_TOKENS
    max_chars: int = MAX_CHARS


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    score: float
    parts: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RecallResult:
    markdown: str
    used: tuple[str, ...]
    tokens: int
    scored: tuple[Scored, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "markdown": self.markdown,
            "used": list(self.used),
            "tokens": self.tokens,
            "chars": len(self.markdown),
            "items": [
                {"id": s.candidate.id, "kind": s.candidate.kind, "score": round(s.score, 4), **s.parts}
                for s in self.scored
                if s.candidate.id in set(self.used)
            ],
        }


def estimate_tokens(text: str) -> int:
    """Tokens in ``text`` as an LLM tokenizer roughly counts them: about four characters each."""
    return (len(text) + 3) // 4


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude English stem, enough that "restarting" finds "restarted"."""
    w = word.lower()
    for suffix in _SUFFIXES:
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def terms(text: str) -> list[str]:
    """The stemmed words of ``text``, in order, duplicates kept."""
    return [stem(w) for w in _WORD.findall(text)]


@lru_cache(maxsize=1024)
def _terms_pattern(wanted: frozenset[str]) -> re.Pattern[str]:
    # Words that start with one of the stems: "restart" finds "restarted", "cat" not
    # "certificate". Longest first, so a stem that prefixes another does not hide it.
    alternatives = "|".join(re.escape(t) for t in sorted(wanted, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})", re.IGNORECASE)


def _found(wanted: frozenset[str], pattern: re.Pattern[str], text: str) -> set[str]:
    hits = {m.lower() for m in pattern.findall(text)}
    if not hits:
        return set()
    # A hit is the stem itself, or a longer stem that starts with a shorter one: credit both.
    return {t for t in wanted if any(h.startswith(t) for h in hits)}


def relevance(query_terms: Sequence[str], title: str, body: str) -> float:
    """Share of the query's distinct terms found in the candidate (as the start of a word),
    title hits counting double; 0.0–1.0. An empty query is relevant to everything (1.0). Only
    the first ``RELEVANCE_SCAN_CHARS`` of the body are read."""
    wanted = frozenset(query_terms)
    if not wanted:
        return 1.0
    pattern = _terms_pattern(wanted)
    in_title = _found(wanted, pattern, title)
    in_body = (
        _found(wanted - in_title, pattern, body[:RELEVANCE_SCAN_CHARS])
        if len(in_title) < len(wanted)
        else set()
    )
    return (2.0 * len(in_title) + len(in_body)) / (2.0 * len(wanted))


def time_decay(age_days: float, half_life_days: float, decays: bool = True) -> float:
    """0.5 ** (age / half-life), never below ``DECAY_FLOOR``; 1.0 for facts that do not decay
    or when the half-life is not positive (decay switched off)."""
    if not decays or half_life_days <= 0 or age_days <= 0:
        return 1.0
    return max(DECAY_FLOOR, float(0.5 ** (age_days / half_life_days)))


def usage_boost(usage_count: int) -> float:
    """Facts recalled often were useful before: up to twice the weight."""
    return min(2.0, 1.0 + 0.2 * math.log2(1 + max(0, usage_count)))


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.strip().lower() == b.strip().lower()


def match_factor(c: Candidate, q: RecallQuery) -> float:
    """Agreement on client, project, host and tags; 0.0 when the fact belongs to another
    client or project than the one asked for (never leak one client's facts into another's)."""
    factor = 1.0
    if q.client is not None and c.client is not None:
        if not _same(q.client, c.client):
            return 0.0
        factor *= 2.0
    if q.project is not None and c.project is not None:
        if not _same(q.project, c.project):
            return 0.0
        factor *= 1.5
    if c.host is not None and q.hosts:
        factor *= 2.5 if any(_same(h, c.host) for h in q.hosts) else 0.5
    if q.tags and c.tags:
        wanted = {t.lower() for t in q.tags}
        overlap = len(wanted & {t.lower() for t in c.tags})
        factor *= 1.0 + 0.5 * overlap
    return factor


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def score(c: Candidate, q: RecallQuery, *, query_terms: Sequence[str] | None = None) -> Scored:
    """The candidate's score for this query, with each factor in ``parts``."""
    if not c.active or c.superseded:
        return Scored(c, 0.0, {"excluded": 1.0})
    qt = terms(q.query) if query_terms is None else query_terms
    rel = relevance(qt, c.title, c.body)
    # With a query, an unrelated fact keeps a little weight: a hard constraint of the host in
    # play matters even when the prompt does not mention it.
    rel_factor = (0.15 + 0.85 * rel) if qt else 1.0
    importance = max(1, min(10, int(c.importance))) / 5.0
    now = _aware(q.now) if q.now is not None else datetime.now(UTC)
    age = (now - _aware(c.updated_at)).total_seconds() / 86400.0 if c.updated_at is not None else 0.0
    decay = time_decay(age, q.half_life_days, c.decays)
    usage = usage_boost(c.usage_count)
    match = match_factor(c, q)
    total = rel_factor * importance * decay * usage * match
    parts = {"relevance": rel, "importance": importance, "decay": decay, "usage": usage, "match": match}
    return Scored(c, total, parts)


def rank(candidates: Iterable[Candidate], q: RecallQuery) -> list[Scored]:
    """Candidates with a positive score, best first (ties: newer first, then id)."""
    qt = terms(q.query)
    seen: set[str] = set()
    out: list[Scored] = []
    for c in candidates:
        if c.id in seen:
            continue
        seen.add(c.id)
        s = score(c, q, query_terms=qt)
        if s.score > 0:
            out.append(s)
    out.sort(key=lambda s: (-s.score, -_stamp(s.candidate), s.candidate.id))
    return out


def _stamp(c: Candidate) -> float:
    return _aware(c.updated_at).timestamp() if c.updated_at is not None else 0.0


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_item(c: Candidate, max_chars: int = ITEM_MAX_CHARS) -> str:
    """One markdown bullet for a fact: title, body, and where/when it applies. A body of
    several lines (a session summary) keeps its lines, indented under the bullet."""
    where = [f"host {c.host}"] if c.host else []
    if c.updated_at is not None:
        where.append(_aware(c.updated_at).strftime("%Y-%m-%d"))
    if not c.decays:
        where.append("permanent")
    title = _one_line(c.title)
    body_lines = [" ".join(line.split()) for line in c.body.splitlines()]
    body_lines = [line for line in body_lines if line]
    line = f"- **{title}**" if title else "-"
    if where:
        line += f" ({', '.join(where)})"
    if len(body_lines) == 1 and body_lines[0] != title:
        line += f": {body_lines[0]}"
    elif body_lines:
        line += "\n" + "\n".join(f"  {b}" for b in body_lines)
    if len(line) > max_chars:
        line = line[: max_chars - 1].rstrip() + "…"
    return line


def assemble(
    scored: Sequence[Scored],
    *,
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
    max_chars: int = MAX_CHARS,
    heading: str = "Recalled context (MSP Mode)",
) -> tuple[str, tuple[str, ...]]:
    """Markdown of the best facts that fit in ``budget_tokens`` and ``max_chars`` (hard cap
    ``MAX_CHARS``), grouped in ``SECTIONS`` order, best first within each; and the ids used.

    Facts are taken best first until the budget is spent, so a lower section never pushes out
    a better fact of another; an empty result is an empty string."""
    limit = min(max_chars, MAX_CHARS, max(0, budget_tokens) * 4)
    head = f"## {heading}\n"
    spent = len(head)
    chosen: dict[str, list[str]] = {}
    used: list[str] = []
    for s in scored:
        c = s.candidate
        kind = c.kind if any(k == c.kind for k, _ in SECTIONS) else "other"
        line = render_item(c, max_chars=max(ITEM_MAX_CHARS, limit // 3))
        cost = len(line) + 1 + (0 if kind in chosen else len(_section_title(kind)) + 6)
        if spent + cost > limit:
            room = limit - spent - (0 if kind in chosen else len(_section_title(kind)) + 6) - 1
            if room < 80:
                continue
            line = render_item(c, max_chars=room)
            cost = limit - spent
        chosen.setdefault(kind, []).append(line)
        used.append(c.id)
        spent += cost
    if not used:
        return "", ()
    parts = [head]
    for kind in [k for k, _ in SECTIONS] + ["other"]:
        if kind in chosen:
            parts.append(f"\n### {_section_title(kind)}\n" + "\n".join(chosen[kind]) + "\n")
    text = "".join(parts)
    return text[:limit], tuple(used)


def _section_title(kind: str) -> str:
    return next((title for k, title in SECTIONS if k == kind), "Other")


def recall(candidates: Iterable[Candidate], q: RecallQuery, *, heading: str | None = None) -> RecallResult:
    """Rank ``candidates`` for ``q`` and assemble the markdown within ``q``'s budget."""
    ranked = rank(candidates, q)
    markdown, used = assemble(
        ranked,
        budget_tokens=q.budget_tokens,
        max_chars=q.max_chars,
        heading=heading or "Recalled context (MSP Mode)",
    )
    return RecallResult(markdown, used, estimate_tokens(markdown), tuple(ranked))
