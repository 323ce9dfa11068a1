"""The backend protocol: one required method, `generate(GenerationRequest) -> Program`.

Backends are registered through the `cocogen.backends` entry-point group, built-ins included.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import Field

from cocogen.types import Canvas, Commitments, Finding, Model, Program, Request


class PreviousAttempt(Model):
    program: Program
    findings: list[Finding] = Field(default_factory=list)
    failure: str | None = None
    """One-line failure plus the traceback tail when the render failed."""


class GenerationRequest(Model):
    request: Request
    language: str
    """The concrete target language (never 'auto' once the pipeline has chosen)."""
    canvas: Canvas
    data_summary: str | None = None
    reference_images: dict[str, str] = Field(default_factory=dict)
    previous: list[PreviousAttempt] = Field(default_factory=list)
    commitments: Commitments = Commitments()

    @property
    def attempt(self) -> int:
        return len(self.previous) + 1


@runtime_checkable
class Backend(Protocol):
    """Turns a request into a program. `name` is what the registry calls it."""

    name: str

    def generate(self, request: GenerationRequest) -> Program: ...


def supports_repair(backend: Backend) -> bool:
    """Deterministic backends return the same program again; the pipeline does not ask them."""
    return bool(getattr(backend, "can_repair", True))
