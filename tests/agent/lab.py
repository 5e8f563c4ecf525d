"""One isolated MSP Mode + Claude Code set-up, for the agent-loop tests and ``bench/agentloop.py``.

A lab is a folder: Claude Code's private ``HOME``, a private ``MSP_HOME``, a SQLite database
(or the URL given), ``bin/`` for fake programs put first on ``PATH`` (a fake ``ssh`` that
records whether it ran), ``runs/`` with each session's artefacts (stream-json output, debug
log, stderr). ``msp`` is the console script of the Python running the tests (the checkout's
venv), as a technician would run it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.agent.claude import DEFAULT_TIMEOUT, Run, claude_env, clean_base_env, run_claude
from tests.agent.fake_model import FakeModel, Script, result_text

# Programs a test may need to be missing here (the first one absent is used).
MISSING_CANDIDATES = ("tree", "eza", "exa", "lsd", "broot", "lsx-msp-e2e")


def msp_binary() -> Path:
    """``msp`` beside the running interpreter: the checkout's venv."""
    path = Path(sys.executable).with_name("msp")
    if not path.exists():
        raise FileNotFoundError(f"no msp console script beside {sys.executable}: run `make install`")
    return path


@dataclass
class Session:
    """A finished claude session and what its model received."""

    script: Script
    run: Run
    prompt: str

    def result(self, step: int) -> dict[str, Any]:
        block = self.script.tool_result(step)
        assert block is not None, (
            f"the model never received a tool_result for step {step}; {self.run.describe()}"
        )
        return block

    def text(self, step: int) -> str:
        return result_text(self.result(step))

    def first_request(self) -> str:
        main = self.script.main
        assert main, f"the model received no request; {self.run.describe()}"
        return main[0].text


class Lab:
    def __init__(
        self, root: Path, claude: Path, model: FakeModel, *, database_url: str | None = None
    ) -> None:
        self.root = root
        self.claude = claude
        self.model = model
        self.home = root / "userhome"
        self.msp_home = root / "msp-home"
        self.bin = root / "bin"
        self.runs = root / "runs"
        for d in (self.home, self.bin, self.runs):
            d.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url or f"sqlite:///{root / 'msp.db'}"
        self.msp_bin = msp_binary()
        env = clean_base_env()
        env.update(
            HOME=str(self.home),
            MSP_HOME=str(self.msp_home),
            MSP_DATABASE_URL=self.database_url,
            PATH=f"{self.bin}{os.pathsep}{env.get('PATH', os.defpath)}",
        )
        self.env = env
        self._runs = 0

    @property
    def db_path(self) -> Path:
        assert self.database_url.startswith("sqlite:///"), self.database_url
        return Path(self.database_url.removeprefix("sqlite:///"))

    # ---------------------------------------------------------------------------- msp

    def msp(
        self,
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
        stdin: str | None = None,
        timeout: float = 900,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.msp_bin), *args],
            cwd=cwd or self.root,
            env=env or self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check:
            said = (proc.stderr or proc.stdout).strip()[-800:]
            assert proc.returncode == 0, f"`msp {shlex.join(args)}` exited {proc.returncode}: {said}"
        return proc

    def import_history(self, lines: Iterable[dict[str, Any]], name: str = "history.jsonl") -> None:
        path = self.root / name
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        self.msp("import", str(path))

    def check(self, command: str, host: str | None = None) -> dict[str, Any]:
        """``msp check --json``'s answer."""
        args = ["check", "--json"] + (["--host", host] if host else []) + ["--", command]
        proc = self.msp(*args, check=False)
        assert proc.returncode in (0, 2), proc.stderr
        answer: dict[str, Any] = json.loads(proc.stdout)
        return answer

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows from the lab's SQLite database, read directly (not through our code)."""
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True) as conn:
            return list(conn.execute(sql, params))

    # ---------------------------------------------------------------------------- places

    def project(self, name: str, *, hooks: bool = True, env: dict[str, str] | None = None) -> Path:
        """A project folder; with ``hooks`` MSP Mode's hooks installed there (``--scope project``)."""
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        if hooks:
            self.msp("hooks", "install", "--scope", "project", cwd=folder, env=env)
        return folder

    def mcp_add(self, project: Path) -> None:
        """``claude mcp add msp -- <venv>/bin/msp mcp`` in ``project`` (the README's form)."""
        assert self.claude is not None, "this lab has no Claude Code"
        proc = subprocess.run(
            [str(self.claude), "mcp", "add", "msp", "--", str(self.msp_bin), "mcp"],
            cwd=project,
            env=claude_env(self.env, home=self.home),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, f"claude mcp add: {proc.stderr.strip()[-500:]}"

    def fake_program(self, name: str, stdout: str, exit_code: int = 0) -> Path:
        """``bin/NAME``: appends its arguments to a log (the returned path) and prints ``stdout``."""
        log = self.root / f"{name}-ran.log"
        script = self.bin / name
        script.write_text(
            "#!/bin/sh\n"
            f'printf "%s\\n" "$*" >> {shlex.quote(str(log))}\n'
            f"printf '%s\\n' {shlex.quote(stdout)}\n"
            f"exit {exit_code}\n"
        )
        script.chmod(0o755)
        return log

    def missing_program(self) -> str:
        path = self.env["PATH"]
        for name in MISSING_CANDIDATES:
            if shutil.which(name, path=path) is None:
                return name
        raise AssertionError(f"every candidate missing program exists here: {MISSING_CANDIDATES}")

    # ---------------------------------------------------------------------------- claude

    def session(
        self,
        project: Path,
        prompt: str,
        steps: list[dict[str, Any]],
        *,
        probe: Callable[[], Any] | None = None,
        env: dict[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
    ) -> Session:
        """One headless claude session in ``project`` following ``steps``."""
        assert self.claude is not None and self.model is not None, "this lab has no Claude Code"
        script = self.model.script(steps, probe=probe)
        self._runs += 1
        run = run_claude(
            self.claude,
            cwd=project,
            prompt=prompt,
            script=script,
            env=claude_env(env or self.env, home=self.home),
            rundir=self.runs / f"{self._runs:02d}-{project.name}",
            timeout=timeout,
        )
        with (run.rundir / "requests.jsonl").open("w", encoding="utf-8") as f:
            for r in script.requests:  # what the model received, for reading after a failure
                f.write(json.dumps({"kind": r.kind, "path": r.path, "step": r.step, "body": r.body}) + "\n")
        if check:
            assert run.returncode == 0, f"{run.describe()}: {run.stderr.strip()[-800:]}"
            assert script.main, f"the fake model received no request; {run.describe()}"
        return Session(script, run, prompt)
