"""The result of one run: what the CLI prints with --json and what the library returns."""

from __future__ import annotations

from pydantic import Field

from cocogen.types import Commitments, Finding, Model, RenderFailure, RunStatus


class Result(Model):
    status: RunStatus
    image: str | None
    """Path of the delivered image (the -o path, else the run dir's final.png); None if none."""
    run_dir: str
    findings: list[Finding] = Field(default_factory=list)
    commitments: Commitments = Commitments()
    failure: RenderFailure | None = None
    attempts: int = 1
    language: str = ""
    backend: str = ""
    timings: dict[str, float] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def summary(self) -> str:
        """One line for people."""
        errors = sum(1 for f in self.findings if f.severity == "error")
        warnings = sum(1 for f in self.findings if f.severity == "warning")
        if self.status == "render_failed":
            reason = self.failure.one_line() if self.failure else "no image"
            return f"render failed ({reason}); run dir {self.run_dir}"
        return (
            f"{'ok' if self.ok else 'check failed'}: {self.image} "
            f"({errors} errors, {warnings} warnings, {self.attempts} attempt"
            f"{'s' if self.attempts != 1 else ''}); run dir {self.run_dir}"
        )
