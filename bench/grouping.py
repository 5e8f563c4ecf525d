"""Grouping of log messages: our normaliser + grouping (``mspmode.engine.grouping``, ONE
configuration for every dataset) against the ``drain3`` library with its default settings, on the
16 Loghub-2k datasets (corrected labels), in the same run.

    python bench/grouping.py [DATA_DIR]

Default data: ``<repo>/../shared/data/loghub-2k/`` (its README defines the metrics and gives the
reference numbers). Prints GA and FGA per dataset for both, the plain mean over the 14 datasets the
published numbers cover and over all 16, and lines/s for both (the best of a few runs of each, so
that the machine's other load weighs less). The harness is checked first: drain3's 14-dataset
mean must be the README's 0.752 / 0.732.
"""

from __future__ import annotations

import csv
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mspmode.engine.grouping import fga, group, grouping_accuracy  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "data" / "loghub-2k"
PUBLISHED = (  # the order of the README's reference table; Android and Windows are reported apart
    "Hadoop", "HDFS", "OpenStack", "Spark", "Zookeeper", "BGL", "HPC", "Thunderbird", "Linux", "Mac",
    "Apache", "OpenSSH", "HealthApp", "Proxifier",
)  # fmt: skip
EXTRA = ("Android", "Windows")
DRAIN3_EXPECTED = (0.752, 0.732)  # README: drain3 0.9.11 defaults, mean over the 14
RUNS = 3


def load(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["Content"] for r in rows], [r["EventTemplate"] for r in rows]


def ours(messages: Sequence[str]) -> list[int]:
    return group(messages).labels


def drain3(messages: Sequence[str]) -> list[int]:
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    miner = TemplateMiner(config=TemplateMinerConfig())  # defaults, no drain3.ini, no masking
    return [miner.add_log_message(m)["cluster_id"] for m in messages]


def timed(fn: Callable[[Sequence[str]], list[int]], messages: Sequence[str]) -> tuple[list[int], float]:
    best, labels = float("inf"), []
    for _ in range(RUNS):
        started = time.perf_counter()
        labels = fn(messages)
        best = min(best, time.perf_counter() - started)
    return labels, best


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not (data / "HDFS.csv").exists():
        sys.exit(f"Loghub-2k not found in {data} (give its folder as the argument)")
    try:
        import drain3 as _  # noqa: F401
    except ImportError:
        sys.exit("drain3 is not installed: pip install -e '.[dev]'")
    logging.getLogger("drain3").setLevel(logging.WARNING)
    results: dict[str, dict[str, tuple[float, float]]] = {"ours": {}, "drain3": {}}
    seconds = {"ours": 0.0, "drain3": 0.0}
    lines = 0
    print(f"{'dataset':<12} {'ours GA':>8} {'ours FGA':>9} {'drain3 GA':>10} {'drain3 FGA':>11}")
    for name in (*PUBLISHED, *EXTRA):
        messages, truth = load(data / f"{name}.csv")
        lines += len(messages)
        for who, fn in (("ours", ours), ("drain3", drain3)):
            labels, spent = timed(fn, messages)
            seconds[who] += spent
            results[who][name] = (grouping_accuracy(truth, labels), fga(truth, labels))
        (og, of), (dg, df) = results["ours"][name], results["drain3"][name]
        print(f"{name:<12} {og:>8.3f} {of:>9.3f} {dg:>10.3f} {df:>11.3f}")

    def mean(who: str, names: Sequence[str]) -> tuple[float, float]:
        rows = [results[who][n] for n in names]
        return sum(r[0] for r in rows) / len(rows), sum(r[1] for r in rows) / len(rows)

    everything = (*PUBLISHED, *EXTRA)
    for label, names in (("mean of 14", PUBLISHED), ("mean of 16", everything)):
        (og, of), (dg, df) = mean("ours", names), mean("drain3", names)
        print(f"{label:<12} {og:>8.3f} {of:>9.3f} {dg:>10.3f} {df:>11.3f}")
    dg, df = mean("drain3", PUBLISHED)
    ok = round(dg, 3) == DRAIN3_EXPECTED[0] and round(df, 3) == DRAIN3_EXPECTED[1]
    print(
        f"harness check: drain3 defaults mean of 14 = {dg:.3f} / {df:.3f}, README "
        f"{DRAIN3_EXPECTED[0]:.3f} / {DRAIN3_EXPECTED[1]:.3f}: {'matches' if ok else 'DOES NOT MATCH'}"
    )
    ours_rate, drain_rate = lines / seconds["ours"], lines / seconds["drain3"]
    print(
        f"throughput (best of {RUNS} per dataset, {lines} lines): ours {ours_rate:,.0f} lines/s, "
        f"drain3 {drain_rate:,.0f} lines/s, ratio {ours_rate / drain_rate:.2f}x"
    )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
