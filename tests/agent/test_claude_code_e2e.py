"""MSP Mode in the agent loop as the real Claude Code runs it (issue 16).

Claude Code (pinned, ``claude.py``) runs headless in a project folder where ``msp hooks install
--scope project`` was run, against a scripted fake model on 127.0.0.1 (``fake_model.py``).
Every assertion reads what the model *received* — the request bodies Claude Code sent — or
what a fake program recorded, or the database afterwards; never MSP Mode's own logs.

The scripts are fixed: the fake model does not react to what it reads. "Reached the model"
means "was in a request body Claude Code sent".
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from tests.agent.fake_model import Script, bash, result_text, text, tool, tool_results
from tests.agent.lab import Lab, Session
from tests.hooks.test_hooks_e2e import wait_for

MSP_MARK = "MSP Mode"  # every answer MSP Mode gives the agent names itself

# A Windows Server 2008 R2 domain controller (PowerShell 2.0) where Get-LocalUser failed and
# Get-WmiObject worked, and its twin DC02 (same OS release and PowerShell) where nothing ran yet.
FAILED_PS = "Get-LocalUser"
FIX_PS = 'Get-WmiObject -Class Win32_UserAccount -Filter "LocalAccount=True"'
NOT_RECOGNISED = (
    "The term 'Get-LocalUser' is not recognized as the name of a cmdlet, function, script file, "
    "or operable program."
)


def dc_history(client: str = "Acme Corp") -> list[dict[str, Any]]:
    traits = {
        "os": "Windows Server",
        "os_version": "2008 R2",
        "shell_type": "powershell",
        "powershell_version": "2.0",
    }
    return [
        {"kind": "client", "name": client},
        {"kind": "host", "client": client, "hostname": "DC01", "ip_address": "192.0.2.10", **traits},
        {"kind": "host", "client": client, "hostname": "DC02", "ip_address": "192.0.2.11", **traits},
        {"kind": "command", "host": "DC01", "command": FAILED_PS, "exit_code": 1, "output": NOT_RECOGNISED,
         "at": "2026-01-06T10:00:00+00:00", "session": "dc01-a"},
        {"kind": "command", "host": "DC01", "command": FIX_PS, "exit_code": 0,
         "output": "Administrator Guest", "at": "2026-01-06T10:01:00+00:00", "session": "dc01-a"},
    ]  # fmt: skip


def is_denial(block: dict[str, Any]) -> bool:
    """A tool call MSP Mode stopped: an error result that names MSP Mode and is not the output of
    a command that ran (Claude Code starts those with "Exit code N")."""
    content = result_text(block)
    return bool(block.get("is_error")) and MSP_MARK in content and not content.startswith("Exit code")


def after_tool_use(body: Any, tool_use_id: str) -> str:
    """The text of every message after the assistant turn that issued ``tool_use_id``: what the
    model was told in answer to that call (tool_result, hook context), not before it."""
    messages = body.get("messages") or [] if isinstance(body, dict) else []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if (
            message.get("role") == "assistant"
            and isinstance(content, list)
            and any(isinstance(b, dict) and b.get("id") == tool_use_id for b in content)
        ):
            return json.dumps(messages[i + 1 :], ensure_ascii=False)
    return ""


def ids_of(script: Script, step: int) -> list[str]:
    return [tid for tid, s in script.issued.items() if s == step]


# --------------------------------------------------------------------------------------------
# a, b: a repeated failure is denied with the fix, in the same and in a new session; other
# commands are not


class DenyStory:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.project = lab.project("deny-proj")
        data = lab.root / "data"
        (data / "logs").mkdir(parents=True)
        for i in range(3):
            (data / "logs" / f"app{i}.log").write_text(f"line {i}\n")
        self.data = data
        self.missing = lab.missing_program()
        self.fail_cmd = f"{self.missing} {data}"
        self.fix_cmd = f"find {data} -maxdepth 2"
        # The output is computed by the shell, so it is not in the command: seeing it proves it ran.
        self.unrelated_a, self.unrelated_a_out = 'echo "$((6 * 7))-first-session"', "42-first-session"
        self.unrelated_b, self.unrelated_b_out = 'echo "$((7 * 8))-second-session"', "56-second-session"
        self.a = lab.session(
            self.project,
            "show me the layout of the data folder",
            [
                bash(self.fail_cmd, "Show the folder as a tree"),
                bash(self.fix_cmd, "List the folder with find"),
                bash(self.fail_cmd, "Show the folder as a tree again"),
                bash(self.unrelated_a, "Print a marker"),
                text("Done."),
            ],
        )
        self.b = lab.session(
            self.project,
            "show me the layout of the data folder",
            [
                bash(self.fail_cmd, "Show the folder as a tree"),
                bash(self.unrelated_b, "Print a marker"),
                text("Done."),
            ],
        )


@pytest.fixture(scope="module")
def deny_story(tmp_path_factory: pytest.TempPathFactory, claude_bin: Path, fake_model: Any) -> DenyStory:
    lab = Lab(tmp_path_factory.mktemp("deny"), claude_bin, fake_model)
    lab.msp("init")
    return DenyStory(lab)


def test_a_repeated_failure_is_denied_with_the_fix_in_the_same_and_a_new_session(
    deny_story: DenyStory,
) -> None:
    s = deny_story
    first = s.a.result(0)
    assert first.get("is_error") and "not found" in result_text(first), (
        f"the first `{s.fail_cmd}` should have run and failed (exit 127): {result_text(first)!r}"
    )
    found = s.a.text(1)
    assert str(s.data / "logs") in found and not s.a.result(1).get("is_error"), (
        f"the fix did not run: {found!r}"
    )

    for where, session in (("the same session", s.a.result(2)), ("a new session", s.b.result(0))):
        content = result_text(session)
        assert is_denial(session), f"the repeat in {where} was not denied by MSP Mode: {content!r}"
        assert s.fix_cmd in content, (
            f"the deny reason in {where} does not carry the fix `{s.fix_cmd}`: {content!r}"
        )


def test_b_an_unrelated_command_is_not_denied(deny_story: DenyStory) -> None:
    s = deny_story
    for session, step, expected in ((s.a, 3, s.unrelated_a_out), (s.b, 1, s.unrelated_b_out)):
        block = session.result(step)
        content = result_text(block)
        assert not block.get("is_error") and content.strip() == expected, (
            f"an unrelated command did not run as it should: {content!r} (expected {expected!r})"
        )
    # Each was its session's last tool call, recorded by PostToolUse in the background (Claude
    # Code's async hook): stored all the same, once, with its exit code, after Claude Code exited.
    sql = "SELECT exit_code FROM commands_run WHERE command_text = ?"
    for command in (s.unrelated_a, s.unrelated_b):
        rows = wait_for(lambda c=command: s.lab.query(sql, c), 60, f"`{command}` was not recorded")
        assert rows == [(0,)], rows


def test_a_deny_reason_states_the_fix_once(deny_story: DenyStory) -> None:
    content = deny_story.b.text(0)
    assert content.count(deny_story.fix_cmd) == 1, (
        f"the deny reason states the fix {content.count(deny_story.fix_cmd)} times: {content!r}"
    )


# --------------------------------------------------------------------------------------------
# c: a warning reaches the model before the command runs


def test_c_a_warning_reaches_the_model_before_the_command_runs(lab: Lab) -> None:
    lab.import_history(dc_history())
    ssh_log = lab.fake_program("ssh", "Name Enabled\nAdministrator True")
    command = f"ssh admin@DC02 {FAILED_PS}"
    verdict = lab.check(command)
    assert verdict["verdict"] == "warn", f"set-up: `msp check` should warn for DC02, it said {verdict}"
    project = lab.project("warn-proj")

    def ran() -> bool:
        return ssh_log.exists() and bool(ssh_log.read_text().strip())

    s = lab.session(
        project,
        "list the local user accounts on the second domain controller",
        [bash(command, "List local users"), bash(command, "List local users again"), text("Done.")],
        probe=ran,
    )
    issued = ids_of(s.script, 0)
    told_before = [
        i
        for i, r in enumerate(s.script.main)
        if not r.probe and any("DC01" in after_tool_use(r.body, tid) for tid in issued)
    ]
    told_at_all = [
        i for i, r in enumerate(s.script.main) if any("DC01" in after_tool_use(r.body, t) for t in issued)
    ]
    assert told_before, (
        f"no request received before `{command}` ran told the model that {FAILED_PS} failed on DC01 "
        f"(a host like DC02); requests that did: {told_at_all}, each after the command had run "
        f"(fake ssh log: {ssh_log.read_text().strip() if ssh_log.exists() else 'empty'!r}). "
        f"tool_result of the first call: {result_text(s.script.tool_result(0))!r}"
    )
    assert ran(), "the warning stopped the command for good: re-issued as is, it never ran"


# --------------------------------------------------------------------------------------------
# d: recall from the folder's client, in the first request, without `msp session start`; no
# other client's facts


MARKER = "QUOKKA-5521"  # in a saved context only: never in a prompt or a script
OTHER_COMMAND = "Invoke-GlobexLedgerSync"


def other_client_history() -> list[dict[str, Any]]:
    return [
        {"kind": "client", "name": "Globex"},
        {"kind": "host", "client": "Globex", "hostname": "GX-LEDGER01", "ip_address": "198.51.100.7",
         "os": "Windows Server", "os_version": "2019", "shell_type": "powershell",
         "powershell_version": "5.1"},
        {"kind": "command", "host": "GX-LEDGER01", "command": f"{OTHER_COMMAND} -Full", "exit_code": 1,
         "output": f"The term '{OTHER_COMMAND}' is not recognized as the name of a cmdlet, function, "
                   "script file, or operable program.",
         "at": "2026-02-02T09:00:00+00:00", "session": "gx-1"},
    ]  # fmt: skip


def save_client_context(lab: Lab) -> None:
    lab.msp(
        "context", "save", "--client", "Acme Corp", "--title", "Print server queue fix",
        "--text", f"The print spooler on PRN01 hung; we clear the queue folder first. Marker: {MARKER}.",
    )  # fmt: skip


def other_client_leaks(session: Session) -> list[str]:
    sent = session.script.all_text()
    return [needle for needle in (OTHER_COMMAND, "GX-LEDGER01", "Globex") if needle in sent]


def test_d_recalled_context_of_the_folders_client_is_in_the_first_request(lab: Lab) -> None:
    lab.msp("client", "add", "Acme Corp")
    lab.import_history(other_client_history())
    project = lab.project("acme-proj")
    mapped = lab.msp("project", "add", "--path", str(project), "--client", "Acme Corp", check=False)
    assert mapped.returncode == 0, (
        f"`msp project add --path DIR --client C` should tie the folder to its client; it exited "
        f"{mapped.returncode}: {(mapped.stderr or mapped.stdout).strip().splitlines()[-1:]}"
    )
    save_client_context(lab)
    assert not (lab.msp_home / "current-session.json").exists()
    s = lab.session(project, "what did we decide about the print server?", [text("Done.")])
    assert MARKER in s.first_request(), "the client's saved context is not in the first request"
    assert not other_client_leaks(s), f"another client's facts reached the model: {other_client_leaks(s)}"


def test_d_without_a_client_in_scope_no_clients_facts_are_injected(lab: Lab) -> None:
    lab.msp("client", "add", "Acme Corp")
    lab.import_history(other_client_history())
    save_client_context(lab)
    # What belongs to no client is still recalled: the control that recall ran at all.
    general = "WOMBAT-7734"
    lab.msp(
        "context",
        "save",
        "--title",
        "Office hours",
        "--text",
        f"Changes only after 18:00. Marker: {general}.",
    )
    project = lab.project("unmapped-proj")
    s = lab.session(project, "what should I look at first?", [bash("true", "Nothing"), text("Done.")])
    assert general in s.first_request(), "control: a context of no client was not recalled either"
    leaks = other_client_leaks(s) + ([MARKER] if MARKER in s.script.all_text() else [])
    assert not leaks, f"with no client in scope, clients' facts reached the model: {leaks}"


# --------------------------------------------------------------------------------------------
# e: MSP Mode's own MCP tools answer, are not denied by its hooks, and leave no bogus record


def test_e_mcp_check_and_record_reach_the_model_and_record_nothing_bogus(lab: Lab) -> None:
    lab.import_history(dc_history())
    project = lab.project("mcp-proj")
    lab.mcp_add(project)
    recorded = f"ls --no-such-flag {lab.root / 'data'}"
    recorded_output = "ls: unrecognized option '--no-such-flag'\nTry 'ls --help' for more information."
    s = lab.session(
        project,
        "is it safe to list the local users on DC01?",
        [
            # This Claude Code defers MCP tools: their schemas are loaded through ToolSearch first.
            tool(
                "ToolSearch", query="select:mcp__msp__check_command,mcp__msp__record_command", max_results=5
            ),
            tool("mcp__msp__check_command", command=FAILED_PS, host="DC01"),
            tool("mcp__msp__record_command", command=recorded, exit_code=2, output=recorded_output),
            text("Done."),
        ],
    )
    problems = []
    check = s.result(1)
    try:
        answer = json.loads(result_text(check))
    except ValueError:
        answer = None
    if check.get("is_error") or not isinstance(answer, dict):
        problems.append(
            f"check_command did not answer (denied by MSP Mode's own hook?): {result_text(check)!r}"
        )
    elif answer.get("verdict") != "block" or not any(
        "Get-WmiObject" in x for x in answer.get("suggestions") or []
    ):
        problems.append(f"check_command should block with the fix that worked on DC01: {answer}")
    record = s.result(2)
    try:
        stored = json.loads(result_text(record))
    except ValueError:
        stored = None
    if record.get("is_error") or not isinstance(stored, dict) or not stored.get("failure_class"):
        problems.append(f"record_command did not record the failure: {result_text(record)!r}")

    rows = lab.query("SELECT command_text, exit_code, success, output_summary FROM commands_run")
    mine = [(c, e, ok) for c, e, ok, _ in rows if c == recorded]
    if mine != [(recorded, 2, 0)]:
        problems.append(f"`{recorded}` should be stored once, as the failure record_command gave: {mine}")
    checked = [(c, e) for c, e, _, _ in rows if c == FAILED_PS]
    if checked != [(FAILED_PS, 1)]:
        problems.append(f"check_command only reads, yet `{FAILED_PS}` rows are now {checked}")
    bogus = [c for c, _, _, out in rows if c.lstrip().startswith("{") or '"failure_class"' in (out or "")]
    if bogus:
        problems.append(f"rows made of an MCP tool's JSON: {bogus}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------
# f: session summaries from the conversation only, without snowballing


SNOWBALL = re.compile(r".*-(?:[ \t]+-){2,}.*")  # "- - - item": a summary of a summary of a summary


def sentences_of(chunks: list[str]) -> set[str]:
    """Each line's sentences, without list markers (a summary may quote one sentence of a line)."""
    out = set()
    for chunk in chunks:
        for line in chunk.splitlines():
            line = re.sub(r"^[\s>*#-]+", "", line).strip()
            out.update(s.strip() for s in re.split(r"(?<=[.!?])\s+", line))
    return out


def system_text(session: Session) -> list[str]:
    """Claude Code's own text the model received — its system prompt, ``role: "system"``
    messages and reminders — less what MSP Mode's hooks added: its distinctive sentences (40+
    characters)."""
    chunks: list[str] = []
    for request in session.script.main:
        body = request.body
        system = body.get("system")
        if isinstance(system, str):
            chunks.append(system)
        elif isinstance(system, list):
            chunks += [b.get("text", "") for b in system if isinstance(b, dict)]
        for message in body.get("messages") or []:
            content = message.get("content")
            parts = [content] if isinstance(content, str) else [b.get("text", "") for b in content or []]
            if message.get("role") == "user":  # Claude Code's reminders ride in user turns
                parts = [p for p in parts if isinstance(p, str) and p.startswith("<system-reminder>")]
            elif message.get("role") != "system":
                continue
            chunks += [p for p in parts if isinstance(p, str)]
    ours = sentences_of(session.run.hook_texts())
    return sorted(
        line
        for line in sentences_of(chunks) - ours
        if len(line) >= 40 and "hook additional context" not in line
    )


def injected_text(session: Session) -> list[str]:
    """What MSP Mode's hooks told the model in this session (recalled context, known failures,
    deny reasons) and the conversation never said: its distinctive sentences. A sentence that
    quotes the session's own prompt, commands, their arguments (``Files: DIR (used)``) or real
    results (an earlier summary of the same work, "`cmd` → denied") is left out: a summary may
    say that again."""
    own = [session.prompt]
    for step, spec in enumerate(session.script.steps):
        command = str((spec.get("input") or {}).get("command", ""))
        own += [str(spec.get("text", "")), command, *command.split()]
        block = session.script.tool_result(step)
        if block is not None and not is_denial(block):
            own += result_text(block).splitlines()
    own = [o.strip() for o in own if len(o.strip()) >= 8]
    told = sentences_of(session.run.hook_texts())
    return sorted(line for line in told if len(line) >= 40 and not any(o in line for o in own))


ROUNDS = ("alpha", "bravo", "charlie")


def test_f_session_summaries_hold_the_conversation_only_and_do_not_snowball(lab: Lab) -> None:
    project = lab.project("summary-proj")
    lab.msp(
        "context", "save", "--title", "Backup window",
        "--text", f"Backups run at 02:00; decided never to reboot before 03:00. Marker: {MARKER}.",
    )  # fmt: skip
    missing = f"{lab.missing_program()} {project}"
    sessions = []
    for k, word in enumerate(ROUNDS):
        probe = f'echo "$(({k} + 100))-round-{word}"'
        sessions.append(
            lab.session(
                project,
                f"round {word}: list the project folder",
                [
                    bash(missing, "Show a tree"),
                    bash(probe, "Print a marker"),
                    text(f"Finished round {word}."),
                ],
            )
        )
    assert is_denial(sessions[1].result(0)), "set-up: the repeated failure should have been denied in round 2"
    # The last session is saved when something next drains the queue.
    lab.msp("hooks", "sync")
    rows = lab.query(
        "SELECT title, dense_summary, key_decisions, current_state FROM conversation_contexts "
        "WHERE context_type = 'session_summary' ORDER BY created_at"
    )
    summaries = ["\n".join(str(x) for x in row if x) for row in rows]
    problems = summary_problems(summaries, sessions, ROUNDS)
    assert not problems, f"{len(summaries)} summaries:\n" + "\n".join(problems)


def summary_problems(summaries: list[str], sessions: list[Session], rounds: tuple[str, ...]) -> list[str]:
    """What is wrong with the saved summaries of ``sessions`` (round k ran ``echo k+100-round-W``)."""
    claude_text = sorted({line for s in sessions for line in system_text(s)})
    assert claude_text, "set-up: no system prompt text was seen in the requests"
    told = [injected_text(s) for s in sessions]
    assert any(told), "set-up: MSP Mode's hooks told the model nothing"
    problems = []
    for k, word in enumerate(rounds):
        own = [s for s in summaries if f"round-{word}" in s or f"round {word}" in s]
        if not own:
            problems.append(f"no saved summary of round {word} (of {len(summaries)} summaries)")
        if not any(f"{k + 100}-round-{word}" in s for s in own):
            problems.append(
                f"the summary of round {word} lacks its command's real result {k + 100}-round-{word}"
            )
    for i, summary in enumerate(summaries):
        head = summary.splitlines()[0][:60] if summary else ""
        mixed = [w for w in rounds if f"round-{w}" in summary or f"round {w}" in summary]
        if len(mixed) > 1:
            problems.append(f"summary {i} ({head!r}) nests other sessions: it mentions rounds {mixed}")
        snowball = SNOWBALL.search(summary)
        if snowball:
            problems.append(f"summary {i} ({head!r}) snowballs: {snowball[0]!r}")
        leaked = [line for line in claude_text if line in summary]
        if leaked:
            problems.append(f"summary {i} ({head!r}) holds Claude Code's system text: {leaked[:2]}")
        injected = [
            t for t in (MARKER, "MSP Mode stopped this command", "Known failures (MSP Mode)") if t in summary
        ]
        # Its own session (the newest real result it holds): what was injected there must not
        # come back as if the conversation had said it.
        mine = [k for k, w in enumerate(rounds) if f"{k + 100}-round-{w}" in summary]
        if mine:
            injected += [line for line in told[mine[-1]] if line in summary][:2]
        if injected:
            problems.append(f"summary {i} ({head!r}) holds text MSP Mode injected: {injected}")
    return problems


# --------------------------------------------------------------------------------------------
# g: the hooks use the database they were installed for


def test_g_hooks_use_the_database_they_were_installed_for(lab: Lab) -> None:
    elsewhere = lab.root / "elsewhere"
    elsewhere.mkdir()
    team_db = f"sqlite:///{elsewhere / 'team.db'}"
    env = dict(lab.env, MSP_DATABASE_URL=team_db)
    lab.msp("init", env=env)
    history = lab.root / "dc.jsonl"
    history.write_text("".join(json.dumps(line) + "\n" for line in dc_history()))
    lab.msp("import", str(history), env=env)
    ssh_log = lab.fake_program("ssh", "Name Enabled\nAdministrator True")
    project = lab.project("db-proj", env=env)
    default_db = lab.msp_home / "msp.db"
    assert not default_db.exists()

    without_url = {k: v for k, v in lab.env.items() if k != "MSP_DATABASE_URL"}
    command = f"ssh admin@DC01 {FAILED_PS}"
    steps = [bash(command, "List local users"), text("Done.")]
    s = lab.session(project, "list the local users on DC01", steps, env=without_url)
    problems = []
    if not is_denial(s.result(0)):
        problems.append(f"`{command}` failed on DC01 in {team_db} but was not denied: {s.text(0)!r}")
    if ssh_log.exists():
        problems.append(f"the known failure ran: fake ssh was called with {ssh_log.read_text().strip()!r}")
    if default_db.exists():
        problems.append(f"the hooks created {default_db} instead of using {team_db}")
    assert not problems, "\n".join(problems)


def test_g_a_missing_database_is_told_to_the_agent_and_logged_never_created(lab: Lab) -> None:
    """The hooks' database gone (moved, another machine's path): the agent is told in its first
    request, hook.log says it, and no empty database appears in its place."""
    project = lab.project("gone-proj")
    lab.db_path.rename(lab.root / "moved.db")
    s = lab.session(project, "list the folder", [bash("true", "Nothing"), text("Done.")])
    problems = []
    told = [r for r in s.script.main if str(lab.db_path) in r.text and "does not exist" in r.text]
    if not told or told[0] is not s.script.main[0]:
        problems.append("the first request did not tell the model that MSP Mode's database is missing")
    log = lab.msp_home / "hook.log"
    logged = log.read_text() if log.exists() else ""
    if str(lab.db_path) not in logged or "does not exist" not in logged:
        problems.append(f"hook.log does not say the database is missing: {logged[-500:]!r}")
    if lab.db_path.exists():
        problems.append(f"an empty {lab.db_path} was created")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------
# h: --scope project keeps machine paths and backups out of the shared settings


def test_h_project_scope_writes_no_machine_paths_or_backups_into_the_repo(msp_lab: Lab) -> None:
    lab = msp_lab
    project = lab.root / "repo"
    (project / ".claude").mkdir(parents=True)
    shared = project / ".claude" / "settings.json"
    # What an earlier version wrote there: our entry, with a machine path, to be taken out.
    old = {"hooks": [{"type": "command", "command": "/usr/bin/python3 -m mspmode.hooks PreToolUse"}]}
    shared.write_text(
        json.dumps({"permissions": {"allow": ["Bash(ls:*)"]}, "hooks": {"PreToolUse": [old]}}, indent=2)
    )
    lab.msp("hooks", "install", "--scope", "project", cwd=project)

    problems = []
    data = json.loads(shared.read_text())
    if data != {"permissions": {"allow": ["Bash(ls:*)"]}}:
        problems.append(f"the project's own settings should be all that is left in settings.json: {data}")
    machine = [str(lab.root), str(lab.msp_home), str(lab.msp_bin.parent.parent)]

    def strings(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [s for v in node.values() for s in strings(v)]
        if isinstance(node, list):
            return [s for v in node for s in strings(v)]
        return [node] if isinstance(node, str) else []

    for value in strings(data):
        try:
            words = shlex.split(value)
        except ValueError:
            words = value.split()
        absolute = [w for w in words if w.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", w)]
        if absolute or any(m in value for m in machine):
            problems.append(f"machine path in the shared .claude/settings.json: {value!r}")
    backups = [str(p.relative_to(project)) for p in project.rglob("*") if "msp-backup" in p.name]
    if backups:
        problems.append(f"backups left in the repository: {backups}")
    local = project / ".claude" / "settings.local.json"
    hooks: dict[str, Any] = {}
    for path in (shared, local):
        if path.exists():
            for event, groups in (json.loads(path.read_text()).get("hooks") or {}).items():
                hooks.setdefault(event, []).extend(groups)
    missing = [e for e in ("PreToolUse", "PostToolUse", "SessionStart") if not hooks.get(e)]
    if missing:
        problems.append(f"no hooks installed for {missing} in settings.json or settings.local.json")
    assert not problems, "\n".join(problems)


def test_tool_results_are_read_from_what_the_model_received() -> None:
    """The harness's own reading of a request body (no claude needed)."""
    body = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "out"}]},
            {"role": "system", "content": "after"},
        ]
    }
    assert result_text(tool_results(body)["t1"]) == "out"
    assert '"after"' in after_tool_use(body, "t1") and '"hi"' not in after_tool_use(body, "t1")
    assert after_tool_use(body, "t2") == ""
