"""Inside a job's child, before the program runs: the layers, applied in a fixed order.

Own session and process group; stdio on the worker's capped pipes; a scrubbed environment;
rlimits; a non-root uid (pool started as root); a new user + mount + network namespace with a
size-capped tmpfs as the only writable place; all capabilities dropped; Landlock; seccomp; then an
audit hook that turns the forbidden operations Python knows about into clear PermissionErrors
(the hook is not a boundary, seccomp and Landlock are).  A layer the plan asks for and that fails
raises `LayerFailed`: the job is not run.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from typing import Any

from sandbox import landlock, linux, seccomp
from sandbox.child import apply_limits
from sandbox.wire import Limits

# Besides the job's own dir, the only writable path (programs open it to discard output).
WRITE_PATHS = ("/dev/null",)

# Processes (threads included) a job's uid may have; fork is denied by seccomp anyway.
NPROC = 64

# Audit events Python raises before the operations seccomp would stop, and what to say.
PROCESS_EVENTS = (
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "pty.spawn",
)
NETWORK_EVENTS = (
    "socket.__new__",
    "socket.connect",
    "socket.bind",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
    "socket.sendto",
    "urllib.Request",
    "http.client.connect",
)


class LayerFailed(Exception):
    """A planned layer could not be applied in the child."""

    def __init__(self, layer: str, error: BaseException) -> None:
        super().__init__(f"sandbox layer {layer!r} could not be applied: {error}")
        self.layer = layer


@dataclass(frozen=True)
class Plan:
    """Which job layers to apply, decided by the worker from its probe and the renderer."""

    uid: int | None = None
    namespaces: bool = False
    scratch_mb: int = 0
    landlock_abi: int = 0
    read_paths: tuple[str, ...] = ()
    seccomp_program: bytes | None = None
    lifted: frozenset[str] = frozenset()

    def layers(self) -> list[str]:
        names = []
        if self.uid is not None:
            names.append("uid")
        if self.namespaces:
            names.append("netns")
            if self.scratch_mb:
                names.append("scratch_quota")
        if self.landlock_abi:
            names.append("landlock")
        if self.seccomp_program:
            names.append("seccomp")
        return names


def redirect_stdio(
    stdout_fd: int, stderr_fd: int, result_fd: int, keep: tuple[int, ...] = ()
) -> int:
    """stdin from /dev/null, stdout/stderr to the worker's pipes; every other fd closed.

    `keep` (descriptors above 3, e.g. the pipe to a warm worker's browser that the renderer's
    `keep_fds()` names) stay open.  Returns the result pipe's new number (3).
    """
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(stdout_fd, 1)
    os.dup2(stderr_fd, 2)
    os.dup2(result_fd, 3)
    low = 4
    for fd in sorted(f for f in set(keep) if f >= low):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return 3


def _write(path: str, text: str) -> None:
    # One write(2), as the id-map files want; and Python's buffered text files cost 0.25 ms
    # each to open here, a third of the jail's time.
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        data = text.encode("ascii")
        if os.write(fd, data) != len(data):
            raise OSError(f"short write to {path}")
    finally:
        os.close(fd)


def _become(uid: int) -> None:
    parent = os.getppid()
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    # Not dumpable after a uid change: /proc/self would turn root-owned and the id maps written
    # by `_unshare` could not be.  The job's uid owns nothing else to protect.
    linux.prctl(linux.PR_SET_DUMPABLE, 1)
    # A change of credentials clears the parent-death signal: armed again, or a job whose worker
    # is killed would outlive it (a sleeping one for ever).
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        raise OSError("the worker is gone")


def _unshare(network: bool = True) -> None:
    uid, gid = os.geteuid(), os.getegid()
    linux.unshare(linux.CLONE_NEWUSER | linux.CLONE_NEWNS | (linux.CLONE_NEWNET if network else 0))
    # Map our own ids to themselves, so files we create on our tmpfs have an owner.
    _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
    _write("/proc/self/setgroups", "deny\n")
    _write("/proc/self/gid_map", f"{gid} {gid} 1\n")
    linux.mount("none", "/", None, linux.MS_REC | linux.MS_PRIVATE, None)


def _mount_scratch(scratch_dir: str, scratch_mb: int) -> None:
    linux.mount(
        "tmpfs",
        scratch_dir,
        "tmpfs",
        linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC,
        f"size={scratch_mb}m,mode=0700,nr_inodes=4096",
    )


def enter_early(plan: Plan) -> None:
    """What `enter` may do before a job is known, for a spare child waiting for its job: its
    own session, and the new network namespace (~0.5 ms), that the job then does not wait for.
    (Not the environment: the job's keeps a few of the worker's variables, `PASSTHROUGH_ENV`.)
    A spare of a pool started as root stays root (it makes that namespace as root, owned by the
    host's user namespace, out of the job's reach); otherwise, where the job keeps the worker's
    uid anyway, it makes the job's user and mount namespaces too.  Raises LayerFailed."""
    os.setsid()
    if not plan.namespaces:
        return
    try:
        if plan.uid is not None:
            linux.unshare(linux.CLONE_NEWNET)
        else:
            _unshare()
    except OSError as exc:
        raise LayerFailed("netns", exc) from exc


def enter(
    plan: Plan,
    limits: Limits,
    env: dict[str, str],
    out_dir: str,
    inputs_dir: str,
    early: bool = False,
) -> None:
    """Apply `plan` to this process (a freshly forked child, or a spare that ran
    `enter_early` when `early`); raises LayerFailed."""
    if not early:
        os.setsid()
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    os.environ.clear()
    os.environ.update(env)
    step = "rlimits"
    try:
        apply_limits(limits, NPROC if plan.uid is not None else None)
        if plan.uid is not None:
            step = "uid"
            _become(plan.uid)
        if plan.namespaces:
            step = "netns"
            if not early:
                _unshare()
            elif plan.uid is not None:  # the spare made only its network namespace, as root
                _unshare(network=False)
            if plan.scratch_mb:
                _mount_scratch(out_dir, plan.scratch_mb)
            linux.drop_capabilities()
        os.chdir(out_dir)
        os.makedirs("tmp", exist_ok=True)
        if plan.landlock_abi:
            step = "landlock"
            landlock.restrict(
                (*plan.read_paths, inputs_dir), (out_dir, *WRITE_PATHS), plan.landlock_abi
            )
        if plan.seccomp_program:
            step = "seccomp"
            seccomp.load(plan.seccomp_program)
    except (OSError, ValueError) as exc:
        raise LayerFailed(step, exc) from exc
    install_audit_hook(plan.lifted)


def install_audit_hook(lifted: frozenset[str]) -> None:
    """Clear messages for what Python itself can tell us the program is about to do."""
    blocked: dict[str, str] = {}
    if not lifted & {"fork", "exec"}:
        for event in PROCESS_EVENTS:
            blocked[event] = "the sandbox does not allow starting processes"
    if "socket" not in lifted:
        for event in NETWORK_EVENTS:
            blocked[event] = "the sandbox has no network"

    def hook(event: str, _args: tuple[Any, ...]) -> None:
        reason = blocked.get(event)
        if reason is not None:
            raise PermissionError(f"{reason} ({event})")

    sys.addaudithook(hook)
