"""The warm pool itself: layer reports, `require`, worker replacement and recycling, renderer
hooks (`warm_up`, `SANDBOX` profiles), and choosing a runner from the environment."""

from __future__ import annotations

import os
import signal
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest
from jail.helpers import DRAW, MPL, processes_of, run, title_of

from cocogen.errors import SandboxError
from cocogen.rendering import make_job
from cocogen.types import Canvas, Program, Request
from sandbox import Job, JobResult, Limits, SubprocessRunner, jobroot
from sandbox.config import limits_from_environment, runner_from_environment
from sandbox.layers import ALL_LAYERS, JOB_LAYERS, SandboxUnavailable
from sandbox.pool import WorkerPool

TEST_RENDERER = '''
"""A renderer for tests: matplotlib's, plus a warm-up mark and a relaxed sandbox profile."""
import os

from renderers.matplotlib import render as _render

WARMED_IN = 0
SANDBOX = {"seccomp_allow": ["fork", "exec"]}


def warm_up():
    global WARMED_IN
    WARMED_IN = os.getpid()


def render(job, workdir):
    out = _render(job, workdir)
    out.notes.append(f"warmed in {WARMED_IN}, rendered in {os.getpid()}")
    return out
'''


def test_every_layer_is_reported_with_a_reason(pool: WorkerPool) -> None:
    layers = pool.layers()
    assert list(layers) == list(ALL_LAYERS)
    for name, layer in layers.items():
        assert isinstance(layer["active"], bool), name
        assert layer["detail"].strip(), name
    assert layers["warm_workers"]["active"] is True


def test_jobs_run_as_the_slot_uid(pool: WorkerPool) -> None:
    if not pool.layer_status()["uid"].active:
        pytest.skip(pool.layer_status()["uid"].detail)
    result = run(pool, DRAW + "import os\nax.set_title(f'{os.getuid()} {os.geteuid()}')\n")
    uid, euid = map(int, title_of(result).split())
    assert uid == euid and uid in pool.job_uids()


def test_a_missing_required_layer_refuses_to_start(cache_dir: Path) -> None:
    with pytest.raises(SandboxUnavailable, match=r"seccomp: turned off"):
        WorkerPool(1, layers=["landlock"], require=["seccomp"], cache_dir=cache_dir)
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        WorkerPool(1, require=["bubblewrap"], cache_dir=cache_dir)
    with pytest.raises(ValueError, match="unknown sandbox layer"):
        WorkerPool(1, require=["selinux"], cache_dir=cache_dir)


def test_required_layers_that_are_active_start(pool: WorkerPool, cache_dir: Path) -> None:
    active = [n for n in JOB_LAYERS if pool.layer_status()[n].active]
    with WorkerPool(1, require=active, cache_dir=cache_dir) as strict:
        assert run(strict, DRAW).ok


def test_a_killed_worker_is_replaced(cache_dir: Path) -> None:
    with WorkerPool(1, cache_dir=cache_dir) as small:
        assert run(small, DRAW).ok
        [pid] = small.worker_pids()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
        result = run(small, DRAW + "ax.set_title('after')\n")
        assert title_of(result) == "after"
        assert small.worker_pids() != [pid]


def test_a_job_does_not_outlive_its_killed_worker(cache_dir: Path) -> None:
    with WorkerPool(1, cache_dir=cache_dir) as small:
        if not small.layer_status()["uid"].active:
            pytest.skip(small.layer_status()["uid"].detail)
        assert run(small, DRAW).ok
        [worker] = small.worker_pids()
        sleeper = threading.Thread(target=run, args=(small, DRAW + "import time\ntime.sleep(30)\n"))
        sleeper.start()
        deadline = time.monotonic() + 10
        while not processes_of(small.job_uids()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert processes_of(small.job_uids()), "the job never started"
        os.kill(worker, signal.SIGKILL)  # the uid change must not have cleared its death signal
        deadline = time.monotonic() + 5
        while processes_of(small.job_uids()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_of(small.job_uids()) == []
        sleeper.join(timeout=40)


def test_a_job_that_ends_at_once_is_not_reaped_from_under_its_worker(cache_dir: Path) -> None:
    # After handing a job over, the worker finishes the earlier job's teardown (~5 ms). A job
    # that fails at once has exited by then: reaping every child at that point took the job's
    # own, and the worker died waiting for it (this failed 1 run in 3 at 40 pairs).
    with WorkerPool(1, cache_dir=cache_dir, spares="on") as eager:
        assert run(eager, DRAW).ok
        [worker] = eager.worker_pids()
        for _ in range(100):
            chart, fast = run(eager, DRAW), run(eager, "raise ValueError('at once')\n")
            assert chart.ok, chart.failure
            assert fast.failure is not None and "at once" in fast.failure["message"], fast.failure
        assert eager.worker_pids() == [worker]


def test_workers_are_recycled_after_max_jobs(cache_dir: Path) -> None:
    with WorkerPool(1, max_jobs=2, cache_dir=cache_dir) as small:
        seen = []
        for _ in range(3):
            assert run(small, DRAW).ok
            seen.append(small.worker_pids())
        assert seen[0] != seen[2]


def test_job_dirs_are_removed_by_kept_and_by_recycled_workers(cache_dir: Path) -> None:
    with WorkerPool(1, max_jobs=2, cache_dir=cache_dir) as small:
        for _ in range(5):  # the second and fourth jobs end their worker
            assert run(small, DRAW).ok
        deadline = time.monotonic() + 5
        while list(small.base.glob("job-*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert list(small.base.glob("job-*")) == []


def test_job_dirs_live_where_cocogen_sandbox_dir_says(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = tmp_path / "jobs"
    chosen.mkdir()
    monkeypatch.setenv("COCOGEN_SANDBOX_DIR", str(chosen))
    with WorkerPool(1, cache_dir=cache_dir) as small:
        assert small.base.parent == chosen
        assert title_of(run(small, DRAW + "ax.set_title('here')\n")) == "here"
    assert list(chosen.iterdir()) == []  # the pool's dir goes with the pool
    monkeypatch.setenv("COCOGEN_SANDBOX_DIR", str(tmp_path / "missing"))
    with pytest.raises(SandboxUnavailable, match=r"COCOGEN_SANDBOX_DIR=.*missing"):
        WorkerPool(1, cache_dir=cache_dir)


def test_job_dirs_go_to_a_roomy_tmpfs_else_the_temp_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COCOGEN_SANDBOX_DIR", raising=False)
    monkeypatch.setattr(jobroot, "_tmpfs_mounts", lambda: set())
    assert jobroot.job_root() == Path(tempfile.gettempdir())
    shm = Path(jobroot.SHM)
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip(f"{shm} is not a writable directory here")
    free_mb = os.statvfs(shm).f_bavail * os.statvfs(shm).f_frsize >> 20
    if free_mb < 2:
        pytest.skip(f"{shm} has {free_mb} MiB free")
    monkeypatch.setattr(jobroot, "_tmpfs_mounts", lambda: {jobroot.SHM})
    monkeypatch.setattr(jobroot, "MIN_FREE_MB", free_mb + 1)
    assert jobroot.job_root() == Path(tempfile.gettempdir())  # too small
    monkeypatch.setattr(jobroot, "MIN_FREE_MB", free_mb // 2)
    assert jobroot.job_root() == shm


def test_concurrent_jobs_get_separate_workers(pool: WorkerPool) -> None:
    results: list[JobResult] = []
    program = DRAW + "import os, time\ntime.sleep(1.5)\nax.set_title(str(os.getuid()))\n"
    first = threading.Thread(target=lambda: results.append(run(pool, program)))
    first.start()
    time.sleep(0.3)
    results.append(run(pool, program))
    first.join()
    titles = {title_of(r) for r in results}
    assert len(titles) == (2 if pool.job_uids() else 1)


def test_renderer_warm_up_and_relaxed_profile(tmp_path: Path, cache_dir: Path) -> None:
    (tmp_path / "relaxed_renderer.py").write_text(textwrap.dedent(TEST_RENDERER))
    program = DRAW + (
        "import subprocess\np = subprocess.Popen(['sleep', '300'])\nax.set_title(str(p.pid))\n"
    )
    job = Job(renderer="relaxed_renderer:render", source=program, limits=Limits(wall_s=30))
    with WorkerPool(1, python_path=[str(tmp_path)], cache_dir=cache_dir) as relaxed:
        result = relaxed.run(job)
        sleeper = int(title_of(result))
        [worker] = relaxed.worker_pids()
        assert f"warmed in {worker}, rendered in" in " ".join(result.notes)
        assert not any(n.endswith(f"rendered in {worker}") for n in result.notes)
        assert "renderer sandbox profile: allows exec, allows fork" in result.notes
        # The process the job started did not outlive the job.
        deadline = time.monotonic() + 3
        while Path(f"/proc/{sleeper}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/proc/{sleeper}").exists()
        # The matplotlib renderer in the same worker still has every seccomp group denied.
        refused = run(relaxed, program)
        assert refused.failure is not None and refused.failure["kind"] == "refused"


def test_a_renderer_relaxing_a_required_layer_is_refused(tmp_path: Path, cache_dir: Path) -> None:
    (tmp_path / "relaxed_renderer.py").write_text(textwrap.dedent(TEST_RENDERER))
    try:
        strict = WorkerPool(
            1, require=["seccomp"], python_path=[str(tmp_path)], cache_dir=cache_dir
        )
    except SandboxUnavailable as exc:
        pytest.skip(str(exc))
    with strict:
        result = strict.run(Job(renderer="relaxed_renderer:render", source=DRAW))
        assert result.failure is not None and result.failure["kind"] == "refused"
        assert "without the required sandbox layer(s) seccomp" in result.failure["message"]
        assert run(strict, DRAW).ok


def test_unknown_renderer_is_a_clear_failure(pool: WorkerPool) -> None:
    result = pool.run(Job(renderer="no_such_module:render", source=DRAW))
    assert result.failure is not None and result.failure["kind"] == "error"
    assert "no_such_module" in result.failure["message"]
    assert run(pool, DRAW).ok


def test_runner_from_environment(cache_dir: Path) -> None:
    env = {"COCOGEN_CACHE_DIR": str(cache_dir)}
    runner = runner_from_environment({**env, "COCOGEN_SANDBOX": "subprocess"})
    assert isinstance(runner, SubprocessRunner)
    assert runner.layers()["seccomp"]["active"] is False
    with pytest.raises(SandboxUnavailable, match="seccomp"):
        runner_from_environment(
            {**env, "COCOGEN_SANDBOX": "subprocess", "COCOGEN_SANDBOX_REQUIRE": "seccomp"}
        )
    with pytest.raises(SandboxUnavailable, match="expected one of"):
        runner_from_environment({**env, "COCOGEN_SANDBOX": "docker"})
    with pytest.raises(SandboxUnavailable, match="unknown sandbox layer"):
        runner_from_environment({**env, "COCOGEN_SANDBOX_REQUIRE": "seccomp,apparmor"})
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        runner_from_environment({**env, "COCOGEN_SANDBOX_REQUIRE": "bubblewrap"})
    pool = runner_from_environment({**env, "COCOGEN_SANDBOX_WORKERS": "1"})
    try:
        assert isinstance(pool, WorkerPool) and pool.size == 1
        assert pool.run(Job(renderer=MPL, source=DRAW)).ok
    finally:
        pool.close()


@pytest.mark.parametrize(
    ("entry", "source"),
    [
        ("renderers.html:render", "<html><body><h1>Warm browser</h1></body></html>"),
        (
            "renderers.svg:render",
            '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="80">'
            '<foreignObject width="200" height="80"><div xmlns="http://www.w3.org/1999/xhtml">'
            "Warm browser</div></foreignObject></svg>",
        ),
    ],
)
def test_jobs_reach_the_workers_warm_browser(pool: WorkerPool, entry: str, source: str) -> None:
    """The browser lives in the worker; each forked job keeps only its pipe open (keep_fds)."""
    language = entry.split(".")[1].split(":")[0]
    for _ in range(2):  # the first job warms the browser up, the second reuses it
        job = Job(renderer=entry, source=source, language=language, width=320, height=120)
        result = pool.run(job)
        assert result.failure is None, result.failure
        texts = " ".join(str(e.get("text") or "") for e in result.manifest["elements"])
        assert "Warm browser" in texts


def test_limits_from_environment() -> None:
    assert limits_from_environment({}) == Limits()
    limits = limits_from_environment(
        {
            "COCOGEN_SANDBOX_WALL_S": "2.5",
            "COCOGEN_SANDBOX_CPU_S": "3",
            "COCOGEN_SANDBOX_MEMORY_MB": "1024",
            "COCOGEN_SANDBOX_FILES": " 32 ",
            "COCOGEN_SANDBOX_OUTPUT_MB": "8",
            "COCOGEN_SANDBOX_WALL": "99",  # not one of the variables
        }
    )
    assert limits == Limits(
        wall_s=2.5, cpu_s=3, address_space_mb=1024, open_files=32, file_size_mb=8
    )
    assert isinstance(limits.cpu_s, int)
    assert limits_from_environment({"COCOGEN_SANDBOX_CPU_S": "4.0"}).cpu_s == 4


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("COCOGEN_SANDBOX_WALL_S", "0"),
        ("COCOGEN_SANDBOX_WALL_S", "ten"),
        ("COCOGEN_SANDBOX_WALL_S", "inf"),
        ("COCOGEN_SANDBOX_CPU_S", "-5"),
        ("COCOGEN_SANDBOX_MEMORY_MB", "2G"),
        ("COCOGEN_SANDBOX_FILES", "1.5"),
        ("COCOGEN_SANDBOX_OUTPUT_MB", "nan"),
    ],
)
def test_a_bad_limit_variable_is_one_clear_line(variable: str, value: str) -> None:
    with pytest.raises(SandboxUnavailable) as caught:
        limits_from_environment({variable: value})
    message = str(caught.value)
    assert message.startswith(f"{variable}={value!r}: expected a positive")
    assert "\n" not in message


def test_jobs_of_the_host_get_the_limits_of_the_environment(
    pool: WorkerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = Program(language="matplotlib", source=DRAW + "import time\ntime.sleep(5)\n")
    request = Request(prompt="a line", canvas=Canvas(width=320, height=240, dpi=100))
    monkeypatch.setenv("COCOGEN_SANDBOX_WALL_S", "1")
    monkeypatch.setenv("COCOGEN_SANDBOX_FILES", "48")
    job = make_job(program, request)
    assert job.limits == Limits(wall_s=1, open_files=48)
    assert make_job(program, request, Limits(wall_s=7)).limits.wall_s == 7  # explicit wins
    # The limit travels on the wire and is enforced: the 5 s program is stopped after 1 s.
    started = time.monotonic()
    result = pool.run(job)
    assert result.failure is not None and result.failure["kind"] == "timeout"
    assert "longer than 1 s" in result.failure["message"]
    assert time.monotonic() - started < 4.5
    monkeypatch.setenv("COCOGEN_SANDBOX_WALL_S", "soon")
    with pytest.raises(SandboxError, match="COCOGEN_SANDBOX_WALL_S='soon'"):
        make_job(program, request)


GROWING_RENDERER = '''
"""A renderer for tests: matplotlib's, whose warm-up keeps a large cache in the worker."""
from renderers.matplotlib import render  # noqa: F401

CACHE = []


def warm_up():
    CACHE.append(b"\\x01" * (96 << 20))  # written, so resident: the worker's RSS grows
'''


def test_workers_are_recycled_when_their_memory_grows(tmp_path: Path, cache_dir: Path) -> None:
    """The pool reads the worker's RSS after each job; once it is more than `max_growth_mb` above
    the baseline (taken after the second job, past the lazy warm-ups), the worker is replaced."""
    (tmp_path / "growing_renderer.py").write_text(textwrap.dedent(GROWING_RENDERER))
    grow = Job(renderer="growing_renderer:render", source=DRAW, limits=Limits(wall_s=30))
    with WorkerPool(1, max_growth_mb=32, python_path=[str(tmp_path)], cache_dir=cache_dir) as small:
        seen = []
        for _ in range(3):  # matplotlib alone stays under the threshold
            assert run(small, DRAW).ok
            seen.append(small.worker_pids())
        assert seen[0] == seen[1] == seen[2]
        result = small.run(grow)  # its warm-up runs in the worker, before the job's fork
        assert result.ok, result.failure
        assert small.worker_pids() == []  # stopped after the job; the next one starts anew
        assert title_of(run(small, DRAW + "ax.set_title('fresh')\n")) == "fresh"
        [fresh] = small.worker_pids()
        assert [fresh] != seen[2]
