"""Hook latency as Claude Code sees it: every hook is a new process (the command ``msp hooks
install`` writes, ``python -S …/mspmode/hooks/__main__.py EVENT``) with the event's JSON on
stdin, timed from spawn to exit, against a database of 100k commands / 10k failure patterns
(the history of ``bench/precheck.py``), beside a bare
``python -c pass`` of the same interpreter in the same run.

    python bench/hooks.py [--commands 100000] [--hosts 2000] [--patterns 10000] [--runs 40]

Budget (DESIGN.md, issue 6/7): PreToolUse p50 ≤ 60 ms and ≤ 6× bare python. On a shared
machine the load moves every figure, so each pre-tool run is paired with a bare run just before
it and the ratio is to those. The pre-tool rows:
  routine   commands no recorded failure can match (the fast path, no engine import)
  known     exact repeats and culprit matches of recorded failures (the engine over the index)
  mix       the pre-check bench's mix (repeats, culprit matches, trait twins, routine,
            unknown, through ssh) — what an agent's stream of commands looks like
The other hooks write through a short-lived ``msp`` process (PostToolUse: record + learn +
index update; SessionStart: save queued sessions + recall) and have no latency budget beyond
their timeouts; they are printed for the record.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from precheck import POSIX_OK, PROFILES, checks_for, make_history, runtime

from mspmode.cli.hooks import hook_argv
from mspmode.services import learning
from mspmode.services.actor import local_actor
from mspmode.services.hooks import sync_index
from mspmode.services.setup import initialize


def timed(argv: list[str], payload: Any, env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, input=json.dumps(payload).encode(), capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{argv} failed: {proc.stderr.decode()[-500:]}")
    return elapsed, proc.stdout.decode()


def row(label: str, samples: list[float], bare: float | list[float], note: str = "") -> None:
    """One line; ``bare`` is the run's bare median or the bare samples taken between these
    (the machine's load moves both alike: the ratio is what compares)."""
    qs = statistics.quantiles(samples, n=20, method="inclusive") if len(samples) > 1 else samples * 19
    p50, p95 = statistics.median(samples), qs[18]
    base = statistics.median(bare) if isinstance(bare, list) else bare
    print(
        f"{label:<30} n={len(samples):<3} p50 {p50 * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  "
        f"= {p50 / base:4.1f}x bare ({base * 1000:.0f} ms){('  ' + note) if note else ''}"
    )


def pre(command: str, host: str | None) -> dict[str, Any]:
    base = {
        "session_id": "bench",
        "transcript_path": "/dev/null",
        "cwd": "/tmp",
        "hook_event_name": "PreToolUse",
    }
    if host is None:
        return {**base, "tool_name": "Bash", "tool_input": {"command": command}}
    return {**base, "tool_name": "mcp__ssh__run_command", "tool_input": {"host": host, "command": command}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--hosts", type=int, default=2_000)
    parser.add_argument("--patterns", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=40, help="runs of each pre-tool row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="msp-bench-hooks-") as tmp:
        home = Path(tmp)
        history_path = home / "history.jsonl"
        history = make_history(history_path, args.commands, args.hosts, args.patterns)
        rt = runtime(home)
        # As `msp init` does: the first audit row is part of the database's identity, which
        # the CLI's learning snapshot (what a PostToolUse loads) is checked against.
        initialize(rt.settings)
        t0 = time.perf_counter()
        report = learning.import_file(rt, local_actor(), history_path)
        learning.use_snapshots(rt)
        t1 = time.perf_counter()
        sync_index(rt, force=True)
        t2 = time.perf_counter()
        label = rt.settings.database_url
        from mspmode.hooks import config, index

        index_file = Path(index.index_path(home, config.database_label(label, home)))
        print(
            f"database        {report.commands:,} commands on {args.hosts:,} hosts, imported {t1 - t0:.1f} s "
            f"+ index written in {t2 - t1:.1f} s ({index_file.stat().st_size / 1e6:.0f} MB)"
        )
        rt.dispose()

        env = {k: v for k, v in os.environ.items() if not k.startswith("MSP_")}
        env.update(MSP_HOME=str(home), MSP_DATABASE_URL=str(label))
        hook = hook_argv("PreToolUse")[:-1]  # what msp hooks install writes, without the event
        bare_samples = [timed([sys.executable, "-c", "pass"], {}, env)[0] for _ in range(args.runs)]
        bare = statistics.median(bare_samples)
        row("bare python -c pass", bare_samples, bare)

        checks = checks_for(history, args.runs * 6)
        rng = random.Random(5)
        routine = [(h, c) for i, (h, c) in enumerate(checks) if i % 6 in (3, 4)][: args.runs]
        known = [(h, c) for i, (h, c) in enumerate(checks) if i % 6 in (0, 1)][: args.runs]
        mix = rng.sample(checks, min(len(checks), args.runs * 2))
        for name, items in (("routine", routine), ("known", known), ("mix", mix)):
            samples, paired, verdicts = [], [], {"deny": 0, "context": 0, "allow": 0}
            for host, command in items:
                paired.append(timed([sys.executable, "-c", "pass"], {}, env)[0])
                elapsed, out = timed([*hook, "PreToolUse"], pre(command, host), env)
                samples.append(elapsed)
                decision = json.loads(out)["hookSpecificOutput"] if out.strip() else {}
                key = (
                    "deny"
                    if decision.get("permissionDecision") == "deny"
                    else "context"
                    if decision
                    else "allow"
                )
                verdicts[key] += 1
            budget = "budget p50 ≤ 60 ms, ≤ 6x" if name == "mix" else ""
            row(f"PreToolUse {name}", samples, paired, f"{verdicts}  {budget}".strip())

        prompt_samples = []
        names = history["hosts"]
        for i in range(max(5, args.runs // 4)):
            prompt = f"Please look at {names[i * 37 % len(names)]} again, the backup failed"
            payload = {"session_id": "bench", "transcript_path": "/dev/null", "cwd": "/tmp",
                       "hook_event_name": "UserPromptSubmit", "prompt": prompt}  # fmt: skip
            prompt_samples.append(timed([*hook, "UserPromptSubmit"], payload, env)[0])
        row("UserPromptSubmit", prompt_samples, bare)

        transcript = home / "transcript.jsonl"
        transcript.write_text(
            "\n".join(
                json.dumps({"type": "user", "message": {"role": "user", "content": f"step {i}: {c}"}})
                for i, (_, c) in enumerate(checks[:200])
            )
        )
        stop_samples = []
        for _ in range(max(5, args.runs // 4)):
            payload = {"session_id": "bench", "transcript_path": str(transcript), "cwd": "/tmp",
                       "hook_event_name": "Stop", "stop_hook_active": False}  # fmt: skip
            stop_samples.append(timed([*hook, "Stop"], payload, env)[0])
        row("Stop (queues the session)", stop_samples, bare)

        post_samples, fail_samples, queued = [], [], 0
        profile_hosts = [h for h in names if history["profile"][h] is PROFILES[3]][:10]
        for i, host in enumerate(profile_hosts[:5]):
            ok = {"session_id": "bench", "transcript_path": "/dev/null", "cwd": "/tmp",
                  "hook_event_name": "PostToolUse", "tool_name": "mcp__ssh__run_command",
                  "tool_input": {"host": host, "command": POSIX_OK[i % len(POSIX_OK)][0]},
                  "tool_response": {"stdout": "fine", "stderr": ""}}  # fmt: skip
            elapsed, out = timed([*hook, "PostToolUse"], ok, env)
            post_samples.append(elapsed)
            queued += "msp hooks sync" in out
            failed = {**ok, "hook_event_name": "PostToolUseFailure", "tool_response": None,
                      "tool_input": {"host": host, "command": f"frobnicate-{i} --now"},
                      "error": f"Exit code 127\nbash: frobnicate-{i}: command not found"}  # fmt: skip
            elapsed, out = timed([*hook, "PostToolUseFailure"], failed, env)
            fail_samples.append(elapsed)
            queued += "msp hooks sync" in out
        note = "a short-lived msp process, waited for"
        if queued:
            note += f"; {queued} queued for msp hooks sync (the snapshot did not match the engine's code)"
        row("PostToolUse (record, learn)", post_samples, bare, note)
        row("PostToolUseFailure", fail_samples, bare)

        start_samples = []
        for source in ("startup", "compact", "resume"):
            payload = {"session_id": f"bench-{source}", "transcript_path": str(transcript), "cwd": "/tmp",
                       "hook_event_name": "SessionStart", "source": source}  # fmt: skip
            elapsed, out = timed([*hook, "SessionStart"], payload, env)
            start_samples.append(elapsed)
        injected = json.loads(out)["hookSpecificOutput"]["additionalContext"] if out.strip() else ""
        row("SessionStart (save + recall)", start_samples, bare, f"{len(injected):,} chars injected")
        log = home / "hook.log"
        if log.exists():
            print(f"hook.log: {log.read_text()[-600:]}")


if __name__ == "__main__":
    main()
