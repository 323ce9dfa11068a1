"""Both runners (one-shot and warm pool) stop bad programs clearly and never leak the host's
secrets; each test runs on both unless it is about one of them."""

from __future__ import annotations

import os
import time

import pytest
from jail.helpers import DRAW, run
from support import run_matplotlib

from sandbox import Limits
from sandbox.runner import Runner


def test_good_program_gives_png_and_manifest(runner: Runner) -> None:
    result = run(runner, DRAW + "ax.set_title('hello')\n", width=400, height=300, dpi=100)
    assert result.ok, result.failure
    assert result.png is not None and result.png[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.manifest is not None
    assert (result.manifest["width"], result.manifest["height"]) == (400, 300)
    assert "hello" in [e.get("text") for e in result.manifest["elements"]]


def test_exception_is_a_failure_with_the_program_line(runner: Runner) -> None:
    result = run(runner, DRAW + "x = 1\nraise ValueError('bad data in row 3')\n")
    assert not result.ok
    assert result.failure is not None
    assert result.failure["kind"] == "error"
    assert "ValueError: bad data in row 3" in result.failure["message"]
    assert 'File "program.py", line 5' in result.failure["traceback_tail"]
    # Frames of cocogen's own renderer are not shown to the program's author.
    assert "renderers/matplotlib.py" not in result.failure["traceback_tail"]


def test_syntax_error_names_the_line(runner: Runner) -> None:
    result = run(runner, "import matplotlib.pyplot as plt\nplt.plot([1,2]\nx = (\n")
    assert result.failure is not None and result.failure["kind"] == "error"
    assert "syntax error" in result.failure["message"]
    assert "line" in result.failure["message"]


def test_infinite_loop_is_stopped_at_the_wall_clock_limit(runner: Runner) -> None:
    started = time.monotonic()
    result = run(runner, "while True:\n    pass\n", limits=Limits(wall_s=3, cpu_s=60))
    elapsed = time.monotonic() - started
    assert result.failure is not None and result.failure["kind"] == "timeout"
    assert "3 s" in result.failure["message"]
    assert elapsed < 10


def test_sleeping_program_is_stopped_too(runner: Runner) -> None:
    result = run(runner, "import time\ntime.sleep(60)\n", limits=Limits(wall_s=2))
    assert result.failure is not None and result.failure["kind"] == "timeout"


def test_cpu_limit_is_reported_as_a_limit(runner: Runner) -> None:
    result = run(runner, "while True:\n    pass\n", limits=Limits(wall_s=20, cpu_s=1))
    assert result.failure is not None
    assert result.failure["kind"] == "limit"
    assert "CPU time limit (1 s)" in result.failure["message"]


def test_memory_limit_is_reported(runner: Runner) -> None:
    result = run(runner, "blob = bytearray(3 * 1024 ** 3)\n", limits=Limits(address_space_mb=1024))
    assert result.failure is not None
    assert result.failure["kind"] in ("limit", "error")
    assert "memory" in result.failure["message"].lower()


def test_no_figure_is_no_output(runner: Runner) -> None:
    result = run(runner, "x = 1 + 1\n")
    assert result.failure is not None and result.failure["kind"] == "no_output"
    assert "no figure" in result.failure["message"]


def test_exit_calls_are_failures(runner: Runner) -> None:
    result = run(runner, DRAW + "import sys\nsys.exit(3)\n")
    assert result.failure is not None and "exit(3)" in result.failure["message"]
    result = run(runner, DRAW + "import os\nos._exit(5)\n")
    assert result.failure is not None and result.failure["kind"] == "crash"
    assert "code 5" in result.failure["message"]


def test_environment_holds_no_keys_or_proxies(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "t0ken")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    program = DRAW + (
        "import os\n"
        "ax.set_title(' '.join(sorted(os.environ)))\n"
        "ax.set_xlabel(' '.join(sorted(os.environ.values()))[:2000])\n"
    )
    result = run(runner, program)
    assert result.ok, result.failure
    assert result.manifest is not None
    texts = {e.get("kind"): e.get("text", "") for e in result.manifest["elements"]}
    names = texts["axes_title"].split()
    assert "PATH" in names and "HOME" in names
    for name in names:
        assert not name.endswith(("_KEY", "_TOKEN")), name
        assert "proxy" not in name.lower(), name
    for secret in ("sk-ant-secret", "sk-secret", "t0ken", "proxy.invalid"):
        assert secret not in texts["xlabel"]
    assert os.environ["HOME"] not in names


def test_processes_started_by_the_program_do_not_outlive_it() -> None:
    program = DRAW + (
        "import subprocess\np = subprocess.Popen(['sleep', '300'])\nax.set_title(str(p.pid))\n"
    )
    result = run_matplotlib(program)
    assert result.ok, result.failure
    assert result.manifest is not None
    pid = int(next(e["text"] for e in result.manifest["elements"] if e.get("kind") == "axes_title"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        # A killed child of the job stays a zombie until its (dead) parent is reaped by init.
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().split()[2] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"process {pid} started by the job is still running")


def test_forged_manifest_is_rejected(runner: Runner) -> None:
    # The program cannot make the host accept a manifest that does not describe the image.
    result = run(runner, DRAW + "fig.set_size_inches(2, 2)\n", width=400, height=300)
    assert result.ok  # an honest size change is fine: manifest follows the real image
    assert result.manifest is not None and result.manifest["width"] == 200
