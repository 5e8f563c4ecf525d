"""What MSP Mode adds to the agent loop as the real Claude Code runs it: wall time per Bash tool
call with the hooks against the same call without them, measured in the same run.

    python bench/agentloop.py [--history 100000] [--reps 3] [--quick] [--no-team]

The pinned Claude Code (``tests/agent/claude.py``: ``MSP_TEST_CLAUDE_BIN``, ``claude`` on PATH
or /opt/claude-code) runs headless against the scripted fake model of
``tests/agent/fake_model.py`` on 127.0.0.1. Three project folders: ``plain`` (no hooks),
``local`` (``msp hooks install --scope project``) and ``team`` (the same with ``--server``
pointing at ``msp serve`` on 127.0.0.1 and an API key file; its own MSP_HOME, as a
technician's laptop has). Each repetition runs one session in each, in turn, of the same ten
routine commands; a call's time is from the model's response carrying the tool_use to the
request carrying its tool_result. Added time per call = the call with hooks − the median of
the plain sessions' same call. This is done on an empty history and again after importing
``--history`` commands (``make_history`` of ``bench/precheck.py``: 2,000 hosts, 10k failure
patterns).

Also printed: SessionStart and the other hooks' durations (Claude Code's debug log, ``Hooks:
EVENT [...] finished with status N (X ms)``); the first tool call after the service starts —
a known failure of the big history, which must be denied, then a routine call — for team mode
right after ``msp serve`` starts, for local mode right after the import or after
:func:`restart_local_service`; ``msp check`` and ``msp --help`` wall time.

Budgets (DESIGN.md, issue 16): added p50 ≤ 60 ms, SessionStart ≤ 200 ms, first call after the
service starts ≤ 3 s (and never an unchecked known failure), ``msp check`` ≤ 150 ms,
``msp --help`` ≤ 300 ms. Figures only: nothing here fails on time. With no options it runs in
about ten minutes on a shared 2-CPU machine.
"""

from __future__ import annotations

import argparse
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from precheck import make_history

from tests.agent.claude import ClaudeUnavailable, locate
from tests.agent.fake_model import FakeModel, bash, result_text, text
from tests.agent.lab import Lab, Session

ROUTINE = [
    ("echo step-one", "Print a marker"),
    ("date +%s", "Show the epoch time"),
    ("uname -a", "Show the kernel"),
    ("pwd", "Show the working directory"),
    ("ls /etc", "List /etc"),
    ("id -u", "Show the user id"),
    ("cat /etc/hostname", "Show the hostname file"),
    ("printf 'a\\nb\\n' | wc -l", "Count two lines"),
    ("df -h /", "Show free disk space"),
    ("head -n 3 /etc/passwd", "Show the first accounts"),
]
KINDS = ("plain", "local", "team")
BUDGET_ADDED_MS = 60
BUDGET_SESSIONSTART_MS = 200
BUDGET_FIRST_CALL_S = 3.0
BUDGET_CHECK_MS = 150
BUDGET_HELP_MS = 300


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def ms(value: float) -> str:
    return "—" if value != value else f"{value:,.0f}"  # NaN: not measured


@dataclass
class Round:
    """One history level: every session's per-call seconds and hook durations, by kind."""

    label: str
    calls: dict[str, list[list[float]]] = field(default_factory=lambda: {k: [] for k in KINDS})
    hooks: dict[str, dict[str, list[int]]] = field(default_factory=lambda: {k: {} for k in KINDS})
    errors: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})

    def add(self, kind: str, session: Session) -> None:
        self.calls[kind].append(session.script.seconds_per_call())
        for h in session.run.hooks:
            event = h.name.split(":", 1)[0]
            self.hooks[kind].setdefault(event, []).append(h.ms)
        for step in range(len(ROUTINE)):
            block = session.script.tool_result(step)
            if block is None or block.get("is_error"):
                self.errors[kind].append(f"step {step}: {result_text(block)[:160]!r}")

    def added_ms(self, kind: str) -> list[float]:
        by_step: dict[int, list[float]] = {}
        for run in self.calls["plain"]:
            for i, seconds in enumerate(run):
                by_step.setdefault(i, []).append(seconds)
        return [
            (seconds - statistics.median(by_step[i])) * 1000
            for run in self.calls[kind]
            for i, seconds in enumerate(run)
            if i in by_step
        ]

    def call_ms(self, kind: str) -> list[float]:
        return [s * 1000 for run in self.calls[kind] for s in run]


@dataclass
class FirstCall:
    label: str
    known: float  # seconds: the known failure, the session's first tool call
    routine: float  # seconds: the routine call after it
    denied: bool  # the known failure did not run
    session_start: float  # ms


class MspServe:
    """``msp serve`` on a free loopback port: the team's service. ``restart()`` is the callable
    the first-call measurement takes."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_s = float("nan")

    def start(self) -> None:
        log = (self.lab.root / "serve.log").open("ab")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [str(self.lab.msp_bin), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.lab.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = started + 300
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"msp serve exited {self.proc.returncode}; see {self.lab.root / 'serve.log'}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("msp serve did not answer /api/health within 300 s")
            time.sleep(0.1)
        self.started_s = time.monotonic() - started

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


def restart_local_service(lab: Lab) -> None:
    """Stop the local service (it saves what it learned), for the first-call measurement of
    local mode: the session's hooks start it again, as a user's first tool call after a reboot
    or an idle exit would."""
    lab.msp("local-service", "stop", check=False)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(lab: Lab, *args: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        lab.msp(*args, check=False)
        out.append((time.perf_counter() - started) * 1000)
    return out


class Bench:
    def __init__(self, lab: Lab, args: argparse.Namespace) -> None:
        self.lab = lab
        self.args = args
        self.kinds = [k for k in KINDS if k != "team" or not args.no_team]
        self.projects = {"plain": lab.project("plain", hooks=False), "local": lab.project("local")}
        # The first call's known failure goes through ssh: if it is let through, the fake ssh
        # records it and fails again (so the history stays true), and nothing leaves the machine.
        self.ssh_log = lab.fake_program("ssh", "failed again", exit_code=1)
        self.env = {"plain": lab.env, "local": lab.env}
        self.serve: MspServe | None = None
        self.notes: list[str] = []
        self.first_calls: list[FirstCall] = []
        self.checks: dict[str, list[float]] = {}

    def setup_team(self) -> None:
        lab = self.lab
        out = lab.msp(
            "apikey", "create", "--name", "agentloop", "--user", "admin", "--role", "technician"
        ).stdout
        key = re.search(r"msp_[A-Za-z0-9_\-]+", out)
        if key is None:
            sys.exit(f"no API key in `msp apikey create`'s output: {out!r}")
        keyfile = lab.root / "team.key"
        keyfile.write_text(key[0] + "\n")
        keyfile.chmod(0o600)
        self.serve = MspServe(lab)
        self.serve.start()
        print(f"msp serve on {self.serve.url}: healthy after {self.serve.started_s:.1f} s")
        # The technician's laptop: its own MSP_HOME, no database URL, the team server.
        laptop = {k: v for k, v in lab.env.items() if k != "MSP_DATABASE_URL"}
        laptop["MSP_HOME"] = str(lab.root / "laptop-home")
        folder = lab.root / "team"
        folder.mkdir()
        install = ["hooks", "install", "--scope", "project", "--server", self.serve.url]
        lab.msp(*install, "--api-key-file", str(keyfile), cwd=folder, env=laptop)
        self.projects["team"], self.env["team"] = folder, laptop

    def session(
        self, kind: str, steps: list[dict[str, Any]], prompt: str = "run the routine checks"
    ) -> Session:
        return self.lab.session(self.projects[kind], prompt, steps, env=self.env[kind], check=False)

    def round(self, label: str) -> Round:
        steps = [bash(c, d) for c, d in ROUTINE] + [text("Done.")]
        result = Round(label)
        for rep in range(self.args.reps):
            for kind in self.kinds:
                session = self.session(kind, steps)
                if session.run.returncode != 0:
                    self.notes.append(f"{label} {kind} rep {rep}: {session.run.describe()}")
                result.add(kind, session)
            print(f"  {label}: repetition {rep + 1}/{self.args.reps} done", flush=True)
        return result

    def first_call(self, kind: str, label: str, restart: Callable[[], None], known: tuple[str, str]) -> None:
        """Right after ``restart()``: a known failure (it must be denied), then a routine call."""
        host, command = known
        wrapped = f"ssh admin@{host} {shlex.quote(command)}"
        restart()
        session = self.session(
            kind,
            [bash(wrapped, "Run it on the host"), bash(ROUTINE[0][0], ROUTINE[0][1]), text("Done.")],
            prompt=f"check {host}",
        )
        calls = session.script.seconds_per_call() + [float("nan")] * 2
        ran = self.ssh_log.exists() and f"admin@{host} " in self.ssh_log.read_text()
        start = session.run.hook_ms("SessionStart")
        self.first_calls.append(
            FirstCall(
                f"{label}, {kind}", calls[0], calls[1], not ran, float(start[0]) if start else float("nan")
            )
        )
        verdict = self.lab.check(wrapped)
        if verdict.get("verdict") != "block":
            self.notes.append(
                f"the known failure of the {kind} first call is not a block for msp check: {verdict}"
            )

    def run(self) -> None:
        lab, args = self.lab, self.args
        if "team" in self.kinds:
            self.setup_team()
        print(f"empty history: {args.reps} repetition(s) of {', '.join(self.kinds)}", flush=True)
        rounds = [self.round("empty")]
        self.checks["msp check, empty"] = timed(lab, "check", "--json", "--", "uname -a", runs=5)

        path = lab.root / "history.jsonl"
        started = time.perf_counter()
        history = make_history(path, args.history, 2000, min(10_000, max(1, args.history // 10)))
        generated = time.perf_counter() - started
        started = time.perf_counter()
        lab.msp("import", str(path), timeout=3600)
        imported = time.perf_counter() - started
        print(
            f"history: {history['commands']:,} commands ({history['failures']:,} failures), written in "
            f"{generated:.1f} s, `msp import` {imported:.1f} s",
            flush=True,
        )
        # Known failures with a learned fix, on different hosts: one per mode, so that what one
        # session does cannot change what the other is asked.
        fixed = [(h, c) for h, c, fix in history["failed"] if fix]
        known = [fixed[0], next(k for k in fixed if k[0] != fixed[0][0])]
        label = f"{args.history // 1000}k"
        self.first_call("local", label, lambda: restart_local_service(lab), known[0])
        if self.serve is not None:
            self.first_call("team", label, self.serve.restart, known[1])
            print(f"msp serve restarted on the {label} history: healthy after {self.serve.started_s:.1f} s")
        if lab.msp("hooks", "sync", "--help", check=False).returncode == 0:
            lab.msp("hooks", "sync", timeout=3600)  # what the README says to run after a big import
        print(f"{label} history: {args.reps} repetition(s) of {', '.join(self.kinds)}", flush=True)
        rounds.append(self.round(label))
        self.checks[f"msp check, {label}"] = timed(lab, "check", "--json", "--", "uname -a", runs=5)
        host, command = known[0]
        self.checks[f"msp check, {label}, known failure"] = timed(
            lab, "check", "--json", "--", f"ssh admin@{host} {shlex.quote(command)}", runs=5
        )
        self.checks["msp --help"] = timed(lab, "--help", runs=5)
        self.report(rounds)

    def report(self, rounds: list[Round]) -> None:
        print()
        print(
            f"{'history, mode':<16} {'sessions':>8} {'plain p50':>10} {'hooks p50':>10} {'added p50':>10} "
            f"{'added max':>10} {'SessionStart':>13} {'PreToolUse':>11} {'PostToolUse':>12}   (ms)"
        )
        summary = []
        for r in rounds:
            plain = r.call_ms("plain")
            for kind in self.kinds[1:]:
                added, hooks = r.added_ms(kind), r.hooks[kind]
                post = hooks.get("PostToolUse", []) + hooks.get("PostToolUseFailure", [])
                start = [float(x) for x in hooks.get("SessionStart", [])]
                print(
                    f"{r.label + ', ' + kind:<16} {len(r.calls[kind]):>8} {ms(pct(plain, 50)):>10} "
                    f"{ms(pct(r.call_ms(kind), 50)):>10} {ms(pct(added, 50)):>10} "
                    f"{ms(max(added, default=float('nan'))):>10} {ms(pct(start, 50)):>13} "
                    f"{ms(pct([float(x) for x in hooks.get('PreToolUse', [])], 50)):>11} "
                    f"{ms(pct([float(x) for x in post], 50)):>12}"
                )
                summary.append(f"added_p50[{r.label},{kind}]={ms(pct(added, 50))}")
                summary.append(f"sessionstart_p50[{r.label},{kind}]={ms(pct(start, 50))}")
                for error in r.errors[kind][:3]:
                    self.notes.append(f"{r.label} {kind}: a routine call came back as an error: {error}")
        print()
        for first in self.first_calls:
            print(
                f"first calls after the service starts ({first.label}): "
                f"known failure {ms(first.known * 1000)} ms "
                f"({'denied' if first.denied else 'NOT DENIED: it ran'}), then a routine call "
                f"{ms(first.routine * 1000)} ms; SessionStart {ms(first.session_start)} ms"
            )
            tag = first.label.replace(", ", ",")
            summary.append(f"first_call_ms[{tag}]={ms(first.known * 1000)}")
            summary.append(f"first_routine_ms[{tag}]={ms(first.routine * 1000)}")
            summary.append(f"first_known_failure_denied[{tag}]={'yes' if first.denied else 'no'}")
        for label, samples in self.checks.items():
            print(f"{label:<40} p50 {ms(pct(samples, 50))} ms  max {ms(max(samples))} ms  (n={len(samples)})")
            summary.append(f"{label.replace(' ', '_').replace(',', '')}_p50={ms(pct(samples, 50))}")
        for note in self.notes:
            print(f"note: {note}")
        print()
        print(
            f"budgets: added p50 ≤ {BUDGET_ADDED_MS} ms, SessionStart ≤ {BUDGET_SESSIONSTART_MS} ms, "
            f"first call ≤ {BUDGET_FIRST_CALL_S:.0f} s, msp check ≤ {BUDGET_CHECK_MS} ms, "
            f"msp --help ≤ {BUDGET_HELP_MS} ms"
        )
        print("agentloop: " + " ".join(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=100_000, help="commands in the big history")
    parser.add_argument("--reps", type=int, default=3, help="sessions per mode and history")
    parser.add_argument("--quick", action="store_true", help="one repetition, a 20k history")
    parser.add_argument("--no-team", action="store_true", help="skip team mode (msp serve)")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.history = 1, min(args.history, 20_000)
    try:
        claude = locate()
    except ClaudeUnavailable as exc:
        sys.exit(f"agentloop: {exc}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="msp-bench-agentloop-") as tmp, FakeModel() as model:
        lab = Lab(Path(tmp), claude, model)
        lab.msp("init")
        bench = Bench(lab, args)
        try:
            bench.run()
        finally:
            if bench.serve is not None:
                bench.serve.stop()
    print(f"(ran in {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
