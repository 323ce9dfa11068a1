"""Landlock: filesystem (and TCP, and signal) confinement a process applies to itself.

Through raw syscalls (ctypes), no library needed.  A job may read the paths it is given
(Python, site-packages, fonts, caches) and write only below its own output directory; with ABI 4+
every TCP bind/connect is refused, with ABI 6+ it may not signal processes outside its domain or
reach abstract unix sockets.  Kernels without Landlock (< 5.13, or disabled) report why.
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Iterable

from sandbox import linux

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5

NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

RULE_PATH_BENEATH = 1
CREATE_RULESET_VERSION = 1

# Rights that only make sense on a directory (a rule on a file must not name them).
DIR_ONLY = (
    FS_READ_DIR
    | FS_REMOVE_DIR
    | FS_REMOVE_FILE
    | FS_MAKE_CHAR
    | FS_MAKE_DIR
    | FS_MAKE_REG
    | FS_MAKE_SOCK
    | FS_MAKE_FIFO
    | FS_MAKE_BLOCK
    | FS_MAKE_SYM
    | FS_REFER
)
READ = FS_READ_FILE | FS_READ_DIR | FS_EXECUTE
WRITE = (
    FS_READ_FILE
    | FS_READ_DIR
    | FS_WRITE_FILE
    | FS_REMOVE_DIR
    | FS_REMOVE_FILE
    | FS_MAKE_DIR
    | FS_MAKE_REG
    | FS_MAKE_SYM
    | FS_MAKE_FIFO
    | FS_REFER
    | FS_TRUNCATE
)


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def abi_version() -> int:
    """The kernel's Landlock ABI (0 when unavailable); raises nothing."""
    result = linux.syscall(linux.SYS_LANDLOCK_CREATE_RULESET, None, 0, CREATE_RULESET_VERSION)
    return max(result, 0)


def handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def restrict(read: Iterable[str], write: Iterable[str], abi: int) -> list[str]:
    """Confine this process: read-only under `read`, read-write under `write`, no TCP.

    Returns what the ruleset covers (for the layer report).  Missing paths are skipped.
    """
    if abi < 1:
        raise OSError(0, "Landlock is not available in this kernel")
    fs = handled_fs(abi)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = _RulesetAttr(fs, net, scoped)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 16
    ruleset = linux.checked_syscall(
        linux.SYS_LANDLOCK_CREATE_RULESET,
        "landlock_create_ruleset",
        ctypes.c_void_p(ctypes.addressof(attr)),
        size,
        0,
    )
    try:
        for paths, rights in ((read, READ), (write, WRITE)):
            for path in paths:
                _add_path(ruleset, path, rights & fs)
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
        linux.checked_syscall(
            linux.SYS_LANDLOCK_RESTRICT_SELF, "landlock_restrict_self", ruleset, 0
        )
    finally:
        os.close(ruleset)
    covers = ["filesystem"]
    if net:
        covers.append("tcp")
    if scoped:
        covers.append("signals")
    return covers


def _add_path(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= ~DIR_ONLY
        attr = _PathBeneathAttr(rights, fd)
        linux.checked_syscall(
            linux.SYS_LANDLOCK_ADD_RULE,
            f"landlock_add_rule {path}",
            ruleset,
            RULE_PATH_BENEATH,
            ctypes.c_void_p(ctypes.addressof(attr)),
            0,
        )
    finally:
        os.close(fd)
