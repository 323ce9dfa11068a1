"""The parts a batch shares between rows: the sandbox runner, the LLM backend, the refiners,
each behind a gate that bounds how many rows use it at once.

The warm worker pool (`sandbox.pool`) renders when it is installed; the one-shot
`SubprocessRunner` otherwise.  Both speak the same `Runner` protocol, so nothing else changes.
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import Future
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
    """At most `limit` jobs in the inner runner at once (the batch's `--workers`), each sent from
    one of `limit` dispatch threads started here, at the caller's scheduling priority.

    The rows' own threads do the host's share of a row (check, overlay, records, thumbnail) and
    run at a lower priority (`lower_priority`): on a machine with a worker per core, that work
    then takes the CPU when the renders leave it idle instead of slowing them down, and jobs are
    still handed to the workers and their results taken in without delay."""

    def __init__(self, inner: Runner, limit: int) -> None:
        self.inner = inner
        self._jobs: queue.SimpleQueue[tuple[Job, Future[JobResult]] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._dispatch, name=f"cocogen-dispatch-{n}", daemon=True)
            for n in range(max(1, limit))
        ]
        for thread in self._threads:
            thread.start()

    def _dispatch(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self.inner.run(job))
            except BaseException as exc:  # noqa: BLE001 - handed to the row that sent the job
                future.set_exception(exc)

    def run(self, job: Job) -> JobResult:
        future: Future[JobResult] = Future()
        self._jobs.put((job, future))
        return future.result()

    def stop(self) -> None:
        """End the dispatch threads (the inner runner stays open)."""
        for _ in self._threads:
            self._jobs.put(None)

    def close(self) -> None:
        self.stop()
        self.inner.close()


BOOKKEEPING_NICE = 10
"""How much lower than the renders the rows' threads run (a Unix nice increment)."""


def lower_priority() -> None:
    """Give the calling thread a lower scheduling priority (Linux: per thread); it cannot be
    raised again without privileges, so only threads that never send jobs themselves call it."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BOOKKEEPING_NICE)
    except (AttributeError, OSError):
        pass  # no per-thread priority here: the rows just share the CPU evenly


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
