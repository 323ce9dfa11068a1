"""Where the host meets the sandbox: `Program` + `Request` → wire `Job`, wire `JobResult` → `Draft`.

This is the only module that converts between the sandbox's plain JSON and `cocogen.types`.
"""

from __future__ import annotations

from pydantic import ValidationError

from cocogen.registry import renderer_entry
from cocogen.types import Draft, LayoutManifest, Program, RenderFailure, Request
from sandbox.runner import Runner, SubprocessRunner
from sandbox.wire import Job, JobResult, Limits


def make_job(program: Program, request: Request, limits: Limits | None = None) -> Job:
    return Job(
        renderer=renderer_entry(program.language),
        source=program.source,
        language=program.language,
        width=request.canvas.width,
        height=request.canvas.height,
        dpi=request.canvas.dpi,
        seed=request.seed,
        files=dict(request.reference_images),
        limits=limits or Limits(),
    )


def to_draft(result: JobResult) -> tuple[Draft, list[str]]:
    """The Draft, and the renderer's notes (e.g. that several figures were open)."""
    common = {
        "engine": result.engine,
        "stdout_tail": result.stdout_tail,
        "stderr_tail": result.stderr_tail,
        "timings": result.timings,
    }
    if result.failure is not None:
        failure = RenderFailure.model_validate(result.failure)
        return Draft(failure=failure, **common), result.notes
    try:
        manifest = LayoutManifest.model_validate(result.manifest)
    except ValidationError as exc:
        failure = RenderFailure(kind="invalid_output", message=f"bad manifest: {exc}"[:500])
        return Draft(failure=failure, **common), result.notes
    return Draft(png=result.png, manifest=manifest, **common), result.notes


def render_program(
    program: Program, request: Request, runner: Runner | None = None, limits: Limits | None = None
) -> tuple[Draft, list[str]]:
    job = make_job(program, request, limits)
    own = runner is None
    active = runner or SubprocessRunner()
    try:
        return to_draft(active.run(job))
    finally:
        if own:
            active.close()
