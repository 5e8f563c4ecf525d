"""How well the learning works on a scenario, through the real ``msp`` CLI: import the history
into a fresh database, pre-check every ``check`` line, and score the answers.

    python bench/learning.py [SCENARIO.jsonl]

Default scenario: ``<repo>/../shared/scenarios/dev-learning.jsonl``. Each run gets its own
temporary MSP_HOME (SQLite), runs ``msp init``, ``msp import`` and ``msp check --json --batch``
as subprocesses, and prints (scoring of shared/scenarios/README.md):

    stopped        block checks answered block, warn_or_block checks answered warn or block
    false blocks   allow checks answered block (must be 0)
    false warnings allow checks answered warn
    fix found      checks with expect_suggestion whose first suggestion contains it
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
DEFAULT = ROOT.parent / "shared" / "scenarios" / "dev-learning.jsonl"


def msp_command() -> list[str]:
    script = Path(sys.executable).with_name("msp")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mspmode"]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*msp_command(), *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 2):
        sys.exit(f"msp {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} % ({part}/{whole})" if whole else "n/a (0 checks)"


def score(checks: list[dict[str, Any]], answers: list[dict[str, Any]]) -> tuple[dict[str, str], list[str]]:
    stopped = to_stop = false_blocks = false_warnings = allows = fixes = with_fix = 0
    misses: list[str] = []
    for check, answer in zip(checks, answers, strict=True):
        verdict, expect = answer["verdict"], check["expect"]
        where = f"{check.get('host')!r} {check['command']!r} ({check.get('why', '')}): {verdict}"
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
        wanted = check.get("expect_suggestion")
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


def main() -> None:
    scenario = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not scenario.exists():
        sys.exit(f"scenario not found: {scenario} (give its path as the argument)")
    checks = []
    for line in scenario.read_text(encoding="utf-8").splitlines():
        if line.strip():
            event = json.loads(line)
            if event.get("kind") == "check":
                checks.append(event)
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
    figures, misses = score(checks, answers)
    print(f"scenario        {scenario.name}: {imported['commands']} commands, {len(checks)} checks")
    print(f"msp import      {import_s:.2f} s (process)   msp check --batch {check_s:.2f} s (process)")
    for name, value in figures.items():
        print(f"{name:<15} {value}")
    for miss in misses:
        print(f"  {miss}")


if __name__ == "__main__":
    main()
