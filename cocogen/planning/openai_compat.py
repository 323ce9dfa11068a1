"""The `openai` backend: the official `openai` SDK (Chat Completions) against any compatible
server — api.openai.com, or a local vLLM, llama.cpp or Ollama (`base_url=` / `OPENAI_BASE_URL`).

The same features as the anthropic backend where the API has them: the system prompt comes first
and is identical per language and canvas (OpenAI caches such prefixes on its own and reports
`cached_tokens`), reference images go as `image_url` parts with data URLs, streaming is off
unless `stream=True`, the SDK retries 429/5xx/timeouts with backoff, refusals (`message.refusal`,
`finish_reason="content_filter"`) become `BackendRefused`.  Usage: `input_tokens` are the prompt
tokens not read from the cache, `cache_read_tokens` those that were.

The token limit is sent as `max_completion_tokens` to OpenAI itself and as `max_tokens` to other
servers (what local servers understand); `token_parameter=` overrides.  A local server needs no
key: with a base URL and no `OPENAI_API_KEY`, a placeholder is sent.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from cocogen.planning.errors import map_sdk_error
from cocogen.planning.llm import LLMBackend, Reply, Turn
from cocogen.types import TokenUsage

DEFAULT_MODEL = "gpt-5"
LOCAL_KEY = "not-needed"


class OpenAIBackend(LLMBackend):
    name = "openai"
    provider = "OpenAI-compatible"
    key_variable = "OPENAI_API_KEY"
    default_model = DEFAULT_MODEL
    sdk = "openai"
    client_class = "OpenAI"

    def __init__(self, *, token_parameter: str | None = None, **options: Any) -> None:
        base_url = options.get("base_url") or os.environ.get("OPENAI_BASE_URL") or None
        options["base_url"] = base_url
        if base_url and not (options.get("api_key") or os.environ.get(self.key_variable)):
            options["api_key"] = LOCAL_KEY
        super().__init__(**options)
        official = base_url is None or "api.openai.com" in base_url
        self.token_parameter = token_parameter or (
            "max_completion_tokens" if official else "max_tokens"
        )

    @staticmethod
    def _content(turn: Turn) -> str | list[dict[str, Any]]:
        if not turn.images or turn.role != "user":
            return turn.text
        parts: list[dict[str, Any]] = [
            {
                "type": "image_url",
                "image_url": {
                    "url": f"data:{image.media_type};base64,"
                    + base64.b64encode(image.data).decode("ascii")
                },
            }
            for image in turn.images
        ]
        parts.append({"type": "text", "text": turn.text})
        return parts

    def _payload(self, system: str, turns: list[Turn], max_tokens: int) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                *({"role": t.role, "content": self._content(t)} for t in turns),
            ],
            self.token_parameter: max_tokens,
        }
        if self.temperature is not None:
            payload["temperature"] = self.temperature
        return payload

    def _send(self, payload: dict[str, Any]) -> Reply:
        import openai

        client = self._get_client()
        try:
            if self.stream:
                return self._streamed(client, payload)
            response = client.chat.completions.create(**payload)
        except openai.APIError as exc:
            raise map_sdk_error(exc, openai, self) from None
        if not response.choices:
            return Reply("", "end", _usage(response.usage))
        choice = response.choices[0]
        message = choice.message
        refusal = getattr(message, "refusal", None) or ""
        stop = _stop(choice.finish_reason, bool(refusal))
        return Reply(message.content or "", stop, _usage(response.usage), refusal)

    def _streamed(self, client: Any, payload: dict[str, Any]) -> Reply:
        chunks: list[str] = []
        refusal: list[str] = []
        finish: str | None = None
        usage = None
        stream = client.chat.completions.create(
            **payload, stream=True, stream_options={"include_usage": True}
        )
        for chunk in stream:
            if getattr(chunk, "usage", None) is not None:
                usage = chunk.usage
            for choice in chunk.choices or []:
                delta = choice.delta
                if delta is not None and delta.content:
                    chunks.append(delta.content)
                if delta is not None and getattr(delta, "refusal", None):
                    refusal.append(delta.refusal)
                if choice.finish_reason:
                    finish = choice.finish_reason
        said = "".join(refusal)
        return Reply("".join(chunks), _stop(finish, bool(said)), _usage(usage), said)


def _stop(finish_reason: str | None, refused: bool) -> Any:
    if refused or finish_reason == "content_filter":
        return "refusal"
    return "length" if finish_reason == "length" else "end"


def _usage(usage: Any) -> TokenUsage:
    if usage is None:
        return TokenUsage(requests=1)
    prompt = getattr(usage, "prompt_tokens", 0) or 0
    details = getattr(usage, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
    return TokenUsage(
        input_tokens=max(prompt - cached, 0),
        output_tokens=getattr(usage, "completion_tokens", 0) or 0,
        cache_read_tokens=cached,
        requests=1,
    )
