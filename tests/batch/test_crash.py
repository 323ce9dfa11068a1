"""Crash safety: a 300-row batch killed with SIGKILL at random moments, resumed each time.

At the end every row is done exactly once (a row whose line was written before a kill is never
run again), no run dir is half-written and marked done, nothing half-written is left behind, and
`results.jsonl` has one valid line per row.  Tiny canvases and one-text programs keep the whole
test near half a minute on two busy cores.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from batch.batchkit import COCOGEN, by_name, tiny_row, write_spec

from cocogen.types import RunRecord

ROWS = 300
KILLS = 4


def complete_lines(out: Path) -> dict[str, dict[str, object]]:
    """The lines a killed batch had fully written (a torn last line does not count)."""
    path = out / "results.jsonl"
    if not path.exists():
        return {}
    found: dict[str, dict[str, object]] = {}
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.endswith("\n"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        found[row["name"]] = row
    return found


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
def test_kill_nine_at_random_moments_then_resume(tmp_path: Path) -> None:
    rng = random.Random(20240909)
    spec = write_spec(tmp_path / "spec.jsonl", [tiny_row(f"r{i:03d}") for i in range(ROWS)])
    out = tmp_path / "out"
    command = [*COCOGEN, "batch", str(spec), "--out", str(out), "--resume", "--workers", "2"]
    command += ["--ocr", "off"]
    seen: dict[str, dict[str, object]] = {}
    killed_while_running = 0
    for _ in range(KILLS):
        with open(tmp_path / "stderr.txt", "ab") as err:
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
            before = len(complete_lines(out))
            deadline = time.monotonic() + 60
            # Let it start (interpreter, pool), then kill it a random moment into the rendering.
            while len(complete_lines(out)) == before and time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 2.5))
            workers = children(proc.pid)
            if proc.poll() is None:
                killed_while_running += 1
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        # The pool's workers go with their batch.
        gone_by = time.monotonic() + 15
        while any(alive(pid) for pid in workers) and time.monotonic() < gone_by:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), "a worker outlived its killed batch"
        lines = complete_lines(out)
        for name, row in seen.items():
            assert lines.get(name) == row, f"{name}: a finished row changed after a kill"
        seen.update(lines)
    assert killed_while_running >= KILLS - 1, (tmp_path / "stderr.txt").read_text()[-2000:]
    assert 0 < len(seen) < ROWS, "the kills should land in the middle of the batch"

    final = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    summary = json.loads(final.stdout)
    assert summary["ok"] == ROWS and summary["pending"] == 0
    assert summary["resumed"] + summary["ran"] == ROWS

    rows = by_name(out)  # one line per row, every line valid JSON
    assert len(rows) == ROWS and len((out / "results.jsonl").read_text().splitlines()) == ROWS
    for name, row in seen.items():
        assert rows[name] == row, f"{name} was done again after it was marked done"
    for name, row in rows.items():
        run_dir = out / "runs" / name
        record = RunRecord.model_validate_json((run_dir / "run.json").read_text())
        assert record.status == "ok" and row["status"] == "ok"
        assert record.final_image == "final.png"
        for attempt in record.attempts:
            for rel in (attempt.program_file, attempt.draft_file, attempt.manifest_file):
                assert rel is not None and (run_dir / rel).is_file()
        final_png = (run_dir / "final.png").read_bytes()
        assert final_png[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / "images" / f"{name}.png").read_bytes() == final_png
    leftovers = [
        p
        for d in (out, out / "runs", out / "images", out / "thumbs")
        for p in d.glob(".*")
        if p.name != ".lock"
    ]
    assert leftovers == []
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(rows)
