"""Build the real-world corpus from its cases: ``python tests/corpora/realworld/build.py``.

Writes ``tune.jsonl`` (the part the engine is tuned on), ``heldout.jsonl`` (the part looked at
only to measure) and ``SOURCES.md`` (case → source → platform → what is verbatim). Both parts
are in the import format of ``shared/scenarios`` with check lines; the split is fixed by the
case id (a hash), so adding cases never moves old ones.

Each case (``cases.py``) is a failure quoted from a public source on one host, the fix the
source reports, and the checks it calls for: the exact repeat and a variant on that host
(block), the same command on a host alike (warn or block), and allows — the fixed form, and the
command where it works. A transient case is the failure, then the same command working.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

try:
    from tests.corpora.realworld.cases import CASES
    from tests.corpora.realworld.hosts import BASELINE, HOSTS, baseline_kind
except ImportError:  # run as a script
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from tests.corpora.realworld.cases import CASES
    from tests.corpora.realworld.hosts import BASELINE, HOSTS, baseline_kind

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HELD_OUT = 3  # of every 10 buckets of the id hash


def held_out(case_id: str) -> bool:
    return zlib.crc32(case_id.encode()) % 10 < HELD_OUT


def _stamp(n: int) -> str:
    return (T0 + timedelta(seconds=97 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")


def lines_for(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    used = sorted({h for c in cases for h in _hosts_of(c)})
    out: list[dict[str, Any]] = []
    for client in sorted({HOSTS[h][0] for h in used}):
        out.append({"kind": "client", "name": client})
    n = 0
    for name in used:
        client, traits = HOSTS[name]
        out.append({"kind": "host", "client": client, "hostname": name, **traits})
    for name in used:
        for cmd, output in BASELINE[baseline_kind(HOSTS[name][1])]:
            n += 1
            out.append(_command(name, cmd, 0, output.format(host=name), n, f"{name}-s0"))
    for c in cases:
        session = f"{c['host']}-{c['id']}"
        n += 1
        out.append(_command(c["host"], c["cmd"], c["code"], c["out"], n, session))
        n += 1
        fix = c["cmd"] if c.get("transient") else c["fix"]
        out.append(_command(c["host"], fix, 0, c.get("fixout", ""), n, session))
    for c in cases:
        out.extend(checks_for(c))
    return out


def _command(host: str, cmd: str, code: int, output: str, n: int, session: str) -> dict[str, Any]:
    return {"kind": "command", "host": host, "command": cmd, "exit_code": code, "output": output,
            "at": _stamp(n), "session": session}  # fmt: skip


def _hosts_of(c: dict[str, Any]) -> list[str]:
    return [h for h in (c["host"], c.get("sib"), c.get("works")) if h]


def checks_for(c: dict[str, Any]) -> list[dict[str, Any]]:
    cid, host = c["id"], c["host"]
    out: list[dict[str, Any]] = []

    def add(h: str, cmd: str, expect: str, why: str, suggestion: str | None = None) -> None:
        line = {"kind": "check", "host": h, "command": cmd, "expect": expect, "why": f"{cid} {why}"}
        if suggestion:
            line["expect_suggestion"] = suggestion
        out.append(line)

    if c.get("transient"):
        add(host, c["cmd"], "allow", "transient failure, then it worked")
        if c.get("variant"):
            add(host, c["variant"], "allow", "another command against the same service")
        return out
    if c.get("exact", True):
        add(host, c["cmd"], "block", "exact repeat", c.get("sugg"))
    if c.get("variant"):
        add(host, c["variant"], "block", "same culprit, other arguments", c.get("vsugg"))
    if c.get("sib"):
        add(c["sib"], c.get("sibcmd") or c["cmd"], "warn_or_block", "a host alike", c.get("sugg"))
    if c.get("works"):
        add(c["works"], c.get("workscmd") or c["cmd"], "allow", "works on this platform")
    if c.get("fixed", True):
        add(host, c["fix"], "allow", "the fixed form")
    for h, cmd, expect, why, *suggestion in c.get("extra", ()):
        add(h or host, cmd, expect, why, *suggestion)
    return out


def sources_md(cases: list[dict[str, Any]]) -> str:
    rows = [
        "# The real-world corpus: sources",
        "",
        "Every failing command carries the error output its public source quotes (trimmed to the",
        "relevant lines; prompts and log prefixes dropped; hosts, addresses and names replaced by",
        "invented ones and RFC 5737 addresses). **cmd verbatim**: the command is the source's;",
        "**adapted**: the source shows only the output (the call sat in a script, a tool ran it) or a",
        "placeholder, and the command is a realistic call that prints it. The fix is the next command",
        "in the history, as the source (or the cited follow-up) reports it working; for a transient",
        "case it is the same command working later. Checks are generated by `build.py` (see its",
        "docstring); the `why` of each starts with the case id. Part: **T** tune, **H** held-out.",
        "",
        "| case | part | source | platform (host) | cmd | output | fix (source) |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        part = "H" if held_out(c["id"]) else "T"
        rows.append(
            f"| {c['id']} | {part} | {c['src']} | {c['plat']} ({c['host']}) | {c.get('cmdv', 'adapted')} "
            f"| {c.get('outv', 'verbatim')} | {c.get('fixsrc', 'same source')} |"
        )
    tune = [c for c in cases if not held_out(c["id"])]
    checks = [len(checks_for(c)) for c in cases]
    rows += [
        "",
        f"Cases: {len(cases)} ({len(tune)} tune, {len(cases) - len(tune)} held-out); checks: {sum(checks)}.",
    ]
    return "\n".join(rows) + "\n"


def main() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "case ids are unique"
    for c in CASES:
        assert c["host"] in HOSTS and all(h in HOSTS for h in _hosts_of(c)), c["id"]
    tune = [c for c in CASES if not held_out(c["id"])]
    held = [c for c in CASES if held_out(c["id"])]
    for name, part in (("tune.jsonl", tune), ("heldout.jsonl", held)):
        text = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines_for(part))
        (HERE / name).write_text(text, encoding="utf-8")
    (HERE / "SOURCES.md").write_text(sources_md(CASES), encoding="utf-8")
    print(f"{len(CASES)} cases: {len(tune)} tune, {len(held)} held-out")


if __name__ == "__main__":
    main()
