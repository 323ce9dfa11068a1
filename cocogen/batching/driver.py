"""The batch driver: read the spec, take the directory, work out what is left, run it, record
each finished row, write the gallery and the summary.

`BatchRun` does the setup when it is created (so a bad spec, a locked or foreign directory, a
missing backend fail at once) and the work as it is iterated: it yields one `RowResult` per row,
first the rows that were already done (`resumed=True`), then the others as they finish.  Only
the driver writes `results.jsonl`, whichever executor ran the rows.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from cocogen.batching.gallery import write_gallery
from cocogen.batching.keys import batch_settings
from cocogen.batching.model import BatchRow, BatchSummary, RowResult
from cocogen.batching.options import BatchOptions
from cocogen.batching.progress import Reporter, SilentReporter
from cocogen.batching.spec import SpecReading, load
from cocogen.batching.store import (
    BatchLock,
    Layout,
    ResultsLog,
    clean_leftovers,
    done_rows,
    iter_results,
    write_state,
)
from cocogen.errors import UsageError

STRICT_SHOWN = 5


class BatchRun:
    """An iterator of `RowResult`s; `summary` is set once iteration ends (or is stopped)."""

    def __init__(
        self,
        requests: Any,
        out_dir: str | Path,
        *,
        options: BatchOptions | None = None,
        resume: bool = False,
        force: bool = False,
        strict: bool = False,
        retry_failed: bool = False,
        reporter: Reporter | None = None,
    ) -> None:
        self.options = options or BatchOptions()
        self.reporter = reporter or SilentReporter()
        self.layout = Layout(Path(out_dir))
        self.summary: BatchSummary | None = None
        self._started = time.monotonic()
        self.settings = batch_settings(
            backend=self.options.backend_name,
            max_attempts=self.options.max_attempts,
            check_settings=self.options.check_settings,
            limits=self.options.limits,
        )
        if self.layout.root.exists() and not self.layout.root.is_dir():
            raise UsageError(f"the output {self.layout.root} exists and is not a directory")
        if self.layout.holds_batch() and not (resume or force):
            raise UsageError(
                f"{self.layout.root} already holds a batch: pass --resume to continue it "
                "(rows already done are skipped) or --force to redo every row"
            )
        self.reading: SpecReading = load(requests, self.settings)
        self._report_spec(strict)
        if not self.reading.rows and not self.reading.bad:
            raise UsageError(f"{self.reading.source} has no rows")
        self.layout.make()
        self._lock = BatchLock(self.layout)
        self._lock.acquire()
        try:
            self._prepare(force, retry_failed)
        except BaseException:
            self._lock.release()
            raise
        self._iterator = self._run()

    # -- setup ------------------------------------------------------------------------------------

    def _report_spec(self, strict: bool) -> None:
        source = self.reading.source
        bad = self.reading.bad
        if strict and bad:
            lines = [b.one_line(source) for b in bad[:STRICT_SHOWN]]
            more = (
                f" (and {len(bad) - STRICT_SHOWN} more bad lines)"
                if len(bad) > STRICT_SHOWN
                else ""
            )
            raise UsageError("; ".join(lines) + more + "; nothing was run (--strict)")
        for line in bad:
            self.reporter.note(f"{line.one_line(source)} (skipped)")
        for duplicate in self.reading.duplicates:
            self.reporter.note(f"{duplicate.one_line(source)} (run once)")

    def _prepare(self, force: bool, retry_failed: bool) -> None:
        clean_leftovers(self.layout)
        keys = {row.name: row.key for row in self.reading.rows}
        if force:
            self.done: dict[str, RowResult] = {}
        else:
            self.done, _dropped = done_rows(self.layout, keys, retry_failed)
        self.log = ResultsLog(self.layout.results)
        # One line per done row, in spec order: torn, stale and failed-by-host lines go.
        self.log.rewrite(self.done[row.name] for row in self.reading.rows if row.name in self.done)
        self.todo: list[BatchRow] = [row for row in self.reading.rows if row.name not in self.done]
        if any(row.program is None for row in self.todo):
            # Load the planner now: a missing key or package stops the batch before any row.
            backend = self.options.load_backend()
            if self.options.executor == "local":
                self.options = dataclasses.replace(self.options, backend=backend)
        self._write_state("running")

    def _write_state(self, state: str, **extra: Any) -> None:
        write_state(
            self.layout,
            {
                "source": self.reading.source,
                "rows": len(self.reading.rows),
                "executor": self.options.executor,
                "workers": self.options.workers,
                "settings": self.settings,
                "state": state,
                **extra,
            },
        )

    # -- running ----------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[RowResult]:
        return self

    def __next__(self) -> RowResult:
        return next(self._iterator)

    def __enter__(self) -> BatchRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop early: rows in flight finish, the rest stay pending for a resume."""
        if inspect.getgeneratorstate(self._iterator) == inspect.GEN_CREATED:
            self._iterator.close()
            self.log.close()
            self._lock.release()
            return
        self._iterator.close()

    def run(self) -> BatchSummary:
        """Run to the end and return the summary."""
        for _ in self:
            pass
        assert self.summary is not None
        return self.summary

    def _executor(self) -> Any:
        if self.options.executor == "ray":
            from cocogen.batching.ray_executor import RayExecutor

            return RayExecutor(self.options)
        from cocogen.batching.local import LocalExecutor

        return LocalExecutor(self.options)

    def _run(self) -> Generator[RowResult, None, None]:
        rows = self.reading.rows
        summary = BatchSummary(
            out_dir=str(self.layout.root),
            source=self.reading.source,
            executor=self.options.executor,
            workers=self.options.workers,
            runner="",
            rows=len(rows),
            resumed=len(self.done),
            bad_lines=self.reading.bad,
            duplicates=self.reading.duplicates,
            results=str(self.layout.results),
            gallery=str(self.layout.gallery),
        )
        counts = {"ok": 0, "check_failed": 0, "render_failed": 0, "error": 0}
        ran = 0
        finished = False
        started = time.monotonic()
        self.reporter.start(len(rows), len(self.done))
        executor = None
        try:
            for row in rows:
                previous = self.done.get(row.name)
                if previous is not None:
                    counts[previous.status] += 1
                    resumed = previous.model_copy(update={"resumed": True})
                    self.reporter.row(resumed)
                    yield resumed
            if self.todo:
                executor = self._executor()
                summary = summary.model_copy(update={"runner": executor.runner_kind})
                for result in executor.run(self.todo, self.layout):
                    self.log.append(result)  # the row is done from here on
                    ran += 1
                    counts[result.status] += 1
                    self.reporter.row(result)
                    yield result
            finished = True
        finally:
            if executor is not None:
                executor.close()
            self.log.close()
            self.reporter.stop()
            elapsed = time.monotonic() - started
            self.summary = summary.model_copy(
                update={
                    "ran": ran,
                    "ok": counts["ok"],
                    "check_failed": counts["check_failed"],
                    "render_failed": counts["render_failed"],
                    "errors": counts["error"],
                    "pending": len(rows) - sum(counts.values()),
                    "elapsed_s": round(elapsed, 3),
                    "rows_per_s": round(ran / elapsed, 3) if elapsed > 0 else 0.0,
                    "interrupted": not finished,
                }
            )
            self._finish()

    def _finish(self) -> None:
        assert self.summary is not None
        try:
            by_name = {r.name: r for r in iter_results(self.layout.results)}
            shown = (by_name[row.name] for row in self.reading.rows if row.name in by_name)
            write_gallery(self.layout, shown, f"cocogen batch: {Path(self.reading.source).name}")
            self._write_state(
                "interrupted" if self.summary.interrupted else "finished",
                summary=self.summary.model_dump(mode="json"),
            )
        finally:
            self._lock.release()


def run_batch(
    requests: Any,
    out_dir: str | Path,
    *,
    workers: int = 0,
    executor: str = "local",
    resume: bool = False,
    force: bool = False,
    strict: bool = False,
    retry_failed: bool = False,
    backend: Any = None,
    llm_concurrency: int = 8,
    max_attempts: int = 3,
    reporter: Reporter | None = None,
    **options: Any,
) -> BatchRun:
    """See `cocogen.batch`."""
    batch_options = BatchOptions(
        workers=workers,
        executor=executor,
        backend=backend,
        llm_concurrency=llm_concurrency,
        max_attempts=max_attempts,
        **options,
    )
    return BatchRun(
        requests,
        out_dir,
        options=batch_options,
        resume=resume,
        force=force,
        strict=strict,
        retry_failed=retry_failed,
        reporter=reporter,
    )
