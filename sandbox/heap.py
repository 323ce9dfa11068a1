"""Malloc settings that let a forked job reuse warm memory instead of faulting in fresh pages.

A job's child starts with the worker's heap, shared copy-on-write.  With glibc's defaults every
allocation over 128 KiB (a threshold glibc raises as it goes) is a fresh mmap, and freed memory at
the top of the heap goes back to the kernel: in a short-lived child almost every page the job's
arrays and buffers use is a new page fault.  Over 40 gallery charts that was ~4,100 faults a
chart in the child against ~360 for the same chart drawn in a warm process, and the child drew
each chart 7.4 ms slower.  So:

- the worker keeps allocations below `MMAP_THRESHOLD` in the heap and never trims it
  (`keep_heap`, before it forks anything: children inherit the setting);
- a spare child, once warm, writes `PREFAULT_MB` of heap pages and frees them (`prefault`), on
  another core while the job before it runs.  The job's allocations then land in pages that are
  already its own: ~810 faults a chart, 1.6 ms slower than in-process (each chart's best of 3).
  Writing more costs the spare time it may not have before a short job (its pages are fresh,
  and on a VM fresh pages are slow): paired against 24 MiB over 8 rounds of 41 gallery charts,
  12 MiB gave +0.9% charts/s (7 rounds of 8 ahead), 64 MiB -5.2% and none -1.1%.

A spare owes most of its own warm-up time to the pages it shares with the worker: drawing a small
chart after the fork costs ~60 ms and 7,800 copy-on-write faults, the same chart drawn again
~30 ms.  The first spare of a worker draws it, then lists the pages it made its own
(`written_pages`, from /proc/self/pagemap); later spares copy those pages in one call per run of
them (`own_pages`, ~13 ms for ~8,300 pages) and do only what else the job needs (the renderer's
`refresh_spare`: ~12 ms of fonts).  Paired against spares that all draw, over 8 rounds of 41
gallery charts with one worker: +3.0% charts/s (6 rounds of 8 ahead).

Only glibc is tuned (through `mallopt`, the process's own setting, so nothing a renderer starts
with exec inherits it); elsewhere both are no-ops.  Stdlib only: ctypes.
"""

from __future__ import annotations

import array
import ctypes
import functools
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
"""glibc's largest mmap threshold on 64-bit: allocations below it come from the heap."""
TRIM_THRESHOLD = 1 << 30
"""Free memory at the heap's top that glibc keeps before it gives any back (in effect: all)."""
PREFAULT_MB = 12
"""Heap a spare makes its own for its job (below `MMAP_THRESHOLD`, or malloc would mmap it)."""
MADV_POPULATE_WRITE = 23
PAGE = os.sysconf("SC_PAGE_SIZE")
MAX_LISTED_PAGES = (64 << 20) // PAGE
"""`written_pages` stops at the run that reaches this many pages: what a later spare copies."""
_PRESENT, _EXCLUSIVE = 1 << 63, 1 << 56


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError, AttributeError):
        return None
    if not version or not version.startswith("glibc"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        libc.malloc.argtypes = [ctypes.c_size_t]
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]
        libc.free.restype = None
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        libc.madvise.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def keep_heap() -> str | None:
    """In the worker, before it forks: keep allocations in the heap and the heap whole.  Returns
    why not (None when done)."""
    libc = _glibc()
    if libc is None:
        return "not glibc: the allocator keeps its defaults"
    if not (
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    ):
        return "mallopt refused the heap settings"
    return None


def prefault(megabytes: int = PREFAULT_MB) -> bool:
    """In a spare (after `keep_heap` in its worker): make `megabytes` of heap this process's own,
    then free them for its job.  False when nothing was done."""
    libc = _glibc()
    size = megabytes << 20
    if libc is None or size <= 0 or size >= MMAP_THRESHOLD:
        return False
    block = libc.malloc(size)
    if not block:
        return False
    try:
        start = -(-block // PAGE) * PAGE
        length = (block + size - start) // PAGE * PAGE
        # One call that faults every page in writable (Linux >= 5.14); writing them otherwise.
        if libc.madvise(start, length, MADV_POPULATE_WRITE) != 0:
            ctypes.memset(block, 0, size)
    finally:
        libc.free(block)
    return True


def written_pages() -> bytes:
    """In a child forked from the worker, after its warm-up: the pages of its private writable
    mappings that are its own by now (written since the fork, or new), as runs of (address,
    count) packed for `own_pages`.  Empty when /proc/self/pagemap cannot tell."""
    spans = []
    try:
        with open("/proc/self/maps", "rb") as maps:
            for line in maps:
                fields = line.split()
                name = fields[5] if len(fields) > 5 else b""
                if fields[1] == b"rw-p" and name not in (b"[stack]", b"[vvar]"):
                    start, end = (int(x, 16) for x in fields[0].split(b"-"))
                    spans.append((start, end))
        fd = os.open("/proc/self/pagemap", os.O_RDONLY)
    except OSError:
        return b""
    runs = array.array("Q")
    listed = 0
    try:
        for start, end in spans:
            entries = array.array("Q", os.pread(fd, (end - start) // PAGE * 8, start // PAGE * 8))
            run = -1
            for i, entry in enumerate([*entries, 0]):  # a last entry that ends any run
                mine = entry & _PRESENT and entry & _EXCLUSIVE
                if mine and run < 0:
                    run = i
                elif not mine and run >= 0:
                    runs.extend((start + run * PAGE, i - run))
                    listed += i - run
                    run = -1
                    if listed >= MAX_LISTED_PAGES:
                        return runs.tobytes()
    except OSError:
        return b""
    finally:
        os.close(fd)
    return runs.tobytes()


def own_pages(listed: bytes) -> int:
    """In a spare: make the pages `written_pages` listed (in an earlier spare of the same
    worker) this process's own, each run in one call.  Returns how many it made its own: the
    kernel refuses runs that are not (or no longer) writable memory of ours, and every run on
    kernels before 5.14."""
    libc = _glibc()
    runs = array.array("Q")
    runs.frombytes(listed[: len(listed) // 16 * 16])
    if libc is None:
        return 0
    pages = 0
    for i in range(0, len(runs), 2):
        if libc.madvise(runs[i], runs[i + 1] * PAGE, MADV_POPULATE_WRITE) == 0:
            pages += runs[i + 1]
    return pages
