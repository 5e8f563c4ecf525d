"""The real-world corpus (tests/corpora/realworld: failures quoted from public sources, see its
SOURCES.md): every failure's class, culprit, fingerprint and exact-repeat verdict against a
reviewed snapshot, and the scores of the part the engine is tuned on (and of the shared dev sets)
against the issue's bars. The held-out part is only measured, by bench/learning.py.

After an intended change, regenerate the corpus (``python tests/corpora/realworld/build.py``)
and the snapshot (``MSP_UPDATE_SNAPSHOTS=1 pytest tests/unit/engine/test_realworld_corpus.py``),
and review the diff."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mspmode.engine import Memory, check, classify, find_culprit, fingerprint, ingest, parse, record, targets
from mspmode.engine.tokenize import dialect_for_shell
from tests.corpora.realworld.build import checks_for, held_out, lines_for
from tests.corpora.realworld.cases import CASES
from tests.corpora.realworld.hosts import HOSTS

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "corpora" / "realworld"
SNAPSHOT = ROOT / "tests" / "snapshots" / "realworld-corpus.json"
SHARED = next(
    (p / "shared" for p in ROOT.parents if (p / "shared" / "scenarios").is_dir()), ROOT.parent / "shared"
)


def _analyse(case: dict[str, Any]) -> dict[str, Any]:
    traits = HOSTS[case["host"]][1]
    script = parse(case["cmd"], dialect_for_shell(traits.get("shell_type")))
    effective = targets(script)[0][1]
    classification = classify(case["code"], case["out"])
    assert classification is not None, "every case is a failure"
    culprit = find_culprit(classification, case["out"], effective)
    memory = Memory()
    ingest(memory, {"kind": "host", "hostname": case["host"], **traits})
    learned = record(
        memory, case["host"], case["cmd"], case["code"], case["out"], "2026-03-02T08:00:00Z", "s"
    )
    return {
        "class": classification.failure_class,
        "rule": classification.rule,
        "culprit": culprit.key if culprit else None,
        "fingerprint": fingerprint(classification.failure_class, culprit, case["out"]).hash[:16],
        "exact_repeat": check(memory, case["host"], case["cmd"]).verdict,
        "learned_class": learned.record.failure_class,
    }


def test_the_built_files_are_current() -> None:
    """tune.jsonl and heldout.jsonl are what build.py makes of cases.py (nothing edited by hand)."""
    for name, part in (
        ("tune.jsonl", [c for c in CASES if not held_out(c["id"])]),
        ("heldout.jsonl", [c for c in CASES if held_out(c["id"])]),
    ):
        built = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines_for(part))
        assert (CORPUS / name).read_text(encoding="utf-8") == built, (
            f"run tests/corpora/realworld/build.py ({name})"
        )


def test_every_case_names_its_source_and_the_corpus_spans_the_platforms() -> None:
    assert len({c["id"] for c in CASES}) == len(CASES)
    for c in CASES:
        assert c["src"].startswith("github.com/") and c["plat"], c["id"]
    shells = {HOSTS[c["host"]][1].get("shell_type") for c in CASES}
    assert {"powershell", "cmd", "sh", "ash", "zsh", "bash", "tcsh", "mysql", "psql", "sqlcmd"} <= shells
    assert any(str(s).endswith("-cli") for s in shells)  # network devices
    assert sum(1 for c in CASES if c.get("transient")) >= 5
    assert sum(1 for c in CASES if "docker exec" in c["cmd"]) >= 3
    sources = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    assert all(f"| {c['id']} |" in sources for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_a_failure_that_is_not_transient_blocks_its_exact_repeat(case: dict[str, Any]) -> None:
    got = _analyse(case)
    if case.get("transient"):
        assert got["exact_repeat"] == "allow", got
    else:
        assert got["exact_repeat"] == "block", got


def test_snapshot() -> None:
    current = {c["id"]: _analyse(c) for c in CASES}
    if os.environ.get("MSP_UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    stored = json.loads(SNAPSHOT.read_text())
    changed = sorted(k for k in current if stored.get(k) != current[k])
    assert not changed, f"snapshot differs for {changed}; review and set MSP_UPDATE_SNAPSHOTS=1"
    assert set(stored) == set(current)


def _score(path: Path) -> dict[str, Any]:
    events = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    memory = Memory(lazy_refresh=True, keep_outputs=False)
    for event in events:
        if event.get("kind") != "check":
            ingest(memory, event)
    s: dict[str, Any] = {"to_stop": 0, "stopped": 0, "allows": 0, "false_blocks": 0, "false_warnings": 0}
    s |= {"with_fix": 0, "fixes": 0, "misses": []}
    for event in (e for e in events if e.get("kind") == "check"):
        result = check(memory, event.get("host"), event["command"])
        if event["expect"] == "allow":
            s["allows"] += 1
            s["false_blocks"] += result.verdict == "block"
            s["false_warnings"] += result.verdict == "warn"
        else:
            s["to_stop"] += 1
            ok = result.verdict == "block" if event["expect"] == "block" else result.verdict != "allow"
            s["stopped"] += ok
        if event["expect"] != result.verdict and not (
            event["expect"] == "warn_or_block" and result.verdict != "allow"
        ):
            s["misses"].append((event["why"], result.verdict))
        if event.get("expect_suggestion"):
            s["with_fix"] += 1
            first = result.suggestions[0] if result.suggestions else ""
            s["fixes"] += event["expect_suggestion"].lower() in first.lower()
    return s


@pytest.mark.parametrize(
    "path",
    [
        CORPUS / "tune.jsonl",
        SHARED / "scenarios" / "realworld-dev.jsonl",
        SHARED / "scenarios" / "dev-learning.jsonl",
    ],
    ids=["corpus-tune", "realworld-dev", "dev-learning"],
)
def test_scores_meet_the_bars(path: Path) -> None:
    """Stopped ≥ 95 %, no false block, false warnings ≤ 5 %, fix found ≥ 90 % (issue 17)."""
    if not path.exists():
        pytest.skip(f"{path} not found (the shared folder lives beside the repository)")
    s = _score(path)
    assert s["to_stop"] >= 10 and s["allows"] >= 5 and s["with_fix"] >= 10
    assert s["stopped"] / s["to_stop"] >= 0.95, s["misses"]
    assert s["false_blocks"] == 0, s["misses"]
    assert s["false_warnings"] / s["allows"] <= 0.05, s["misses"]
    assert s["fixes"] / s["with_fix"] >= 0.90, s["misses"]


def test_checks_are_generated_per_case() -> None:
    transient = next(c for c in CASES if c.get("transient"))
    assert {x["expect"] for x in checks_for(transient)} == {"allow"}
