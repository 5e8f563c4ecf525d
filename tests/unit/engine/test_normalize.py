"""Masking, fingerprints, storage cleaning — and properties that must hold for any input."""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from mspmode.engine import clean_output, error_pattern, normalize, normalize_message, truncate
from mspmode.engine.normalize import MASKS


def test_masks_variable_parts() -> None:
    text = (
        "2026-02-01T10:00:00Z host db01.corp.example.com (192.0.2.7:5432) "
        "id 3f2b9c1e-8d4a-4b6e-9f1a-2c3d4e5f6a7b "
        "commit e5e2591040d1 at C:\\Users\\bob\\a.txt and /var/log/app.log: 'quoted' took 21003 ms, v1.36.1"
    )
    out = normalize(text)
    assert out == (
        "<ts> host <host> (<ip>) id <uuid> commit <hash> at <path> and <path>: '<q>' took <n> ms, <n>"
    )


def test_mask_table_is_named_and_commented() -> None:
    names = [m.name for m in MASKS]
    assert len(names) == len(set(names))
    assert all(m.comment for m in MASKS)
    assert names.index("url") < names.index("posix_path") < names.index("number")


def test_powershell_code_echo_is_dropped_but_error_ids_kept() -> None:
    msg = (
        "At line:1 char:10\n+ git pull && git status\n+          ~~\nThe token '&&' is not valid\n"
        "    + FullyQualifiedErrorId : InvalidEndOfLine"
    )
    out = normalize(msg)
    assert "git pull" not in out and "~~" not in out
    assert "FullyQualifiedErrorId : InvalidEndOfLine" in out


def test_culprit_masking_groups_shapes() -> None:
    a = normalize_message("-bash: dnf: command not found", "dnf")
    b = normalize_message("-bash: yum-config-manager: command not found", "yum-config-manager")
    assert a == b == "-bash: <culprit>: command not found"
    assert normalize_message("dnfx dnf-x dnf", "dnf") == "dnfx dnf-x <culprit>"


def test_error_pattern_is_built_from_escaped_literals() -> None:
    msg = 'sed: 1: "config.ini": invalid command code c  (.*+?)'
    pattern = error_pattern(normalize(msg))
    assert re.search(pattern, msg)
    assert re.search(pattern, 'sed: 12: "other.txt": invalid command code c  (.*+?)')
    # Nothing but literals and bounded gaps: no nested quantifiers to backtrack on.
    assert not re.search(r"\)[*+]|\*\)|\+\)", pattern)
    start = time.perf_counter()
    re.search(pattern, "sed: " + "1: " * 20_000)
    assert time.perf_counter() - start < 1.0


def test_truncate_keeps_head_and_tail() -> None:
    text = "HEAD " + "x" * 100_000 + " TAIL"
    out = truncate(text, 1000)
    assert len(out) <= 1000
    assert out.startswith("HEAD ") and out.endswith(" TAIL") and "omitted" in out


def test_clean_output_handles_binary_and_control_characters() -> None:
    blob = bytes(range(256)) * 200
    out = clean_output(blob, limit=2000)
    assert out.startswith("<binary output, 51200 bytes>") and len(out) <= 2000
    assert clean_output("a\x00b\r\nc\x1b[31md") == "ab\nc[31md"
    assert clean_output(None) == ""
    assert clean_output("ü ok".encode()) == "ü ok"


text_strategy = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300) | st.from_regex(
    r"[ -~\n]{0,80}(?:'[^'\n]{0,10}'|\d+\.\d+\.\d+\.\d+|/[a-z]+/[a-z]+|[0-9a-f]{8,12}|v\d\.\d+)[ -~\n]{0,80}"
)


@settings(max_examples=400, deadline=None)
@given(text_strategy)
def test_normalize_is_idempotent_and_total(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert isinstance(once, str)


@settings(max_examples=200, deadline=None)
@given(text_strategy, st.text(max_size=20))
def test_normalize_message_is_idempotent(text: str, culprit: str) -> None:
    once = normalize_message(text, culprit)
    assert normalize(once) == once


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000), st.integers(min_value=50, max_value=500))
def test_truncate_bounds(text: str, limit: int) -> None:
    out = truncate(text, limit)
    assert len(out) <= max(limit, len(text) if len(text) <= limit else limit)
    if len(text) <= limit:
        assert out == text


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000) | st.text(max_size=3000))
def test_clean_output_never_raises_and_never_leaks_nul(raw: bytes | str) -> None:
    out = clean_output(raw, limit=1000)
    assert "\x00" not in out and len(out) <= 1000


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_error_pattern_always_compiles_and_matches_its_source(text: str) -> None:
    norm = normalize(text)
    pattern = error_pattern(norm)
    compiled = re.compile(pattern)
    if re.search(r"[A-Za-z]{3}", norm) and pattern:
        line = next(ln for ln in norm.splitlines() if re.search(r"[A-Za-z]{3}", ln))
        assert compiled.search(line)
