"""The secrets corpus through the CLI capture paths on every backend: ``msp cred add`` puts the
vault-only secrets in the vault, ``msp import`` records every corpus text as a command and its
output; then the stored data, the command's output and MSP_HOME's files hold none of them."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.engine import URL

from mspmode.db.base import Base
from tests.cli.test_credentials import msp_in
from tests.cli.test_setup import msp
from tests.corpora import load_secret_cases

CASES = load_secret_cases()


def stored_chunks(url: URL, home: Path) -> list[bytes]:
    if url.get_backend_name() == "sqlite":
        return [p.read_bytes() for p in home.rglob("*") if p.is_file()]
    chunks = [p.read_bytes() for p in home.rglob("*") if p.is_file()]
    engine = create_engine(url)
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                chunks.append(repr(tuple(row)).encode())
    engine.dispose()
    return chunks


def test_import_and_cred_add_store_no_secret(
    msp_env: dict[str, str], empty_database_url: URL, tmp_path: Path
) -> None:
    env = {**msp_env, "MSP_DATABASE_URL": empty_database_url.render_as_string(hide_password=False)}
    assert msp(env, "init").returncode == 0
    for case in CASES:
        for i, stored in enumerate(case.stored):
            added = msp_in(
                env, stored + "\n", "cred", "add", "--service", f"vault {case.line}-{i}", "--stdin"
            )
            assert added.returncode == 0, added.stderr
    history = tmp_path / "history.jsonl"
    lines = [{"kind": "host", "hostname": "srv1", "os": "Ubuntu", "os_version": "22.04"}]
    for n, case in enumerate(CASES):
        command = case.text if case.kind == "command" else "cat /etc/app.conf"
        lines.append(
            {
                "kind": "command",
                "host": "srv1",
                "command": command,
                "exit_code": 1,
                "output": case.text,
                "at": f"2026-01-02T10:{n // 60:02d}:{n % 60:02d}Z",
                "session": "secrets",
            }
        )
    history.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    imported = msp(env, "import", str(history), "--json")
    assert imported.returncode == 0, imported.stderr
    checked = msp(env, "check", "--json", "--host", "srv1", "--", CASES[0].text)
    outputs = imported.stdout + imported.stderr + checked.stdout + checked.stderr
    chunks = stored_chunks(empty_database_url, Path(msp_env["MSP_HOME"]))
    for case in CASES:
        for secret in case.secrets:
            assert not any(secret.encode() in chunk for chunk in chunks), (
                f"line {case.line} ({case.rule}) stored"
            )
            assert secret not in outputs, f"line {case.line} ({case.rule}) printed"
