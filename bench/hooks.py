"""Hook latency as Claude Code sees it: every hook is a new process (the command ``msp hooks
install`` writes, ``python -S …/mspmode/hooks/__main__.py EVENT``) with the event's JSON on
stdin, timed from spawn to exit, against a database of 100k commands / 10k failure patterns
(the history of ``bench/precheck.py``; ``--commands 0`` for an empty one), beside a bare
``python -S -c pass`` of the same interpreter in the same run. Each row prints the time the
hook adds over that bare start.

    python bench/hooks.py [--commands 100000] [--hosts 2000] [--patterns 10000] [--runs 40]
                          [--old CHECKOUT]

The hooks ask the local service (started and timed first: "first answer after start"); then
the service is stopped and kept down, and the degraded rows show what a hook does without it
(the pre-check from the on-disk index, PostToolUse journaled). ``--old CHECKOUT`` times the
same PreToolUse/PostToolUse with another checkout's hooks (e.g. one before the local service,
whose PostToolUse started an ``msp`` process per call) against a copy of the database.

Budget (DESIGN.md, issue 16): p50 ≤ 60 ms added per tool call; SessionStart ≤ 200 ms. On a
shared machine the load moves every figure, so each pre-tool run is paired with a bare run just
before it. The pre-tool rows:
  routine   commands no recorded failure can match (the fast path, no engine import)
  known     exact repeats and culprit matches of recorded failures (the engine over the index)
  mix       the pre-check bench's mix (repeats, culprit matches, trait twins, routine,
            unknown, through ssh) — what an agent's stream of commands looks like
PostToolUse records and learns in the service (the index on disk follows in its own thread);
SessionStart saves the queued sessions and recalls.
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
        f"{label:<32} n={len(samples):<3} p50 {p50 * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  "
        f"added p50 {(p50 - base) * 1000:6.1f} ms over bare ({base * 1000:.0f} ms)"
        f"{('  ' + note) if note else ''}"
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
    parser.add_argument("--old", default=None, help="another checkout whose hooks to time too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="msp-bench-hooks-") as tmp:
        home = Path(tmp)
        history_path = home / "history.jsonl"
        history = make_history(history_path, args.commands, args.hosts, args.patterns)
        rt = runtime(home)
        # As `msp init` does: the first audit row is part of the database's identity, which
        # the one store (the state the local service starts from, the index) is checked against.
        initialize(rt.settings)
        t0 = time.perf_counter()
        report = learning.import_file(rt, local_actor(), history_path)
        learning.use_store(rt)
        t1 = time.perf_counter()
        sync_index(rt, force=True)
        learning.save_state(rt)  # what the local service loads when it starts
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
        bare_samples = [timed([sys.executable, "-S", "-c", "pass"], {}, env)[0] for _ in range(args.runs)]
        bare = statistics.median(bare_samples)
        row("bare python -S -c pass", bare_samples, bare)
        if args.old:
            old_path(Path(args.old), home, env, history, args.runs, bare)
        t0 = time.perf_counter()
        started = subprocess.run(
            [sys.executable, "-m", "mspmode", "local-service", "start"],
            env=env,
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            sys.exit(started.stderr)
        print(
            f"local service started and warm in {time.perf_counter() - t0:.1f} s (first answer after start)"
        )
        try:
            rows(home, env, hook, history, args.runs, bare)
        finally:
            subprocess.run(
                [sys.executable, "-m", "mspmode", "local-service", "stop"], env=env, capture_output=True
            )
        (home / "service.failed").touch()  # kept down: what the hooks do without it
        degraded(env, hook, history, args.runs, bare)


def degraded(env: dict[str, str], hook: list[str], history: Any, runs: int, bare: float) -> None:
    checks = checks_for(history, runs * 2)
    samples, denied = [], 0
    for host, command in random.Random(7).sample(checks, min(len(checks), runs)):
        elapsed, out = timed([*hook, "PreToolUse"], pre(command, host), env)
        samples.append(elapsed)
        denied += '"deny"' in out
    row("degraded PreToolUse mix", samples, bare, f"{denied} denied from the index")
    journal = []
    for i in range(max(5, runs // 4)):
        ok = {"session_id": "bench", "transcript_path": "/dev/null", "cwd": "/tmp",
              "hook_event_name": "PostToolUse", "tool_name": "Bash",
              "tool_input": {"command": f"echo degraded-{i}"}, "tool_response": {"stdout": "x"}}  # fmt: skip
        journal.append(timed([*hook, "PostToolUse"], ok, env)[0])
    row("degraded PostToolUse (journal)", journal, bare)


def old_path(checkout: Path, home: Path, env: dict[str, str], history: Any, runs: int, bare: float) -> None:
    """The same hooks from another checkout, on a copy of the database and MSP_HOME."""
    import shutil

    copy = home.parent / (home.name + "-old")
    shutil.copytree(home, copy, ignore=shutil.ignore_patterns("service.*", "hook-*", "journal*"))
    old_env = dict(env, MSP_HOME=str(copy), PYTHONPATH=str(checkout))
    old_env["MSP_DATABASE_URL"] = env["MSP_DATABASE_URL"].replace(str(home), str(copy))
    argv = [sys.executable, "-S", str(checkout / "mspmode" / "hooks" / "__main__.py")]
    checks = checks_for(history, runs * 2)
    pre_samples = [
        timed([*argv, "PreToolUse"], pre(c, h), old_env)[0] for h, c in checks[: max(5, runs // 4)]
    ]
    row("old PreToolUse mix", pre_samples, bare, str(checkout))
    post_samples = []
    for i in range(5):
        ok = {"session_id": "bench", "transcript_path": "/dev/null", "cwd": "/tmp",
              "hook_event_name": "PostToolUse", "tool_name": "Bash",
              "tool_input": {"command": f"echo old-{i}"}, "tool_response": {"stdout": "x"}}  # fmt: skip
        post_samples.append(timed([*argv, "PostToolUse"], ok, old_env)[0])
    row("old PostToolUse (msp process)", post_samples, bare)
    shutil.rmtree(copy, ignore_errors=True)


def rows(home: Path, env: dict[str, str], hook: list[str], history: Any, runs: int, bare: float) -> None:

    checks = checks_for(history, runs * 6)
    rng = random.Random(5)
    routine = [(h, c) for i, (h, c) in enumerate(checks) if i % 6 in (3, 4)][:runs]
    known = [(h, c) for i, (h, c) in enumerate(checks) if i % 6 in (0, 1)][:runs]
    mix = rng.sample(checks, min(len(checks), runs * 2))
    for name, items in (("routine", routine), ("known", known), ("mix", mix)):
        samples, paired, verdicts = [], [], {"deny": 0, "context": 0, "allow": 0}
        for host, command in items:
            paired.append(timed([sys.executable, "-S", "-c", "pass"], {}, env)[0])
            elapsed, out = timed([*hook, "PreToolUse"], pre(command, host), env)
            samples.append(elapsed)
            decision = json.loads(out)["hookSpecificOutput"] if out.strip() else {}
            key = (
                "deny" if decision.get("permissionDecision") == "deny" else "context" if decision else "allow"
            )
            verdicts[key] += 1
        budget = "budget p50 ≤ 60 ms, ≤ 6x" if name == "mix" else ""
        row(f"PreToolUse {name}", samples, paired, f"{verdicts}  {budget}".strip())

    prompt_samples = []
    names = history["hosts"]
    for i in range(max(5, runs // 4)):
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
    for _ in range(max(5, runs // 4)):
        payload = {"session_id": "bench", "transcript_path": str(transcript), "cwd": "/tmp",
                   "hook_event_name": "Stop", "stop_hook_active": False}  # fmt: skip
        stop_samples.append(timed([*hook, "Stop"], payload, env)[0])
    row("Stop (queues the session)", stop_samples, bare)

    post_samples, fail_samples = [], []
    profile_hosts = [h for h in names if history["profile"][h] is PROFILES[3]][:10]
    for i, host in enumerate(profile_hosts[:5]):
        ok = {"session_id": "bench", "transcript_path": "/dev/null", "cwd": "/tmp",
              "hook_event_name": "PostToolUse", "tool_name": "mcp__ssh__run_command",
              "tool_input": {"host": host, "command": POSIX_OK[i % len(POSIX_OK)][0]},
              "tool_response": {"stdout": "fine", "stderr": ""}}  # fmt: skip
        post_samples.append(timed([*hook, "PostToolUse"], ok, env)[0])
        failed = {**ok, "hook_event_name": "PostToolUseFailure", "tool_response": None,
                  "tool_input": {"host": host, "command": f"frobnicate-{i} --now"},
                  "error": f"Exit code 127\nbash: frobnicate-{i}: command not found"}  # fmt: skip
        fail_samples.append(timed([*hook, "PostToolUseFailure"], failed, env)[0])
    row("PostToolUse (record, learn)", post_samples, bare)
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
