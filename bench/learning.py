"""How well the learning works on the dev sets, through the real ``msp`` CLI: import each
history into a fresh database, pre-check every ``check`` line, and score the answers.

    python bench/learning.py [SCENARIO.jsonl ...] [--engine] [--misses]

Default sets, side by side: ``dev-learning.jsonl`` and ``realworld-dev.jsonl`` from the
``shared/scenarios`` folder beside the repository (or above it), and the project's own real-world
corpus, ``tests/corpora/realworld/tune.jsonl`` (tuned on) and ``heldout.jsonl`` (looked at only
to measure: the honest estimate on cases nobody tuned for). Each run gets its own temporary
MSP_HOME (SQLite), runs ``msp init``, ``msp import`` and ``msp check --json --batch`` as
subprocesses, and prints (scoring of shared/scenarios/README.md):

    stopped        block checks answered block, warn_or_block checks answered warn or block
    false blocks   allow checks answered block (must be 0)
    false warnings allow checks answered warn
    fix found      checks with expect_suggestion whose first suggestion contains it

``--engine`` replays the sets through the engine in this process instead (as the service holds
it: lazy refresh, outputs not kept): quicker, without the database, the redaction or the CLI.
``--misses`` lists every check answered wrongly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mspmode.engine import Memory, check, ingest  # noqa: E402


def shared_dir() -> Path:
    """The ``shared`` folder beside the checkout (``../shared``), or beside a folder above it
    (a worktree under ``wt/``)."""
    for parent in ROOT.parents:
        if (parent / "shared" / "scenarios").is_dir():
            return parent / "shared"
    return ROOT.parent / "shared"


CORPUS = ROOT / "tests" / "corpora" / "realworld"
DEFAULTS = (
    ("dev-learning", shared_dir() / "scenarios" / "dev-learning.jsonl"),
    ("realworld-dev", shared_dir() / "scenarios" / "realworld-dev.jsonl"),
    ("corpus tune", CORPUS / "tune.jsonl"),
    ("corpus held-out", CORPUS / "heldout.jsonl"),
)


def msp_command() -> list[str]:
    script = Path(sys.executable).with_name("msp")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mspmode"]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*msp_command(), *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 2):
        sys.exit(f"msp {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} % ({part}/{whole})" if whole else "n/a"


def score(checks: list[dict[str, Any]], answers: list[dict[str, Any]]) -> tuple[dict[str, str], list[str]]:
    stopped = to_stop = false_blocks = false_warnings = allows = fixes = with_fix = 0
    misses: list[str] = []
    for check_line, answer in zip(checks, answers, strict=True):
        verdict, expect = answer["verdict"], check_line["expect"]
        where = (
            f"{check_line.get('host')!r} {check_line['command']!r} ({check_line.get('why', '')}): {verdict}"
        )
        if expect == "allow":
            allows += 1
            false_blocks += verdict == "block"
            false_warnings += verdict == "warn"
            if verdict != "allow":
                misses.append(f"not allowed: {where} — {answer['reason']}")
        else:
            to_stop += 1
            ok = verdict == "block" if expect == "block" else verdict in ("block", "warn")
            stopped += ok
            if not ok:
                misses.append(f"not stopped: {where} — {answer['reason']}")
        wanted = check_line.get("expect_suggestion")
        if wanted:
            with_fix += 1
            first = answer["suggestions"][0] if answer["suggestions"] else ""
            if wanted.lower() in first.lower():
                fixes += 1
            else:
                misses.append(f"fix not first: {where}: wanted {wanted!r}, got {first!r}")
    figures = {
        "stopped": pct(stopped, to_stop),
        "false blocks": pct(false_blocks, allows),
        "false warnings": pct(false_warnings, allows),
        "fix found": pct(fixes, with_fix),
    }
    return figures, misses


def read(scenario: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events = [json.loads(x) for x in scenario.read_text(encoding="utf-8").splitlines() if x.strip()]
    return events, [e for e in events if e.get("kind") == "check"]


def through_cli(scenario: Path, checks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    with tempfile.TemporaryDirectory(prefix="msp-bench-learning-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MSP_")}
        env["MSP_HOME"] = str(Path(tmp) / "home")
        run(env, "init")
        started = time.perf_counter()
        imported = json.loads(run(env, "import", "--json", str(scenario)).stdout)
        import_s = time.perf_counter() - started
        batch = Path(tmp) / "checks.jsonl"
        batch.write_text("".join(json.dumps(c) + "\n" for c in checks), encoding="utf-8")
        started = time.perf_counter()
        answered = run(env, "check", "--json", "--batch", str(batch))
        check_s = time.perf_counter() - started
    answers = [json.loads(line) for line in answered.stdout.splitlines()]
    return answers, f"{imported['commands']} commands; import {import_s:.2f} s, check {check_s:.2f} s"


def through_engine(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    memory = Memory(lazy_refresh=True, keep_outputs=False)
    commands = 0
    for event in events:  # the whole history first, then every check: as import + check do
        if event.get("kind") != "check":
            commands += event.get("kind") == "command"
            ingest(memory, event)
    answers = [
        check(memory, e.get("host"), e["command"]).to_dict() for e in events if e.get("kind") == "check"
    ]
    return answers, f"{commands} commands (engine in process)"


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    in_process = "--engine" in sys.argv
    sets = [(Path(a).stem, Path(a)) for a in args] if args else list(DEFAULTS)
    columns: list[tuple[str, dict[str, str]]] = []
    for name, scenario in sets:
        if not scenario.exists():
            print(f"{name:<16} not found: {scenario}")
            continue
        events, checks = read(scenario)
        answers, how = through_engine(events) if in_process else through_cli(scenario, checks)
        figures, misses = score(checks, answers)
        columns.append((name, figures))
        print(f"{name:<16} {scenario.name}: {len(checks)} checks, {how}")
        if "--misses" in sys.argv:
            for miss in misses:
                print(f"  {miss}")
    if not columns:
        sys.exit("no scenario found")
    width = max(22, *(len(n) + 2 for n, _ in columns))
    print()
    print(f"{'':<15}" + "".join(f"{n:>{width}}" for n, _ in columns))
    for row in ("stopped", "false blocks", "false warnings", "fix found"):
        print(f"{row:<15}" + "".join(f"{f[row]:>{width}}" for _, f in columns))


if __name__ == "__main__":
    main()
