"""``msp recall`` and ``msp context save``: what an agent should be told now, and how to
remember a session for the next one."""

from __future__ import annotations

from pathlib import Path

import typer

from mspmode.cli.app import app, emit_json, open_runtime, read_stdin
from mspmode.engine.recall import DEFAULT_BUDGET_TOKENS, DEFAULT_HALF_LIFE_DAYS
from mspmode.errors import ValidationError
from mspmode.models.recall import CONTEXT_TYPES
from mspmode.services import learning, recall
from mspmode.services.actor import local_actor

MAX_TEXT_BYTES = 16 * 2**20  # a context's text on stdin; it is compressed, never kept whole

context_app = typer.Typer(
    help="Conversation contexts: what later sessions will recall.", no_args_is_help=True
)
app.add_typer(context_app, name="context")


@app.command("recall")
def recall_(
    client: str = typer.Option(None, "--client", "-c", help="Client name or id."),
    project: str = typer.Option(None, "--project", "-p", help="Project name or id."),
    query: str = typer.Option("", "--query", "-q", help="The task or prompt, free text."),
    host: list[str] = typer.Option(None, "--host", help="A host in play (repeatable)."),
    tag: list[str] = typer.Option(None, "--tag", help="A wanted tag (repeatable)."),
    budget: int = typer.Option(DEFAULT_BUDGET_TOKENS, "--budget", help="Token budget (at most 2,500)."),
    half_life: float = typer.Option(
        DEFAULT_HALF_LIFE_DAYS, "--half-life", help="Days for a fact's weight to halve; 0: no decay."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the scores too, as one JSON object."),
) -> None:
    """Print what MSP Mode remembers that matters now, as markdown.

    Facts are scored by full-text relevance to --query, importance, time
    decay (hard host constraints never decay), how often they were used,
    and whether their client, project, hosts and tags match; the best are
    printed within --budget tokens (at most 10,000 characters). Another
    client's facts are never shown; superseded ones neither.
    """
    with open_runtime() as rt:
        got = recall.recall_context(
            rt,
            local_actor(),
            recall.RecallRequest(
                client=client,
                project=project,
                query=query,
                hosts=tuple(host or ()),
                tags=tuple(tag or ()),
                budget_tokens=budget,
                half_life_days=half_life,
                touch=False,
            ),
        )
        if as_json:
            emit_json(got.to_dict())
        elif got.markdown:
            typer.echo(got.markdown, nl=False)
        else:
            typer.echo("Nothing remembered for this yet.", err=True)
        recall.mark_used(rt, got.result.used)  # after the answer: bookkeeping nobody waits for


@context_app.command("save")
def context_save(
    title: str = typer.Option(..., "--title", "-t", help="One line: what this context is about."),
    text: str = typer.Option(None, "--text", help="The context; '-' or omitted: read standard input."),
    transcript: Path = typer.Option(
        None, "--transcript", help="A Claude Code transcript (JSONL) to compress instead of --text."
    ),
    client: str = typer.Option(None, "--client", "-c", help="Client name or id."),
    project: str = typer.Option(None, "--project", "-p", help="Project name or id."),
    kind: str = typer.Option("general_context", "--type", help=f"One of: {', '.join(CONTEXT_TYPES)}."),
    importance: int = typer.Option(5, "--importance", min=1, max=10, help="1–10."),
    tag: list[str] = typer.Option(None, "--tag", help="A tag (repeatable)."),
    supersedes: str = typer.Option(None, "--supersedes", help="Id of the context this one replaces."),
    as_json: bool = typer.Option(False, "--json", help="Print the saved context as JSON."),
) -> None:
    """Remember something for later sessions, on any machine.

    Long text and transcripts are compressed without an LLM: every decision,
    command with its result, error message, file path, host and credential
    name is kept; secrets are redacted. --supersedes marks an earlier context
    as replaced (kept, no longer recalled).
    """
    import uuid

    old = None
    if supersedes:
        try:
            old = uuid.UUID(supersedes)
        except ValueError:
            raise ValidationError(f"--supersedes wants a context id, not {supersedes!r}") from None
    with open_runtime() as rt:
        actor = local_actor()
        if transcript is not None:
            try:
                handle = transcript.open("rb")
            except OSError as exc:
                raise ValidationError(f"cannot read {transcript}: {exc.strerror}") from None
            with handle:
                # Streamed: a transcript can be far larger than what is kept of it.
                lines = (
                    raw.decode("utf-8", "replace").rstrip("\r\n")
                    for raw in learning.bounded_lines(handle)
                    if not isinstance(raw, learning.LongLine)
                )
                row = recall.save_transcript(rt, actor, lines, title=title, client=client, project=project)
        else:
            body = read_stdin(MAX_TEXT_BYTES, "the text") if text in (None, "-") else text
            ctx = recall.ContextIn(
                title=title,
                text=body,
                client=client,
                project=project,
                context_type=kind,
                importance=importance,
                tags=tuple(tag or ()),
            )
            row = recall.save_context(rt, actor, ctx, supersedes=old)
    if as_json:
        emit_json(
            {
                c: getattr(row, c)
                for c in ("id", "title", "context_type", "source_tokens", "compressed_tokens")
            }
        )
    else:
        saved = f" ({row.source_tokens} → {row.compressed_tokens} tokens)" if row.compressed_tokens else ""
        typer.echo(f"saved context {row.id}{saved}")
