"""Helpers for the jail tests: run a matplotlib program on a runner, read the title back."""

from __future__ import annotations

import os

from sandbox import Job, JobResult, Limits
from sandbox.runner import Runner

MPL = "renderers.matplotlib:render"
DRAW = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2], [3, 4])\n"


def run(runner: Runner, source: str, **job_fields: object) -> JobResult:
    limits = job_fields.pop("limits", None) or Limits(wall_s=30)
    job = Job(renderer=MPL, source=source, limits=limits, **job_fields)  # type: ignore[arg-type]
    return runner.run(job)


def title_of(result: JobResult) -> str:
    assert result.ok, result.failure
    assert result.manifest is not None
    return str(
        next(e["text"] for e in result.manifest["elements"] if e.get("kind") == "axes_title")
    )


def processes_of(uids: list[int]) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid in uids:
                    found.append(int(name))
            except FileNotFoundError:
                pass
    return found
