"""Real failures of many tools (thefuck's rule tests, MIT; ../shared/data/thefuck-pairs.jsonl):
the error shapes of unknown subcommands, options and commands are classified and their culprit
is a word of the failed command — found by shape, with no list of the tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mspmode.engine import classify, find_culprit, parse

ROOT = Path(__file__).resolve().parents[3]
# ../shared beside the checkout, or beside a folder above it (a worktree under wt/)
SHARED = next(
    (p / "shared" for p in ROOT.parents if (p / "shared" / "data").is_dir()), ROOT.parent / "shared"
)
DATA = SHARED / "data" / "thefuck-pairs.jsonl"

FAMILIES = {
    "unknown_subcommand": {
        "git_not_command", "brew_unknown_command", "go_unknown_command", "heroku_not_command",
        "pip_unknown_command", "react_native_command_unrecognized", "terraform_no_command",
        "tsuru_not_command", "yum_invalid_operation", "az_cli", "systemctl", "lein_not_task",
        "mvn_unknown_lifecycle_phase", "tmux", "mercurial", "unknown_command", "apt_invalid_operation",
        "dnf_no_such_command", "yarn_command_not_found", "gulp_not_task", "git_lfs_mistype",
        "omnienv_no_such_command",
    },
    "unknown_option": {"git_two_dashes"},
    "command_not_found": {"cd_cs", "man_no_space", "switch_lang", "remove_shell_prompt_literal", "cd_parent"},
}  # fmt: skip


def _lines() -> list[dict[str, Any]]:
    if not DATA.exists():
        pytest.skip(f"thefuck pairs not found at {DATA}")
    out = []
    for line in DATA.read_text().splitlines():
        d = json.loads(line)
        if d.get("output") and (d.get("match") is True or "corrected" in d) and not d.get("mocked_env"):
            out.append(d)
    return out


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_error_shapes_are_recognised(family: str) -> None:
    cases = [d for d in _lines() if d["rule"] in FAMILIES[family]]
    assert len(cases) >= 5
    hits, named, wrong = 0, 0, []
    for d in cases:
        c = classify(1, d["output"])
        if c is None or c.failure_class != family:
            wrong.append((d["rule"], d["command"], c.failure_class if c else None))
            continue
        hits += 1
        script = parse(d["command"])
        culprit = find_culprit(c, d["output"], script)
        if culprit is None:
            continue
        named += 1
        words = {t.value.lower() for t in script.tokens} | {t.text.lower() for t in script.tokens}
        programs = {s.program for s in script.segments}
        assert culprit.text.lower() in words or culprit.program in programs, (d["command"], culprit)
    assert hits / len(cases) >= 0.9, wrong
    assert named / hits >= 0.75


def test_messages_of_every_tool_never_break_the_engine() -> None:
    for d in _lines():
        c = classify(1, d["output"])
        if c is not None:
            find_culprit(c, d["output"], parse(d["command"]))
