"""The first sandbox runner: one fresh interpreter per job.

Each job gets a private temp work dir, a scrubbed environment built from an allow-list (no
`*_API_KEY`, no proxies, no HOME of the user), resource limits set by the child itself, a
wall-clock timeout enforced here by killing the job's whole process group, and validation of what
comes back.  It is slow (~0.7 s of imports per job) but simple; the warm pool replaces it behind
the same `Runner` protocol.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Protocol

from sandbox.wire import Job, JobResult, png_size

# Variables a job may see, copied from the host when set.  Everything else is dropped.
PASSTHROUGH_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "TZ")


class Runner(Protocol):
    """Runs jobs in isolation. `run` never raises for a failure of the job's program."""

    def run(self, job: Job) -> JobResult: ...

    def close(self) -> None: ...


def default_cache_dir() -> Path:
    base = os.environ.get("COCOGEN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cocogen"
    )
    return Path(base)


def child_environment(workdir: Path, cache_dir: Path) -> dict[str, str]:
    """The complete environment of a job: an allow-list, never a copy of the host's."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir / "tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "SOURCE_DATE_EPOCH": "0",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(cache_dir / "matplotlib"),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    for name in PASSTHROUGH_ENV:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _tail(path: Path, limit: int) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def validate(result: JobResult) -> JobResult:
    """Check what the child claims: the PNG decodes and the manifest has the PNG's size."""
    if result.failure is not None:
        return result
    if result.png is None or result.manifest is None:
        return JobResult.failed("invalid_output", "the job returned no image or no manifest")
    size = png_size(result.png)
    if size is None:
        return JobResult.failed("invalid_output", "the job's image is not a PNG")
    manifest_size = (result.manifest.get("width"), result.manifest.get("height"))
    if manifest_size != size or not isinstance(result.manifest.get("elements"), list):
        return JobResult.failed(
            "invalid_output",
            f"the manifest ({manifest_size[0]}x{manifest_size[1]}) does not describe the image "
            f"({size[0]}x{size[1]})",
        )
    return result


class SubprocessRunner:
    """A fresh `python -I -m sandbox.child` per job."""

    def __init__(self, python: str | None = None, cache_dir: Path | None = None) -> None:
        self.python = python or sys.executable
        self.cache_dir = cache_dir or default_cache_dir()

    def close(self) -> None:
        pass

    def __enter__(self) -> SubprocessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, job: Job) -> JobResult:
        started = time.perf_counter()
        (self.cache_dir / "matplotlib").mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="cocogen-job-"))
        try:
            result = self._run_in(workdir, job)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        result.timings["sandbox_total_s"] = round(time.perf_counter() - started, 4)
        return result

    def _run_in(self, workdir: Path, job: Job) -> JobResult:
        (workdir / "tmp").mkdir()
        inputs = workdir / "inputs"
        inputs.mkdir()
        for name, src in job.files.items():
            if "/" in name or name in ("", ".", ".."):
                return JobResult.failed("refused", f"input file name {name!r} is not a plain name")
            dest = inputs / name
            shutil.copyfile(src, dest)
            dest.chmod(0o444)
        (workdir / "job.json").write_text(job.to_json(), encoding="utf-8")
        stdout_path, stderr_path = workdir / "stdout.txt", workdir / "stderr.txt"
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            proc = subprocess.Popen(
                [self.python, "-I", "-m", "sandbox.child", str(workdir)],
                cwd=workdir,
                env=child_environment(workdir, self.cache_dir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                close_fds=True,
            )
            timed_out = False
            try:
                proc.wait(timeout=job.limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            # Kill the whole group either way: nothing the job started may outlive it.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        tails = {
            "stdout_tail": _tail(stdout_path, job.limits.output_tail_bytes),
            "stderr_tail": _tail(stderr_path, job.limits.output_tail_bytes),
        }
        result_path = workdir / "result.json"
        if timed_out:
            result = JobResult.failed(
                "timeout", f"the program ran longer than {job.limits.wall_s:g} s and was stopped"
            )
        elif result_path.exists():
            try:
                result = validate(JobResult.from_json(result_path.read_text(encoding="utf-8")))
            except (ValueError, TypeError, KeyError) as exc:
                result = JobResult.failed("invalid_output", f"unreadable result: {exc}")
        else:
            result = self._crash(proc.returncode, job, tails["stderr_tail"])
        result.stdout_tail, result.stderr_tail = tails["stdout_tail"], tails["stderr_tail"]
        return result

    @staticmethod
    def _crash(returncode: int, job: Job, stderr_tail: str) -> JobResult:
        if returncode < 0:
            sig = -returncode
            if sig == signal.SIGXCPU:
                return JobResult.failed("limit", f"CPU time limit ({job.limits.cpu_s} s) exceeded")
            if sig == signal.SIGXFSZ:
                return JobResult.failed(
                    "limit", f"file size limit ({job.limits.file_size_mb} MiB) exceeded"
                )
            return JobResult.failed("crash", f"the program was killed by {_signal_name(sig)}")
        last = stderr_tail.strip().splitlines()[-1:] or [""]
        return JobResult.failed(
            "crash", f"the program exited with code {returncode} before finishing: {last[0]}"
        )
