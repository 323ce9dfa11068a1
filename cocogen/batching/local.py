"""The local executor: rows on a thread pool in this process, renders in the sandbox runner.

Threads only orchestrate: each row's program runs in the runner (the warm pool, or one
subprocess per job), which is gated to `workers` jobs at once (twice that for the pool, which
queues them: see `runners.GatedRunner`), and planning calls are gated to `llm_concurrency` at
once.  There are more threads than jobs in flight (`3 × workers`, plus the LLM slots when rows
are planned) so that rows' checks and records overlap the next rows' renders and the sandbox
never waits on the host.  Rows are fed through a bounded window, so memory does not grow with
the length of the batch.  Results come back as rows finish.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from cocogen.batching.execute import run_row
from cocogen.batching.model import BatchRow, RowResult
from cocogen.batching.options import BatchOptions
from cocogen.batching.runners import (
    GatedBackend,
    GatedRunner,
    LockedRefiner,
    make_runner,
    refiner_name,
)
from cocogen.batching.store import Layout
from cocogen.pipeline import Pipeline
from cocogen.registry import load_refiner
from sandbox.runner import Runner


class LocalExecutor:
    name = "local"

    def __init__(self, options: BatchOptions) -> None:
        self.options = options
        self._own_runner = options.runner is None
        runner: Runner
        if options.runner is not None:
            runner, self.runner_kind = options.runner, type(options.runner).__name__
        else:
            runner, self.runner_kind = make_runner(options.workers)
        self._runner = runner
        queued = 2 if self.runner_kind == "pool" else 1  # see GatedRunner
        self._gated = GatedRunner(runner, queued * options.workers)
        self._backend: GatedBackend | None = None
        self._pipelines: dict[str | None, Pipeline] = {}
        self._lock = threading.Lock()

    def pipeline_for(self, row: BatchRow) -> Pipeline:
        """One pipeline per refiner (rows without refining share one)."""
        wanted = refiner_name(row.request.refine) if row.request.refine is not None else None
        with self._lock:
            pipeline = self._pipelines.get(wanted)
            if pipeline is None:
                refiner = None
                if wanted is not None:
                    given = self.options.refiners.get(wanted)
                    refiner = LockedRefiner(given if given is not None else load_refiner(wanted))
                pipeline = Pipeline(
                    backend=self._backend,
                    runner=self._gated,
                    check_settings=self.options.check_settings,
                    max_attempts=self.options.max_attempts,
                    limits=self.options.limits,
                    refiner=refiner,
                    overlays=self.options.overlays,
                )
                self._pipelines[wanted] = pipeline
            return pipeline

    def _run_one(self, row: BatchRow, layout: Layout) -> RowResult:
        return run_row(self.pipeline_for(row), row, layout)

    def run(self, rows: Sequence[BatchRow], layout: Layout) -> Iterator[RowResult]:
        workers = self.options.workers
        planned = any(row.program is None for row in rows)
        if planned and self._backend is None:
            # Loaded once, before any row: a missing key or package stops the batch here.
            self._backend = GatedBackend(self.options.load_backend(), self.options.llm_concurrency)
        threads = 3 * workers + (self.options.llm_concurrency if planned else 0)
        window = threads + workers
        queue = iter(rows)
        pending: set[Future[RowResult]] = set()
        pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cocogen-batch")

        def refill() -> None:
            while len(pending) < window:
                row = next(queue, None)
                if row is None:
                    return
                pending.add(pool.submit(self._run_one, row, layout))

        try:
            refill()
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    pending.discard(future)
                refill()
                for future in finished:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        if self._own_runner:
            self._runner.close()
