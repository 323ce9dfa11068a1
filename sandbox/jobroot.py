"""Where the host puts each job's work dir: in memory when it can.

Every job gets a fresh dir (inputs, out) that is removed as soon as its result is read, so a
batch creates and deletes a few inodes per chart for the whole run.  On a disk file system that
churn is not free for anyone else writing there: ext4 without a journal (common for VM and
container root disks) checks each new inode against the recently deleted ones, and with the
pool's deletions in the last seconds that scan cost a batch's own run dirs ~3 ms of kernel time
per chart here.  On a tmpfs the job dirs cost neither disk nor that scan.

`COCOGEN_SANDBOX_DIR` picks the directory; otherwise `/dev/shm` when it is a writable tmpfs with
room to spare, else the system's temp dir.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sandbox.layers import SandboxUnavailable

SHM = "/dev/shm"
MIN_FREE_MB = 512
"""Free space `/dev/shm` must have to hold job dirs (a container's default is 64 MiB: too small
for a few jobs' outputs at their 32 MiB cap)."""


def _tmpfs_mounts() -> set[str]:
    try:
        with open("/proc/self/mounts", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return set()
    return {f[1] for f in (line.split() for line in lines) if len(f) >= 3 and f[2] == "tmpfs"}


def _roomy_tmpfs(path: str) -> bool:
    if path not in _tmpfs_mounts() or not os.access(path, os.W_OK | os.X_OK):
        return False
    try:
        stats = os.statvfs(path)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize >= MIN_FREE_MB << 20


def job_root(environ: Mapping[str, str] | None = None) -> Path:
    """The directory new job dirs (or a pool's dir of them) are made in."""
    environ = os.environ if environ is None else environ
    chosen = environ.get("COCOGEN_SANDBOX_DIR", "").strip()
    if chosen:
        if not os.path.isdir(chosen) or not os.access(chosen, os.W_OK | os.X_OK):
            raise SandboxUnavailable(
                f"COCOGEN_SANDBOX_DIR={chosen!r}: expected a writable directory"
            )
        return Path(chosen)
    if _roomy_tmpfs(SHM):
        return Path(SHM)
    return Path(tempfile.gettempdir())
