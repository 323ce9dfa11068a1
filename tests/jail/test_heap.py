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


def faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", FAULTS, mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(heap.__file__)),
    )
    return int(done.stdout.strip())


def test_a_prefaulted_child_writes_new_memory_without_faulting_it_in() -> None:
    pages = (16 << 20) // heap.PAGE
    assert faults("default") >= pages * 0.9  # a fresh mmap: one fault a page
    assert faults("kept") < pages * 0.1  # heap pages the child wrote before


def test_prefault_refuses_sizes_malloc_would_map_afresh() -> None:
    assert not heap.prefault(heap.MMAP_THRESHOLD >> 20)
    assert not heap.prefault(0)
