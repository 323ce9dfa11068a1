"""`--executor ray` against a Ray head started by the test on this machine: the same batch as
the local executor gives the same rows, images and records (refined rows included), written by
the driver.  One small batch, two CPUs, no dashboard, token authentication on."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batch.batchkit import by_name, cocogen, tiny_row, write_spec

pytest.importorskip("ray", reason="pip install 'cocogen[ray]'")

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def ray_head(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Ray head in its own process group; the test's processes share its token."""
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(16))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths have a limit
    port = free_port()
    log = open(Path(temp) / "head.log", "wb")
    head = subprocess.Popen(
        [
            RAY,
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--num-cpus=2",
            "--node-ip-address=127.0.0.1",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={temp}",
            "--dashboard-agent-listen-port=0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 90
        while b"Ray runtime started" not in (Path(temp) / "head.log").read_bytes():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail((Path(temp) / "head.log").read_text()[-3000:])
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(head.pid, sig)
            except ProcessLookupError:
                break
            try:
                head.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(head.pid, signal.SIGKILL)  # whatever the head left in its group
        except ProcessLookupError:
            pass
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in ("timings", "node")}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


@pytest.mark.slow
def test_ray_batch_matches_the_local_batch(tmp_path: Path, ray_head: str) -> None:
    rows: list[dict[str, Any]] = [tiny_row(f"r{i}") for i in range(5)]
    rows.append(tiny_row("rf", refine=True))  # the refine step runs on the actor pool
    rows.append(
        {"output": "boom", "program": "raise ValueError('boom')\n", "language": "matplotlib"}
    )
    spec = write_spec(tmp_path / "spec.jsonl", rows)
    common = ["--ocr", "off", "--json", "--workers", "2"]
    ray_batch = ["batch", str(spec), "--out", str(tmp_path / "ray"), "--executor", "ray"]
    proc = cocogen(*ray_batch, "--ray-address", ray_head, *common)
    summary = json.loads(proc.stdout)
    assert proc.returncode == 1, proc.stderr[-3000:]  # the failing row
    assert (summary["executor"], summary["runner"]) == ("ray", "ray")
    assert (summary["ok"], summary["render_failed"], summary["errors"]) == (6, 1, 0), proc.stderr

    local = cocogen("batch", str(spec), "--out", str(tmp_path / "local"), *common)
    assert json.loads(local.stdout)["ok"] == 6, local.stderr[-3000:]
    on_ray, at_home = by_name(tmp_path / "ray"), by_name(tmp_path / "local")
    assert set(on_ray) == set(at_home) == {r["output"] for r in rows}
    for name, row in on_ray.items():
        here = at_home[name]
        assert (row["status"], row["image_sha256"], row["key"]) == (
            here["status"],
            here["image_sha256"],
            here["key"],
        ), name
        ray_dir, local_dir = tmp_path / "ray/runs" / name, tmp_path / "local/runs" / name
        files = sorted(p.relative_to(ray_dir).as_posix() for p in ray_dir.rglob("*") if p.is_file())
        assert files == sorted(
            p.relative_to(local_dir).as_posix() for p in local_dir.rglob("*") if p.is_file()
        ), name
        ray_record = json.loads((ray_dir / "run.json").read_text())
        local_record = json.loads((local_dir / "run.json").read_text())
        assert without_timings(ray_record) == without_timings(local_record), name
    refined = json.loads((tmp_path / "ray/runs/rf/run.json").read_text())
    assert refined["refine"]["refiner"] == "none" and refined["request"]["refine"] is not None
    assert "refine_s" in refined["timings"]

    # A resume has nothing left to run (and needs no cluster for that).
    again = cocogen(*ray_batch, "--resume", *common)
    assert json.loads(again.stdout)["resumed"] == 7
