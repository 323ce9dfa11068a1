"""What every LLM backend does the same way, whatever the API: the conversation, the reply cache,
continuing a truncated reply, pulling the program out, and reading the model's commitments.

A provider backend (`claude.AnthropicBackend`, `openai_compat.OpenAIBackend`) supplies only two
things: `_payload(system, turns, max_tokens)`, the exact JSON body of one call in its wire format
(this is also what the reply cache hashes), and `_send(payload)`, which makes the call with the
official SDK (named by `sdk` and `client_class`; `_get_client` makes the client) and maps its
errors to cocogen's.  Everything here is provider-neutral:

1. **First attempt**: system prompt for the language (cached by the provider), one user turn with
   the request, canvas, data summary, the promises the rules already found, and the reference
   images.  The reply carries a `commitments` JSON block and one program block.
2. **Repair**: the same first turn, then the last program as the assistant's turn, then the
   compact problems (`repair.problems`) and the ask for a full corrected program.
3. **Truncated reply** (the token limit): ask to continue, up to `max_continuations` times, and
   stitch the pieces (`extraction.join_continuation`).
4. **Unusable reply** (no program, the wrong language): ask once more with the reason; then fail
   with `BackendFailed` — nothing unusable reaches the sandbox.
5. **Refusal**: `BackendRefused` with the model's words.
"""

from __future__ import annotations

import importlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cocogen.errors import BackendFailed, BackendRefused, BackendUnavailable
from cocogen.llm_cache import ReplyCache, cache_key
from cocogen.planning import prompts
from cocogen.planning.base import (
    CONCRETE_LANGUAGES,
    ConstraintVerdict,
    CritiqueRequest,
    CritiqueResult,
    GenerationRequest,
)
from cocogen.planning.commitments import llm_commitments
from cocogen.planning.extraction import (
    FENCE_TAGS,
    ExtractionError,
    commitments_block,
    extract_program,
    join_continuation,
    open_fence,
)
from cocogen.planning.repair import problems
from cocogen.types import Commitments, Program, Request, TokenUsage

MAX_IMAGE_SIDE = 1568
"""Reference images are scaled down to this many pixels a side (what vision models use)."""
MAX_IMAGE_BYTES = 3_500_000
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)

Stop = Literal["end", "length", "refusal"]


@dataclass(frozen=True)
class Image:
    name: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str
    images: tuple[Image, ...] = ()
    cache: bool = False
    """Mark the end of this turn as a prompt-cache breakpoint (where the API has them)."""


@dataclass
class Reply:
    text: str
    stop: Stop = "end"
    usage: TokenUsage = field(default_factory=TokenUsage)
    refusal: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "stop": self.stop,
            "refusal": self.refusal,
            "usage": self.usage.model_dump(),
        }


def media_type(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def load_image(name: str, path: str) -> Image | None:
    """A reference image ready to send (scaled down when big), or None when it is no image."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BackendFailed(f"cannot read the reference image {name!r} at {path}: {exc}") from None
    kind = media_type(data)
    if kind is None:
        return None
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(data)) as img:
        big = max(img.size) > MAX_IMAGE_SIDE or len(data) > MAX_IMAGE_BYTES
        if not big:
            return Image(name, kind, data)
        img.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
        out = io.BytesIO()
        img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB").save(out, "PNG")
    return Image(name, "image/png", out.getvalue())


def resolve_model(model: str | None, default: str) -> str:
    return model or os.environ.get("COCOGEN_MODEL") or default


def _json_object(text: str) -> dict[str, Any] | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start : end + 1])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class LLMBackend:
    """Shared behaviour of the LLM backends; subclasses implement `_payload` and `_send`."""

    name = "llm"
    provider = "LLM"
    key_variable = ""
    default_model = ""
    sdk = ""
    """The official SDK's module (also the name of the install extra that brings it)."""
    client_class = ""
    """The SDK's client class, made once with the key, base URL, timeout and retries."""
    can_repair = True
    default_language = "matplotlib"

    def __init__(
        self,
        *,
        model: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        max_tokens: int = 8192,
        temperature: float | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        stream: bool = False,
        cache: bool | ReplyCache = True,
        vision: bool = True,
        max_continuations: int = 2,
        retries_on_bad_reply: int = 1,
    ) -> None:
        self.model = resolve_model(model, self.default_model)
        self.api_key = api_key or os.environ.get(self.key_variable) or None
        self.base_url = base_url
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.timeout = timeout
        self.max_retries = max_retries
        self.stream = stream
        self.vision = vision
        self.can_critique = vision
        self.max_continuations = max_continuations
        self.retries_on_bad_reply = retries_on_bad_reply
        if isinstance(cache, ReplyCache):
            self.cache = cache
        else:
            self.cache = ReplyCache(read=cache, write=True)
        self._pending = TokenUsage()
        self._client: Any = None
        self._check_key()

    # -- provider hooks -------------------------------------------------------------------------

    def _check_key(self) -> None:
        if not self.api_key:
            raise BackendUnavailable(
                f"the {self.name} backend needs an API key: set {self.key_variable} "
                f"(export {self.key_variable}=...), or use --backend offline for requests that "
                "spell out their data"
            )

    def _get_client(self) -> Any:
        if self._client is None:
            try:
                sdk = importlib.import_module(self.sdk)
            except ImportError:  # pragma: no cover - depends on the install
                raise BackendUnavailable(
                    f"the {self.name} backend needs the {self.sdk} SDK: "
                    f"pip install 'cocogen[{self.sdk}]'"
                ) from None
            self._client = getattr(sdk, self.client_class)(
                api_key=self.api_key,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
        return self._client

    def _payload(self, system: str, turns: list[Turn], max_tokens: int) -> dict[str, Any]:
        raise NotImplementedError

    def _send(self, payload: dict[str, Any]) -> Reply:
        raise NotImplementedError

    # -- one call, through the cache -------------------------------------------------------------

    def _call(self, system: str, turns: list[Turn], version: str, max_tokens: int) -> Reply:
        payload = self._payload(system, turns, max_tokens)
        key = cache_key(self.name, self.model, version, payload)
        cached = self.cache.get(key)
        if cached is not None:
            return Reply(
                text=str(cached.get("text", "")),
                stop=cached.get("stop", "end"),
                usage=TokenUsage(cached_replies=1),
                refusal=str(cached.get("refusal", "")),
            )
        reply = self._send(payload)
        if reply.stop != "refusal":
            self.cache.put(key, reply.to_json())
        return reply

    def _ask(
        self, system: str, turns: list[Turn], version: str, max_tokens: int | None = None
    ) -> tuple[Reply, list[str]]:
        """One answer, continued while the token limit cut it off; notes say what happened."""
        limit = max_tokens or self.max_tokens
        reply = self._call(system, turns, version, limit)
        usage = reply.usage
        notes: list[str] = []
        text = reply.text
        continued = 0
        while reply.stop == "length" and continued < self.max_continuations:
            continued += 1
            more_turns = [
                *turns,
                Turn("assistant", text.rstrip()),
                Turn("user", prompts.fill("continue")),
            ]
            reply = self._call(system, more_turns, version, limit)
            usage = usage + reply.usage
            text = join_continuation(text, reply.text)
        if continued:
            notes.append(f"reply cut off by the token limit; continued {continued} time(s)")
        if reply.stop == "length":
            notes.append("reply still cut off after the continuations")
        if reply.stop == "refusal":
            said = (reply.refusal or reply.text).strip()
            raise BackendRefused(
                f"the model declined the request ({self.name}, {self.model})"
                + (f": {' '.join(said.split())[:300]}" if said else "")
            )
        return Reply(text, reply.stop, usage, reply.refusal), notes

    # -- generate -------------------------------------------------------------------------------

    def _images(self, request: GenerationRequest) -> tuple[list[Image], list[str]]:
        images: list[Image] = []
        skipped: list[str] = []
        for name, path in sorted(request.reference_images.items()):
            image = load_image(name, path) if self.vision else None
            if image is None:
                skipped.append(name)
            else:
                images.append(image)
        return images, skipped

    def _request_text(self, request: GenerationRequest, images: list[Image]) -> str:
        canvas = request.canvas
        lines = [
            f"Request: {request.request.prompt.strip()}",
            f"Canvas: {canvas.width} x {canvas.height} px at {canvas.dpi} dpi.",
        ]
        if request.data_summary:
            lines.append(f"Data: {request.data_summary}")
        if images:
            lines.append(
                "Reference images (attached, in this order): " + ", ".join(i.name for i in images)
            )
        promised = _promises(request.commitments)
        if promised:
            lines.append(f"Promises already found in the request (keep every one): {promised}")
        if request.language_reason:
            lines.append(f"Language: {request.language} ({request.language_reason}).")
        return "\n".join(lines)

    def generate(self, request: GenerationRequest) -> Program:
        language = request.language
        if language not in CONCRETE_LANGUAGES:
            raise BackendFailed(
                f"the {self.name} backend needs a concrete language, not {language!r}"
            )
        canvas = request.canvas
        system = prompts.system_prompt(
            language, canvas.width, canvas.height, canvas.dpi, list(request.reference_images)
        )
        images, skipped = self._images(request)
        first = Turn("user", self._request_text(request, images), tuple(images))
        turns = [first]
        version = system.version
        if request.previous:
            last = request.previous[-1]
            fence = FENCE_TAGS[language]
            turns = [
                Turn("user", first.text, first.images, cache=True),
                Turn("assistant", f"```{fence}\n{last.program.source.rstrip()}\n```"),
                Turn(
                    "user",
                    prompts.fill(
                        "repair",
                        language,
                        problems=problems(last, (canvas.width, canvas.height)),
                    ),
                ),
            ]
            version += "+" + prompts.version("repair")
        reply, notes = self._ask(system.text, turns, version)
        usage = reply.usage
        text = first_text = reply.text
        for attempt in range(self.retries_on_bad_reply + 1):
            try:
                extracted = extract_program(text, language)
                break
            except ExtractionError as exc:
                if attempt == self.retries_on_bad_reply:
                    raise type(exc)(
                        f"the {self.name} model's reply could not be used: {exc}"
                    ) from None
                notes.append(f"asked again: {exc}")
                retry_turns = [
                    *turns,
                    Turn("assistant", text.rstrip() or "(empty reply)"),
                    Turn("user", prompts.fill("retry", language, problem=str(exc))),
                ]
                reply, more_notes = self._ask(
                    system.text, retry_turns, version + "+" + prompts.version("retry")
                )
                notes += more_notes
                usage = usage + reply.usage
                text = reply.text
        notes.append(extracted.note)
        if open_fence(text):
            notes.append("the program block was not closed (the reply may be incomplete)")
        if skipped:
            notes.append("reference files not sent as images: " + ", ".join(skipped))
        commitments: Commitments | None = None
        if not request.previous:
            block = commitments_block(first_text) or commitments_block(text)
            if block is not None:
                commitments = llm_commitments(block, request.request.prompt)
            else:
                notes.append("the reply had no commitments block")
        usage = usage + self._pending
        self._pending = TokenUsage()
        return Program(
            language=language,
            source=extracted.source,
            backend=self.name,
            attempt=request.attempt,
            usage=usage,
            notes=f"{self.name} ({self.model}): " + "; ".join(notes),
            commitments=commitments,
        )

    # -- optional abilities ---------------------------------------------------------------------

    def choose_language(self, request: Request, suggestion: str) -> tuple[str, str]:
        """Ask the model which language suits the request; (language, reason)."""
        system = prompts.fill("choose", suggestion=suggestion)
        reply, _ = self._ask(
            system,
            [Turn("user", f"Request: {request.prompt.strip()}")],
            prompts.version("choose"),
            max_tokens=200,
        )
        self._pending = self._pending + reply.usage
        answer = _json_object(reply.text) or {}
        language = str(answer.get("language", "")).strip().lower().replace("-", "")
        reason = " ".join(str(answer.get("reason", "")).split())[:200]
        if language not in CONCRETE_LANGUAGES:
            return self.default_language, (
                f"the model gave no usable choice ({reply.text.strip()[:80]!r}); "
                f"default {self.default_language}"
            )
        return language, f"the model chose it: {reason}" if reason else "the model chose it"

    def critique(self, request: CritiqueRequest) -> CritiqueResult:
        """Judge a rendered draft against constraints no deterministic check can decide."""
        if not request.constraints:
            return CritiqueResult()
        listed = "\n".join(f"{k}. {c}" for k, c in enumerate(request.constraints, start=1))
        turn = Turn(
            "user",
            f"Request: {request.prompt.strip()}\nConstraints:\n{listed}",
            (Image("draft.png", "image/png", request.png),),
        )
        reply, _ = self._ask(prompts.fill("critique"), [turn], prompts.version("critique"), 1500)
        answer = _json_object(reply.text) or {}
        raw = answer.get("verdicts")
        verdicts: list[ConstraintVerdict] = []
        if isinstance(raw, list):
            for k, item in enumerate(raw):
                if not isinstance(item, dict):
                    continue
                verdict = str(item.get("verdict", "")).lower()
                constraint = str(item.get("constraint") or "")
                if constraint not in request.constraints and k < len(request.constraints):
                    constraint = request.constraints[k]
                if constraint in request.constraints and verdict in (
                    "satisfied",
                    "violated",
                    "unsure",
                ):
                    verdicts.append(
                        ConstraintVerdict(
                            constraint=constraint,
                            verdict=verdict,
                            evidence=" ".join(str(item.get("evidence", "")).split())[:300],
                        )
                    )
        return CritiqueResult(verdicts=verdicts, usage=reply.usage)


def _promises(commitments: Commitments) -> str:
    parts: list[str] = []
    texts = [c.value for c in commitments.required_texts]
    if texts:
        parts.append("texts " + json.dumps(texts[:40], ensure_ascii=False))
    numbers = [c.value for c in commitments.numbers]
    if numbers:
        parts.append("numbers " + json.dumps(numbers[:60], ensure_ascii=False))
    counts = [f"{c.count} {c.value}" for c in commitments.entities if c.count is not None]
    if counts:
        parts.append("counts " + ", ".join(counts))
    return "; ".join(parts)
