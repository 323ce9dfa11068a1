"""The backend protocol: one required method, `generate(GenerationRequest) -> Program`.

Backends are registered through the `cocogen.backends` entry-point group, built-ins included.
Two optional abilities are found by duck typing, so that a plugin implements only what it can:

* `choose_language(request, suggestion) -> (language, reason)`: pick the layout language when
  the request's words do not settle it (`supports_language_choice`);
* `critique(CritiqueRequest) -> CritiqueResult`: judge a rendered draft against the constraints
  no deterministic check can decide (`supports_critique`; multimodal models only).

`can_repair = False` marks a deterministic backend (same request, same program): the pipeline
does not ask it to repair.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import Field

from cocogen.types import Canvas, Commitments, Finding, Model, Program, Request, TokenUsage

CONCRETE_LANGUAGES: tuple[str, ...] = ("matplotlib", "svg", "html", "vegalite", "graphviz")


class PreviousAttempt(Model):
    program: Program
    findings: list[Finding] = Field(default_factory=list)
    failure: str | None = None
    """One-line failure plus the traceback tail when the render failed."""
    texts: dict[str, str] = Field(default_factory=dict)
    """Element id -> its text, for the elements the findings name (so repair can quote them)."""


class GenerationRequest(Model):
    request: Request
    language: str
    """The concrete target language (never 'auto' once the pipeline has chosen)."""
    canvas: Canvas
    data_summary: str | None = None
    """A compact description of `request.data` (shape, columns, a few rows), never a big table."""
    reference_images: dict[str, str] = Field(default_factory=dict)
    previous: list[PreviousAttempt] = Field(default_factory=list)
    commitments: Commitments = Commitments()
    language_reason: str = ""

    @property
    def attempt(self) -> int:
        return len(self.previous) + 1


@runtime_checkable
class Backend(Protocol):
    """Turns a request into a program. `name` is what the registry calls it."""

    name: str

    def generate(self, request: GenerationRequest) -> Program: ...


class CritiqueRequest(Model):
    """A rendered draft and the constraints to judge on it."""

    prompt: str
    language: str
    png: bytes
    constraints: list[str]


Verdict = Literal["satisfied", "violated", "unsure"]


class ConstraintVerdict(Model):
    constraint: str
    verdict: Verdict
    evidence: str = ""


class CritiqueResult(Model):
    verdicts: list[ConstraintVerdict] = Field(default_factory=list)
    usage: TokenUsage | None = None


def supports_repair(backend: Backend) -> bool:
    """Deterministic backends return the same program again; the pipeline does not ask them."""
    return bool(getattr(backend, "can_repair", True))


def supports_language_choice(backend: Backend) -> bool:
    return callable(getattr(backend, "choose_language", None))


def supports_critique(backend: Backend) -> bool:
    """True when the backend can look at images and judge constraints (`critique`)."""
    return callable(getattr(backend, "critique", None)) and bool(
        getattr(backend, "can_critique", True)
    )
