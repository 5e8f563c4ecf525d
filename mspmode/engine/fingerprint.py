"""Fingerprints: what makes two failures "the same", and why.

A fingerprint is a hash over *components*, each marked as contributing or not with a hint that
says why (as in Sentry's grouping info). When the culprit is known it and the failure class
decide the group — ``dnf: command not found`` on CentOS and ``-ash: dnf: not found`` on a NAS are
one failure — and the message only rides along; without a culprit the normalised message
decides. ``message_hash`` (the schema's ``error_message_hash``) is always the hash of the
normalised message, for looking failures up by text.

``STRATEGY`` is dated: change it when the grouping changes, so stored fingerprints of an older
strategy can be told apart and regrouped.
"""

from __future__ import annotations

import re
from functools import lru_cache

from mspmode.engine.culprit import Culprit
from mspmode.engine.lazyre import lazy
from mspmode.engine.normalize import normalize_message
from mspmode.engine.struct import struct

__all__ = ["STRATEGY", "Component", "Fingerprint", "error_pattern", "fingerprint"]

STRATEGY = "2026-03-01"
_PLACEHOLDER = lazy(r"'<q>'|<(?:culprit|uuid|url|email|ts|mac|ip|hex|hash|path|host|q|n)>")
_GAP = ".{0,200}?"


@struct(frozen=True)
class Component:
    name: str
    value: str
    contributes: bool
    hint: str


@struct(frozen=True)
class Fingerprint:
    hash: str
    message_hash: str
    normalized_message: str
    components: tuple[Component, ...]
    strategy: str = STRATEGY

    def explain(self) -> str:
        """One line per component: what contributed to the hash and why."""
        lines = [f"fingerprint {self.hash[:16]} (strategy {self.strategy})"]
        for c in self.components:
            mark = "+" if c.contributes else "-"
            value = c.value if len(c.value) <= 120 else c.value[:117] + "..."
            lines.append(f"  {mark} {c.name}: {value!r} ({c.hint})")
        return "\n".join(lines)


def _sha(*parts: str) -> str:
    import hashlib  # here, not at the top: loading OpenSSL costs a pre-check hook 5 ms

    return hashlib.sha256("\x1f".join(parts).encode("utf-8", errors="replace")).hexdigest()


def fingerprint(failure_class: str, culprit: Culprit | None, message: str) -> Fingerprint:
    normalized = normalize_message(message, culprit.text if culprit else None)
    components = [Component("failure_class", failure_class, True, "the kind of failure always counts")]
    if culprit is not None:
        components.append(
            Component("culprit", culprit.key, True, f"{culprit.describe()}, found by rule {culprit.rule}")
        )
        components.append(
            Component(
                "message",
                normalized,
                False,
                "ignored: the culprit identifies the failure; wording varies by shell",
            )
        )
    else:
        components.append(Component("culprit", "", False, "no culprit named by the error"))
        components.append(
            Component("message", normalized, True, "normalised message (numbers, paths, hosts… masked)")
        )
    contributing = [c.value for c in components if c.contributes]
    return Fingerprint(
        hash=_sha(STRATEGY, *contributing),
        message_hash=_sha(normalized),
        normalized_message=normalized,
        components=tuple(components),
    )


def error_pattern(normalized_message: str, culprit_text: str | None = None) -> str:
    """A regex matching messages of this shape, built only from escaped literals joined by
    bounded gaps — linear to run whatever the input (never a catastrophic pattern)."""
    culprit = re.escape(culprit_text) if culprit_text else _GAP
    pattern = "".join(culprit if p is _CULPRIT else p for p in _shape(normalized_message)).strip()
    while pattern.startswith(_GAP):
        pattern = pattern[len(_GAP) :]
    while pattern.endswith(_GAP):
        pattern = pattern[: -len(_GAP)]
    return pattern or re.escape(culprit_text or "")


_CULPRIT = "\x00culprit"  # where the culprit goes in a shape (compared by identity)


@lru_cache(maxsize=4096)
def _shape(normalized_message: str) -> tuple[str, ...]:
    """The pieces of the pattern for one message shape, the culprit left as a slot: the same
    shape comes back for every culprit that fails the same way, so it is built once."""
    line = next((ln for ln in normalized_message.splitlines() if re.search(r"[A-Za-z]{3}", ln)), "")
    line = line[:300]
    parts: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(line):
        parts.append(_literal(line[pos : m.start()]))
        if m.group(0) == "<culprit>":
            parts.append(_CULPRIT)
        elif m.group(0) == "'<q>'":
            parts.append("['\"`‘“]" + _GAP + "['\"’”]")
        else:
            parts.append(_GAP)
        pos = m.end()
    parts.append(_literal(line[pos:]))
    return tuple(parts)


def _literal(text: str) -> str:
    return r"\s+".join(re.escape(w) for w in text.split(" ")) if text.strip() else (r"\s*" if text else "")
