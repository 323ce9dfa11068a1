"""The `anthropic` backend: Claude through the official `anthropic` SDK (Messages API).

The system prompt is one text block marked `cache_control: ephemeral`, so every request in the
same language and canvas reads it from Anthropic's prompt cache; on a repair the request turn
(with its images) is a second breakpoint.  Reference images go as base64 image blocks.  Streaming
is off unless `stream=True`.  The SDK retries 429, 5xx, timeouts and connection errors with
exponential backoff (`max_retries`, honouring `retry-after`); what still fails is mapped once,
here, to `BackendFailed` / `BackendUnavailable` with a one-line message.  Token usage, prompt
cache reads and writes are recorded on the Program.

Key: `api_key=` or `ANTHROPIC_API_KEY`; base URL: `base_url=` or `ANTHROPIC_BASE_URL`; model:
`model=`, else `COCOGEN_MODEL`, else `DEFAULT_MODEL`.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from cocogen.planning.errors import map_sdk_error
from cocogen.planning.llm import LLMBackend, Reply, Turn
from cocogen.types import TokenUsage

DEFAULT_MODEL = "claude-sonnet-4-5"


class AnthropicBackend(LLMBackend):
    name = "anthropic"
    provider = "Anthropic"
    key_variable = "ANTHROPIC_API_KEY"
    default_model = DEFAULT_MODEL
    sdk = "anthropic"
    client_class = "Anthropic"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.base_url = self.base_url or os.environ.get("ANTHROPIC_BASE_URL") or None

    @staticmethod
    def _content(turn: Turn) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = [
            {
                "type": "image",
                "source": {
                    "type": "base64",
                    "media_type": image.media_type,
                    "data": base64.b64encode(image.data).decode("ascii"),
                },
            }
            for image in turn.images
        ]
        text: dict[str, Any] = {"type": "text", "text": turn.text}
        if turn.cache:
            text["cache_control"] = {"type": "ephemeral"}
        blocks.append(text)
        return blocks

    def _payload(self, system: str, turns: list[Turn], max_tokens: int) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": t.role, "content": self._content(t)} for t in turns],
        }
        if self.temperature is not None:
            payload["temperature"] = self.temperature
        return payload

    def _send(self, payload: dict[str, Any]) -> Reply:
        import anthropic

        client = self._get_client()
        try:
            if self.stream:
                with client.messages.stream(**payload) as stream:
                    message = stream.get_final_message()
            else:
                message = client.messages.create(**payload)
        except anthropic.APIError as exc:
            raise map_sdk_error(exc, anthropic, self) from None
        text = "".join(
            getattr(block, "text", "") for block in message.content if block.type == "text"
        )
        stop = {"max_tokens": "length", "refusal": "refusal"}.get(message.stop_reason, "end")
        usage = message.usage
        return Reply(
            text=text,
            stop=stop,  # type: ignore[arg-type]
            usage=TokenUsage(
                input_tokens=usage.input_tokens or 0,
                output_tokens=usage.output_tokens or 0,
                cache_read_tokens=getattr(usage, "cache_read_input_tokens", None) or 0,
                cache_write_tokens=getattr(usage, "cache_creation_input_tokens", None) or 0,
                requests=1,
            ),
        )
