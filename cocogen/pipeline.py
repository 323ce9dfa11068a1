"""The pipeline: plan → render → check → (repair) → record, as numbered steps.

`Pipeline` takes its components in the constructor (backend, sandbox runner, checker settings) so
that tests and batch runs can pass their own; `generate` starts from a prompt, `render` from a
program someone already wrote.  Both return a `Result` and leave a complete run directory.
"""

from __future__ import annotations

import hashlib
import platform
import time
import uuid
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from cocogen.checking import CheckSettings, check
from cocogen.checking.overlay import draw_overlay
from cocogen.errors import UsageError
from cocogen.planning.base import Backend, GenerationRequest, PreviousAttempt, supports_repair
from cocogen.planning.commitments import extract_commitments
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
)
from sandbox.runner import Runner
from sandbox.wire import Limits

DEFAULT_RUNS_ROOT = Path("runs")


class Attempt:
    """One program, its draft and its report, while the run is in progress."""

    def __init__(self, program: Program, draft: Draft, notes: list[str]) -> None:
        self.program = program
        self.draft = draft
        self.notes = notes
        self.report: CheckReport | None = None
        self.timings: dict[str, float] = dict(draft.timings)

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
        return PreviousAttempt(program=self.program, findings=findings, failure=failure)


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
    ) -> None:
        if max_attempts < 1:
            raise UsageError("max_attempts must be at least 1")
        self._backend = backend
        self.runner = runner
        self.check_settings = check_settings or CheckSettings()
        self.max_attempts = max_attempts
        self.runs_root = runs_root or DEFAULT_RUNS_ROOT
        self.limits = limits

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
        timings: dict[str, float] = {}
        started = time.perf_counter()

        # 1. Plan: the request's commitments, the language, the first program.
        backend = self.backend
        commitments = extract_commitments(request.prompt)
        language = self.choose_language(request, backend)
        generation = GenerationRequest(
            request=request,
            language=language,
            canvas=request.canvas,
            reference_images=request.reference_images,
            commitments=commitments,
        )
        program = backend.generate(generation)
        timings["plan_s"] = time.perf_counter() - started

        # 2-4. Render, check, and repair while it helps.
        def next_program(attempts: list[Attempt]) -> Program | None:
            if not supports_repair(backend):
                return None
            previous = [a.to_previous() for a in attempts]
            t0 = time.perf_counter()
            repaired = backend.generate(generation.model_copy(update={"previous": previous}))
            timings["plan_s"] += time.perf_counter() - t0
            return repaired

        attempts = self._attempts(program, request, commitments, next_program, timings)

        # 5. Record.
        return self._record(
            request, commitments, attempts, backend.name, output, run_dir, timings, started
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
        started = time.perf_counter()
        timings: dict[str, float] = {"plan_s": 0.0}
        commitments = extract_commitments(request.prompt) if request.prompt else Commitments()
        attempts = self._attempts(program, request, commitments, lambda _a: None, timings)
        return self._record(
            request, commitments, attempts, program.backend, output, run_dir, timings, started
        )

    @staticmethod
    def choose_language(request: Request, backend: Backend) -> str:
        if request.language != "auto":
            return request.language
        return str(getattr(backend, "default_language", "matplotlib"))

    # -- steps ----------------------------------------------------------------------------------

    def _attempts(
        self,
        program: Program,
        request: Request,
        commitments: Commitments,
        next_program: Callable[[list[Attempt]], Program | None],
        timings: dict[str, float],
    ) -> list[Attempt]:
        attempts: list[Attempt] = []
        best: Attempt | None = None
        current: Program | None = program
        while current is not None:
            attempt = self._render_and_check(current, request, commitments, timings)
            attempts.append(attempt)
            improved = best is None or attempt.score() > best.score()
            if improved:
                best = attempt
            passed = attempt.report is not None and attempt.report.passed
            if passed or len(attempts) >= self.max_attempts or not improved:
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
            if best.draft.ok:
                assert best.draft.png is not None
                final_image = out.write("final.png", best.draft.png)
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
                attempts=records,
                final_attempt=attempts.index(best) + 1 if best.draft.ok else None,
                final_image=final_image,
                error=best.draft.failure.one_line() if best.draft.failure else None,
                timings=timings,
                versions=_versions(),
                seed=request.seed,
                cache_keys={"request": _sha(request_json), "program": _sha(best.program.source)},
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

    def _fresh_run_dir(self, run_id: str) -> Path:
        candidate = self.runs_root / run_id
        if candidate.exists():
            candidate = self.runs_root / f"{run_id}-{uuid.uuid4().hex[:4]}"
        return candidate

    @staticmethod
    def _write_attempt(out: RunDir, number: int, attempt: Attempt) -> AttemptRecord:
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
