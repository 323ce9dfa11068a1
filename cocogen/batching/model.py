"""The batch's records: a row to run, a spec line that could not be read, a row's outcome, the
summary of a whole batch.

`RowResult` is exactly one line of `DIR/results.jsonl` (and what `cocogen.batch()` yields), so a
results file can be read back into the same objects that produced it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cocogen.types import Model, Program, Request

RowStatus = Literal["ok", "check_failed", "render_failed", "error"]
"""The run's status, or `error`: the host could not run the row (e.g. the planner could not
read the request, the LLM API kept failing).  Rows in `error` are retried by the next resume."""

DONE_STATUSES: frozenset[str] = frozenset({"ok", "check_failed", "render_failed"})


class BatchRow(Model):
    """One request of the batch, validated, with its content key."""

    line: int
    """Line number in the spec (1-based; the header is line 1 of a CSV), or the position (1-based)
    in the iterable given to `cocogen.batch()`."""
    name: str
    """The output name: `runs/<name>/`, `images/<name>.png`, `thumbs/<name>.png`."""
    request: Request
    program: Program | None = None
    """Set when the row brings its program (rendered as is); else the backend plans one."""
    key: str = ""
    """Content hash of everything that decides the row's output (see `cocogen.batching.keys`)."""


class BadLine(Model):
    line: int
    error: str

    def one_line(self, source: str) -> str:
        return f"{source}:{self.line}: {self.error}"


class FindingBrief(Model):
    severity: str
    code: str
    message: str


class RowResult(Model):
    """One row's outcome; one line of `results.jsonl`.  Paths are relative to the output dir."""

    name: str
    key: str
    line: int
    status: RowStatus
    image: str | None = None
    """`images/<name>.png` when the run produced an image."""
    image_sha256: str | None = None
    run_dir: str | None = None
    record_sha256: str | None = None
    """SHA-256 of the run dir's `run.json`: a resume checks that the run dir is this run's."""
    thumb: str | None = None
    findings: dict[str, int] = Field(default_factory=dict)
    """Finding counts by severity (`error`, `warning`, `info`)."""
    top_findings: list[FindingBrief] = Field(default_factory=list)
    """The first few error and warning findings, for the gallery."""
    attempts: int = 0
    language: str = ""
    backend: str = ""
    timings: dict[str, float] = Field(default_factory=dict)
    """The run's stage timings (`plan_s`, `render_s`, `check_s`, `record_s`, `total_s`, ...) plus
    `row_s`: wall time of the row in the batch, from start to the written image."""
    cache: dict[str, int] = Field(default_factory=dict)
    """LLM prompt-cache token counts summed over the row's attempts (`read_tokens`,
    `write_tokens`); empty when no LLM ran."""
    error: str | None = None
    """One line: the render failure, or the host error of an `error` row."""
    finished_at: float = 0.0
    """Unix time at which the row was marked done."""
    resumed: bool = False
    """True when this row was already done before this batch started (nothing re-ran)."""

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES

    @property
    def failed(self) -> bool:
        return self.status != "ok"


class BatchSummary(Model):
    """What a finished (or interrupted) batch did; `cocogen batch --json` prints this."""

    out_dir: str
    source: str
    executor: str
    workers: int
    runner: str
    """Which sandbox runner rendered: `pool` (warm workers) or `subprocess` (one per job)."""
    rows: int
    """Rows of the spec that could be read (bad lines and duplicates not counted)."""
    ran: int = 0
    """Rows run by this batch (not already done)."""
    resumed: int = 0
    """Rows already done before this batch started, skipped."""
    ok: int = 0
    check_failed: int = 0
    render_failed: int = 0
    errors: int = 0
    pending: int = 0
    """Rows not finished (an interrupted batch); a resume runs them."""
    bad_lines: list[BadLine] = Field(default_factory=list)
    duplicates: list[BadLine] = Field(default_factory=list)
    """Rows identical to an earlier row (same request, same output name): run once."""
    elapsed_s: float = 0.0
    rows_per_s: float = 0.0
    """Rows run by this batch per second of its wall time."""
    results: str = ""
    gallery: str = ""
    interrupted: bool = False

    @property
    def failed(self) -> int:
        return self.check_failed + self.render_failed + self.errors

    @property
    def all_ok(self) -> bool:
        return self.ok == self.rows and not self.bad_lines and not self.interrupted
