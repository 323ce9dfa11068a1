"""One warm worker of the pool: `python -I -m sandbox.worker`, driven by frames on stdin/stdout.

The worker imports each renderer once (and runs its `warm_up`), then forks one child per job and
supervises it: wall-clock timeout, capped stdout/stderr/result pipes, the job's process group
killed at the end, every orphan reaped (the worker is a child subreaper).  It never runs job code
itself: everything a job does happens in the child, after `sandbox.jail.enter`.

At start-up it probes the job layers for real in a throw-away child and reports which are active
and why not; jobs then get exactly the layers that worked (a renderer's `SANDBOX` profile may
relax some, and a job whose renderer relaxes a required layer is refused).
"""

from __future__ import annotations

import functools
import gc
import importlib
import inspect
import json
import os
import resource
import select
import selectors
import signal
import sys
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from sandbox import heap, jail, landlock, layers, linux, mountview, probe, reaping, seccomp
from sandbox.child import execute
from sandbox.jail import LayerFailed, Plan
from sandbox.layers import LayerStatus, Profile
from sandbox.protocol import ChannelClosed, read_frame, widen, write_frame
from sandbox.runner import child_environment
from sandbox.wire import Job, JobResult, Limits

READ_PATHS = (
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/fonts",
    "/var/cache/fontconfig",
    "/sys/devices/system/cpu",
    "/dev/urandom",
    "/dev/zero",
)
SERVICE_CPU_S = 1 << 24
"""CPU seconds of a renderer's long-lived helper: unbounded in effect (it bounds each request)."""
UNBOUNDED_MB = 1 << 30
"""An address-space limit of 1 PiB: none, for a renderer that reserves before it allocates."""
DRAIN_AFTER_EXIT_S = 0.5
EARLY_DRAIN_S = 0.05
# Ends a complete result on the result pipe (the child closes stdout/stderr just before).
RESULT_END = b"\n\x00cocogen-result-end\x00"
# What a spare child writes on its result pipe once it is warm and waiting for its job.
SPARE_READY = b"\x01"
JOB_GC_THRESHOLD = 100_000
"""Allocations between a job's young-generation collections (Python's default: 700).  A job is
a short-lived process forked from a frozen heap: collecting every 700 allocations cost a gallery
chart ~1.9 ms on average; at 100,000, +1.5% charts/s over 41 gallery charts (one worker), and a
program that makes garbage in cycles still has it collected every 100,000 allocations.
"""
SPARE_WAIT_S = 2.0
"""How long a job waits for a spare still warming up before a fresh child is forked instead."""
SPARES_AHEAD = 2
"""Spares kept forked ahead: the one for the next job, and the one after it.  Each job still
costs one fork and warm-up; the second spare starts one job earlier, so a short job after a
long one finds its spare ready (41 gallery charts, one worker: 0.2 ms of waiting a chart
against 3.2 ms with one spare ahead), for one more idle spare's own pages (32 MiB)."""


@dataclass
class Renderer:
    module: ModuleType
    render: Any
    profile: Profile
    preloaded: bool = False
    warmed: bool = False
    error: str = ""
    own_dirs: tuple[str, ...] = ()
    """Where the renderer's top-level package lives (real paths): fixed, so found once."""
    spare_pages: bytes = b""
    """The pages a spare's `warm_spare` made its own (`heap.written_pages`), listed by the first
    spare that reported them: later spares copy these and call `refresh_spare` instead."""


@dataclass
class Spare:
    """A child forked ahead of its job (see `Worker.fork_spare`): warm, outside the jail, blocked
    on `control` until the worker sends it a job."""

    entry: str
    pid: int
    pidfd: int
    control: int
    """The write end the job goes down (-1 once it has been sent)."""
    fds: list[int]
    """Read ends: result, stdout, stderr."""
    listing: int = -1
    """Read end of the pipe a spare that draws its warm-up lists its pages down (-1: none)."""


class Tail:
    """Keeps the last `limit` bytes written to a stream, and how many were written in all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def _log(message: str) -> None:
    print(f"[worker {os.getpid()}] {message}", file=sys.stderr, flush=True)


def package_dirs(names: list[str]) -> list[str]:
    """Where the given top-level packages live (editable installs map them anywhere)."""
    import importlib.util

    found = []
    for name in names:
        spec = importlib.util.find_spec(name.split(".")[0])
        if spec is None:
            continue
        found += list(spec.submodule_search_locations or [])
        if spec.origin and spec.origin not in ("built-in", "frozen"):
            found.append(os.path.dirname(spec.origin))
    return found


class Worker:
    def __init__(self, config: dict[str, Any], proto_in: int, proto_out: int) -> None:
        self.config = config
        self.proto_in = proto_in
        self.proto_out = proto_out
        self.slot = int(config.get("slot", 0))
        self.base_dir = str(config["base_dir"])
        self.cache_dir = Path(config["cache_dir"])
        self.want = set(config.get("layers", layers.JOB_LAYERS))
        self.require = list(config.get("require", []))
        self.renderers: dict[str, Renderer] = {}
        self.status: dict[str, LayerStatus] = {}
        self.plan = Plan()
        self.filters: dict[frozenset[str], bytes] = {}
        self.read_paths: tuple[str, ...] = ()
        self.jobs = 0
        self.zombies: list[int] = []
        """pidfds of earlier jobs' killed children, still being torn down."""
        self.leftovers: list[Path] = []
        """Dirs of earlier jobs, removed once their processes are gone (`tidy`)."""
        self.spares: list[Spare] = []
        """Oldest first: the next job's is `spares[0]`."""

    # -- start-up --------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        os.chdir("/")
        unkept = heap.keep_heap()  # before anything is forked: children inherit it
        if unkept:
            _log(f"heap settings not applied ({unkept}): jobs fault in more fresh pages")
        sys.path[:0] = [str(p) for p in self.config.get("python_path", [])]
        try:
            linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
            self.status["orphan_reaping"] = LayerStatus(
                True, "the worker is a child subreaper and reaps every orphan"
            )
        except OSError as exc:
            self.status["orphan_reaping"] = LayerStatus(False, f"PR_SET_CHILD_SUBREAPER: {exc}")
        for entry in self.config.get("preload", []):
            self.renderer(entry)
        self.read_paths = self._read_paths()
        uid = self._prepare_uid()
        self.plan = self._probe(uid)
        if self.config.get("warm", False):
            for renderer in list(self.renderers.values()):
                self._warm(renderer)
        gc.freeze()
        return {
            "pid": os.getpid(),
            "uid": self.plan.uid,
            "layers": {k: v.to_dict() for k, v in self.status.items()},
        }

    def _read_paths(self) -> tuple[str, ...]:
        paths = list(READ_PATHS)
        paths += [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
        paths += [p for p in sys.path if p and os.path.isabs(p)]
        paths += package_dirs(["sandbox", *[e.split(":")[0] for e in self.renderers]])
        paths.append(str(self.cache_dir))
        for renderer in self.renderers.values():
            paths += renderer.profile.read_paths
        unique: list[str] = []
        for path in paths:
            real = os.path.realpath(path)
            if os.path.exists(real) and real not in unique:
                unique.append(real)
        return tuple(unique)

    def _prepare_uid(self) -> int | None:
        if "uid" not in self.want:
            self.status["uid"] = LayerStatus(False, "turned off for this pool")
            return None
        uid = self.config.get("uid")
        if os.geteuid() != 0 or uid is None:
            self.status["uid"] = LayerStatus(
                False,
                f"the pool runs as uid {os.geteuid()}, not root: jobs keep that uid "
                "(seccomp denies new processes instead of RLIMIT_NPROC)",
            )
            return None
        try:
            covered = mountview.build([*self.read_paths, self.base_dir])
        except OSError as exc:
            self.status["uid"] = LayerStatus(
                False, f"cannot build a mount view for a non-root uid: {exc}"
            )
            return None
        detail = f"one non-root uid per worker slot (slot {self.slot}: uid {uid})"
        if covered:
            detail += f" (made reachable: {', '.join(covered)} via a private mount view)"
        self.status["uid"] = LayerStatus(True, detail)
        return int(uid)

    def seccomp_program(self, lifted: frozenset[str]) -> bytes:
        if lifted not in self.filters:
            self.filters[lifted] = seccomp.compile_filter(lifted)
        return self.filters[lifted]

    def _probe(self, uid: int | None) -> Plan:
        """Try each job layer in a throw-away child; the plan keeps the ones that held."""
        abi = landlock.abi_version() if "landlock" in self.want else 0
        program: bytes | None = None
        seccomp_error = ""
        if "seccomp" in self.want:
            try:
                program = self.seccomp_program(frozenset())
            except (OSError, ValueError) as exc:
                seccomp_error = str(exc)
        candidate = Plan(
            uid=uid,
            namespaces="netns" in self.want,
            scratch_mb=64 if "scratch_quota" in self.want else 0,
            landlock_abi=abi,
            read_paths=self.read_paths,
            seccomp_program=program,
        )
        report = self._run_probe(candidate)
        for name in ("rlimits", *layers.JOB_LAYERS):
            if name in report:
                ok, detail = report[name]
                if ok and name == "uid":
                    detail = self.status["uid"].detail  # says what the mount view made reachable
                self.status[name] = LayerStatus(bool(ok), str(detail))
        if "landlock" in self.want and abi == 0:
            self.status["landlock"] = LayerStatus(
                False, "the kernel has no Landlock (needs Linux >= 5.13 with landlock enabled)"
            )
        if program is None:
            reason = seccomp_error or "turned off for this pool"
            self.status["seccomp"] = LayerStatus(False, reason)
        for name in layers.JOB_LAYERS:
            self.status.setdefault(name, LayerStatus(False, "turned off for this pool"))
        active = {n for n, s in self.status.items() if s.active}
        return Plan(
            uid=uid if "uid" in active else None,
            namespaces="netns" in active,
            scratch_mb=64 if "scratch_quota" in active else 0,
            landlock_abi=abi if "landlock" in active else 0,
            read_paths=self.read_paths,
            seccomp_program=program if "seccomp" in active else None,
        )

    def _run_probe(self, plan: Plan) -> dict[str, tuple[bool, str]]:
        probe_dir = Path(self.base_dir) / f"probe-{self.slot}-{os.getpid()}"
        out_dir, inputs_dir = probe_dir / "out", probe_dir / "inputs"
        out_dir.mkdir(parents=True, exist_ok=True)
        inputs_dir.mkdir(exist_ok=True)
        probe_dir.chmod(0o711)
        if plan.uid is not None:
            os.chown(out_dir, plan.uid, plan.uid)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forked child
            os.close(read_fd)
            code = 1
            try:
                found = probe.probe_layers(plan, str(out_dir), str(inputs_dir))
                os.write(write_fd, json.dumps(found).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        chunks = []
        while chunk := os.read(read_fd, 65536):
            chunks.append(chunk)
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
        _remove(probe_dir)
        try:
            report: dict[str, tuple[bool, str]] = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            report = {}
        if not report:
            detail = f"the probe child died (status {status})"
            return {name: (False, detail) for name in ("rlimits", *layers.JOB_LAYERS)}
        return report

    # -- renderers -------------------------------------------------------------------------

    def renderer(self, entry: str) -> Renderer:
        if entry in self.renderers:
            return self.renderers[entry]
        module_name, _, attr = entry.partition(":")
        try:
            module = importlib.import_module(module_name)
            func = getattr(module, attr)
            own = tuple(map(os.path.realpath, package_dirs([module.__name__])))
            renderer = Renderer(module, func, Profile.of(module), own_dirs=own)
        except Exception as exc:  # noqa: BLE001 - reported as the job's failure
            renderer = Renderer(
                ModuleType(module_name), None, Profile(), error=f"{type(exc).__name__}: {exc}"
            )
        self.renderers[entry] = renderer
        return renderer

    def _preload(self, renderer: Renderer) -> None:
        if renderer.preloaded:
            return
        renderer.preloaded = True
        for name in renderer.profile.preload:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the job will say what is missing
                _log(f"preload of {name} failed:\n{traceback.format_exc()}")

    def _warm(self, renderer: Renderer) -> None:
        self._preload(renderer)
        if renderer.warmed or renderer.render is None:
            return
        renderer.warmed = True
        warm_up = getattr(renderer.module, "warm_up", None)
        if callable(warm_up):
            try:
                if "confine" in inspect.signature(warm_up).parameters:
                    warm_up(confine=functools.partial(self.confine_service, renderer))
                else:
                    warm_up()
            except Exception:  # noqa: BLE001 - a failed warm-up only costs speed
                _log(f"warm_up of {renderer.module.__name__} failed:\n{traceback.format_exc()}")
        gc.collect()
        gc.freeze()

    def confine_service(self, renderer: Renderer) -> None:  # pragma: no cover - in the service
        """Jail a long-lived helper process a renderer forked from this worker (vl-convert's
        engine, say): the job layers of the renderer's plan, with no CPU or address-space limit
        (it serves many jobs; the renderer bounds each request), its own empty dir to write to.
        Call it in the forked process, before it reads anything a job sent."""
        plan = self.plan_for(renderer)
        home = Path(self.base_dir) / f"service-{self.slot}-{os.getpid()}"
        home.mkdir(parents=True, exist_ok=True)
        (home / "tmp").mkdir(exist_ok=True)
        if plan.uid is not None:
            for path in (home, home / "tmp"):
                os.chown(path, plan.uid, plan.uid)
        env = child_environment(home, self.cache_dir, home=home, tmpdir=home / "tmp")
        limits = Limits(cpu_s=SERVICE_CPU_S, address_space_mb=UNBOUNDED_MB)
        jail.enter(replace(plan, scratch_mb=0), limits, env, str(home), str(home))

    def ready(self, renderer: Renderer) -> None:
        """A renderer's `ready()` hook, in the worker before each job (restarts its helpers)."""
        ready = getattr(renderer.module, "ready", None)
        if callable(ready) and renderer.warmed:
            try:
                ready()
            except Exception:  # noqa: BLE001 - the job then reports what is missing
                _log(f"ready() of {renderer.module.__name__} failed:\n{traceback.format_exc()}")

    def plan_for(self, renderer: Renderer) -> Plan:
        profile = renderer.profile
        plan = self.plan
        # The renderer's own package stays readable: it may import its siblings lazily in the job
        # (renderers.html → renderers.svg), and a plugin's package is not known at start-up.
        own = [real for real in renderer.own_dirs if real not in plan.read_paths]
        if own:
            plan = replace(plan, read_paths=(*plan.read_paths, *own))
        if not profile.skip and not profile.seccomp_allow:
            return plan
        program = plan.seccomp_program
        if program is not None and profile.seccomp_allow:
            program = self.seccomp_program(profile.seccomp_allow)
        return replace(
            plan,
            uid=None if "uid" in profile.skip else plan.uid,
            namespaces=plan.namespaces and "netns" not in profile.skip,
            scratch_mb=0 if "scratch_quota" in profile.skip else plan.scratch_mb,
            landlock_abi=0 if "landlock" in profile.skip else plan.landlock_abi,
            read_paths=(*plan.read_paths, *profile.read_paths),
            seccomp_program=None if "seccomp" in profile.skip else program,
            lifted=profile.seccomp_allow,
        )

    # -- jobs ------------------------------------------------------------------------------

    def loop(self) -> None:
        try:
            self._loop()
        finally:
            self.drop_spares()
            self.tidy(until_host_writes=False)

    def _loop(self) -> None:
        while True:
            try:
                frame = read_frame(self.proto_in)
            except ChannelClosed:
                return
            if frame.get("op") == "exit":
                return
            reply = self.serve(frame)
            try:
                write_frame(self.proto_out, reply, reply.pop("result", None))
            except ChannelClosed:
                return
            # The job's teardown overlaps with the host reading the reply, and gives way to the
            # next job as soon as it arrives.
            self.leftovers.append(Path(frame["workdir"]))
            self.tidy(until_host_writes=True)
            # Warm-ups put off for the first job happen now, while the host reads the reply.
            for renderer in list(self.renderers.values()):
                if renderer.preloaded and not renderer.warmed:
                    self._warm(renderer)

    def serve(self, frame: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        job = Job.from_json(frame["job"])
        workdir = Path(frame["workdir"])
        renderer = self.renderer(job.renderer)
        if renderer.render is None:
            return {
                "result": JobResult.failed(
                    "error", f"renderer {job.renderer} cannot be loaded: {renderer.error}"
                )
                .to_json()
                .encode("utf-8")
            }
        relaxed = [n for n in renderer.profile.relaxed() if n in self.require]
        if relaxed:
            return {
                "refused": (
                    f"renderer {job.renderer} runs without the required sandbox layer(s) "
                    f"{', '.join(relaxed)}"
                )
            }
        if renderer.profile.defer_warm_up and not self.config.get("warm", False):
            self._preload(renderer)  # and warm_up after the reply
        else:
            self._warm(renderer)
        self.ready(renderer)
        plan = self.plan_for(renderer)
        reply = self._start_and_supervise(job, workdir, renderer, plan, bool(frame.get("spare")))
        reply["layers"] = plan.layers()
        note = renderer.profile.note()
        reply["notes"] = [note] if note else []
        reply["worker_s"] = round(time.perf_counter() - started, 4)
        reply["rss_kb"] = _rss_kb()
        self.jobs += 1
        return reply

    def _start_and_supervise(
        self, job: Job, workdir: Path, renderer: Renderer, plan: Plan, want_spare: bool
    ) -> dict[str, Any]:
        """Run the job in the spare child when one is warm for its renderer (a fresh fork
        otherwise), fork the next spare while it runs, and supervise it.  Earlier jobs' teardown
        is finished once this one runs: it is not this job's to wait for."""
        waited = time.perf_counter()
        spare = self._take_spare(job.renderer)
        if spare is not None and not self._hand_over(spare, job, workdir):
            spare = None
        waited = time.perf_counter() - waited
        if spare is not None:
            pid, pidfd, fds = spare.pid, spare.pidfd, spare.fds
        else:
            pid, pidfd, fds = self._fork_job(job, workdir, renderer, plan)
        # The earlier job's teardown first, then the spares' forks: one at a time beside the
        # job's own start (on two cores, the fork slowed the job's waking and jail by ~1 ms).
        self.tidy(until_host_writes=False, job_running=True)
        if want_spare and callable(getattr(renderer.module, "warm_spare", None)):
            # Forked now, they warm up on another core while this job runs.
            while len(self.spares) < SPARES_AHEAD:
                self.fork_spare(job.renderer, renderer)
            self._hurry(self.spares[0])
        reply = self._supervise(pid, pidfd, job, fds, plan)
        if spare is not None:
            reply["spare_wait_s"] = round(waited, 4)
        return reply

    def _fork_job(
        self, job: Job, workdir: Path, renderer: Renderer, plan: Plan
    ) -> tuple[int, int, list[int]]:
        pipes = [os.pipe() for _ in range(3)]  # result, stdout, stderr
        widen(pipes[0][0])
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forked child
            _child(job, workdir, renderer, plan, self.cache_dir, pipes)
        for _, write_end in pipes:
            os.close(write_end)
        return pid, os.pidfd_open(pid), [read_end for read_end, _ in pipes]

    # -- spare children --------------------------------------------------------------------

    def fork_spare(self, entry: str, renderer: Renderer) -> None:
        """Fork a child for the next job now and let it run the renderer's `warm_spare()`.

        A forked child pays for every page it writes that it shares with the worker (touching a
        Python object writes its refcount), ~20 ms for a simple chart; the spare pays that while
        the worker is busy with another job, on another core.  It is our own code: warmed up, it
        makes its network namespace (`jail.enter_early`), says it is ready, and enters the rest
        of the jail once its job arrives, ending where a freshly forked child ends."""
        pipes = [os.pipe() for _ in range(3)]  # result, stdout, stderr
        widen(pipes[0][0])
        control_read, control_write = os.pipe()
        listing = (-1, -1)
        if not renderer.spare_pages and callable(getattr(renderer.module, "refresh_spare", None)):
            listing = os.pipe()
            widen(listing[0])
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forked child
            os.close(control_write)
            if listing[0] >= 0:
                os.close(listing[0])
            _spare(self, renderer, control_read, pipes, listing[1])
        os.close(control_read)
        if listing[1] >= 0:
            os.close(listing[1])
        for _, write_end in pipes:
            os.close(write_end)
        reads = [read_end for read_end, _ in pipes]
        spare = Spare(entry, pid, os.pidfd_open(pid), control_write, reads, listing[0])
        self.spares.append(spare)

    def _take_spare(self, entry: str) -> Spare | None:
        """The oldest spare, once it says it is warm, if the spares were forked for this
        renderer (all of them are dropped otherwise)."""
        if self.spares and self.spares[0].entry != entry:
            self.drop_spares()
        if not self.spares:
            return None
        spare = self.spares.pop(0)
        self._hurry(spare)  # its job is waiting for it now
        ready, _, _ = select.select([spare.fds[0]], [], [], SPARE_WAIT_S)
        try:
            marker = os.read(spare.fds[0], len(SPARE_READY)) if ready else b""
        except OSError:
            marker = b""
        if marker != SPARE_READY:
            self._discard(spare)
            return None
        if spare.listing >= 0:
            self._learn_pages(spare)
        return spare

    def _learn_pages(self, spare: Spare) -> None:
        """The pages a ready spare listed, for the spares forked from now on (once a renderer)."""
        renderer = self.renderers.get(spare.entry)
        try:
            if renderer is not None and not renderer.spare_pages:
                renderer.spare_pages = _read_listing(spare.listing)
        finally:
            os.close(spare.listing)
            spare.listing = -1

    @staticmethod
    def _hurry(spare: Spare) -> None:
        """A spare still warming up (at idle priority in a root pool) goes on at normal
        priority: the next job's, or one a job waits for."""
        ready, _, _ = select.select([spare.fds[0]], [], [], 0)
        if not ready:
            _normal_priority(spare.pid)

    def _hand_over(self, spare: Spare, job: Job, workdir: Path) -> bool:
        """Send the job to the spare; False (and the spare discarded) when it is gone."""
        try:
            write_frame(spare.control, {"job": job.to_json(), "workdir": str(workdir)})
        except ChannelClosed:
            self._discard(spare)
            return False
        os.close(spare.control)
        spare.control = -1
        return True

    def drop_spares(self) -> None:
        spares, self.spares = self.spares, []
        for spare in spares:
            self._discard(spare)

    def _discard(self, spare: Spare) -> None:
        # Through its pidfd: if the spare died and was reaped already, its pid may be another
        # process's by now.
        try:
            signal.pidfd_send_signal(spare.pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitid(os.P_PIDFD, spare.pidfd, os.WEXITED)
        except ChildProcessError:
            pass  # already reaped
        for fd in (spare.pidfd, spare.control, spare.listing, *spare.fds):
            if fd >= 0:
                os.close(fd)

    def _supervise(
        self, pid: int, pidfd: int, job: Job, fds: list[int], plan: Plan
    ) -> dict[str, Any]:
        limits = job.limits
        result_fd, out_fd, err_fd = fds
        output_cap = limits.file_size_mb * 1024 * 1024
        result_cap = 3 * output_cap + (8 << 20)
        result = bytearray()
        tails = {out_fd: Tail(limits.output_tail_bytes), err_fd: Tail(limits.output_tail_bytes)}
        exceeded = ""
        timed_out = False
        selector = selectors.DefaultSelector()
        for fd in (*fds, pidfd, self.proto_in):
            selector.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + limits.wall_s
        exited = False
        host_gone = False
        open_fds = set(fds)

        def read(fd: int) -> None:
            nonlocal exceeded
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:
                return
            if not chunk:
                selector.unregister(fd)
                open_fds.discard(fd)
                return
            if fd == result_fd:
                result.extend(chunk)
                if len(result) > result_cap and not exceeded:
                    exceeded = "result"
            else:
                tails[fd].add(chunk)
                if tails[out_fd].total + tails[err_fd].total > output_cap and not exceeded:
                    exceeded = "output"

        def complete() -> bool:
            return result_fd not in open_fds and result.endswith(RESULT_END)

        while not exited and not exceeded and not host_gone and not complete():
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                timed_out = True
                break
            for key, _ in selector.select(timeout):
                fd = int(key.fd)
                if fd == pidfd:
                    exited = True
                elif fd == self.proto_in:
                    host_gone = True
                else:
                    read(fd)
        reaping.kill_group(pid)
        # A complete result from a job that could not start processes: the child is killed and
        # torn down in the background (reaped before the next fork); nothing waits for it.
        # A job that could fork is reaped now (its processes are cleaned up below); when its result
        # was complete before it exited, our own SIGKILL above is not its failure.
        early = complete() and not exited
        status, usage = 0, None
        if not early or self.could_fork(plan):
            _, status, usage = os.wait4(pid, 0)
            os.close(pidfd)
        else:
            self.zombies.append(pidfd)
        # What the child wrote is in the pipes (unless a process it left holds them open).
        for fd in open_fds:
            os.set_blocking(fd, False)
        drain_until = time.monotonic() + (EARLY_DRAIN_S if early else DRAIN_AFTER_EXIT_S)
        while open_fds and not exceeded and time.monotonic() < drain_until:
            for key, _ in selector.select(max(0.0, drain_until - time.monotonic())):
                fd = int(key.fd)
                if fd in open_fds:
                    read(fd)
        selector.close()
        for fd in fds:
            os.close(fd)
        self._clean_up(plan)
        if host_gone:
            raise SystemExit(0)
        reply: dict[str, Any] = {
            "exit_code": 0 if early else (os.WEXITSTATUS(status) if os.WIFEXITED(status) else None),
            "signal": os.WTERMSIG(status) if not early and os.WIFSIGNALED(status) else None,
            "timed_out": timed_out,
            "exceeded": exceeded,
            "stdout_tail": tails[out_fd].text(),
            "stderr_tail": tails[err_fd].text(),
        }
        if usage is not None:
            reply["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 4)
            reply["maxrss_kb"] = usage.ru_maxrss
        if not timed_out and not exceeded and reply["exit_code"] == 0 and complete():
            reply["result"] = bytes(result[: -len(RESULT_END)])
        return reply

    @staticmethod
    def could_fork(plan: Plan) -> bool:
        return plan.seccomp_program is None or bool(plan.lifted & {"fork", "exec"})

    def tidy(self, until_host_writes: bool, job_running: bool = False) -> None:
        """Reap earlier jobs' killed children, then remove their dirs.  A dir goes once its job's
        processes are gone: before, the kernel may still be taking down the job's namespaces and
        the tmpfs mounted on that dir (removing it then takes ~3 ms).  A child takes ~5 ms to be
        torn down; with `until_host_writes` this gives way as soon as the host sends a frame, so
        that the next job never waits for it (it is finished after that job is handed over).
        Orphans are reaped too, but not while a job runs (`job_running`): reaping any child
        could take the running job's own, whose exit `_supervise` waits for."""
        while self.zombies:
            watched = [*self.zombies, self.proto_in] if until_host_writes else self.zombies
            ready, _, _ = select.select(watched, [], [])
            if until_host_writes and self.proto_in in ready:
                return
            for pidfd in [z for z in self.zombies if z in ready]:
                try:  # through the pidfd: reaped already, its pid may be another process's
                    os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
                except ChildProcessError:
                    pass
                os.close(pidfd)
                self.zombies.remove(pidfd)
        if not job_running:
            reaping.reap()
        for path in self.leftovers:
            _remove(path)
        self.leftovers.clear()

    def _clean_up(self, plan: Plan) -> None:
        """Nothing a job started may outlive it."""
        if self.could_fork(plan):
            if plan.uid is not None:
                reaping.kill_uid(plan.uid)
            reaping.kill_orphans(keep={spare.pid for spare in self.spares})
        reaping.reap()


def _child(
    job: Job,
    workdir: Path,
    renderer: Renderer,
    plan: Plan,
    cache_dir: Path,
    pipes: list[tuple[int, int]],
    warmed: tuple[int, ...] = (),
    early: bool = False,
) -> None:  # pragma: no cover - runs in the forked child
    """Run one job in this forked child (or spare, which hands on the descriptors its warm-up
    opened for the job, `warmed`, and has made its network namespace, `early`): jail, render,
    write the result, exit."""
    code = 70
    try:
        out_dir, inputs_dir = workdir / "out", workdir / "inputs"
        env = child_environment(workdir, cache_dir, home=out_dir, tmpdir=out_dir / "tmp")
        for read_end, _ in pipes:
            os.close(read_end)
        keep_fds = getattr(renderer.module, "keep_fds", None)
        keep = (*(keep_fds() if callable(keep_fds) else ()), *warmed)
        result_fd = jail.redirect_stdio(pipes[1][1], pipes[2][1], pipes[0][1], keep)
        gc.set_threshold(JOB_GC_THRESHOLD, *gc.get_threshold()[1:])
        entered = time.perf_counter()
        prepare = getattr(renderer.module, "prepare", None)
        reserves = callable(prepare) and getattr(renderer.module, "UNLIMITED_ADDRESS_SPACE", False)
        # V8 (renderers/vegalite.py) reserves tens of GiB of address space when its engine starts:
        # the job enters the jail without RLIMIT_AS, `prepare` starts the engine inside it, and
        # the limit then applies on top of what the engine reserved.
        limits = replace(job.limits, address_space_mb=UNBOUNDED_MB) if reserves else job.limits
        try:
            jail.enter(plan, limits, env, str(out_dir), str(inputs_dir), early)
        except LayerFailed as exc:
            result = JobResult.failed("refused", f"{exc}; the job was not run")
        else:
            jailed = time.perf_counter()
            try:
                adjusted = prepare(job) if callable(prepare) else None
                if reserves:
                    space = (adjusted or job.limits).address_space_mb * 1024 * 1024
                    resource.setrlimit(resource.RLIMIT_AS, (space, space))
            except Exception as exc:  # noqa: BLE001 - reported as the job's failure
                result = JobResult.failed("error", f"renderer failed to start: {exc}")
            else:
                result = execute(job, workdir, renderer.render)
            result.timings["jail_s"] = round(jailed - entered, 4)
        data = result.to_packed() + RESULT_END
        sys.stdout.flush()
        sys.stderr.flush()
        os.close(1)
        os.close(2)
        view = memoryview(data)
        while view:
            view = view[os.write(result_fd, view) :]
        os.close(result_fd)
        code = 0
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        finally:
            os._exit(code)


def _spare(
    worker: Worker, renderer: Renderer, control: int, pipes: list[tuple[int, int]], listing: int
) -> None:  # pragma: no cover - runs in the forked spare
    """A spare child: warm up, make its network namespace, say so, wait for the job, then run
    it as `_child` does.  It warms up with `warm_spare` or, once an earlier spare has listed the
    pages its `warm_spare` wrote, by copying those pages and calling `refresh_spare`.  Given a
    `listing` pipe, it lists its own pages down it (see `sandbox.heap`)."""
    code = 70
    try:
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        quiet = _idle_priority()
        os.close(worker.proto_in)
        os.close(worker.proto_out)
        for older in worker.spares:  # the worker's ends of the spares forked before this one
            for fd in (older.pidfd, older.control, older.listing, *older.fds):
                if fd >= 0:
                    os.close(fd)
        # Descriptors 0-3 become the job's stdio and result pipe (jail.redirect_stdio): taken
        # now, so that nothing the warm-up opens and hands on to the job lands on them.
        while (placeholder := os.open(os.devnull, os.O_RDONLY)) < 4:
            pass
        os.close(placeholder)
        listed = bool(renderer.spare_pages) and heap.own_pages(renderer.spare_pages) > 0
        hook = "refresh_spare" if listed else "warm_spare"
        try:
            kept = tuple(getattr(renderer.module, hook)() or ())
            if listing >= 0:
                _write_listing(listing, heap.written_pages())
        except Exception:  # noqa: BLE001 - a failed warm-up only costs speed
            # Never ready: the worker discards this spare and forks the job afresh.
            _log(f"{hook} of {renderer.module.__name__} failed:\n{traceback.format_exc()}")
            code = 0
            return
        heap.prefault()  # pages for the job's allocations, made ours while the worker is busy
        plan = worker.plan_for(renderer)
        try:
            jail.enter_early(plan)  # its network namespace: not the job's to wait for
        except LayerFailed as exc:
            _log(f"a spare could not enter {exc.layer}: {exc}")  # the job is forked afresh
            code = 0
            return
        if quiet and not _normal_priority(0):
            code = 0  # never ready: the job must not run at idle priority
            return
        os.write(pipes[0][1], SPARE_READY)
        try:
            frame = read_frame(control)
        except ChannelClosed:
            code = 0  # dropped: the worker is recycled, or the next job wants another renderer
            return
        os.close(control)
        job = Job.from_json(frame["job"])
        workdir = Path(frame["workdir"])
        _child(job, workdir, renderer, plan, worker.cache_dir, pipes, kept, early=True)
    finally:
        os._exit(code)


def _write_listing(fd: int, pages: bytes) -> None:  # pragma: no cover - in the spare
    """`pages` with its length ahead, written without waiting: the worker reads it only once
    this spare is ready, so a write that waited for room would never end.  What the pipe could
    not take whole, the worker's `_read_listing` drops."""
    os.set_blocking(fd, False)
    try:
        os.write(fd, len(pages).to_bytes(8, "big") + pages)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)


def _read_listing(fd: int) -> bytes:
    """What `_write_listing` wrote (its spare is ready: it is all there), or b"" when it is not
    whole."""
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    data = b"".join(chunks)
    size = int.from_bytes(data[:8], "big")
    return data[8:] if len(data) == 8 + size else b""


def _idle_priority() -> bool:
    """In a spare of a root pool: warm up at idle priority (SCHED_IDLE), on time no job, host or
    worker wants.  On two cores a spare warms up beside the running job, then meets the host's
    check of its result and the next job's start: at normal priority it took a share of their
    time.  Only root can go back to normal priority (`_normal_priority`), so only root spares
    go idle."""
    if os.geteuid() != 0:
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (OSError, AttributeError):
        return False
    return True


def _normal_priority(pid: int) -> bool:
    """Back to normal priority: a spare once warm (pid 0), or one its job is waiting for."""
    try:
        os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
    except (OSError, AttributeError):
        return False
    return True


def _rss_kb() -> int:
    try:  # os.open: a buffered text file costs this worker ~0.2 ms to open, on every job
        fd = os.open("/proc/self/statm", os.O_RDONLY)
        try:
            statm = os.read(fd, 256)
        finally:
            os.close(fd)
        return int(statm.split()[1]) * heap.PAGE // 1024
    except (OSError, ValueError, IndexError):
        return 0


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def main() -> int:
    # The protocol gets private descriptors; fd 1 becomes the log, so a stray print (from a
    # renderer's warm-up, say) cannot corrupt a frame.
    proto_in, proto_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    try:
        config = read_frame(proto_in)
        worker = Worker(config, proto_in, proto_out)
        hello = worker.start()
    except Exception as exc:  # noqa: BLE001 - the host shows this line
        try:
            write_frame(proto_out, {"error": f"{type(exc).__name__}: {exc}"})
        except ChannelClosed:
            pass
        _log(traceback.format_exc())
        return 1
    write_frame(proto_out, hello)
    try:
        worker.loop()
    except SystemExit:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
