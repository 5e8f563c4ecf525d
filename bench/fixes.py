"""Fix transfer on thefuck's rule tests: learn a fix from ONE case of a rule, then see whether the
engine recognises the rule's other failures and suggests their fix.

    python bench/fixes.py [PAIRS.jsonl] [--misses] [--rules]

Default data: ``<repo>/../shared/data/thefuck-pairs.jsonl`` (see its README). Everything goes
through the functions the product uses (``mspmode.engine``): for each rule with ≥ 2 fix lines,
a fresh ``Memory`` learns the rule's first fix line the way a session shows it — ``record`` of
the failed command (exit 1, its output), then ``record`` of the corrected command (exit 0) in the
same session — and then, for each other line of the rule:

* fix lines: ``record`` the new failure, then ``transfer.suggest_fixes`` for it (the learned
  fixes of the pattern it joined, transplanted onto it by ``adapt``): is the first suggestion
  thefuck's first correction (top-1 exact), one of its corrections, something else (a wrong
  suggestion), or nothing;
* match lines (true: the rule's failure; false: not it): ``record`` the command with its output
  (exit 1); recognised when the learned pattern is among ``transfer.related_patterns`` of it
  (the pattern it joined, or one of the same failure with another word). Precision and recall.

``mocked_env`` cases (thefuck mocked files, PATH, history…) are reported apart. Micro averages
count cases; the macro average is over rules.

The rules are split in two by a hash of their name (:func:`held_out`): a quarter is held out and
reported apart. ``--misses`` lists the fix cases we got wrong and ``--rules`` prints, per rule
with a miss, its fix cases (top-1 exact, wrong, none; the families of misses, largest first) —
for the tuning part only, so the held-out figure stays an estimate on rules nobody tuned for
(``--heldout`` shows its misses too, and spends it). The split dates from 2026-03; work before
it looked at the misses of every rule.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mspmode.engine import Memory, record  # noqa: E402
from mspmode.engine.transfer import related_patterns, suggest_fixes  # noqa: E402

DEFAULT = next(
    (p / "shared" / "data" / "thefuck-pairs.jsonl" for p in ROOT.parents if (p / "shared" / "data").is_dir()),
    ROOT.parent / "shared" / "data" / "thefuck-pairs.jsonl",
)  # ../shared beside the checkout, or beside a folder above it (a worktree)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def held_out(rule: str) -> bool:
    """A quarter of the rules, fixed by their name: never looked at while tuning."""
    return hashlib.sha256(rule.encode()).digest()[0] % 4 == 0


def teach(teacher: dict[str, Any]) -> tuple[Memory, str | None]:
    memory = Memory()
    failed = record(memory, None, teacher["command"], 1, teacher["output"], T0, "s1")
    record(memory, None, teacher["corrected"][0], 0, "", T0 + timedelta(seconds=20), "s1")
    return memory, failed.pattern_id


def suggest(teacher: dict[str, Any], case: dict[str, Any]) -> str | None:
    memory, _ = teach(teacher)
    failed = record(memory, None, case["command"], 1, case["output"], T0 + timedelta(minutes=5), "s2")
    suggestions = suggest_fixes(memory, failed)
    return suggestions[0] if suggestions else None


def recognised(teacher: dict[str, Any], case: dict[str, Any]) -> bool:
    memory, pattern = teach(teacher)
    learned = record(memory, None, case["command"], 1, case["output"], T0 + timedelta(minutes=5), "s2")
    return pattern is not None and any(p.id == pattern for p in related_patterns(memory, learned))


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f} % ({part}/{whole})" if whole else "  n/a"


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show_misses = "--misses" in sys.argv
    path = Path(args[0]) if args else DEFAULT
    if not path.exists():
        sys.exit(f"thefuck pairs not found: {path} (give its path as the argument)")
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    fixes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    matches: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        (fixes if "corrected" in line else matches)[line["rule"]].append(line)
    rules = sorted(r for r, cases in fixes.items() if len(cases) >= 2)
    started = time.perf_counter()
    # counters per population ("plain" / "mocked_env"): fix cases, and recognition confusion
    fix_n: dict[str, int] = defaultdict(int)
    top1: dict[str, int] = defaultdict(int)
    anywhere: dict[str, int] = defaultdict(int)
    wrong: dict[str, int] = defaultdict(int)
    none: dict[str, int] = defaultdict(int)
    conf: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_rule: list[tuple[str, int, int]] = []
    rule_wrong: dict[str, int] = defaultdict(int)
    rule_none: dict[str, int] = defaultdict(int)
    misses: list[str] = []
    show_held_out = "--heldout" in sys.argv
    for rule in rules:
        teacher, *others = fixes[rule]
        part = "held-out" if held_out(rule) else "tune"
        rule_hits = 0
        for case in others:
            pop = (part, "mocked_env" if case.get("mocked_env") else "plain")
            got = suggest(teacher, case)
            fix_n[pop] += 1
            if got is None:
                none[pop] += 1
                rule_none[rule] += 1
            elif got == case["corrected"][0]:
                top1[pop] += 1
                rule_hits += 1
            elif got in case["corrected"]:
                anywhere[pop] += 1
            else:
                wrong[pop] += 1
                rule_wrong[rule] += 1
            if got != case["corrected"][0] and (part == "tune" or show_held_out):
                misses.append(
                    f"{rule}: learned {teacher['command']!r} → {teacher['corrected'][0]!r}; "
                    f"{case['command']!r}: wanted {case['corrected'][0]!r}, got {got!r}"
                )
        per_rule.append((rule, rule_hits, len(others)))
        for case in matches.get(rule, []):
            pop = (part, "mocked_env" if case.get("mocked_env") else "plain")
            said = recognised(teacher, case)
            conf[pop][("t" if said == case["match"] else "f") + ("p" if said else "n")] += 1
    spent = time.perf_counter() - started

    print(f"data            {path.name}: {len(rules)} rules with >= 2 fix lines, learned from the first")
    n_held = sum(held_out(r) for r in rules)
    print(f"split           {len(rules) - n_held} rules tuned on, {n_held} held out")
    groups: dict[str, list[tuple[str, str]]] = {
        f"{part} {kind}": [(part, kind)] for part in ("tune", "held-out") for kind in ("plain", "mocked_env")
    }
    groups |= {
        "tune": [("tune", "plain"), ("tune", "mocked_env")],
        "held-out": [("held-out", "plain"), ("held-out", "mocked_env")],
        "all": [(p, k) for p in ("tune", "held-out") for k in ("plain", "mocked_env")],
    }
    for pop, pops in groups.items():
        n = sum(fix_n[p] for p in pops)
        t1, any_, wr, no = (sum(c[p] for p in pops) for c in (top1, anywhere, wrong, none))
        tp, fp, fn = (sum(conf[p][k] for p in pops) for k in ("tp", "fp", "fn"))
        print(f"[{pop}]")
        print(f"  top-1 exact        {pct(t1, n)}")
        print(f"  in thefuck's list  {pct(t1 + any_, n)} (first suggestion among the corrections)")
        print(f"  wrong suggestion   {pct(wr, n)}")
        print(f"  no suggestion      {pct(no, n)}")
        print(f"  recognition        precision {pct(tp, tp + fp)}   recall {pct(tp, tp + fn)}")
    for part in ("tune", "held-out", "all"):
        with_cases = [
            (r, h, n) for r, h, n in per_rule if n and part in ("all", "held-out" if held_out(r) else "tune")
        ]
        macro = sum(h / n for _, h, n in with_cases) / len(with_cases) if with_cases else 0.0
        print(f"macro top-1 exact over {len(with_cases)} {part} rules: {100 * macro:.1f} %")
    print(f"time            {spent:.2f} s")
    if "--rules" in sys.argv:
        print("misses by rule (fix cases: top-1 exact / wrong / none)")
        missed = [(n - h, r, h, n) for r, h, n in per_rule if n - h and (show_held_out or not held_out(r))]
        for _miss, rule, hits, n in sorted(missed, key=lambda m: (-m[0], m[1])):
            print(f"  {rule:40} {n:3}: {hits:3} top-1 {rule_wrong[rule]:3} wrong {rule_none[rule]:3} none")
    if show_misses:
        for miss in misses:
            print(f"  {miss}")


if __name__ == "__main__":
    main()
