"""Local servers that speak the Messages API and Chat Completions wire formats, for the real SDKs.

Each test scripts the replies (`api.script(...)`), points the real `anthropic` / `openai` SDK at
`api.url` on 127.0.0.1, and afterwards asserts on `api.requests` (path, headers, JSON body)."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Scripted:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    sse: list[dict[str, Any]] | None = None
    """Server-sent events for a streamed reply: each {"event": name or None, "data": {...}}."""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeAPI:
    """A scripted HTTP server; replies are served in order, one per request."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.replies: deque[Scripted] = deque()
        self.requests: list[Received] = []
        self.stopping = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw or b"{}")
                api.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                reply = api.replies.popleft() if api.replies else Scripted(
                    500, {"error": {"message": "no reply scripted"}}
                )
                if reply.delay_s:
                    api.stopping.wait(reply.delay_s)
                try:
                    if reply.sse is not None:
                        self._events(reply)
                        return
                    payload = json.dumps(reply.body or {}).encode()
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def _events(self, reply: Scripted) -> None:
                chunks = []
                for event in reply.sse or []:
                    text = ""
                    if event.get("event"):
                        text += f"event: {event['event']}\n"
                    data = event["data"]
                    text += f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
                    chunks.append(text)
                payload = "".join(chunks).encode()
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}" + ("/v1" if self.kind == "openai" else "")

    def script(self, *replies: Scripted) -> FakeAPI:
        self.replies.extend(replies)
        return self

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    # -- replies in each wire format ------------------------------------------------------------

    def text(
        self,
        text: str,
        *,
        stop: str = "end",
        input_tokens: int = 120,
        output_tokens: int = 80,
        cache_read: int = 0,
        cache_write: int = 0,
        refusal: str | None = None,
    ) -> Scripted:
        """A successful reply holding `text`; stop is end | length | refusal."""
        if self.kind == "anthropic":
            reason = {"end": "end_turn", "length": "max_tokens", "refusal": "refusal"}[stop]
            return Scripted(
                200,
                {
                    "id": f"msg_{len(self.requests)}",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-test",
                    "content": [{"type": "text", "text": text}] if text else [],
                    "stop_reason": reason,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": input_tokens,
                        "output_tokens": output_tokens,
                        "cache_creation_input_tokens": cache_write,
                        "cache_read_input_tokens": cache_read,
                    },
                },
            )
        finish = {"end": "stop", "length": "length", "refusal": "stop"}[stop]
        return Scripted(
            200,
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1700000000,
                "model": "gpt-test",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text or None,
                                    "refusal": refusal},
                        "finish_reason": finish,
                    }
                ],
                "usage": {
                    "prompt_tokens": input_tokens + cache_read,
                    "completion_tokens": output_tokens,
                    "total_tokens": input_tokens + cache_read + output_tokens,
                    "prompt_tokens_details": {"cached_tokens": cache_read},
                },
            },
        )

    def error(self, status: int, message: str = "boom") -> Scripted:
        """An API error; `retry-after-ms` keeps the SDK's backoff short in tests."""
        if self.kind == "anthropic":
            kinds = {429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
            body = {"type": "error", "error": {"type": kinds.get(status, "api_error"),
                                               "message": message}}
        else:
            body = {"error": {"message": message, "type": "server_error", "code": None}}
        return Scripted(status, body, headers={"retry-after-ms": "5"})

    def streamed(self, text: str, pieces: int = 3) -> Scripted:
        """A successful reply as server-sent events, the text in `pieces` deltas."""
        step = max(1, len(text) // pieces)
        parts = [text[k : k + step] for k in range(0, len(text), step)]
        if self.kind == "anthropic":
            message = {"id": "msg_s", "type": "message", "role": "assistant",
                       "model": "claude-test", "content": [], "stop_reason": None,
                       "stop_sequence": None, "usage": {"input_tokens": 50, "output_tokens": 1}}
            events: list[dict[str, Any]] = [
                {"event": "message_start", "data": {"type": "message_start", "message": message}},
                {"event": "content_block_start", "data": {
                    "type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}},
                *({"event": "content_block_delta", "data": {
                    "type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": part}}} for part in parts),
                {"event": "content_block_stop",
                 "data": {"type": "content_block_stop", "index": 0}},
                {"event": "message_delta", "data": {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 42}}},
                {"event": "message_stop", "data": {"type": "message_stop"}},
            ]
            return Scripted(sse=events)
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test"}
        events = [
            *({"data": {**chunk, "choices": [{"index": 0, "delta": {"content": part},
                                               "finish_reason": None}]}} for part in parts),
            {"data": {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}},
            {"data": {**chunk, "choices": [], "usage": {
                "prompt_tokens": 50, "completion_tokens": 42, "total_tokens": 92}}},
            {"data": "[DONE]"},
        ]
        return Scripted(sse=events)

    def slow(self, seconds: float) -> Scripted:
        return Scripted(200, {}, delay_s=seconds)

    # -- what the server received ---------------------------------------------------------------

    def system_of(self, k: int) -> str:
        body = self.requests[k].body
        if self.kind == "anthropic":
            return "".join(b["text"] for b in body["system"])
        return str(body["messages"][0]["content"])

    def messages_of(self, k: int) -> list[dict[str, Any]]:
        body = self.requests[k].body
        return body["messages"] if self.kind == "anthropic" else body["messages"][1:]

    def text_of(self, message: dict[str, Any]) -> str:
        content = message["content"]
        if isinstance(content, str):
            return content
        return "".join(part.get("text", "") for part in content)


@pytest.fixture(params=["anthropic", "openai"])
def api(request: pytest.FixtureRequest) -> Iterator[FakeAPI]:
    server = FakeAPI(request.param)
    yield server
    server.close()


@pytest.fixture
def anthropic_api() -> Iterator[FakeAPI]:
    server = FakeAPI("anthropic")
    yield server
    server.close()


@pytest.fixture
def openai_api() -> Iterator[FakeAPI]:
    server = FakeAPI("openai")
    yield server
    server.close()


@pytest.fixture
def reply_cache_dir(tmp_path: Path) -> Path:
    """A private reply cache per test (the session cache dir is shared between tests)."""
    return tmp_path / "replies"


@pytest.fixture
def make(reply_cache_dir: Path) -> Callable[..., Any]:
    """A factory: the real backend for `api.kind`, pointed at the fake server, short timeouts."""

    def build(api: FakeAPI, **options: Any) -> Any:
        from cocogen.llm_cache import ReplyCache
        from cocogen.planning.claude import AnthropicBackend
        from cocogen.planning.openai_compat import OpenAIBackend

        options.setdefault("timeout", 5.0)
        options.setdefault("max_retries", 2)
        options.setdefault("cache", ReplyCache(reply_cache_dir))
        options.setdefault("model", "test-model")
        cls = AnthropicBackend if api.kind == "anthropic" else OpenAIBackend
        return cls(api_key="test-key", base_url=api.url, **options)

    return build
