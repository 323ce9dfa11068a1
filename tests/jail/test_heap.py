"""`sandbox.heap`: a forked job's allocations land in pages its spare already made its own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from sandbox import heap

pytestmark = pytest.mark.skipif(heap._glibc() is None, reason="the heap settings are glibc's")

# In a fresh interpreter (the settings are the process's): a forked child writes 16 MiB of new
# memory and counts the page faults that took.
FAULTS = textwrap.dedent(
    """
    import os, resource, sys
    from sandbox import heap
    if sys.argv[1] == "kept":
        assert heap.keep_heap() is None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        if sys.argv[1] == "kept":
            assert heap.prefault(24)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        block = bytearray(16 << 20)  # malloc, then every byte written
        os.write(write, str(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before).encode())
        os._exit(0)
    os.close(write)
    print(os.read(read, 64).decode())
    os.waitpid(pid, 0)
    """
)


def run_script(script: str, mode: str) -> str:
    """What `script` printed, run in a fresh interpreter from the repository's root."""
    done = subprocess.run(
        [sys.executable, "-c", script, mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(heap.__file__)),
    )
    return done.stdout


def faults(mode: str) -> int:
    return int(run_script(FAULTS, mode).strip())


def test_a_prefaulted_child_writes_new_memory_without_faulting_it_in() -> None:
    pages = (16 << 20) // heap.PAGE
    assert faults("default") >= pages * 0.9  # a fresh mmap: one fault a page
    assert faults("kept") < pages * 0.1  # heap pages the child wrote before


def test_prefault_refuses_sizes_malloc_would_map_afresh() -> None:
    assert not heap.prefault(heap.MMAP_THRESHOLD >> 20)
    assert not heap.prefault(0)


# The worker's memory (8 MiB written before any fork); a first child writes half of it and lists
# the pages it made its own; a second child copies those pages (`own_pages`) and then writes the
# same half (listed: few faults) or the other half (not listed: a fault a page).
LISTED = textwrap.dedent(
    """
    import os, resource, sys
    from sandbox import heap
    size = 8 << 20
    block = bytearray(os.urandom(size))
    half = slice(0, size // 2) if sys.argv[1] == "listed" else slice(size // 2, size)

    def child(work):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(write, work())
            os._exit(0)
        os.close(write)
        out = b""
        while chunk := os.read(read, 1 << 20):
            out += chunk
        os.waitpid(pid, 0)
        return out

    def learn():
        block[: size // 2] = bytes(size // 2)
        return heap.written_pages()

    listed = child(learn)

    def copy_then_write():
        owned = heap.own_pages(listed)
        ones, view = b"\x01" * (size // 2), memoryview(block)  # made now, not counted below
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        view[half] = ones  # a copy into the block (block[half] = ones would copy ones first)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        return f"{owned} {after - before}".encode()

    print(len(listed), child(copy_then_write).decode())
    """
)


def listed_run(half: str) -> tuple[int, int, int]:
    size, owned, faulted = map(int, run_script(LISTED, half).split())
    return size, owned, faulted


def test_a_spare_copies_the_pages_an_earlier_one_listed_and_only_those() -> None:
    half = (4 << 20) // heap.PAGE
    size, owned, faulted = listed_run("listed")
    assert size and size % 16 == 0  # runs of (address, count)
    assert owned >= half  # that half, and whatever else the first child wrote
    assert faulted < half * 0.1
    _, _, faulted = listed_run("other")
    assert faulted >= half * 0.9


def test_own_pages_skips_what_is_not_writable_memory_of_ours() -> None:
    import array

    bogus = array.array("Q", [heap.PAGE, 4, 0, 1]).tobytes()  # the unmapped first pages
    assert heap.own_pages(bogus + b"\x01\x02") == 0  # a ragged tail is ignored too
