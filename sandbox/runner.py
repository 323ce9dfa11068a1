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

from sandbox import outcome
from sandbox.jobroot import job_root
from sandbox.layers import DESCRIPTIONS
from sandbox.wire import Job, JobResult

# Variables a job may see, copied from the host when set.  Everything else is dropped.
PASSTHROUGH_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "TZ")


class Runner(Protocol):
    """Runs jobs in isolation. `run` never raises for a failure of the job's program."""

    def run(self, job: Job) -> JobResult: ...

    def close(self) -> None: ...


# What the one-shot runner does and does not apply (the pool reports its own, probed for real).
SUBPROCESS_LAYERS: dict[str, tuple[bool, str]] = {
    "warm_workers": (False, "one fresh interpreter per job (~0.5 s of imports each)"),
    "process_group": (True, DESCRIPTIONS["process_group"]),
    "scrubbed_env": (True, DESCRIPTIONS["scrubbed_env"]),
    "private_workdir": (True, "a temp dir per job, removed afterwards"),
    "rlimits": (True, "CPU, address space, open files, file size, no core dumps"),
    "uid": (False, "not applied by the subprocess runner (use the pool)"),
    "netns": (False, "not applied by the subprocess runner (use the pool)"),
    "scratch_quota": (False, "not applied by the subprocess runner (use the pool)"),
    "landlock": (False, "not applied by the subprocess runner (use the pool)"),
    "seccomp": (False, "not applied by the subprocess runner (use the pool)"),
    "wall_timeout": (True, "process group killed at the wall-clock limit"),
    "output_caps": (True, "stdout/stderr capped by the file size limit"),
    "orphan_reaping": (False, "left to init (processes are killed with the job's group)"),
}


def default_cache_dir() -> Path:
    base = os.environ.get("COCOGEN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cocogen"
    )
    return Path(base)


def child_environment(
    workdir: Path, cache_dir: Path, home: Path | None = None, tmpdir: Path | None = None
) -> dict[str, str]:
    """The complete environment of a job: an allow-list, never a copy of the host's."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home or workdir),
        "TMPDIR": str(tmpdir or workdir / "tmp"),
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


def validate(result: JobResult) -> JobResult:
    """Kept for callers of the first runner; see `sandbox.outcome`."""
    return outcome.validate(result)


class SubprocessRunner:
    """A fresh `python -I -m sandbox.child` per job."""

    name = "subprocess"
    fallback_reason = ""
    """Why the pool is not used, when this runner stands in for it."""

    def __init__(self, python: str | None = None, cache_dir: Path | None = None) -> None:
        self.python = python or sys.executable
        self.cache_dir = cache_dir or default_cache_dir()

    def close(self) -> None:
        pass

    def layers(self) -> dict[str, dict[str, object]]:
        found: dict[str, dict[str, object]] = {}
        for name, (active, detail) in SUBPROCESS_LAYERS.items():
            if name == "warm_workers" and self.fallback_reason:
                detail += f"; no pool: {self.fallback_reason}"
            found[name] = {"active": active, "detail": detail}
        available, detail = outcome.crosscheck_available()
        found["manifest_crosscheck"] = {"active": available, "detail": detail}
        return found

    def __enter__(self) -> SubprocessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, job: Job) -> JobResult:
        started = time.perf_counter()
        (self.cache_dir / "matplotlib").mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="cocogen-job-", dir=job_root()))
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
            result = outcome.accept(result_path.read_text(encoding="utf-8", errors="replace"))
        else:
            code, sig = (None, -proc.returncode) if proc.returncode < 0 else (proc.returncode, None)
            result = outcome.crashed(job, code, sig, tails["stderr_tail"])
        result.stdout_tail, result.stderr_tail = tails["stdout_tail"], tails["stderr_tail"]
        return result
