"""Spare children: a worker forks the next job's child ahead of time and warms it up
(`sandbox.worker.Worker.fork_spare`).  A job run in a spare must be indistinguishable from one
run in a freshly forked child: same bytes, same layers, and nothing left behind."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest
from jail.helpers import DRAW, run, title_of

from sandbox import Job, Limits
from sandbox.config import runner_from_environment
from sandbox.layers import SandboxUnavailable
from sandbox.pool import WorkerPool
from sandbox.worker import JOB_GC_THRESHOLD, SPARES_AHEAD

CHART = DRAW + (
    "ax.set_title('Spare $x^2$ 2024')\nax.set_xlabel('month')\nax.bar(['a', 'b'], [3, 4])\n"
    "ax.annotate('peak', (1, 4))\n"
)

# A renderer whose jobs' titles say how their child was made ready: forked for the job, a spare
# that drew its warm-up, or one that copied the pages an earlier spare listed.
MARKED_RENDERER = """
from dataclasses import replace

from renderers.matplotlib import refresh_spare as _refresh, render as _render, warm_up
from renderers.matplotlib import warm_spare as _warm

HOW = "forked"


def warm_spare():
    global HOW
    HOW = "drawn"
    return _warm()


def refresh_spare():
    global HOW
    HOW = "listed"
    return _refresh()


def render(job, workdir):
    return _render(replace(job, source=job.source.replace("HOW", HOW)), workdir)
"""

# A renderer that lets its jobs start processes and has a spare warm-up: after such a job the
# worker kills every process re-parented to it, and that must not include the spare.
FORKING_RENDERER = """
from renderers.matplotlib import render, warm_spare, warm_up

SANDBOX = {"seccomp_allow": ["fork", "exec"]}
"""


def children_of(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != b"Z":
            found.append(int(name))
    return found


def wait_for(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_spare_child_renders_the_same_bytes_as_a_fresh_one(cache_dir: Path) -> None:
    with (
        WorkerPool(1, cache_dir=cache_dir, spares="on") as eager,
        WorkerPool(1, cache_dir=cache_dir, spares="off") as plain,
    ):
        # Jobs 2 and 3 in spares that drew their warm-up, 4 and 5 in spares that copied the
        # pages the first of those listed (`sandbox.heap`).
        spared = [run(eager, CHART) for _ in range(5)]
        forked = [run(plain, CHART) for _ in range(2)]
    for result in [*spared, *forked]:
        assert result.ok, result.failure
    # The first job of a worker has no spare yet; every later one runs in the spare.
    assert "sandbox_spare_wait_s" not in spared[0].timings
    assert all("sandbox_spare_wait_s" in r.timings for r in spared[1:])
    assert not any("sandbox_spare_wait_s" in r.timings for r in forked)
    reference = forked[0]
    for result in [*spared, forked[1]]:
        assert result.png == reference.png
        assert result.manifest == reference.manifest


def test_a_job_in_a_spare_gets_every_layer(cache_dir: Path) -> None:
    program = DRAW + "import os\nax.set_title(str(os.getuid()))\n"
    with WorkerPool(1, cache_dir=cache_dir, spares="on") as eager:
        first, second = run(eager, program), run(eager, program)
        connect = run(eager, "import socket\nsocket.create_connection(('127.0.0.1', 22))\n")
        read = run(eager, DRAW + "ax.set_title(open('/etc/passwd').read()[:20])\n")
        uids = eager.job_uids()
    assert all("sandbox_spare_wait_s" in r.timings for r in (second, connect, read))
    assert title_of(first) == title_of(second)
    if uids:
        assert title_of(second) == str(uids[0])
    assert connect.failure is not None and "network" in connect.failure["message"]
    assert read.failure is not None and "passwd" in read.failure["message"]


SESSION = DRAW + (
    "import os\n"
    "me = os.getpid()\n"
    "ax.set_title(f'{os.getsid(0) == me} {os.getpgrp() == me} ' + ' '.join(sorted(os.environ)))\n"
)


def test_a_job_in_a_spare_leads_its_own_session_with_only_the_jobs_environment(
    cache_dir: Path,
) -> None:
    # The spare makes its session while it waits (`enter_early`); the environment is the job's.
    with (
        WorkerPool(1, cache_dir=cache_dir, spares="on") as eager,
        WorkerPool(1, cache_dir=cache_dir, spares="off") as plain,
    ):
        spared = [run(eager, SESSION) for _ in range(2)][1]
        forked = run(plain, SESSION)
    assert "sandbox_spare_wait_s" in spared.timings
    assert title_of(spared).startswith("True True HOME ")
    assert title_of(spared) == title_of(forked)


OPEN_FILES = DRAW + (
    "import fcntl, os, stat\n"
    "kept = []\n"
    "for fd in range(4, 64):\n"
    "    try:\n"
    "        mode, flags = os.fstat(fd).st_mode, fcntl.fcntl(fd, fcntl.F_GETFL)\n"
    "    except OSError:\n"
    "        continue\n"
    "    kept.append(f'{stat.S_ISREG(mode)}:{flags & os.O_ACCMODE == os.O_RDONLY}')\n"
    "ax.set_title(' '.join(kept) or 'none')\n"
)


def test_spares_after_the_first_copy_its_listed_pages_instead_of_drawing(
    tmp_path: Path, cache_dir: Path
) -> None:
    (tmp_path / "marked_renderer.py").write_text(MARKED_RENDERER)
    job = Job(
        renderer="marked_renderer:render",
        source=DRAW + "ax.set_title('HOW')\n",
        limits=Limits(wall_s=30),
    )
    with WorkerPool(1, python_path=[str(tmp_path)], cache_dir=cache_dir, spares="on") as eager:
        titles = [title_of(eager.run(job)) for _ in range(2 + SPARES_AHEAD)]
    # The first job's child is forked for it; the spares forked beside it draw (the first one
    # taken lists its pages); every spare forked after that copies them.
    assert titles == ["forked", *["drawn"] * SPARES_AHEAD, "listed"]


def test_a_spare_hands_its_job_only_the_read_only_fonts_it_opened(cache_dir: Path) -> None:
    with WorkerPool(1, cache_dir=cache_dir, spares="on") as eager:
        # The last job's spare copied the pages an earlier one listed instead of drawing.
        fresh, *spared = [run(eager, OPEN_FILES) for _ in range(2 + SPARES_AHEAD)]
    # A freshly forked job has nothing open besides stdio and its result pipe; a job in a spare
    # has the fonts the warm-up opened (regular files, read-only), and nothing else.
    assert title_of(fresh) == "none"
    for result in spared:
        assert "sandbox_spare_wait_s" in result.timings
        kept = title_of(result).split()
        assert kept and set(kept) == {"True:True"}


def test_spares_are_dropped_for_another_renderer_and_die_with_the_worker(
    tmp_path: Path, cache_dir: Path
) -> None:
    (tmp_path / "plain_renderer.py").write_text("from renderers.matplotlib import render\n")
    other = Job(renderer="plain_renderer:render", source=DRAW, limits=Limits(wall_s=30))
    with WorkerPool(1, python_path=[str(tmp_path)], cache_dir=cache_dir, spares="on") as eager:
        assert run(eager, DRAW).ok
        [worker] = eager.worker_pids()
        # The spares for the next job and the one after.
        assert wait_for(lambda: len(children_of(worker)) == SPARES_AHEAD)
        spares = children_of(worker)
        # A job for a renderer without `warm_spare`: the spares are dropped, none replace them.
        assert eager.run(other).ok
        assert not set(spares) & set(children_of(worker))
        assert wait_for(lambda: children_of(worker) == [])
        assert run(eager, DRAW).ok
        assert wait_for(lambda: len(children_of(worker)) == SPARES_AHEAD)
        spares = children_of(worker)
    assert wait_for(lambda: not any(Path(f"/proc/{spare}").exists() for spare in spares))


def test_a_job_that_may_fork_leaves_the_spare_alone(tmp_path: Path, cache_dir: Path) -> None:
    (tmp_path / "forking_renderer.py").write_text(textwrap.dedent(FORKING_RENDERER))
    program = DRAW + (
        "import subprocess\np = subprocess.Popen(['sleep', '300'])\nax.set_title(str(p.pid))\n"
    )
    job = Job(renderer="forking_renderer:render", source=program, limits=Limits(wall_s=30))
    with WorkerPool(1, python_path=[str(tmp_path)], cache_dir=cache_dir, spares="on") as eager:
        results = [eager.run(job) for _ in range(3)]
    sleepers = [int(title_of(r)) for r in results]
    assert all("sandbox_spare_wait_s" in r.timings for r in results[1:])
    for sleeper in sleepers:
        assert wait_for(lambda s=sleeper: not Path(f"/proc/{s}").exists())


def test_spares_setting_is_checked(cache_dir: Path) -> None:
    with pytest.raises(ValueError, match="spares='sometimes'"):
        WorkerPool(1, cache_dir=cache_dir, spares="sometimes")


def test_auto_spares_only_with_fewer_workers_than_cores(cache_dir: Path) -> None:
    with WorkerPool(1, cache_dir=cache_dir) as auto:
        results = [run(auto, DRAW) for _ in range(2)]
        assert auto.spares == "auto"
    cores = len(os.sched_getaffinity(0))
    # One worker leaves a core to its spares exactly when the machine has more than one.
    assert ("sandbox_spare_wait_s" in results[1].timings) == (cores > 1)


def test_spares_from_the_environment(cache_dir: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="COCOGEN_SANDBOX_SPARES='maybe'"):
        runner_from_environment({"COCOGEN_SANDBOX_SPARES": "maybe"})
    runner = runner_from_environment({"COCOGEN_SANDBOX": "pool", "COCOGEN_SANDBOX_SPARES": "Off"})
    try:
        assert isinstance(runner, WorkerPool) and runner.spares == "off"
    finally:
        runner.close()


def test_the_hostile_suite_runs_in_spares(pool: WorkerPool) -> None:
    """tests/jail's session pool forks spares, so its hostile programs run in them."""
    results = [run(pool, DRAW) for _ in range(3)]
    assert pool.spares == "on"
    assert any("sandbox_spare_wait_s" in r.timings for r in results)


PRIORITY = DRAW + (
    "import gc, os\n"
    "ax.set_title(f'{os.sched_getscheduler(0)} {os.getpriority(0, 0)} {gc.get_threshold()[0]}')\n"
)


@pytest.mark.parametrize("spares", ["on", "off"])
def test_a_job_runs_at_normal_priority_with_the_jobs_collector_threshold(
    cache_dir: Path, spares: str
) -> None:
    # Spares of a root pool warm up at idle priority: their jobs must not inherit it.
    with WorkerPool(1, cache_dir=cache_dir, spares=spares) as pool:
        results = [run(pool, PRIORITY) for _ in range(4)]
    assert all(("sandbox_spare_wait_s" in r.timings) == (spares == "on") for r in results[1:])
    assert {title_of(r) for r in results} == {f"{os.SCHED_OTHER} 0 {JOB_GC_THRESHOLD}"}


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root spare can go back to normal priority")
def test_a_root_spare_warms_up_at_idle_priority_then_goes_back() -> None:
    from sandbox.worker import _idle_priority, _normal_priority

    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked child
        idle = _idle_priority() and os.sched_getscheduler(0) == os.SCHED_IDLE
        back = _normal_priority(0) and os.sched_getscheduler(0) == os.SCHED_OTHER
        os._exit(0 if idle and back else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def test_a_spare_set_up_for_the_default_canvas_still_draws_a_job_on_another(
    cache_dir: Path,
) -> None:
    with WorkerPool(1, cache_dir=cache_dir, spares="on") as eager:
        results = [run(eager, CHART), run(eager, CHART, width=500, height=300), run(eager, CHART)]
    assert all("sandbox_spare_wait_s" in r.timings for r in results[1:])
    sizes = (
        [(r.manifest or {}).get("width") for r in results],
        [(r.manifest or {}).get("height") for r in results],
    )
    assert sizes == ([1024, 500, 1024], [768, 300, 768])
