"""Compression of real-shaped Claude Code transcripts: token reduction and key facts kept.

    python bench/compress.py [--corpus bench/corpora/transcripts] [--show NAME]

For each ``*.jsonl`` of the corpus (written by ``bench/corpora/transcripts/build.py``) the
transcript is compressed with the vault's redactor, as the Stop hook and ``msp context save
--transcript`` do, and its ``*.facts.json`` is checked: every key fact (command, error,
decision, path, host, credential name) must be in the summary, compared with whitespace
collapsed; every listed secret must not. Printed per transcript and overall: tokens before
and after (characters / 4) against the raw JSONL and against its conversational text alone
(prompts, agent text, tool inputs and outputs: the JSON framing and metadata excluded), the
share of key facts kept by kind, and the time taken. Goals: reduction ≥ 90 % of the
conversational text, 100 % of key facts, no secret.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from mspmode.engine.compress import compress_transcript
from mspmode.engine.recall import estimate_tokens
from mspmode.vault.redact import redact

CORPUS = Path(__file__).resolve().parent / "corpora" / "transcripts"


def conversational_text(lines: list[str]) -> str:
    """What a person would call the conversation: message texts, tool inputs and results."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            if "text" in value:
                walk(value["text"])
            if "input" in value:
                walk(list(value["input"].values()))
            if "content" in value:
                walk(value["content"])

    for line in lines:
        rec = json.loads(line)
        if rec.get("type") == "summary":
            out.append(rec.get("summary", ""))
        message = rec.get("message") or {}
        walk(message.get("content"))
    return "\n".join(out)


def flat(text: str) -> str:
    return " ".join(text.split()).lower()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--show", help="print the summary of this transcript")
    args = parser.parse_args()
    inventory = json.loads((args.corpus / "inventory.json").read_text())
    paths = sorted(args.corpus.glob("*.jsonl"))
    if not paths:
        print(f"no transcripts in {args.corpus}", file=sys.stderr)
        return 1
    totals = Counter[str]()
    kept_by_kind = Counter[str]()
    facts_by_kind = Counter[str]()
    missing: list[str] = []
    leaked: list[str] = []
    print(
        f"{'transcript':<26} {'raw tok':>8} {'text tok':>8} {'summary':>7} {'vs raw':>7} {'vs text':>7} "
        f"{'facts':>7} {'ms':>6}"
    )
    for path in paths:
        lines = path.read_text().splitlines()
        facts = json.loads(path.with_suffix("").with_suffix(".facts.json").read_text())
        t0 = time.perf_counter()
        packed = compress_transcript(lines, redact=redact, known_hosts=inventory)
        ms = (time.perf_counter() - t0) * 1000
        summary = flat(packed.summary)
        text_tokens = estimate_tokens(conversational_text(lines))
        kept = total = 0
        for kind, items in facts.items():
            if kind == "secrets":
                for secret in items:
                    if secret.lower() in summary:
                        leaked.append(f"{path.stem}: {secret}")
                continue
            for item in items:
                total += 1
                facts_by_kind[kind] += 1
                if flat(item) in summary:
                    kept += 1
                    kept_by_kind[kind] += 1
                else:
                    missing.append(f"{path.stem}: {kind}: {item}")
        totals["raw"] += packed.source_tokens
        totals["text"] += text_tokens
        totals["summary"] += packed.compressed_tokens
        totals["kept"] += kept
        totals["facts"] += total
        print(
            f"{path.stem:<26} {packed.source_tokens:>8} {text_tokens:>8} {packed.compressed_tokens:>7} "
            f"{1 - packed.compressed_tokens / packed.source_tokens:>7.1%} "
            f"{1 - packed.compressed_tokens / text_tokens:>7.1%} {kept:>3}/{total:<3} {ms:>6.1f}"
        )
        if args.show == path.stem:
            print(packed.summary)
    print(
        f"{'ALL':<26} {totals['raw']:>8} {totals['text']:>8} {totals['summary']:>7} "
        f"{1 - totals['summary'] / totals['raw']:>7.1%} {1 - totals['summary'] / totals['text']:>7.1%} "
        f"{totals['kept']:>3}/{totals['facts']:<3}"
    )
    print(
        "key facts kept by kind: "
        + ", ".join(f"{k} {kept_by_kind[k]}/{n}" for k, n in sorted(facts_by_kind.items()))
    )
    print(
        f"token reduction vs conversational text: {1 - totals['summary'] / totals['text']:.1%} (goal ≥ 90%)"
    )
    print(f"key facts kept: {totals['kept'] / totals['facts']:.1%} (must be 100%)")
    print(f"secrets in summaries: {len(leaked)} (must be 0)")
    for m in missing:
        print(f"  MISSING {m}")
    for m in leaked:
        print(f"  LEAKED {m}")
    return 0 if not missing and not leaked else 1


if __name__ == "__main__":
    sys.exit(main())
