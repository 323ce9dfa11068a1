"""Local batches end to end: real renders in the sandbox, resume by content key, the CLI's
output contract, the library iterator, the LLM concurrency limit, the directory lock."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from batch.batchkit import (
    COCOGEN,
    by_name,
    cocogen,
    results,
    tiny_program,
    tiny_row,
    write_spec,
)

import cocogen as api
from cocogen.batching.driver import BatchRun
from cocogen.checking import CheckSettings
from cocogen.errors import UsageError
from cocogen.planning.base import GenerationRequest
from cocogen.types import Program, Request, RunRecord

NO_OCR = CheckSettings(ocr="off")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def spec_rows() -> list[dict[str, object]]:
    return [
        tiny_row("alpha"),
        tiny_row("beta"),
        {
            "output": "sales",
            "prompt": "A bar chart comparing Q1-Q4 sales with values 100, 120, 150, 140",
            "canvas": "320x240",
        },
        {"output": "boom", "program": "raise ValueError('boom')\n", "language": "matplotlib"},
        {"output": "vague", "prompt": "a picture of a cat"},
    ]


def test_cli_batch_resume_edit_and_force(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec.jsonl", spec_rows())
    out = tmp_path / "out"
    proc = cocogen(
        "batch", str(spec), "--out", str(out), "--workers", "2", "--ocr", "off", "--json"
    )
    assert proc.returncode == 1, proc.stderr  # one render failed, one row could not be planned
    summary = json.loads(proc.stdout)  # stdout holds the summary and nothing else
    assert (summary["rows"], summary["ran"], summary["ok"]) == (5, 5, 3)
    assert (summary["render_failed"], summary["errors"], summary["resumed"]) == (1, 1, 0)
    assert "render_failed" in proc.stderr and "line 4 (boom)" in proc.stderr

    rows = by_name(out)
    assert set(rows) == {"alpha", "beta", "sales", "boom", "vague"}
    for name in ("alpha", "beta", "sales"):
        row = rows[name]
        assert row["status"] == "ok" and row["image"] == f"images/{name}.png"
        image = out / row["image"]
        assert sha(image) == row["image_sha256"]
        assert image.read_bytes() == (out / "runs" / name / "final.png").read_bytes()
        assert (out / row["thumb"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        record = RunRecord.model_validate_json((out / "runs" / name / "run.json").read_text())
        assert (
            record.status == "ok" and sha(out / "runs" / name / "run.json") == row["record_sha256"]
        )
    assert rows["boom"]["status"] == "render_failed" and "boom" in rows["boom"]["error"]
    assert rows["boom"]["image"] is None and not (out / "images/boom.png").exists()
    assert rows["vague"]["status"] == "error" and "offline planner" in rows["vague"]["error"]
    assert rows["sales"]["backend"] == "offline" and rows["sales"]["line"] == 3
    assert (out / "index.html").exists()

    # The directory holds a batch: without --resume or --force nothing runs.
    proc = cocogen("batch", str(spec), "--out", str(out), "--ocr", "off")
    assert proc.returncode == 2 and "--resume" in proc.stderr

    # Resume: done rows (failed renders included) are skipped; the host error is retried.
    proc = cocogen("batch", str(spec), "--out", str(out), "--resume", "--ocr", "off", "--json")
    summary = json.loads(proc.stdout)
    assert (summary["resumed"], summary["ran"], summary["errors"]) == (4, 1, 1)
    again = by_name(out)
    for name in ("alpha", "beta", "sales", "boom"):
        assert again[name] == rows[name]

    # Edit one row: only that row runs again.
    edited = spec_rows()
    edited[1] = tiny_row("beta", program=tiny_program("BETA"))
    write_spec(spec, edited)
    proc = cocogen("batch", str(spec), "--out", str(out), "--resume", "--ocr", "off", "--json")
    summary = json.loads(proc.stdout)
    assert (summary["resumed"], summary["ran"]) == (3, 2)
    after = by_name(out)
    assert after["alpha"] == rows["alpha"] and after["sales"] == rows["sales"]
    assert after["beta"]["key"] != rows["beta"]["key"]
    assert after["beta"]["image_sha256"] != rows["beta"]["image_sha256"]
    assert "BETA" in (out / "runs/beta/attempt-1/program.py").read_text()

    # --force redoes everything; the same programs give the same bytes.
    proc = cocogen("batch", str(spec), "--out", str(out), "--force", "--ocr", "off", "--json")
    summary = json.loads(proc.stdout)
    assert (summary["resumed"], summary["ran"]) == (0, 5)
    forced = by_name(out)
    assert forced["alpha"]["finished_at"] > after["alpha"]["finished_at"]
    assert forced["alpha"]["image_sha256"] == after["alpha"]["image_sha256"]
    assert len(results(out)) == 5


def test_resume_redoes_rows_whose_files_or_lines_are_broken(tmp_path: Path) -> None:
    rows = [tiny_row(f"r{i}") for i in range(4)]
    out = tmp_path / "out"
    first = {r.name: r for r in api.batch(rows, out, workers=2, check_settings=NO_OCR)}
    assert all(r.status == "ok" and not r.resumed for r in first.values())

    # r0: image overwritten; r1: run dir gone; r2: its line torn by a kill; r3 untouched.
    (out / "images/r0.png").write_bytes(b"not the image")
    for path in sorted((out / "runs/r1").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (out / "runs/r1").rmdir()
    text = (out / "results.jsonl").read_text().splitlines()
    kept = [line for line in text if '"name":"r2"' not in line]
    torn = next(line for line in text if '"name":"r2"' in line)[:40]
    (out / "results.jsonl").write_text("\n".join(kept) + "\n" + torn)
    (out / "runs/.r3.abc.tmp").mkdir()  # a half-built run dir of a killed batch

    second = {r.name: r for r in api.batch(rows, out, resume=True, check_settings=NO_OCR)}
    assert {n for n, r in second.items() if r.resumed} == {"r3"}
    assert second["r3"] == first["r3"].model_copy(update={"resumed": True})
    assert all(r.status == "ok" for r in second.values())
    assert not (out / "runs/.r3.abc.tmp").exists()
    lines = by_name(out)
    assert set(lines) == {"r0", "r1", "r2", "r3"}
    assert sha(out / "images/r0.png") == lines["r0"]["image_sha256"] == first["r0"].image_sha256


def test_library_iterator_and_summary(tmp_path: Path) -> None:
    requests = [
        Request(prompt="Pie chart titled 'Fruit' of apples 30, bananas 45, cherries 25"),
        Program(language="matplotlib", source=tiny_program("P")),
        {"program": tiny_program("Q"), "output": "q", "canvas": "64x48"},
    ]
    run = api.batch(requests, tmp_path / "out", workers=2, check_settings=NO_OCR)
    assert isinstance(run, BatchRun)
    seen = list(run)
    assert len(seen) == 3 and {r.line for r in seen} == {1, 2, 3}
    assert run.summary is not None and run.summary.ran == 3 and run.summary.pending == 0
    assert run.summary.runner in ("pool", "subprocess")
    # The same requests elsewhere give the same images (same input, same bytes).
    other = {r.line: r for r in api.batch(requests, tmp_path / "other", check_settings=NO_OCR)}
    for result in seen:
        assert result.image_sha256 == other[result.line].image_sha256
    resumed = list(api.batch(requests, tmp_path / "out", resume=True, check_settings=NO_OCR))
    assert [r.resumed for r in resumed] == [True, True, True]


class SlowBackend:
    """A planner that takes its time, and counts how many plans run at once."""

    name = "slow"
    can_repair = False
    default_language = "matplotlib"

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()

    def generate(self, request: GenerationRequest) -> Program:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.delay)
        with self._lock:
            self.active -= 1
        label = request.request.prompt.split()[-1]
        return Program(language="matplotlib", source=tiny_program(label), backend=self.name)


def test_planning_calls_run_concurrently_up_to_the_limit(tmp_path: Path) -> None:
    backend = SlowBackend(delay=0.4)
    requests = [
        Request(prompt=f"draw the label L{i}", canvas={"width": 64, "height": 48})  # type: ignore[arg-type]
        for i in range(9)
    ]
    run = api.batch(
        requests,
        tmp_path / "out",
        workers=1,
        backend=backend,
        llm_concurrency=3,
        check_settings=NO_OCR,
    )
    summary = run.run()
    assert summary.ran == 9 and summary.errors == 0
    assert backend.peak == 3  # concurrent, and never more than the limit
    assert {r["backend"] for r in results(tmp_path / "out")} == {"slow"}


def test_strict_stops_before_anything_runs_and_the_lock_keeps_one_writer(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec.jsonl", [tiny_row("a"), {"output": "b"}])
    proc = cocogen("batch", str(spec), "--out", str(tmp_path / "out"), "--strict")
    assert proc.returncode == 2
    assert "spec.jsonl:2: the row needs a prompt or a program" in proc.stderr
    assert not (tmp_path / "out" / "results.jsonl").exists()

    first = api.batch([tiny_row("a")], tmp_path / "locked", check_settings=NO_OCR)
    try:
        with pytest.raises(UsageError, match="another batch is writing"):
            api.batch([tiny_row("a")], tmp_path / "locked", resume=True)
    finally:
        first.close()
    # Released: a resume can take the directory now (nothing was done, so the row runs).
    assert [r.resumed for r in api.batch([tiny_row("a")], tmp_path / "locked", resume=True)] == [
        False
    ]


def test_a_terminal_gets_the_progress_bar_and_a_log_gets_lines(tmp_path: Path) -> None:
    """On a terminal (a pseudo-terminal here) stderr shows rich's bar with rows done, failures,
    rate and ETA; piped, the same batch writes plain lines and no terminal control codes."""
    import pty

    rows = [tiny_row(f"row{i}") for i in range(3)] + [
        {"output": "boom", "program": "raise RuntimeError('boom')", "language": "matplotlib"}
    ]
    spec = write_spec(tmp_path / "spec.jsonl", rows)
    command = [*COCOGEN, "batch", str(spec), "--workers", "1", "--ocr", "off"]
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [*command, "--out", str(tmp_path / "tty")],
        stdin=child,
        stdout=child,
        stderr=child,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child side closed
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=120) == 1
    os.close(main)
    shown = seen.decode("utf-8", "replace")
    assert "\x1b[" in shown  # terminal control codes: the live bar
    assert "4/4" in shown and "1 failed" in shown and "rows/s" in shown and "ETA" in shown

    piped = subprocess.run(
        [*command, "--out", str(tmp_path / "log")], capture_output=True, text=True, timeout=120
    )
    assert piped.returncode == 1
    assert "\x1b[" not in piped.stderr and "boom" in piped.stderr


def test_overlays_are_drawn_for_rows_with_findings_unless_always(tmp_path: Path) -> None:
    crowded = (
        "import matplotlib.pyplot as plt\n"
        "fig = plt.figure(figsize=(3.2, 2.4), dpi=100)\n"
        "fig.text(0.1, 0.5, 'Overlapping words', fontsize=20)\n"
        "fig.text(0.12, 0.51, 'Overlapping words', fontsize=20)\n"
    )
    rows = [tiny_row("clean"), {"output": "crowded", "program": crowded, "canvas": "320x240"}]
    spec = write_spec(tmp_path / "spec.jsonl", rows)
    for flags, drawn in (([], {"crowded"}), (["--overlays", "always"], {"clean", "crowded"})):
        out = tmp_path / ("out" + "".join(flags))
        proc = cocogen("batch", str(spec), "--out", str(out), "--ocr", "off", "--json", *flags)
        assert proc.returncode in (0, 1), proc.stderr
        found = {r["name"]: r for r in results(out)}
        assert found["crowded"]["findings"]["error"] + found["crowded"]["findings"]["warning"]
        assert sum(found["clean"]["findings"].values()) == 0
        overlays = {p.parent.parent.name for p in (out / "runs").glob("*/attempt-*/overlay.png")}
        assert overlays == drawn
    bad = cocogen("batch", str(spec), "--out", str(tmp_path / "x"), "--overlays", "never")
    assert bad.returncode == 2 and "never" in bad.stderr
    with pytest.raises(UsageError, match="overlays must be one of findings, always"):
        api.batch(rows, tmp_path / "y", overlays="sometimes")
