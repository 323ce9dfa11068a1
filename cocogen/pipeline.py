"""The pipeline: plan → render → check → (repair) → record, as numbered steps.

`Pipeline` takes its components in the constructor (backend, sandbox runner, checker settings) so
that tests and batch runs can pass their own; `generate` starts from a prompt, `render` from a
program someone already wrote.  Both return a `Result` and leave a complete run directory.
"""

from __future__ import annotations

import functools
import hashlib
import platform
import time
import uuid
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cocogen.checking import CheckSettings, check
from cocogen.checking.overlay import draw_overlay
from cocogen.errors import BackendFailed, UsageError
from cocogen.planning.base import Backend, PreviousAttempt
from cocogen.planning.commitments import extract_commitments
from cocogen.planning.language import decide_language
from cocogen.planning.steps import plan_first, plan_next, review
from cocogen.record import RunDir, atomic_write, dump
from cocogen.registry import load_backend
from cocogen.rendering import render_program
from cocogen.result import Result
from cocogen.types import (
    AttemptRecord,
    CheckReport,
    Commitments,
    Draft,
    Program,
    Request,
    RunRecord,
    RunStatus,
    TokenUsage,
)
from sandbox.runner import Runner
from sandbox.wire import Limits

if TYPE_CHECKING:
    from refiners.base import Refiner

DEFAULT_RUNS_ROOT = Path("runs")


class Attempt:
    """One program, its draft and its report, while the run is in progress."""

    def __init__(self, program: Program, draft: Draft, notes: list[str]) -> None:
        self.program = program
        self.draft = draft
        self.notes = notes
        self.report: CheckReport | None = None
        self.timings: dict[str, float] = dict(draft.timings)
        self.critique_usage: TokenUsage | None = None

    def score(self) -> tuple[int, int, int, int]:
        """Higher is better: rendered, fewer errors, more commitments kept, fewer warnings."""
        if not self.draft.ok or self.report is None:
            return (0, 0, 0, 0)
        satisfied = sum(1 for c in self.report.commitments.all() if c.status == "satisfied")
        return (1, -self.report.count("error"), satisfied, -self.report.count("warning"))

    def to_previous(self) -> PreviousAttempt:
        failure = None
        if self.draft.failure is not None:
            failure = self.draft.failure.one_line()
            if self.draft.failure.traceback_tail:
                failure += "\n" + self.draft.failure.traceback_tail[-1500:]
        findings = [
            f for f in (self.report.findings if self.report else []) if f.severity != "info"
        ]
        named = {i for f in findings for i in f.element_ids}
        elements = self.draft.manifest.elements if self.draft.manifest else []
        texts = {e.id: e.text for e in elements if e.id in named and e.text}
        return PreviousAttempt(
            program=self.program, findings=findings, failure=failure, texts=texts
        )


def _new_failure(attempt: Attempt, earlier: list[Attempt]) -> bool:
    """True when nothing has rendered yet and this failure is unlike every earlier one."""
    failure = attempt.draft.failure
    if failure is None or not earlier:
        return False
    seen = [a.draft.failure.message if a.draft.failure else None for a in earlier]
    return None not in seen and failure.message not in seen


def _usage(attempts: list[Attempt]) -> TokenUsage:
    """Planning cost of a run: every program's calls plus every critique's."""
    total = TokenUsage()
    for attempt in attempts:
        for usage in (attempt.program.usage, attempt.critique_usage):
            if usage is not None:
                total = total + usage
    return total


@functools.cache  # reading package metadata costs ~13 ms a run; versions do not change
def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("cocogen", "matplotlib", "numpy", "pydantic", "pillow"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


OVERLAYS = ("always", "findings")
"""`Pipeline(overlays=...)`: which checked attempts get an overlay picture."""


def check_output_path(output: Path | None) -> None:
    if output is not None and output.suffix.lower() != ".png":
        raise UsageError(f"output {output} must end in .png (cocogen writes PNG images)")


class Pipeline:
    def __init__(
        self,
        backend: Backend | None = None,
        runner: Runner | None = None,
        check_settings: CheckSettings | None = None,
        max_attempts: int = 3,
        runs_root: Path | None = None,
        limits: Limits | None = None,
        refiner: Refiner | None = None,
        critique: bool = False,
        overlays: str = "always",
    ) -> None:
        """`refiner`: used when a request asks for refining (default: by `Request.refine`).
        `critique`: let a multimodal backend judge each draft's open constraints.
        `overlays`: which checked attempts get an `overlay.png`: `always`, or only those with
        `findings` (batches: the picture of a clean chart costs ~3 ms and shows nothing)."""
        if max_attempts < 1:
            raise UsageError("max_attempts must be at least 1")
        if overlays not in OVERLAYS:
            raise UsageError(f"overlays must be one of {', '.join(OVERLAYS)}, not {overlays!r}")
        self.overlays = overlays
        self._backend = backend
        self.runner = runner
        self.check_settings = check_settings or CheckSettings()
        self.max_attempts = max_attempts
        self.runs_root = runs_root or DEFAULT_RUNS_ROOT
        self.limits = limits
        self.refiner = refiner
        self.critique = critique

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = load_backend()
        return self._backend

    # -- entry points -------------------------------------------------------------------------

    def generate(
        self, request: Request, *, output: Path | None = None, run_dir: Path | None = None
    ) -> Result:
        """Prompt → image: every step, with repair when the backend can repair."""
        if not request.prompt.strip():
            raise UsageError("the prompt is empty: describe the image to generate")
        check_output_path(output)
        refiner = self._refiner_for(request)
        timings: dict[str, float] = {}
        started = time.perf_counter()

        # 1. Plan: the language (and why), the first program, the commitments (the rules' and
        #    the model's).  A backend that gives no program still leaves a run record.
        backend = self.backend
        commitments = extract_commitments(request.prompt)
        try:
            generation, program = plan_first(request, backend, commitments)
        except BackendFailed as exc:
            timings["plan_s"] = time.perf_counter() - started
            self._record_plan_failure(request, commitments, backend.name, exc, run_dir, timings)
            raise
        commitments = generation.commitments
        timings["plan_s"] = time.perf_counter() - started

        # 2-4. Render, check (and critique), repair while it helps: a deterministic fix first.
        def next_program(attempts: list[Attempt]) -> Program | None:
            t0 = time.perf_counter()
            last = attempts[-1]
            previous = [a.to_previous() for a in attempts]
            repaired = plan_next(backend, generation, previous, last.draft.failure, last.notes)
            timings["plan_s"] += time.perf_counter() - t0
            return repaired

        def critique(attempt: Attempt) -> None:
            if not self.critique or attempt.report is None or attempt.draft.png is None:
                return
            report, usage, note = review(
                backend, request, attempt.program.language, attempt.draft.png, attempt.report
            )
            attempt.report, attempt.critique_usage = report, usage
            if note:
                attempt.notes.append(note)

        attempts = self._attempts(program, request, commitments, next_program, timings, critique)

        # 5. Record.
        return self._record(
            request,
            commitments,
            attempts,
            backend.name,
            output,
            run_dir,
            timings,
            started,
            refiner,
            language_reason=generation.language_reason,
        )

    def render(
        self,
        program: Program,
        request: Request | None = None,
        *,
        output: Path | None = None,
        run_dir: Path | None = None,
    ) -> Result:
        """Existing program → image: render, check and record (no planning, no repair)."""
        check_output_path(output)
        request = request or Request(language=program.language)
        refiner = self._refiner_for(request)
        started = time.perf_counter()
        timings: dict[str, float] = {"plan_s": 0.0}
        commitments = extract_commitments(request.prompt) if request.prompt else Commitments()
        attempts = self._attempts(program, request, commitments, lambda _a: None, timings)
        return self._record(
            request,
            commitments,
            attempts,
            program.backend,
            output,
            run_dir,
            timings,
            started,
            refiner,
        )

    def _refiner_for(self, request: Request) -> Refiner | None:
        """The refiner a request asks for, checked (model found, options sane) before any work."""
        if request.refine is None:
            return None
        from refiners.stage import refiner_for, validate

        refiner = refiner_for(request.refine, self.refiner)
        validate(refiner, request.refine)
        return refiner

    @staticmethod
    def choose_language(request: Request, backend: Backend) -> str:
        return decide_language(request, backend)[0]

    # -- steps ----------------------------------------------------------------------------------

    def _attempts(
        self,
        program: Program,
        request: Request,
        commitments: Commitments,
        next_program: Callable[[list[Attempt]], Program | None],
        timings: dict[str, float],
        review_attempt: Callable[[Attempt], None] | None = None,
    ) -> list[Attempt]:
        attempts: list[Attempt] = []
        best: Attempt | None = None
        current: Program | None = program
        while current is not None:
            attempt = self._render_and_check(current, request, commitments, timings)
            if review_attempt is not None:
                review_attempt(attempt)
            attempts.append(attempt)
            improved = best is None or attempt.score() > best.score()
            if improved:
                best = attempt
            # A render that fails differently from every earlier one is progress too.
            moved = _new_failure(attempt, attempts[:-1])
            passed = attempt.report is not None and attempt.report.passed
            if passed or len(attempts) >= self.max_attempts or not (improved or moved):
                break
            current = next_program(attempts)
            if current is not None:
                current = current.model_copy(update={"attempt": len(attempts) + 1})
        return attempts

    def _render_and_check(
        self,
        program: Program,
        request: Request,
        commitments: Commitments,
        timings: dict[str, float],
    ) -> Attempt:
        t0 = time.perf_counter()
        draft, notes = render_program(program, request, self.runner, self.limits)
        timings["render_s"] = timings.get("render_s", 0.0) + time.perf_counter() - t0
        attempt = Attempt(program, draft, notes)
        if draft.ok:
            assert draft.manifest is not None
            t1 = time.perf_counter()
            attempt.report = check(draft.manifest, draft.png, commitments, self.check_settings)
            elapsed = time.perf_counter() - t1
            attempt.timings["check_s"] = round(elapsed, 4)
            timings["check_s"] = timings.get("check_s", 0.0) + elapsed
        return attempt

    def _record(
        self,
        request: Request,
        commitments: Commitments,
        attempts: list[Attempt],
        backend_name: str,
        output: Path | None,
        run_dir: Path | None,
        timings: dict[str, float],
        started: float,
        refiner: Refiner | None = None,
        language_reason: str = "",
    ) -> Result:
        t0 = time.perf_counter()
        request_json = request.model_dump_json()
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{_sha(request_json)[:8]}"
        final_dir = run_dir or self._fresh_run_dir(run_id)
        best = max(attempts, key=lambda a: a.score())
        traced = best.report.commitments if best.report is not None else commitments
        out = RunDir(final_dir)
        try:
            out.write("request.json", dump(request))
            out.write("commitments.json", dump(traced))
            records = [self._write_attempt(out, n, a) for n, a in enumerate(attempts, start=1)]
            status: RunStatus = "render_failed"
            final_image = None
            refined: dict[str, Any] | None = None
            if best.draft.ok:
                assert best.draft.png is not None and best.draft.manifest is not None
                final_png = best.draft.png
                if refiner is not None and request.refine is not None:
                    # 5. Refine (optional), re-check; the draft stays final unless it passes.
                    from refiners.stage import refine_draft, write_files

                    t1 = time.perf_counter()
                    outcome = refine_draft(
                        refiner,
                        best.draft.png,
                        best.draft.manifest,
                        request,
                        request.refine,
                        commitments=commitments,
                        draft_report=best.report,
                        settings=self.check_settings,
                    )
                    write_files(outcome, out.write)
                    final_png, refined = outcome.final_png, outcome.record
                    timings["refine_s"] = time.perf_counter() - t1
                final_image = out.write("final.png", final_png)
                status = "ok" if best.report is not None and best.report.passed else "check_failed"
            timings["record_s"] = time.perf_counter() - t0
            timings["total_s"] = time.perf_counter() - started
            timings = {k: round(v, 4) for k, v in timings.items()}
            record = RunRecord(
                id=final_dir.name,
                status=status,
                request=request,
                commitments=traced,
                backend=backend_name,
                language=best.program.language,
                language_reason=language_reason,
                attempts=records,
                final_attempt=attempts.index(best) + 1 if best.draft.ok else None,
                final_image=final_image,
                error=best.draft.failure.one_line() if best.draft.failure else None,
                timings=timings,
                versions=_versions(),
                seed=request.seed,
                cache_keys={"request": _sha(request_json), "program": _sha(best.program.source)},
                usage=_usage(attempts),
                refine=refined,
            )
            out.write("run.json", dump(record))
            committed = out.commit()
        except BaseException:
            out.abandon()
            raise
        image_path: Path | None = committed / "final.png" if final_image else None
        if image_path is not None and output is not None:
            atomic_write(output, image_path.read_bytes())
            image_path = output
        return Result(
            status=status,
            image=str(image_path) if image_path else None,
            run_dir=str(committed),
            findings=best.report.findings if best.report else [],
            commitments=traced,
            failure=best.draft.failure,
            attempts=len(attempts),
            language=best.program.language,
            backend=backend_name,
            timings=timings,
        )

    def _record_plan_failure(
        self,
        request: Request,
        commitments: Commitments,
        backend_name: str,
        error: BackendFailed,
        run_dir: Path | None,
        timings: dict[str, float],
    ) -> None:
        """A run record for a run whose backend gave no program; `error` learns where it is."""
        request_json = request.model_dump_json()
        final_dir = run_dir or self._fresh_run_dir(
            f"{time.strftime('%Y%m%d-%H%M%S')}-{_sha(request_json)[:8]}"
        )
        out = RunDir(final_dir)
        try:
            out.write("request.json", dump(request))
            out.write("commitments.json", dump(commitments))
            record = RunRecord(
                id=final_dir.name,
                status="plan_failed",
                request=request,
                commitments=commitments,
                backend=backend_name,
                error=str(error),
                timings={k: round(v, 4) for k, v in timings.items()},
                versions=_versions(),
                seed=request.seed,
                cache_keys={"request": _sha(request_json)},
            )
            out.write("run.json", dump(record))
            committed = out.commit()
        except BaseException:
            out.abandon()
            raise
        error.run_dir = str(committed)
        error.args = (f"{error} (run record: {committed / 'run.json'})",)

    def _fresh_run_dir(self, run_id: str) -> Path:
        candidate = self.runs_root / run_id
        if candidate.exists():
            candidate = self.runs_root / f"{run_id}-{uuid.uuid4().hex[:4]}"
        return candidate

    def _write_attempt(self, out: RunDir, number: int, attempt: Attempt) -> AttemptRecord:
        base = f"attempt-{number}"
        program_file = out.write(f"{base}/program{attempt.program.suffix}", attempt.program.source)
        files: dict[str, str] = {}
        draft = attempt.draft
        if draft.ok:
            assert draft.png is not None and draft.manifest is not None
            files["draft_file"] = out.write(f"{base}/draft.png", draft.png)
            files["manifest_file"] = out.write(f"{base}/manifest.json", dump(draft.manifest))
        if attempt.report is not None:
            assert draft.png is not None and draft.manifest is not None
            files["check_file"] = out.write(f"{base}/check.json", dump(attempt.report))
            if self.overlays == "always" or attempt.report.findings:
                overlay = draw_overlay(draft.png, draft.manifest, attempt.report.findings)
                files["overlay_file"] = out.write(f"{base}/overlay.png", overlay)
        return AttemptRecord(
            number=number,
            program=attempt.program,
            program_file=program_file,
            failure=draft.failure,
            report=attempt.report,
            engine=draft.engine,
            stdout_tail=draft.stdout_tail,
            stderr_tail=draft.stderr_tail,
            notes=attempt.notes,
            timings={k: round(v, 4) for k, v in attempt.timings.items()},
            **files,
        )
