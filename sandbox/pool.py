"""The warm worker pool: the default `Runner`, rendering untrusted code at near in-process speed.

N workers (default: one per core) are started lazily, each a `python -I -m sandbox.worker` with
an allow-listed environment.  A worker imports a renderer once and forks a jailed child per job
(`sandbox.worker`, `sandbox.jail`), so a job costs a fork instead of an interpreter start and
~0.5 s of imports.  This side hands out jobs (thread-safe), prepares each job's private work dir,
checks every result before believing it (`sandbox.outcome`), replaces a worker that died or
hung, and recycles one after `max_jobs` jobs or when its memory grew by `max_growth_mb`.

Layers are probed by the first worker and reported by `layers()`; `require=[...]` makes the pool
refuse to start (`SandboxUnavailable`) when one of them is not active here.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from sandbox import outcome
from sandbox.config import SPARE_MODES
from sandbox.jobroot import job_root
from sandbox.layers import (
    ALL_LAYERS,
    DESCRIPTIONS,
    JOB_LAYERS,
    LayerStatus,
    SandboxUnavailable,
    check_names,
    describe_missing,
    missing_required,
)
from sandbox.protocol import ATTACHMENT, ChannelClosed, read_frame, widen, write_frame
from sandbox.runner import child_environment, default_cache_dir
from sandbox.wire import Job, JobResult

# Job uids: base + 1024 per host process + 64 per pool in it + the worker slot.  Far above any
# real account, unique per live pool, so pools never share a uid (nor can signal each other).
UID_BASE = 1_000_000_000
MAX_SLOTS = 64
HANDSHAKE_TIMEOUT_S = 120.0
REPLY_GRACE_S = 15.0
_pool_numbers = itertools.count()


class WorkerLost(Exception):
    """A worker died, hung, or broke the protocol."""


class WorkerProcess:
    """The host's handle on one worker process."""

    def __init__(self, pool: WorkerPool, slot: int) -> None:
        self.slot = slot
        self.uid = pool.uid_for(slot) if os.geteuid() == 0 else None
        self.jobs = 0
        self.baseline_rss_kb = 0
        self.rss_kb = 0
        self.log_path = pool.base / f"worker-{slot}.log"
        config = {
            "slot": slot,
            "uid": self.uid,
            "base_dir": str(pool.base),
            "cache_dir": str(pool.cache_dir),
            "preload": list(pool.preload),
            "warm": pool.prewarm,
            "layers": sorted(pool.job_layers),
            "require": list(pool.require),
            "python_path": list(pool.python_path),
        }
        with open(self.log_path, "ab") as log:
            self.proc = _popen(
                [pool.python, "-I", "-m", "sandbox.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=pool.base,
                env=child_environment(pool.base, pool.cache_dir, home=pool.base, tmpdir=pool.base),
                start_new_session=True,
                close_fds=True,
            )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.to_worker = self.proc.stdin.fileno()
        self.from_worker = self.proc.stdout.fileno()
        widen(self.from_worker)  # results come this way
        try:
            write_frame(self.to_worker, config)
            hello = read_frame(self.from_worker, time.monotonic() + HANDSHAKE_TIMEOUT_S)
        except ChannelClosed as exc:
            self.stop()
            raise SandboxUnavailable(
                f"a sandbox worker did not start ({exc}): {self.log_tail()}"
            ) from exc
        if "error" in hello:
            self.stop()
            raise SandboxUnavailable(f"a sandbox worker could not start: {hello['error']}")
        self.pid = int(hello["pid"])
        self.layers = {
            name: LayerStatus(bool(v["active"]), str(v["detail"]))
            for name, v in hello["layers"].items()
        }

    def request(self, frame: dict[str, Any], timeout: float) -> dict[str, Any]:
        try:
            write_frame(self.to_worker, frame)
            return read_frame(self.from_worker, time.monotonic() + timeout)
        except ChannelClosed as exc:
            raise WorkerLost(str(exc)) from exc

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, limit: int = 600) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:].strip() or "(no log)"
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """End the worker at once: idle, it holds nothing worth a graceful exit (a job child of
        a busy one dies with it, by PR_SET_PDEATHSIG)."""
        try:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        finally:
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()


class WorkerPool:
    """Warm, forking, layered sandbox workers behind the `Runner` protocol."""

    name = "pool"

    def __init__(
        self,
        size: int | None = None,
        *,
        require: list[str] | tuple[str, ...] = (),
        preload: list[str] | tuple[str, ...] = (),
        prewarm: bool = False,
        layers: list[str] | tuple[str, ...] | None = None,
        max_jobs: int = 500,
        max_growth_mb: int = 512,
        python: str | None = None,
        cache_dir: Path | None = None,
        python_path: list[str] | tuple[str, ...] = (),
        spares: str = "auto",
    ) -> None:
        check_names(list(require))
        if spares not in SPARE_MODES:
            raise ValueError(f"spares={spares!r}: expected one of {', '.join(SPARE_MODES)}")
        self.spares = spares
        self.job_layers = frozenset(JOB_LAYERS if layers is None else layers)
        check_names(list(self.job_layers))
        self.size = max(1, min(MAX_SLOTS, size or os.cpu_count() or 1))
        self.require = tuple(require)
        self.preload = tuple(preload)
        self.prewarm = prewarm
        self.max_jobs = max_jobs
        self.max_growth_kb = max_growth_mb * 1024
        self.python = python or sys.executable
        # Extra import paths for renderer modules that are not installed (local plugins, tests).
        self.python_path = tuple(str(p) for p in python_path)
        self.cache_dir = cache_dir or default_cache_dir()
        (self.cache_dir / "matplotlib").mkdir(parents=True, exist_ok=True)
        self.number = next(_pool_numbers) % 16
        self.base = Path(tempfile.mkdtemp(prefix="cocogen-pool-", dir=job_root()))
        self.base.chmod(0o711)
        self._lock = threading.Condition()
        self._idle: list[WorkerProcess] = []
        self._busy: set[WorkerProcess] = set()
        self._free_slots = list(range(self.size))
        self._closed = False
        self._finalizer = weakref.finalize(self, _cleanup, self._idle, self._busy, self.base)
        try:
            first = self._spawn(self._free_slots.pop(0))
        except BaseException:
            self.close()
            raise
        self._status = dict(first.layers)
        self._idle.append(first)
        missing = missing_required(list(self.require), self.layer_status())
        if missing:
            self.close()
            raise SandboxUnavailable(describe_missing(missing, self.layer_status()))
        if prewarm:
            self.start_all()

    # -- the Runner protocol ---------------------------------------------------------------

    def run(self, job: Job) -> JobResult:
        started = time.perf_counter()
        worker = self._acquire()
        try:
            workdir = self._prepare(job, worker)
        except (OSError, ValueError) as exc:
            self._release(worker)
            return JobResult.failed("refused", str(exc))
        keep = True
        try:
            reply = worker.request(
                {"job": job.to_json(), "workdir": str(workdir), "spare": self._spare_wanted()},
                job.limits.wall_s + REPLY_GRACE_S,
            )
            worker.jobs += 1
            worker.rss_kb = int(reply.get("rss_kb", 0))
            if worker.jobs == 2:
                worker.baseline_rss_kb = worker.rss_kb  # after the lazy warm-up
            keep = self._healthy(worker)
        except WorkerLost as exc:
            keep = False
            reply = {"lost": str(exc)}
        finally:
            # The worker is free once it has answered: another job can start on it while this
            # thread checks the result.  It removes the job's dir itself once the job's processes
            # are gone (`Worker.tidy`); one that is stopped here does not.
            self._release(worker, keep)
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)
        result = self._interpret(reply, job)
        result.timings["sandbox_total_s"] = round(time.perf_counter() - started, 4)
        return result

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle[:] = list(self._idle), []
            self._lock.notify_all()
        for worker in idle:
            worker.stop()
        if not self._busy:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- layers ----------------------------------------------------------------------------

    def layer_status(self) -> dict[str, LayerStatus]:
        status: dict[str, LayerStatus] = {
            "warm_workers": LayerStatus(
                True,
                f"up to {self.size} workers; each imports the renderer once and forks a child "
                "per job",
            ),
            "process_group": LayerStatus(True, DESCRIPTIONS["process_group"]),
            "scrubbed_env": LayerStatus(True, DESCRIPTIONS["scrubbed_env"]),
            "private_workdir": LayerStatus(
                True, f"{DESCRIPTIONS['private_workdir']}, under {self.base.parent}"
            ),
            "wall_timeout": LayerStatus(True, DESCRIPTIONS["wall_timeout"]),
            "output_caps": LayerStatus(True, DESCRIPTIONS["output_caps"]),
        }
        status.update(self._status)
        available, detail = outcome.crosscheck_available()
        status["manifest_crosscheck"] = LayerStatus(available, detail)
        status.setdefault(
            "bubblewrap", LayerStatus(False, "not used: the layers above confine each job")
        )
        return {name: status[name] for name in ALL_LAYERS if name in status}

    def layers(self) -> dict[str, dict[str, Any]]:
        return {name: s.to_dict() for name, s in self.layer_status().items()}

    # -- workers ---------------------------------------------------------------------------

    def worker_pids(self) -> list[int]:
        with self._lock:
            return sorted(w.pid for w in [*self._idle, *self._busy])

    def job_uids(self) -> list[int]:
        """The uids jobs of this pool run as (empty when the pool is not root)."""
        if os.geteuid() != 0:
            return []
        return [self.uid_for(slot) for slot in range(self.size)]

    def uid_for(self, slot: int) -> int:
        return UID_BASE + (os.getpid() % 65536) * 1024 + self.number * MAX_SLOTS + slot

    def start_all(self) -> None:
        """Start every worker now (benchmarks, batches) instead of on demand."""
        while True:
            with self._lock:
                if not self._free_slots or self._closed:
                    return
                slot = self._free_slots.pop(0)
            try:
                worker = self._spawn(slot)
            except BaseException:
                with self._lock:
                    self._free_slots.append(slot)
                raise
            with self._lock:
                self._idle.append(worker)
                self._lock.notify()

    def _spawn(self, slot: int) -> WorkerProcess:
        return WorkerProcess(self, slot)

    def _acquire(self) -> WorkerProcess:
        with self._lock:
            while True:
                if self._closed:
                    raise SandboxUnavailable("the sandbox pool is closed")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        self._busy.add(worker)
                        return worker
                    self._retire_later(worker)
                if self._free_slots:
                    slot = self._free_slots.pop(0)
                    break
                self._lock.wait()
        try:
            worker = self._spawn(slot)
        except BaseException:
            with self._lock:
                self._free_slots.append(slot)
                self._lock.notify()
            raise
        with self._lock:
            self._busy.add(worker)
        return worker

    def _release(self, worker: WorkerProcess, keep: bool = True) -> None:
        with self._lock:
            self._busy.discard(worker)
            if keep and not self._closed and worker.alive():
                self._idle.append(worker)
                self._lock.notify()
                return
            self._free_slots.append(worker.slot)
            self._lock.notify()
        worker.stop()
        if self._closed and not self._busy:
            shutil.rmtree(self.base, ignore_errors=True)

    def _retire_later(self, worker: WorkerProcess) -> None:
        """A worker found dead while idle: free its slot (called with the lock held)."""
        self._free_slots.append(worker.slot)
        threading.Thread(target=worker.stop, daemon=True).start()

    def _spare_wanted(self) -> bool:
        """Whether the worker should fork the next job's child ahead of time.  `auto`: when the
        pool has fewer workers than there are cores, so spares warm up on a core no worker
        needs (a pool with a worker per core is meant to keep every core busy with jobs, and
        a spare there would only take CPU from them)."""
        if self.spares == "auto":
            return self.size < _cores()
        return self.spares == "on"

    def _healthy(self, worker: WorkerProcess) -> bool:
        if worker.jobs >= self.max_jobs:
            return False
        grown = worker.rss_kb - worker.baseline_rss_kb
        return not (worker.baseline_rss_kb and grown > self.max_growth_kb)

    # -- jobs ------------------------------------------------------------------------------

    def _prepare(self, job: Job, worker: WorkerProcess) -> Path:
        workdir = Path(tempfile.mkdtemp(prefix="job-", dir=self.base))
        workdir.chmod(0o711)
        inputs = workdir / "inputs"
        inputs.mkdir(mode=0o755)
        out = workdir / "out"
        out.mkdir(mode=0o700)
        if worker.uid is not None:
            os.chown(out, worker.uid, worker.uid)
        for name, src in job.files.items():
            if "/" in name or name in ("", ".", ".."):
                shutil.rmtree(workdir, ignore_errors=True)
                raise ValueError(f"input file name {name!r} is not a plain name")
            dest = inputs / name
            shutil.copyfile(src, dest)
            dest.chmod(0o444)
        return workdir

    def _interpret(self, reply: dict[str, Any], job: Job) -> JobResult:
        limits = job.limits
        if "lost" in reply:
            return JobResult.failed(
                "crash", f"the sandbox worker stopped ({reply['lost']}); it will be replaced"
            )
        if "refused" in reply:
            return JobResult.failed("refused", str(reply["refused"]))
        if reply.get("timed_out"):
            result = JobResult.failed(
                "timeout", f"the program ran longer than {limits.wall_s:g} s and was stopped"
            )
        elif reply.get("exceeded") == "output":
            result = JobResult.failed(
                "limit", f"output limit: the program printed more than {limits.file_size_mb} MiB"
            )
        elif reply.get("exceeded"):
            result = JobResult.failed(
                "limit", f"the result was larger than the {3 * limits.file_size_mb} MiB cap"
            )
        elif isinstance(reply.get(ATTACHMENT), bytes):
            result = outcome.accept(reply[ATTACHMENT])  # the job's result
        else:
            result = outcome.crashed(
                job,
                reply.get("exit_code"),
                reply.get("signal"),
                str(reply.get("stderr_tail", "")),
                reply.get("cpu_s"),
            )
        result.stdout_tail = str(reply.get("stdout_tail", ""))
        result.stderr_tail = str(reply.get("stderr_tail", ""))
        result.notes = [*result.notes, *[str(n) for n in reply.get("notes", [])]]
        for key in ("worker_s", "cpu_s", "spare_wait_s"):
            if isinstance(reply.get(key), int | float):
                result.timings[f"sandbox_{key}"] = float(reply[key])
        return result


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(*args, **kwargs)
    except OSError as exc:
        raise SandboxUnavailable(f"cannot start a sandbox worker: {exc}") from exc


def _cleanup(idle: list[WorkerProcess], busy: set[WorkerProcess], base: Path) -> None:
    for worker in [*idle, *busy]:
        try:
            worker.proc.kill()
        except OSError:
            pass
    shutil.rmtree(base, ignore_errors=True)
