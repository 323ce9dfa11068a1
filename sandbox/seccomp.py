"""seccomp: the system calls a job may not make, compiled once by libseccomp, loaded per job.

libseccomp (Debian `libseccomp2`) is called through ctypes, so the sandbox stays stdlib-only and
needs no Python binding (PyPI `pyseccomp` is a ctypes wrapper over the same library; Debian's
`python3-seccomp` lives outside the virtualenv).  The worker compiles the filter once and exports
it as raw BPF; each job's child loads those bytes with one `prctl` (microseconds instead of the
~2 ms libseccomp needs to compile).

The filter allows by default and denies by group.  Groups a renderer may lift (see
`sandbox.layers.Profile`): `exec`, `fork`, `socket`.  Denied process creation, exec and the
kernel-level calls kill the process (SIGSYS), so a program cannot carry on pretending it worked;
`socket` fails with EPERM (Python raises PermissionError); `clone3` returns ENOSYS so that glibc
falls back to `clone`, where threads (CLONE_THREAD) stay allowed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from collections.abc import Iterable

from sandbox import linux

ACT_KILL_PROCESS = 0x80000000
ACT_ALLOW = 0x7FFF0000


def act_errno(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


CMP_MASKED_EQ = 7

# group -> syscalls; every group is denied unless a renderer lifts it.
GROUPS: dict[str, tuple[str, ...]] = {
    "exec": ("execve", "execveat"),
    "fork": ("fork", "vfork"),  # and clone without CLONE_THREAD, see compile_filter
    "socket": ("socket", "socketpair"),
    "ptrace": ("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd"),
    "mount": (
        "mount",
        "umount2",
        "pivot_root",
        "chroot",
        "move_mount",
        "open_tree",
        "fsopen",
        "fsmount",
        "fsconfig",
        "fspick",
        "mount_setattr",
    ),
    "namespaces": ("unshare", "setns"),
    "bpf": ("bpf", "perf_event_open", "userfaultfd"),
    "kernel": (
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "reboot",
        "swapon",
        "swapoff",
        "acct",
        "quotactl",
        "syslog",
        "iopl",
        "ioperm",
        "keyctl",
        "add_key",
        "request_key",
        "open_by_handle_at",
        "name_to_handle_at",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
    ),
}
LIFTABLE = frozenset({"exec", "fork", "socket"})


class _ArgCmp(ctypes.Structure):
    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise OSError(
            errno.ENOENT, "libseccomp is not installed (apt-get install libseccomp2)"
        ) from exc
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def compile_filter(lifted: Iterable[str] = ()) -> bytes:
    """The BPF program (raw `struct sock_filter` array) denying every group not in `lifted`."""
    lifted = set(lifted)
    unknown = lifted - LIFTABLE
    if unknown:
        raise ValueError(f"seccomp groups {sorted(unknown)} cannot be lifted")
    lib = _library()
    ctx = lib.seccomp_init(ACT_ALLOW)
    if not ctx:
        raise OSError(errno.ENOMEM, "seccomp_init failed")
    try:

        def add(name: str, action: int, *cmps: _ArgCmp) -> None:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:  # not on this architecture
                return
            array = (_ArgCmp * max(1, len(cmps)))(*cmps)
            rc = lib.seccomp_rule_add_array(ctx, action, number, len(cmps), array)
            if rc < 0:
                raise OSError(-rc, f"seccomp rule for {name}: {os.strerror(-rc)}")

        for group, names in GROUPS.items():
            if group in lifted:
                continue
            action = act_errno(errno.EPERM) if group == "socket" else ACT_KILL_PROCESS
            for name in names:
                add(name, action)
        if "fork" not in lifted:
            # New processes, not threads: clone without CLONE_THREAD (x86_64/arm64: flags = arg0).
            add("clone", ACT_KILL_PROCESS, _ArgCmp(0, CMP_MASKED_EQ, linux.CLONE_THREAD, 0))
            # clone3 passes flags in a struct seccomp cannot read: make glibc fall back to clone.
            add("clone3", act_errno(errno.ENOSYS))
        read_fd, write_fd = os.pipe()
        try:
            rc = lib.seccomp_export_bpf(ctx, write_fd)
            if rc < 0:
                raise OSError(-rc, f"seccomp_export_bpf: {os.strerror(-rc)}")
            os.close(write_fd)
            write_fd = -1
            chunks = []
            while chunk := os.read(read_fd, 65536):
                chunks.append(chunk)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        return b"".join(chunks)
    finally:
        lib.seccomp_release(ctx)


def load(program: bytes) -> None:
    """Install a compiled filter on this (single-threaded) process; irreversible."""
    if not program or len(program) % 8:
        raise ValueError("not a BPF program")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    linux.prctl(
        linux.PR_SET_SECCOMP,
        linux.SECCOMP_MODE_FILTER,
        ctypes.addressof(fprog),
    )
