"""Fixtures of the agent-loop tests: the pinned Claude Code (skipped when absent, failed when
``MSP_TEST_REQUIRE_CLAUDE=1``), one fake model server per test module, and a fresh lab per
test (or per module, for a story several tests read)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.claude import ClaudeUnavailable, locate, required
from tests.agent.fake_model import FakeModel
from tests.agent.lab import Lab


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    try:
        return locate()
    except ClaudeUnavailable as exc:
        if required():
            pytest.fail(f"MSP_TEST_REQUIRE_CLAUDE=1 but {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def fake_model() -> Iterator[FakeModel]:
    """Module-scoped, not session-scoped: its threads must be gone before other tests of the
    same process run (some fork, and check first that they are the only thread)."""
    with FakeModel() as model:
        yield model
    assert not model.unrouted, f"requests that named no script: {model.unrouted}"


@pytest.fixture
def lab(tmp_path: Path, claude_bin: Path, fake_model: FakeModel) -> Lab:
    """A fresh lab with ``msp init`` done."""
    lab = Lab(tmp_path, claude_bin, fake_model)
    lab.msp("init")
    return lab


@pytest.fixture
def msp_lab(tmp_path: Path) -> Lab:
    """A lab for what needs no Claude Code (installed files), with ``msp init`` done."""
    lab = Lab(tmp_path, None, None)
    lab.msp("init")
    return lab
