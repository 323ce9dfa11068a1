"""Where an LLM SDK's exceptions become cocogen's: one place, one line each, saying what to do.

Both official SDKs (`anthropic`, `openai`) raise the same family of exceptions, so one mapping
serves both: the SDK module is passed in.  By the time an exception gets here the SDK has
already retried what is worth retrying (429, 408, 409, 5xx, timeouts, connection errors).
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from cocogen.errors import BackendFailed, BackendUnavailable, PlanningError

if TYPE_CHECKING:
    from cocogen.planning.llm import LLMBackend


def _detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    message = None
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
    text = str(message or getattr(exc, "message", "") or exc)
    return " ".join(text.split())[:300]


def map_sdk_error(exc: Exception, sdk: ModuleType, backend: LLMBackend) -> PlanningError:
    """A cocogen error for an SDK exception raised after the SDK's own retries."""
    who = f"the {backend.provider} API ({backend.name}, model {backend.model})"
    tries = backend.max_retries + 1
    where = f" at {backend.base_url}" if backend.base_url else ""
    if isinstance(exc, sdk.APITimeoutError):
        return BackendFailed(
            f"{who} did not answer within {backend.timeout:g} s ({tries} tries){where}; "
            "try again later or raise the timeout"
        )
    if isinstance(exc, sdk.APIConnectionError):
        return BackendFailed(f"cannot reach {who}{where} after {tries} tries: {_detail(exc)}")
    if isinstance(exc, sdk.AuthenticationError):
        return BackendUnavailable(f"{who} refused the key (401): check {backend.key_variable}")
    if isinstance(exc, sdk.PermissionDeniedError):
        return BackendUnavailable(f"{who} denied access (403): {_detail(exc)}")
    if isinstance(exc, sdk.NotFoundError):
        return BackendUnavailable(
            f"{who} does not know the model or endpoint (404): {_detail(exc)}; "
            "choose another with --model or COCOGEN_MODEL"
        )
    if isinstance(exc, sdk.RateLimitError):
        return BackendFailed(
            f"{who} kept refusing with 429 (rate limit) after {tries} tries: {_detail(exc)}"
        )
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 500:
        return BackendFailed(f"{who} failed with HTTP {status} after {tries} tries: {_detail(exc)}")
    if isinstance(status, int):
        return BackendFailed(f"{who} rejected the request (HTTP {status}): {_detail(exc)}")
    return BackendFailed(f"{who} failed: {type(exc).__name__}: {_detail(exc)}")
