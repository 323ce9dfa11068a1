"""The host's own exception hierarchy.

Failures of untrusted code are *data* (`types.RenderFailure` inside a Draft), never exceptions.
Exceptions are for the host's faults and for bad input; each carries a one-line message meant for
a person, and the CLI maps them to exit codes (`UsageError` → 2, everything else → 1).
"""

from __future__ import annotations


class CocogenError(Exception):
    """Base of every error cocogen raises on purpose."""

    exit_code = 1


class UsageError(CocogenError):
    """Bad input from the user: a missing file, an unknown option value, an empty prompt."""

    exit_code = 2


class PlanningError(CocogenError):
    """A backend could not turn the request into a program."""


class NotUnderstood(PlanningError):
    """The offline planner could not find the data it needs in the request."""

    exit_code = 2


class BackendUnavailable(PlanningError):
    """A backend is unknown, not installed, or lacks its key."""

    exit_code = 2


class BackendFailed(PlanningError):
    """An LLM backend gave no usable program: API errors after retries, a timeout, a reply with
    no program in the target language.  The pipeline still writes the run record and sets
    `run_dir` to it before the error reaches the caller."""

    run_dir: str | None = None


class BackendRefused(BackendFailed):
    """The model declined the request (a refusal stop reason or refusal text)."""


class SandboxError(CocogenError):
    """The sandbox itself (not the program in it) failed: could not start, bad wire data."""


class PluginError(CocogenError):
    """An entry point could not be found or loaded."""

    exit_code = 2
