"""Secrets known to the vault, found wherever they appear verbatim in a text
(:class:`KnownSecrets`): what no rule of ``redact`` could recognise — a password that looks
like any word — is still replaced by ``[REDACTED:vault]`` before text is stored or logged.
``redact.redact(text, known)`` applies the rules, then these.
"""

from __future__ import annotations

import bisect
import hmac
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from mspmode.vault.redact import PLACEHOLDER, placeholder

__all__ = ["KNOWN_SECRETS_PURPOSE", "KnownSecrets"]

#: The ``Keyring.derive_key`` purpose of the known-secrets HMAC key.
KNOWN_SECRETS_PURPOSE = "known-secrets-v1"

# Where a stored secret may begin or end inside a whitespace-separated word: at the word's edges
# and on either side of one of these (a secret may itself begin or end with one).
# Control characters too: a secret beside a NUL is still a word of its own.
_DELIMITERS = r"""'"`=:;,@/\\|&?#()\[\]{}<>!.\x00-\x08\x0e-\x1f\x7f"""
_DELIMITER = re.compile(f"[{_DELIMITERS}]")
# The pieces a text falls into between whitespace and delimiters; and an option's attached value.
_SEGMENT = re.compile(rf"[^\s{_DELIMITERS}]+")
_OPTION_VALUE = re.compile(rf"-(?<![^\s{_DELIMITERS}]-)[A-Za-z]([^\s{_DELIMITERS}]+)")
_MAX_WORDS = 8  # secrets of more words (a PEM block) are matched by their long words instead


class KnownSecrets:
    """The vault's secrets as HMAC-SHA256 digests under ``key`` and their lengths, for removing
    a stored secret wherever it appears verbatim. No plaintext is kept.

    ``key`` should be ``keyring.derive_key(KNOWN_SECRETS_PURPOSE)``; build one from every
    plaintext at start-up or when the vault changes, and add each new secret when it is written.
    Secrets shorter than ``MIN_LENGTH`` characters are not matched: they would take ordinary
    words with them. Also matched: the secret URL-encoded and JSON-escaped, as it appears in
    URLs and logged JSON.

    How: each secret's longest piece between delimiters (its core) is kept as a digest too, and
    as its Python ``hash()`` (keyed per process, never persisted) for a C-speed first check. A
    text is split into its distinct pieces in one regex pass; only when a piece is a core are the
    words around it searched for the whole secret, at every place a secret may begin and end. A
    text with no stored secret in it costs one split and one set lookup per distinct piece.
    """

    MIN_LENGTH = 6

    def __init__(self, key: bytes, plaintexts: Iterable[bytes | str] = ()) -> None:
        if len(key) < 16:
            raise ValueError("the known-secrets key must be at least 16 bytes")
        self._key = bytes(key)
        self._digests: frozenset[bytes] = frozenset()
        self._lengths: tuple[int, ...] = ()
        self._length_set: frozenset[int] = frozenset()
        self._cores: frozenset[bytes] = frozenset()
        self._core_hashes: frozenset[int] = frozenset()
        self._scan_all = False  # some secret has no core long enough to look for
        self._phrases: dict[int, frozenset[int]] = {}  # words -> lengths of secrets with spaces
        self._widest_phrase = 0
        self._count = 0
        for plaintext in plaintexts:
            self.add(plaintext)

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"KnownSecrets({self._count} secrets)"

    def __reduce__(self) -> Any:
        # hash() is salted per process: unpickled elsewhere, the first check would miss every
        # secret, silently. Each process builds its own from the vault instead.
        raise TypeError("KnownSecrets is per process: build it from the vault in each process")

    def add(self, plaintext: bytes | str) -> bool:
        """Remember one secret; False if it cannot be matched (too short, not text)."""
        if isinstance(plaintext, bytes | bytearray):
            try:
                plaintext = bytes(plaintext).decode("utf-8")
            except UnicodeDecodeError:
                return False
        secret = plaintext.strip()
        if len(secret) < self.MIN_LENGTH:
            return False
        forms = {secret, quote(secret, safe=""), json.dumps(secret, ensure_ascii=False)[1:-1]}
        digests, lengths = set(self._digests), set(self._length_set)
        cores, core_hashes, phrases = set(self._cores), set(self._core_hashes), dict(self._phrases)
        scan_all, widest = self._scan_all, self._widest_phrase
        for form in forms:
            words = form.split()
            if len(words) == 1:
                candidates = [form]
            elif len(words) <= _MAX_WORDS:
                candidates = [form]
                phrases[len(words)] = phrases.get(len(words), frozenset()) | {len(form)}
                widest = max(widest, len(form))
            else:
                candidates = [w for w in words if len(w) >= 20]
            for candidate in candidates:
                digests.add(self._digest(candidate))
                lengths.add(len(candidate))
                core = max(_SEGMENT.findall(candidate), key=len, default="")
                if not core:
                    scan_all = True  # all delimiters ("!!!!!!"): looked for in every word
                else:
                    cores.add(self._digest(core))
                    core_hashes.add(hash(core))
        # Swapped in whole, so a redact() running meanwhile sees the old state or the new one.
        self._digests, self._length_set, self._lengths = (
            frozenset(digests),
            frozenset(lengths),
            tuple(sorted(lengths)),
        )
        self._cores, self._core_hashes = frozenset(cores), frozenset(core_hashes)
        self._phrases, self._scan_all, self._widest_phrase = phrases, scan_all, widest
        self._count += 1
        return True

    def redact(self, text: str, label: str = "vault") -> str:
        """``text`` with every occurrence of a known secret replaced by ``[REDACTED:label]``."""
        if not self._digests or len(text) < self.MIN_LENGTH:
            return text
        mark = placeholder(label)
        if self._scan_all:
            regions = [(0, len(text))]
        else:
            pieces = set(_SEGMENT.findall(text))
            pieces.update(_OPTION_VALUE.findall(text))
            core_hashes = self._core_hashes
            # hash() first: C speed, and a hit is rare; the digest then confirms it.
            hits = [p for p in pieces if hash(p) in core_hashes and self._digest(p) in self._cores]
            if not hits:
                return text
            regions = self._regions(text, hits)
        out, pos = [], 0
        for start, end in regions:
            region = text[start:end]
            if self._phrases:
                region = self._redact_phrases(region, mark)
            out.append(text[pos:start])
            out.append(_WORD.sub(lambda m: self._redact_word(m.group(0), mark), region))
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def _digest(self, candidate: str) -> bytes:
        return hmac.digest(self._key, candidate.encode("utf-8", "surrogatepass"), "sha256")[:16]

    def _regions(self, text: str, hits: list[str]) -> list[tuple[int, int]]:
        """The stretches of whole words around each occurrence of a hit piece, wide enough for
        the longest phrase, merged where they overlap."""
        finder = re.compile("|".join(re.escape(h) for h in sorted(hits, key=len, reverse=True)))
        margin = self._widest_phrase
        spans: list[tuple[int, int]] = []
        for m in finder.finditer(text):
            start = _word_start(text, max(0, m.start() - margin))
            end = _word_end(text, min(len(text), m.end() + margin))
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], end))
            else:
                spans.append((start, end))
        return spans

    def _redact_word(self, word: str, mark: str) -> str:
        if "[REDACTED:" in word:
            # Placeholders are not part of any secret: look only at the text between them.
            parts, pos = [], 0
            for m in PLACEHOLDER.finditer(word):
                parts.append(self._redact_word(word[pos : m.start()], mark) if m.start() > pos else "")
                parts.append(m.group(0))
                pos = m.end()
            parts.append(self._redact_word(word[pos:], mark) if pos < len(word) else "")
            return "".join(parts)
        n = len(word)
        if not self._lengths or n < self._lengths[0]:
            return word
        # The same places a placeholder's edges leave, so a second pass finds nothing new.
        bounds = {0, n}
        if n > 2 and word[0] == "-" and word[1].isalpha():
            bounds.add(2)  # an option with its value attached: -pSECRET
        for m in _DELIMITER.finditer(word):
            bounds.add(m.start())
            bounds.add(m.end())
        edges = sorted(bounds)
        found: list[tuple[int, int]] = []
        min_len, max_len, lengths = self._lengths[0], self._lengths[-1], self._length_set
        for s in edges:
            lo = bisect.bisect_left(edges, s + min_len)
            hi = bisect.bisect_right(edges, s + max_len)
            for e in edges[lo:hi]:
                if (e - s) in lengths and self._digest(word[s:e]) in self._digests:
                    found.append((s, e))
        if not found:
            return word
        # Longest first, then earliest; overlapping finds collapse into the first taken.
        found.sort(key=lambda se: (se[0] - se[1], se[0]))
        taken: list[tuple[int, int]] = []
        for s, e in found:
            if all(e <= ts or s >= te for ts, te in taken):
                taken.append((s, e))
        out, pos = [], 0
        for s, e in sorted(taken):
            out.append(word[pos:s])
            out.append(mark)
            pos = e
        out.append(word[pos:])
        return "".join(out)

    def _redact_phrases(self, text: str, mark: str) -> str:
        words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        found: list[tuple[int, int]] = []
        for count, lengths in self._phrases.items():
            for i in range(len(words) - count + 1):
                s, e = words[i][0], words[i + count - 1][1]
                # The phrase, and the phrase without quotes or punctuation around it.
                for ds in (0, 1):
                    for de in (0, 1):
                        ss, ee = s + ds, e - de
                        if (
                            ee - ss in lengths
                            and (ds == 0 or _DELIMITER.match(text, s))
                            and (de == 0 or _DELIMITER.match(text, e - 1))
                            and self._digest(text[ss:ee]) in self._digests
                        ):
                            found.append((ss, ee))
        if not found:
            return text
        found.sort()
        out, pos = [], 0
        for s, e in found:
            if s < pos:
                continue
            out.append(text[pos:s])
            out.append(mark)
            pos = e
        out.append(text[pos:])
        return "".join(out)


_WORD = re.compile(r"\S+")


def _word_start(text: str, i: int) -> int:
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    return i


def _word_end(text: str, i: int) -> int:
    while i < len(text) and not text[i].isspace():
        i += 1
    return i
