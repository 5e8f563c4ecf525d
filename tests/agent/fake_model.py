"""A scripted stand-in for the Anthropic Messages API, for driving the real Claude Code CLI.

Standard library only; listens on 127.0.0.1 only, in a thread of the calling process.

    with FakeModel() as model:
        script = model.script([tool("Bash", command="uname -s"), text("Done.")])
        # run claude with ANTHROPIC_BASE_URL=script.base_url
        script.requests        # every request Claude Code sent for this script, bodies whole
        script.tool_result(0)  # the tool_result block the model received for step 0

Each script has its own base URL (``http://127.0.0.1:PORT/s/<id>``; Claude Code appends
``/v1/messages``), so one server serves any number of claude processes at once, each on its
own script.

A step is one assistant turn: ``{"text": "…"}`` ends the turn, ``{"tool": NAME, "input":
{…}}`` is a tool_use. Which step a request gets: a request whose ``tools`` list names ``Bash``
is the agent loop's (*main*); anything else (a title or a summary, which Claude Code sends with
no tools or a small set) is a *side* request and gets a short text without moving the script.
For a main request the step is one past the highest step whose tool_use id (issued by this
script) has its ``tool_result`` in the request: the script advances exactly when the previous
tool call's result arrives, and a retried request gets the same step again. Past the last step
the answer is "(script finished)".

Timing, per tool_use step: ``sent`` when the response carrying it was written, ``back`` when
the request carrying its tool_result arrived (``time.monotonic()``). ``back - sent`` is what the
agent feels per tool call: PreToolUse, the tool, PostToolUse and Claude Code's own work.

``probe``: a callable run as each request arrives, its value kept with the request (e.g.
"has the command run yet?"), so a test can say what the model had been told *before*
something happened without comparing clocks.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FINISHED = "(script finished)"
SIDE_TEXT = "Scripted session"


def text(value: str) -> dict[str, Any]:
    """A step: the assistant answers with this text and ends its turn."""
    return {"text": value}


def tool(name: str, **tool_input: Any) -> dict[str, Any]:
    """A step: the assistant calls tool ``name`` with this input."""
    return {"tool": name, "input": tool_input}


def bash(command: str, description: str = "Run a command") -> dict[str, Any]:
    return tool("Bash", command=command, description=description)


@dataclass
class Request:
    """One request as Claude Code sent it."""

    at: float  # time.monotonic() when it arrived
    method: str
    path: str  # after the script prefix: /v1/messages, /v1/messages/count_tokens…
    kind: str  # main | side | other
    body: Any
    step: int | None = None  # main requests: the step answered
    probe: Any = None
    answered: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        """The whole body as JSON text (what "the model received" means for a search)."""
        return json.dumps(self.body, ensure_ascii=False)


@dataclass
class ToolTiming:
    tool: str
    sent: float | None = None
    back: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.sent is None or self.back is None else self.back - self.sent


@dataclass
class Script:
    """One scripted conversation; what it was sent is kept here."""

    id: str
    base_url: str
    steps: list[dict[str, Any]]
    probe: Callable[[], Any] | None = None
    requests: list[Request] = field(default_factory=list)
    issued: dict[str, int] = field(default_factory=dict)  # tool_use id -> step
    timings: dict[int, ToolTiming] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def main(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.kind == "main"]

    def all_text(self) -> str:
        """Every main request's body, for "was X ever sent to the model"."""
        return "\n".join(r.text for r in self.main)

    def tool_result(self, step: int) -> dict[str, Any] | None:
        """The tool_result block for ``step``'s tool_use, as the model last received it."""
        ids = {tid for tid, s in self.issued.items() if s == step}
        for request in reversed(self.main):
            found = tool_results(request.body)
            for tid in ids:
                if tid in found:
                    return found[tid]
        return None

    def first_request_with(self, needle: str) -> int | None:
        """Index in :attr:`main` of the first request whose body holds ``needle``."""
        return next((i for i, r in enumerate(self.main) if needle in r.text), None)

    def seconds_per_call(self) -> list[float]:
        """Per tool call, in step order: response sent → its tool_result back."""
        return [t.seconds for _, t in sorted(self.timings.items()) if t.seconds is not None]


def result_text(block: dict[str, Any] | None) -> str:
    """The text of a tool_result block (a string, or a list of text blocks)."""
    if not block:
        return ""
    content = block.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(c.get("text", "")) if isinstance(c, dict) else str(c) for c in content)
    return json.dumps(content)


def tool_results(body: Any) -> dict[str, dict[str, Any]]:
    """tool_use_id -> tool_result block, over every user message of a request body."""
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(body, dict):
        return out
    for message in body.get("messages") or []:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                out[str(block.get("tool_use_id"))] = block
    return out


def tool_names(body: Any) -> list[str]:
    tools = body.get("tools") if isinstance(body, dict) else None
    if not isinstance(tools, list):
        return []
    return [t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]


def _message(model: str, content: list[dict[str, Any]], stop_reason: str) -> dict[str, Any]:
    return {
        "id": "msg_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 100,
            "output_tokens": 20,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def _sse(message: dict[str, Any]) -> bytes:
    """The message as the Messages API's streaming event sequence."""

    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n"

    head = dict(message, content=[], stop_reason=None)
    head["usage"] = dict(message["usage"], output_tokens=1)
    parts = [event("message_start", {"type": "message_start", "message": head})]
    for i, block in enumerate(message["content"]):
        start: dict[str, Any]
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": block["text"]}]
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            raw = json.dumps(block["input"])
            deltas = [
                {"type": "input_json_delta", "partial_json": raw[j : j + 64]} for j in range(0, len(raw), 64)
            ]
        parts.append(
            event("content_block_start", {"type": "content_block_start", "index": i, "content_block": start})
        )
        for delta in deltas:
            parts.append(
                event("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta})
            )
        parts.append(event("content_block_stop", {"type": "content_block_stop", "index": i}))
    parts.append(
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]},
            },
        )
    )
    parts.append(event("message_stop", {"type": "message_stop"}))
    return "".join(parts).encode()


class FakeModel:
    """The server. ``script()`` registers a conversation and returns it with its base URL."""

    def __init__(self) -> None:
        self._scripts: dict[str, Script] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.unrouted: list[str] = []  # paths that named no script: a harness mistake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # stop() leaves no thread behind (a test process that forks after us checks that it
        # is alone): handler threads are joined, after their connections are shut.
        self._server.daemon_threads = False
        self._server.block_on_close = True
        self._connections: set[socket.socket] = set()
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeModel:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        with self._lock:
            open_now = list(self._connections)
        for conn in open_now:  # a keep-alive connection whose client is gone or idle
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def script(self, steps: list[dict[str, Any]], probe: Callable[[], Any] | None = None) -> Script:
        sid = f"{next(self._ids)}-{uuid.uuid4().hex[:8]}"
        script = Script(
            id=sid, base_url=f"http://127.0.0.1:{self.port}/s/{sid}", steps=list(steps), probe=probe
        )
        with self._lock:
            self._scripts[sid] = script
        return script

    # ---------------------------------------------------------------------------------------

    def _route(self, raw_path: str) -> tuple[Script | None, str]:
        path = raw_path.split("?", 1)[0]
        parts = path.split("/", 3)  # "", "s", id, rest
        if len(parts) >= 3 and parts[1] == "s":
            with self._lock:
                script = self._scripts.get(parts[2])
            return script, "/" + (parts[3] if len(parts) > 3 else "")
        return None, path

    def _answer(self, script: Script, request: Request) -> tuple[dict[str, Any], str | None]:
        """The assistant message for a messages request, and the tool_use id it issues."""
        body = request.body
        model = str(body.get("model") or "claude-fake")
        if "Bash" not in tool_names(body):
            request.kind = "side"
            return _message(model, [{"type": "text", "text": SIDE_TEXT}], "end_turn"), None
        results = tool_results(body)
        with script.lock:
            done = [s for tid, s in script.issued.items() if tid in results]
            step = max(done) + 1 if done else 0
            request.step = step
            for tid, s in script.issued.items():
                if tid in results and s == step - 1:
                    timing = script.timings.get(s)
                    if timing is not None and timing.back is None:
                        timing.back = request.at
            spec = script.steps[step] if step < len(script.steps) else text(FINISHED)
            if "tool" not in spec:
                return _message(model, [{"type": "text", "text": spec.get("text", "")}], "end_turn"), None
            found = next((t for t, s in script.issued.items() if s == step), None)
            tid = found or "toolu_01" + uuid.uuid4().hex[:22]
            script.issued[tid] = step
            script.timings.setdefault(step, ToolTiming(tool=spec["tool"]))
        block = {"type": "tool_use", "id": tid, "name": spec["tool"], "input": spec.get("input") or {}}
        return _message(model, [block], "tool_use"), tid

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "fake-anthropic/1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake._connections.add(self.connection)

            def finish(self) -> None:
                with fake._lock:
                    fake._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def _read_body(self) -> Any:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    raw = b""
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        raw += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    raw = gzip.decompress(raw)
                try:
                    return json.loads(raw) if raw.strip() else None
                except ValueError:
                    return raw[:2000].decode(errors="replace")

            def _send(self, code: int, data: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("request-id", "req_" + uuid.uuid4().hex[:20])
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()

            def _json(self, code: int, obj: Any) -> None:
                self._send(code, json.dumps(obj).encode())

            def do_HEAD(self) -> None:
                self._send(200, b"")

            def do_GET(self) -> None:
                script, path = fake._route(self.path)
                if script is None:
                    fake.unrouted.append(self.path)
                    self._json(
                        404, {"type": "error", "error": {"type": "not_found_error", "message": "no script"}}
                    )
                    return
                with script.lock:
                    script.requests.append(Request(time.monotonic(), "GET", path, "other", None))
                if path.startswith("/v1/models"):
                    self._json(200, {"data": [], "has_more": False, "first_id": None, "last_id": None})
                else:
                    self._json(200, {})

            def do_POST(self) -> None:
                arrived = time.monotonic()
                script, path = fake._route(self.path)
                body = self._read_body()
                if script is None:
                    fake.unrouted.append(self.path)
                    self._json(
                        404, {"type": "error", "error": {"type": "not_found_error", "message": "no script"}}
                    )
                    return
                probe = script.probe() if script.probe is not None else None
                request = Request(arrived, "POST", path, "other", body, probe=probe)
                with script.lock:
                    script.requests.append(request)
                if path.endswith("/count_tokens"):
                    self._json(200, {"input_tokens": 1000})
                    return
                if path != "/v1/messages" or not isinstance(body, dict):
                    self._json(200, {})
                    return
                request.kind = "main"
                message, tid = fake._answer(script, request)
                request.answered = message
                if body.get("stream"):
                    self._send(200, _sse(message), "text/event-stream")
                else:
                    self._json(200, message)
                if tid is not None:
                    sent = time.monotonic()
                    with script.lock:
                        timing = script.timings[script.issued[tid]]
                        if timing.sent is None:
                            timing.sent = sent

        return Handler
