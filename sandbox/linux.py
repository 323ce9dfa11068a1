"""Thin ctypes bindings to the Linux calls the sandbox needs and Python 3.11 does not expose.

prctl, unshare, mount, capset and the raw `syscall` entry: each wrapper raises `OSError` with the
errno and the call's name, so a layer that cannot be applied says exactly which call refused.
"""

from __future__ import annotations

import ctypes
import os
import platform

_libc = ctypes.CDLL(None, use_errno=True)

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

SECCOMP_MODE_FILTER = 2

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18

# Syscalls that glibc has no wrapper for here.  Landlock's numbers are the same on every
# architecture (they were added after the syscall tables were unified).
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(platform.machine())


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def prctl(option: int, arg2: int | ctypes.c_void_p = 0, arg3: int = 0) -> int:
    fn = _libc.prctl
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    value = arg2.value if isinstance(arg2, ctypes.c_void_p) else arg2
    return _check(fn(option, value or 0, arg3, 0, 0), f"prctl({option})")


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    fn = _libc.mount
    fn.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    _check(
        fn(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def syscall(number: int, *args: int | ctypes.c_void_p | None) -> int:
    fn = _libc.syscall
    fn.restype = ctypes.c_long
    converted = [ctypes.c_long(number)]
    for arg in args:
        if arg is None:
            converted.append(ctypes.c_long(0))
        elif isinstance(arg, int):
            converted.append(ctypes.c_long(arg))
        else:
            converted.append(arg)  # type: ignore[arg-type]
    return int(fn(*converted))


def checked_syscall(number: int, what: str, *args: int | ctypes.c_void_p | None) -> int:
    return _check(syscall(number, *args), what)


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def drop_capabilities() -> None:
    """Clear every capability of this process (in whatever user namespace it is in)."""
    if SYS_CAPSET is None:
        raise OSError(0, f"capset: unknown syscall number on {platform.machine()}")
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words
    data = (_CapData * 2)()
    checked_syscall(
        SYS_CAPSET,
        "capset",
        ctypes.c_void_p(ctypes.addressof(header)),
        ctypes.c_void_p(ctypes.addressof(data)),
    )
