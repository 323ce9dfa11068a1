"""How a batch tells a person where it is: a rich progress bar on a terminal, plain lines in a
log, nothing at all for a library caller.  Everything goes to stderr; stdout belongs to the
summary (and with `--json` to nothing else).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol, TextIO

from cocogen.batching.model import RowResult


class Reporter(Protocol):
    def start(self, total: int, resumed: int) -> None: ...

    def row(self, result: RowResult) -> None: ...

    def note(self, message: str) -> None: ...

    def stop(self) -> None: ...


class SilentReporter:
    def start(self, total: int, resumed: int) -> None:
        pass

    def row(self, result: RowResult) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def stop(self) -> None:
        pass


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def failure_line(result: RowResult) -> str:
    reason = result.error or ", ".join(f"{f.code}" for f in result.top_findings) or "failed"
    return f"line {result.line} ({result.name}): {result.status}: {reason}"


class _Counts:
    def __init__(self) -> None:
        self.total = self.resumed = self.done = self.failed = 0
        self.started = time.monotonic()

    def add(self, result: RowResult) -> None:
        self.done += 1
        self.failed += result.failed

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        ran = self.done - self.resumed
        return ran / elapsed if elapsed > 0 and ran > 0 else 0.0

    def status(self) -> str:
        rate = self.rate
        left = self.total - self.done
        eta = f", ETA {_duration(left / rate)}" if rate > 0 and left > 0 else ""
        return (
            f"batch: {self.done}/{self.total} rows ({self.failed} failed), {rate:.2f} rows/s{eta}"
        )


class PlainReporter:
    """A status line at most every `interval` seconds, and one line per failed row."""

    def __init__(self, stream: TextIO | None = None, interval: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self.counts = _Counts()
        self._last = 0.0

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start(self, total: int, resumed: int) -> None:
        self.counts = _Counts()
        self.counts.total, self.counts.resumed = total, resumed
        self._print(f"batch: {total} rows, {resumed} already done")

    def row(self, result: RowResult) -> None:
        if result.resumed:
            self.counts.done += 1
            self.counts.failed += result.failed
            return
        self.counts.add(result)
        if result.failed:
            self._print(f"  {failure_line(result)}")
        now = time.monotonic()
        if now - self._last >= self.interval or self.counts.done == self.counts.total:
            self._last = now
            self._print(self.counts.status())

    def note(self, message: str) -> None:
        self._print(message)

    def stop(self) -> None:
        pass


class RichReporter:
    """A live bar: rows done of all, failed, rows/s, ETA; failed rows printed above it."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.counts = _Counts()
        self._progress: Any = None
        self._task: Any = None

    def start(self, total: int, resumed: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.counts = _Counts()
        self.counts.total, self.counts.resumed = total, resumed
        self._progress = Progress(
            TextColumn("[bold]batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "batch", total=total, completed=0, failed=0, rate="- rows/s"
        )
        if resumed:
            self.console.print(f"{resumed} rows already done")

    def row(self, result: RowResult) -> None:
        if result.resumed:
            self.counts.done += 1
            self.counts.failed += result.failed
        else:
            self.counts.add(result)
            if result.failed:
                from rich.markup import escape

                self.console.print(f"[red]{escape(failure_line(result))}", highlight=False)
        if self._progress is not None:
            self._progress.update(
                self._task,
                completed=self.counts.done,
                failed=self.counts.failed,
                rate=f"{self.counts.rate:.2f} rows/s",
            )

    def note(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def default_reporter(stream: TextIO | None = None) -> Reporter:
    """The bar on a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    if stream.isatty():
        return RichReporter()
    return PlainReporter(stream)
