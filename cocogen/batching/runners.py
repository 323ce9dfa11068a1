"""The parts a batch shares between rows: the sandbox runner, the LLM backend, the refiners,
each behind a gate that bounds how many rows use it at once.

The warm worker pool (`sandbox.pool`) renders when it is installed; the one-shot
`SubprocessRunner` otherwise.  Both speak the same `Runner` protocol, so nothing else changes.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from cocogen.errors import SandboxError
from cocogen.planning.base import GenerationRequest
from cocogen.types import LayoutManifest, Program, RefineOptions, Request
from sandbox.runner import Runner, SubprocessRunner
from sandbox.wire import Job, JobResult


def make_runner(workers: int) -> tuple[Runner, str]:
    """The runner the environment asks for (`COCOGEN_SANDBOX`, see `sandbox.config`: the warm
    pool where it can start) with `workers` slots, and its kind for the summary."""
    try:
        from sandbox.config import runner_from_environment
    except ImportError:  # a sandbox without the pool
        return SubprocessRunner(), "subprocess"
    # The batch's own --workers sizes the pool (an exported COCOGEN_SANDBOX_WORKERS would
    # otherwise leave slots idle or queue jobs behind the gate).
    environ = {**os.environ, "COCOGEN_SANDBOX_WORKERS": str(workers)}
    try:
        runner = runner_from_environment(environ)
    except Exception as exc:
        raise SandboxError(str(exc)) from exc
    kind = (
        "subprocess"
        if isinstance(runner, SubprocessRunner)
        else str(getattr(runner, "name", type(runner).__name__))
    )
    return runner, kind


class GatedRunner:
    """At most `limit` jobs handed to the inner runner at once.

    For the one-shot runner `limit` is the batch's `--workers` (each job is a process).  The pool
    runs at most one job per worker itself, and frees a worker as soon as it answers, so the
    batch gives it twice as many: the next job is waiting when a worker is done, while the
    result of the last one is still being checked."""

    def __init__(self, inner: Runner, limit: int) -> None:
        self.inner = inner
        self._gate = threading.BoundedSemaphore(max(1, limit))

    def run(self, job: Job) -> JobResult:
        with self._gate:
            return self.inner.run(job)

    def close(self) -> None:
        self.inner.close()


class GatedBackend:
    """At most `limit` planning calls at once, across all rows (LLM rate and cost control)."""

    def __init__(self, inner: Any, limit: int) -> None:
        self.inner = inner
        self.name: str = inner.name
        self._gate = threading.BoundedSemaphore(limit)

    def generate(self, request: GenerationRequest) -> Program:
        with self._gate:
            program: Program = self.inner.generate(request)
            return program

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class LockedRefiner:
    """One refine at a time per refiner: a diffusion pipeline on one device is not reentrant."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name: str = inner.name
        self._lock = threading.Lock()

    def refine(
        self, image: bytes, manifest: LayoutManifest, request: Request, options: RefineOptions
    ) -> Any:
        with self._lock:
            return self.inner.refine(image, manifest, request, options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def refiner_name(options: RefineOptions) -> str:
    """Which registered refiner serves these options (as `refiners.stage.refiner_for` picks)."""
    return "diffusers" if options.model or options.controlnet else "none"
