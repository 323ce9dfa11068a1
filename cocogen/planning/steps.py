"""The planning steps the pipeline runs, kept here so the pipeline reads as a list of steps.

* `plan_first`: the language (and why), the data summary, the first program, and the request's
  commitments with the model's merged in;
* `plan_next`: the next program after an attempt that did not pass — a deterministic fix when one
  applies (no model call), else a repair from the backend with the compact findings; a backend
  that fails during repair ends the loop with a note instead of losing the attempts so far;
* `review`: the optional visual critique of a rendered draft.
"""

from __future__ import annotations

from cocogen.errors import BackendFailed
from cocogen.planning.base import (
    Backend,
    CritiqueRequest,
    GenerationRequest,
    PreviousAttempt,
    supports_critique,
    supports_repair,
)
from cocogen.planning.commitments import merge_commitments
from cocogen.planning.critique import apply_critique, constraints_to_judge
from cocogen.planning.data import summarize
from cocogen.planning.fixes import quick_fix
from cocogen.planning.language import decide_language
from cocogen.types import CheckReport, Commitments, Program, RenderFailure, Request, TokenUsage


def plan_first(
    request: Request, backend: Backend, commitments: Commitments
) -> tuple[GenerationRequest, Program]:
    """The first generation request and program; `generation.commitments` holds the merged
    commitments (the rules' plus the model's)."""
    language, reason = decide_language(request, backend)
    generation = GenerationRequest(
        request=request,
        language=language,
        canvas=request.canvas,
        data_summary=summarize(request.data),
        reference_images=request.reference_images,
        commitments=commitments,
        language_reason=reason,
    )
    program = backend.generate(generation)
    if program.commitments is not None:
        merged = merge_commitments(commitments, program.commitments)
        generation = generation.model_copy(update={"commitments": merged})
    return generation, program


def plan_next(
    backend: Backend,
    generation: GenerationRequest,
    previous: list[PreviousAttempt],
    failure: RenderFailure | None,
    notes: list[str],
) -> Program | None:
    """The next program to try, or None to stop; `notes` (the last attempt's) get what happened."""
    fixed = quick_fix(previous[-1].program, failure)
    if fixed is not None:
        notes.append(f"deterministic fix before asking the model: {fixed[1]}")
        return fixed[0]
    if not supports_repair(backend):
        return None
    try:
        return backend.generate(generation.model_copy(update={"previous": previous}))
    except BackendFailed as exc:
        notes.append(f"repair stopped: {exc}")
        return None


def review(
    backend: Backend, request: Request, language: str, png: bytes, report: CheckReport
) -> tuple[CheckReport, TokenUsage | None, str | None]:
    """The report with the model's visual verdicts on the open constraints, the usage, and a
    note when the critique could not be had (the report is then unchanged)."""
    constraints = constraints_to_judge(report)
    critique = getattr(backend, "critique", None)
    if not constraints or not supports_critique(backend) or not callable(critique):
        return report, None, None
    try:
        result = critique(
            CritiqueRequest(
                prompt=request.prompt, language=language, png=png, constraints=constraints
            )
        )
    except BackendFailed as exc:
        return report, None, f"visual critique skipped: {exc}"
    return apply_critique(report, result), result.usage, None
