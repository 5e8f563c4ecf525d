"""``msp context save``, ``msp recall`` and ``msp mcp`` as real subprocesses on a fresh SQLite
install: a corpus transcript saved compressed, recalled for its client with its hosts, and the
MCP server answering over stdio."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from tests.cli.test_setup import MSP, msp, one_error_line

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "corpora" / "transcripts"


def test_save_a_transcript_then_recall_it(msp_env: dict[str, str]) -> None:
    assert msp(msp_env, "init").returncode == 0
    assert msp(msp_env, "client", "add", "Globex").returncode == 0
    saved = msp(
        msp_env,
        "context",
        "save",
        "--title",
        "shop backup",
        "--transcript",
        str(CORPUS / "mariadb-backup-denied.jsonl"),
        "--client",
        "globex",
        "--json",
    )
    assert saved.returncode == 0, saved.stderr
    row = json.loads(saved.stdout)
    assert row["context_type"] == "session_summary" and row["compressed_tokens"] < row["source_tokens"] / 10

    got = msp(msp_env, "recall", "--client", "Globex", "--query", "backup access denied")
    assert got.returncode == 0, got.stderr
    assert "Access denied for user 'backup_ro'@'localhost'" in got.stdout
    assert "Gl0bex!Bkp#2025" not in got.stdout and "Rot8ed-Mar-2025!x" not in got.stdout
    as_json = json.loads(msp(msp_env, "recall", "--client", "Globex", "--json").stdout)
    assert as_json["used"] == [f"context:{row['id']}"] and as_json["chars"] <= 10_000
    assert as_json["items"][0]["usage"] > 1.0  # the first recall counted it, after printing

    note = msp(
        msp_env, "context", "save", "--title", "note", "--text", "Prefer Veeam for Globex", "--client", "nope"
    )
    assert "no client 'nope'" in one_error_line(note)
    assert "between 1 and 2500" in one_error_line(msp(msp_env, "recall", "--budget", "0"))


def test_msp_mcp_serves_the_tools_over_stdio(msp_env: dict[str, str], tmp_path: Path) -> None:
    assert msp(msp_env, "init").returncode == 0
    params = StdioServerParameters(command=MSP[0], args=[*MSP[1:], "mcp"], env=msp_env, cwd=str(tmp_path))

    async def run() -> tuple[set[str], str]:
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool("recall_context", {"query": "anything"})
            return names, result.content[0].text  # type: ignore[union-attr]

    names, text = anyio.run(run)
    assert "check_command" in names and "find_host" in names
    assert text == "Nothing remembered for this yet."
