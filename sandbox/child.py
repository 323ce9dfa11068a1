"""The jailed side of a job: `python -I -m sandbox.child WORKDIR`.

Reads `WORKDIR/job.json`, lowers its own resource limits, moves into `WORKDIR/out`, runs the
renderer named by the job and writes `WORKDIR/result.json` (temp file, then rename).  Whatever the
program does wrong becomes a failure in the result; the process exit code is only a fallback.
"""

from __future__ import annotations

import importlib
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from sandbox.wire import Job, JobResult, Limits, RenderError, RenderOutput, png_size


def apply_limits(limits: Limits) -> None:
    mb = 1024 * 1024
    pairs = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_AS, limits.address_space_mb * mb),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * mb),
    ]
    for which, value in pairs:
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        # The hard CPU limit sits one second above the soft one: SIGXCPU first, SIGKILL after.
        new_hard = value + 1 if which == resource.RLIMIT_CPU else value
        if hard != resource.RLIM_INFINITY:
            new_hard = min(new_hard, hard)
        resource.setrlimit(which, (value, new_hard))


def resolve(entry: str) -> Callable[[Job, Path], RenderOutput]:
    module_name, _, attr = entry.partition(":")
    if not module_name or not attr:
        raise RenderError("error", f"bad renderer entry point {entry!r}: expected module:function")
    func: Callable[[Job, Path], RenderOutput] = getattr(importlib.import_module(module_name), attr)
    return func


def run_job(workdir: Path) -> JobResult:
    started = time.perf_counter()
    job = Job.from_json((workdir / "job.json").read_text(encoding="utf-8"))
    out_dir = workdir / "out"
    out_dir.mkdir(exist_ok=True)
    render = resolve(job.renderer)
    apply_limits(job.limits)
    os.chdir(out_dir)
    try:
        output = render(job, workdir)
    except RenderError as exc:
        return JobResult.failed(exc.kind, exc.message, exc.traceback_tail)
    except MemoryError:
        return JobResult.failed(
            "limit", f"memory limit ({job.limits.address_space_mb} MiB) exceeded"
        )
    except BaseException as exc:  # noqa: BLE001 - renderer bugs are reported, not raised
        tail = "".join(traceback.format_exception(exc))[-3000:]
        return JobResult.failed("error", f"renderer failed: {type(exc).__name__}: {exc}", tail)
    png = Path(output.png_path).read_bytes()
    size = png_size(png)
    if size is None:
        return JobResult.failed("invalid_output", "the renderer wrote no valid PNG")
    result = JobResult(png=png, manifest=output.manifest, engine=output.engine, notes=output.notes)
    result.timings["child_total_s"] = round(time.perf_counter() - started, 4)
    return result


def main(argv: list[str]) -> int:
    workdir = Path(argv[1])
    try:
        result = run_job(workdir)
    except RenderError as exc:
        result = JobResult.failed(exc.kind, exc.message, exc.traceback_tail)
    tmp = workdir / "result.json.tmp"
    tmp.write_text(result.to_json(), encoding="utf-8")
    os.replace(tmp, workdir / "result.json")
    sys.stdout.flush()
    sys.stderr.flush()
    return 0


if __name__ == "__main__":
    # os._exit: skip interpreter teardown, where a hostile program's atexit hooks would run.
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
