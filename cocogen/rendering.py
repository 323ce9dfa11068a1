"""Where the host meets the sandbox: `Program` + `Request` → wire `Job`, wire `JobResult` → `Draft`.

This is the only module that converts between the sandbox's plain JSON and `cocogen.types`.
"""

from __future__ import annotations

import atexit
import os
import threading

from pydantic import ValidationError

from cocogen.errors import SandboxError
from cocogen.registry import renderer_entry
from cocogen.types import Draft, LayoutManifest, Program, RenderFailure, Request
from sandbox.config import limits_from_environment
from sandbox.layers import SandboxUnavailable
from sandbox.runner import Runner
from sandbox.wire import Job, JobResult, Limits

_default: tuple[int, Runner] | None = None
_default_lock = threading.Lock()


def default_runner() -> Runner:
    """The process-wide runner, started on first use and closed at exit.

    The warm pool where it can start; `COCOGEN_SANDBOX=auto|pool|subprocess`,
    `COCOGEN_SANDBOX_WORKERS` and `COCOGEN_SANDBOX_REQUIRE` choose (see `sandbox.config`).
    """
    global _default
    with _default_lock:
        if _default is None or _default[0] != os.getpid():  # a forked process starts its own
            from sandbox.config import runner_from_environment
            from sandbox.layers import SandboxUnavailable

            try:
                runner = runner_from_environment()
            except SandboxUnavailable as exc:
                raise SandboxError(str(exc)) from exc
            atexit.register(runner.close)
            _default = (os.getpid(), runner)
        return _default[1]


def make_job(program: Program, request: Request, limits: Limits | None = None) -> Job:
    """The job for `program`; without `limits`, those of the `COCOGEN_SANDBOX_*` variables."""
    if limits is None:
        try:
            limits = limits_from_environment()
        except SandboxUnavailable as exc:
            raise SandboxError(str(exc)) from exc
    return Job(
        renderer=renderer_entry(program.language),
        source=program.source,
        language=program.language,
        width=request.canvas.width,
        height=request.canvas.height,
        dpi=request.canvas.dpi,
        seed=request.seed,
        files=dict(request.reference_images),
        limits=limits,
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
    return to_draft((runner or default_runner()).run(job))
