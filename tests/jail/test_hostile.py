"""Hostile programs against the warm pool: each is stopped with a clear failure, the same workers
keep serving, and the host is unchanged (no file written, no process left, nothing leaked)."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from jail.helpers import DRAW, processes_of, run, title_of

from sandbox import JobResult, Limits
from sandbox.pool import WorkerPool

REPO = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (dead, waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] != b"Z"


@pytest.fixture(autouse=True)
def pool_survives(pool: WorkerPool) -> Iterator[None]:
    """After every hostile job: the same workers serve a good job, and no job process is left."""
    run(pool, DRAW)  # make sure both workers exist before we note their pids
    before = pool.worker_pids()
    yield
    good = run(pool, DRAW + "ax.set_title('still serving')\n")
    assert title_of(good) == "still serving"
    assert pool.worker_pids() == before, "a worker was lost"
    deadline = time.monotonic() + 2
    while (left := processes_of(pool.job_uids())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"job processes left running: {left}"


def refused(result: JobResult, *words: str) -> str:
    assert result.failure is not None, "the hostile program was not stopped"
    assert result.failure["kind"] == "refused", result.failure
    message = result.failure["message"]
    for word in words:
        assert word in message, message
    return message


def unreadable(result: JobResult) -> None:
    """Refused (Landlock, uid) or invisible (the worker's mount view hides it): either is fine."""
    assert result.failure is not None, "the hostile program was not stopped"
    assert result.failure["kind"] in ("refused", "error"), result.failure
    message = result.failure["message"]
    assert any(w in message for w in ("Permission denied", "No such file")), message


# -- network --------------------------------------------------------------------------------


def test_connect_to_localhost_is_refused_and_never_arrives(pool: WorkerPool) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    waiter = threading.Thread(target=accept)
    waiter.start()
    program = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
    refused(run(pool, DRAW + program), "no network")
    waiter.join()
    server.close()
    assert accepted == []


def test_connect_to_a_public_address_is_refused(pool: WorkerPool) -> None:
    program = "import socket\nsocket.create_connection(('1.1.1.1', 443), timeout=2)\n"
    refused(run(pool, DRAW + program), "no network")


def test_dns_lookup_is_refused(pool: WorkerPool) -> None:
    refused(run(pool, DRAW + "import socket\nsocket.getaddrinfo('example.com', 80)\n"))


def test_raw_socket_syscall_through_ctypes_is_denied(pool: WorkerPool) -> None:
    program = DRAW + (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "fd = libc.socket(2, 1, 0)\n"
        "if fd < 0:\n    raise OSError(ctypes.get_errno(), 'socket() failed')\n"
    )
    refused(run(pool, program), "Errno 1")


# -- files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "/proc/1/environ", "/proc/self/environ", "/root/.ssh/id_rsa", "/etc/shadow"],
)
def test_reading_host_files_is_refused(pool: WorkerPool, path: str) -> None:
    unreadable(run(pool, DRAW + f"open({path!r}, 'rb').read()\n"))


def test_reading_the_hosts_and_workers_environment_is_refused(
    pool: WorkerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COCOGEN_HOSTILE_SECRET", "s3cret-value")
    for pid in (os.getpid(), *pool.worker_pids()):
        program = DRAW + f"ax.set_title(open('/proc/{pid}/environ', 'rb').read()[:50].hex())\n"
        result = run(pool, program)
        refused(result, "Permission denied")
    # And the job's own environment is the allow-list, whatever the host holds.
    result = run(pool, DRAW + "import os\nax.set_title(' '.join(sorted(os.environ.values())))\n")
    assert "s3cret-value" not in title_of(result)


def test_secret_file_of_the_host_user_is_unreadable(pool: WorkerPool, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    secret.chmod(0o644)
    unreadable(run(pool, DRAW + f"ax.set_title(open({str(secret)!r}).read())\n"))


@pytest.mark.parametrize("where", ["home", "tmp", "repo", "cwd_parent"])
def test_writing_outside_the_work_dir_is_refused(pool: WorkerPool, where: str) -> None:
    name = f"cocogen-hostile-{uuid.uuid4().hex}"
    target = {
        "home": Path.home() / name,
        "tmp": Path("/tmp") / name,
        "repo": REPO / name,
        "cwd_parent": None,
    }[where]
    expr = repr(str(target)) if target else f"os.path.join(os.path.dirname(os.getcwd()), {name!r})"
    result = run(pool, DRAW + f"import os\nopen({expr}, 'w').write('x')\n")
    assert result.failure is not None and result.failure["kind"] == "refused", result.failure
    if target is not None:
        assert not target.exists()


def test_another_jobs_files_are_gone_and_unreachable(pool: WorkerPool) -> None:
    first = run(
        pool,
        DRAW + "import os\nopen('secret.txt', 'w').write('job one')\n"
        "ax.set_title(os.path.abspath('secret.txt'))\n",
    )
    path = title_of(first)
    unreadable(run(pool, DRAW + f"ax.set_title(open({path!r}).read())\n"))
    # Nor can a job look around for other jobs' directories.
    listing = run(
        pool, DRAW + "import os\nos.listdir(os.path.dirname(os.path.dirname(os.getcwd())))\n"
    )
    refused(listing, "Permission denied")


# -- resources ------------------------------------------------------------------------------


def test_busy_loop_and_sleep_are_stopped(pool: WorkerPool) -> None:
    result = run(pool, "while True:\n    pass\n", limits=Limits(wall_s=2, cpu_s=60))
    assert result.failure is not None and result.failure["kind"] == "timeout"
    result = run(pool, "import time\ntime.sleep(1e9)\n", limits=Limits(wall_s=1))
    assert result.failure is not None and result.failure["kind"] == "timeout"


def test_allocating_8_gib_hits_the_memory_limit(pool: WorkerPool) -> None:
    result = run(pool, "blob = bytearray(8 * 1024 ** 3)\n")
    assert result.failure is not None and result.failure["kind"] == "limit"
    assert "memory limit (2048 MiB)" in result.failure["message"]


def test_printing_a_gibibyte_hits_the_output_cap(pool: WorkerPool) -> None:
    started = time.monotonic()
    program = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    print(chunk)\n"
    result = run(pool, program, limits=Limits(file_size_mb=8))
    assert result.failure is not None and result.failure["kind"] == "limit"
    assert "printed more than 8 MiB" in result.failure["message"]
    assert len(result.stdout_tail) <= Limits().output_tail_bytes
    assert time.monotonic() - started < 15


def test_writing_a_10_gib_file_hits_the_file_size_limit(pool: WorkerPool) -> None:
    program = (
        "chunk = b'x' * (1 << 20)\nwith open('big.bin', 'wb') as fh:\n"
        "    for _ in range(10 * 1024):\n        fh.write(chunk)\n"
    )
    result = run(pool, program)
    assert result.failure is not None and result.failure["kind"] == "limit"
    assert "file size limit (32 MiB)" in result.failure["message"]


def test_many_files_exhaust_only_the_jobs_scratch_space(pool: WorkerPool) -> None:
    if not pool.layer_status()["scratch_quota"].active:
        pytest.skip(pool.layer_status()["scratch_quota"].detail)
    program = (
        "chunk = b'x' * (1 << 20)\nfor i in range(1000):\n"
        "    with open(f'part{i}.bin', 'wb') as fh:\n        fh.write(chunk * 16)\n"
    )
    result = run(pool, program)
    assert result.failure is not None and result.failure["kind"] == "limit"
    assert "scratch space" in result.failure["message"]


# -- processes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "program",
    [
        "import subprocess\nsubprocess.run(['sh', '-c', 'id'])\n",
        "import os\nos.system('id')\n",
        "import os\nos.fork()\n",
        "import os\nwhile True:\n    os.fork()\n",
        "import os\nos.execv('/bin/sh', ['sh', '-c', 'id'])\n",
        "import os\nos.posix_spawn('/bin/sh', ['sh'], {})\n",
    ],
    ids=["subprocess", "os.system", "fork", "fork-bomb", "execv", "posix_spawn"],
)
def test_starting_processes_is_refused_with_a_clear_message(pool: WorkerPool, program: str) -> None:
    refused(run(pool, DRAW + program), "not allow starting processes")


@pytest.mark.parametrize(
    "program",
    [
        "import ctypes\nctypes.CDLL(None).system(b'id')\n",
        "import ctypes\nctypes.CDLL(None).fork()\n",
        "import _posixsubprocess, os\n"
        "r, w = os.pipe()\n"
        "_posixsubprocess.fork_exec([b'/bin/sh', b'-c', b'id'], [b'/bin/sh'], True, (w,), None, "
        "None, -1, -1, -1, -1, -1, -1, r, w, True, False, -1, None, None, None, -1, None, True)\n",
    ],
    ids=["ctypes-system", "ctypes-fork", "_posixsubprocess"],
)
def test_process_creation_below_python_is_killed_by_seccomp(pool: WorkerPool, program: str) -> None:
    refused(run(pool, DRAW + program), "forbidden system call")


def test_shell_through_cffi_is_killed_by_seccomp(pool: WorkerPool) -> None:
    pytest.importorskip("cffi")
    program = DRAW + (
        "import cffi\nffi = cffi.FFI()\nffi.cdef('int system(const char *);')\n"
        "ffi.dlopen(None).system(b'id')\n"
    )
    refused(run(pool, program), "forbidden system call")


def test_killing_the_worker_or_host_is_refused(pool: WorkerPool) -> None:
    for pid in (*pool.worker_pids(), os.getpid()):
        refused(run(pool, DRAW + f"import os, signal\nos.kill({pid}, signal.SIGKILL)\n"))
    refused(run(pool, DRAW + "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"))
    # kill(-1) reports success when every target refused (EPERM): what matters is that the
    # workers and this process are still alive, which the autouse fixture and this line check.
    run(pool, DRAW + "import os, signal\nos.kill(-1, signal.SIGKILL)\n")


def test_setsid_cannot_escape_the_group(pool: WorkerPool) -> None:
    refused(run(pool, DRAW + "import os\nos.setsid()\n"), "Operation not permitted")


def test_background_thread_dies_with_the_job(pool: WorkerPool) -> None:
    program = DRAW + (
        "import os, threading, time\n"
        "threading.Thread(target=lambda: time.sleep(3600)).start()\n"
        "ax.set_title(str(os.getpid()))\n"
        "fig.savefig('draft.png')\n"
    )
    started = time.monotonic()
    result = run(pool, program)
    pid = int(title_of(result))
    assert time.monotonic() - started < 10
    # The job is killed when its result is in; the worker reaps it a moment later.
    deadline = time.monotonic() + 5
    while alive(pid) and pid not in pool.worker_pids() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(pid) or pid in pool.worker_pids()


# -- the manifest ---------------------------------------------------------------------------


def test_forged_manifest_entries_are_caught(pool: WorkerPool) -> None:
    # Undo the renderer's hooks: every recorded text also adds a fake one in an empty corner.
    program = DRAW + (
        "import renderers.matplotlib as r\n"
        "original = r.Capture.add\n"
        "def add(self, role, bbox, **fields):\n"
        "    element = original(self, role, bbox, **fields)\n"
        "    if fields.get('text') and not any(e.get('text') == 'FORGED' for e in self.elements):\n"
        "        from matplotlib.transforms import Bbox\n"
        "        fake = Bbox([[2, self.height - 12], [40, self.height - 2]])\n"
        "        original(self, 'title', fake, text='FORGED')\n"
        "    return element\n"
        "r.Capture.add = add\n"
    )
    result = run(pool, program)
    assert result.failure is not None and result.failure["kind"] == "invalid_output"
    assert "'FORGED'" in result.failure["message"]


@pytest.mark.parametrize("truncated", [True, False], ids=["truncated-png", "blank-png"])
def test_a_result_written_by_the_program_itself_is_checked(
    pool: WorkerPool, truncated: bool
) -> None:
    # The program writes its own result to the result pipe (fd 3), end marker included, and
    # exits: a white 8x8 PNG (or one whose pixel data stops after a row) with a manifest
    # claiming a title.  The host must not believe it.
    program = (
        "import base64, json, os, zlib, struct\n"
        "def chunk(kind, data):\n"
        "    c = kind + data\n"
        "    return struct.pack('>I', len(data)) + c + struct.pack('>I', zlib.crc32(c))\n"
        "rows = b'\\x00' + b'\\xff' * 24 if {truncated} else (b'\\x00' + b'\\xff' * 24) * 8\n"
        "header = struct.pack('>IIBBBBB', 8, 8, 8, 2, 0, 0, 0)\n"
        "png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', header)"
        " + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b'')\n"
        "manifest = {'width': 8, 'height': 8, 'elements': [\n"
        "    {'id': 'e0', 'role': 'title', 'text': 'All checks passed', 'box': [0, 0, 8, 8]}]}\n"
        "from sandbox.worker import RESULT_END\n"
        "os.write(3, json.dumps({'png': base64.b64encode(png).decode(), 'manifest': manifest,\n"
        "    'engine': 'matplotlib'}).encode() + RESULT_END)\n"
        "os._exit(0)\n"
    ).replace("{truncated}", str(truncated))
    result = run(pool, program)
    assert result.failure is not None and result.failure["kind"] == "invalid_output"
