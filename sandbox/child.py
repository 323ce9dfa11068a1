"""The jailed side of a job: run the renderer, turn whatever goes wrong into a failure.

`execute` is shared by both runners: the pool calls it in a child forked from a warm worker (after
`sandbox.jail.enter`), the one-shot runner in a fresh `python -I -m sandbox.child WORKDIR`, which
reads `WORKDIR/job.json`, lowers its own resource limits, moves into `WORKDIR/out` and writes
`WORKDIR/result.json` (temp file, then rename).  Whatever the program does wrong becomes a failure
in the result; the process exit code is only a fallback.
"""

from __future__ import annotations

import errno
import importlib
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from sandbox.wire import Job, JobResult, Limits, RenderError, RenderOutput, png_size

RenderFunction = Callable[[Job, Path], RenderOutput]

MIB = 1024 * 1024


def apply_limits(limits: Limits, processes: int | None = None) -> None:
    pairs = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_AS, limits.address_space_mb * MIB),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * MIB),
    ]
    if processes is not None:
        pairs.append((resource.RLIMIT_NPROC, processes))
    for which, value in pairs:
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        # The hard CPU limit sits one second above the soft one: SIGXCPU first, SIGKILL after.
        new_hard = value + 1 if which == resource.RLIMIT_CPU else value
        if hard != resource.RLIM_INFINITY:
            new_hard = min(new_hard, hard)
        resource.setrlimit(which, (value, new_hard))


def resolve(entry: str) -> RenderFunction:
    module_name, _, attr = entry.partition(":")
    if not module_name or not attr:
        raise RenderError("error", f"bad renderer entry point {entry!r}: expected module:function")
    func: RenderFunction = getattr(importlib.import_module(module_name), attr)
    return func


def classify(kind: str, message: str, limits: Limits) -> tuple[str, str]:
    """Give failures that are really the sandbox saying no a kind and a message that say so."""
    if kind != "error":
        return kind, message
    if message.startswith("MemoryError"):
        return "limit", f"memory limit ({limits.address_space_mb} MiB) exceeded"
    if message.startswith(("PermissionError", "OSError: [Errno 1]")):
        return "refused", f"the sandbox refused: {message}"
    if f"[Errno {errno.EFBIG}]" in message:
        return "limit", f"file size limit ({limits.file_size_mb} MiB) exceeded"
    if f"[Errno {errno.ENOSPC}]" in message or f"[Errno {errno.EDQUOT}]" in message:
        return "limit", f"scratch space exhausted ({message})"
    return kind, message


def execute(job: Job, workdir: Path, render: RenderFunction) -> JobResult:
    """Run `render` in the current directory (the job's output dir); never raises."""
    started = time.perf_counter()
    try:
        output = render(job, workdir)
    except RenderError as exc:
        kind, message = classify(exc.kind, exc.message, job.limits)
        return JobResult.failed(kind, message, exc.traceback_tail)
    except MemoryError:
        return JobResult.failed(
            "limit", f"memory limit ({job.limits.address_space_mb} MiB) exceeded"
        )
    except BaseException as exc:  # noqa: BLE001 - renderer bugs are reported, not raised
        tail = "".join(traceback.format_exception(exc))[-3000:]
        kind, message = classify(
            "error", f"renderer failed: {type(exc).__name__}: {exc}", job.limits
        )
        return JobResult.failed(kind, message, tail)
    try:
        png = Path(output.png_path).read_bytes()
    except (OSError, TypeError, AttributeError) as exc:
        return JobResult.failed("invalid_output", f"the renderer's image is unreadable: {exc}")
    if png_size(png) is None:
        return JobResult.failed("invalid_output", "the renderer wrote no valid PNG")
    result = JobResult(png=png, manifest=output.manifest, engine=output.engine, notes=output.notes)
    result.timings["child_total_s"] = round(time.perf_counter() - started, 4)
    return result


def run_job(workdir: Path) -> JobResult:
    job = Job.from_json((workdir / "job.json").read_text(encoding="utf-8"))
    out_dir = workdir / "out"
    out_dir.mkdir(exist_ok=True)
    render = resolve(job.renderer)
    # A renderer may first start what cannot run under the limits (Chromium for renderers/html.py,
    # V8 for renderers/vegalite.py): `prepare(job)` in its module may return adjusted Limits.
    limits = job.limits
    prepare = getattr(sys.modules.get(render.__module__), "prepare", None)
    if callable(prepare):
        limits = prepare(job) or limits
    apply_limits(limits)
    os.chdir(out_dir)
    return execute(job, workdir, render)


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
