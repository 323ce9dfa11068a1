"""The pipeline end to end: plan → render → check → repair → record, with real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cocogen.errors import NotUnderstood, UsageError
from cocogen.pipeline import Pipeline
from cocogen.planning.fake import FakeBackend
from cocogen.record import _umask
from cocogen.registry import load_backend
from cocogen.types import Canvas, CheckReport, LayoutManifest, Program, Request, RunRecord

SALES = "A bar chart comparing Q1-Q4 sales with values 100, 120, 150, 140"
GOOD = (
    "import matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots()\n"
    "ax.bar(['a', 'b'], [1, 2])\n"
    "ax.set_title('Fixed')\n"
)
BROKEN = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2], [1, 2, 3])\n"
OVERLAPPING = (
    "import matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots()\n"
    "ax.bar(['a', 'b'], [1, 2])\n"
    "ax.text(0.5, 0.5, 'Overlapping words', transform=ax.transAxes, fontsize=20)\n"
    "ax.text(0.52, 0.51, 'Overlapping words', transform=ax.transAxes, fontsize=20)\n"
)


def test_offline_generate_leaves_a_complete_run_dir(tmp_path: Path) -> None:
    pipeline = Pipeline(backend=load_backend("offline"))
    result = pipeline.generate(Request(prompt=SALES), output=tmp_path / "sales.png")
    assert result.status == "ok", result.findings
    run_dir = Path(result.run_dir)
    assert run_dir.parent == Path("runs").resolve() or run_dir.parent == Path("runs")
    names = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file())
    assert names == [
        "attempt-1/check.json",
        "attempt-1/draft.png",
        "attempt-1/manifest.json",
        "attempt-1/overlay.png",
        "attempt-1/program.py",
        "commitments.json",
        "final.png",
        "request.json",
        "run.json",
    ]
    assert (tmp_path / "sales.png").read_bytes() == (run_dir / "final.png").read_bytes()
    record = RunRecord.model_validate_json((run_dir / "run.json").read_text())
    assert record.status == "ok" and record.final_attempt == 1 and record.backend == "offline"
    assert Request.model_validate_json((run_dir / "request.json").read_text()).prompt == SALES
    manifest = LayoutManifest.model_validate_json((run_dir / "attempt-1/manifest.json").read_text())
    texts = [e.text for e in manifest.texts()]
    for quarter in ("Q1", "Q2", "Q3", "Q4"):
        assert quarter in texts
    assert any(e.role == "title" for e in manifest.texts())
    report = CheckReport.model_validate_json((run_dir / "attempt-1/check.json").read_text())
    assert report.passed
    statuses = {c.value: c.status for c in record.commitments.all()}
    assert statuses.get("Q1") == "satisfied"
    # Nothing temporary is left beside the run dir.
    assert [p.name for p in run_dir.parent.iterdir() if p.name.startswith(".")] == []


def test_same_request_same_image() -> None:
    pipeline = Pipeline(backend=load_backend("offline"))
    first = pipeline.generate(Request(prompt=SALES, seed=3))
    second = pipeline.generate(Request(prompt=SALES, seed=3))
    assert first.run_dir != second.run_dir
    assert Path(first.image or "").read_bytes() == Path(second.image or "").read_bytes()


def test_repair_loop_sends_the_failure_and_keeps_the_fixed_attempt() -> None:
    backend = FakeBackend(BROKEN, GOOD)
    result = Pipeline(backend=backend).generate(Request(prompt="two bars"))
    assert result.status == "ok"
    assert result.attempts == 2
    assert len(backend.requests) == 2
    previous = backend.requests[1].previous
    assert len(previous) == 1 and previous[0].program.source == BROKEN
    assert previous[0].failure is not None and "same first dimension" in previous[0].failure
    record = RunRecord.model_validate_json((Path(result.run_dir) / "run.json").read_text())
    assert record.final_attempt == 2
    assert record.attempts[0].failure is not None and record.attempts[0].draft_file is None
    assert (Path(result.run_dir) / "attempt-1/program.py").read_text() == BROKEN


def test_repair_sends_findings_and_stops_when_nothing_improves() -> None:
    backend = FakeBackend(OVERLAPPING, OVERLAPPING, GOOD)
    result = Pipeline(backend=backend, max_attempts=3).generate(Request(prompt="words"))
    # The second attempt is no better than the first, so the loop stops before the third.
    assert result.attempts == 2
    assert result.status == "check_failed"
    codes = [f.code for f in backend.requests[1].previous[0].findings]
    assert "text_overlap" in codes
    assert any(f.code == "text_overlap" for f in result.findings)
    assert result.image is not None and Path(result.image).exists()


def test_render_failure_is_recorded_without_a_final_image() -> None:
    program = Program(language="matplotlib", source="raise RuntimeError('nope')\n")
    result = Pipeline().render(program)
    assert result.status == "render_failed"
    assert result.image is None
    assert result.failure is not None and "RuntimeError: nope" in result.failure.message
    run_dir = Path(result.run_dir)
    assert not (run_dir / "final.png").exists()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "render_failed" and record["final_image"] is None


def test_explicit_run_dir_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "my-run"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    program = Program(language="matplotlib", source=GOOD)
    result = Pipeline().render(program, run_dir=target)
    assert Path(result.run_dir) == target
    assert not (target / "stale.txt").exists()
    assert (target / "final.png").exists()


def test_canvas_reaches_the_renderer() -> None:
    request = Request(prompt=SALES, canvas=Canvas(width=800, height=500, dpi=100))
    result = Pipeline(backend=load_backend("offline")).generate(request)
    manifest = json.loads((Path(result.run_dir) / "attempt-1/manifest.json").read_text())
    assert (manifest["width"], manifest["height"]) == (800, 500)


def test_bad_input_is_a_usage_error_and_writes_nothing(tmp_path: Path) -> None:
    pipeline = Pipeline(backend=load_backend("offline"))
    with pytest.raises(UsageError, match=r"must end in \.png"):
        pipeline.generate(Request(prompt=SALES), output=tmp_path / "x.jpg")
    with pytest.raises(UsageError, match="empty"):
        pipeline.generate(Request(prompt="  "))
    with pytest.raises(NotUnderstood):
        pipeline.generate(Request(prompt="a beautiful sunset over the sea"))
    assert not Path("runs").exists()


def test_outputs_get_ordinary_permissions(tmp_path: Path) -> None:
    program = Program(language="matplotlib", source=GOOD)
    result = Pipeline().render(program, output=tmp_path / "out.png")
    assert (tmp_path / "out.png").stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert Path(result.run_dir).stat().st_mode & 0o777 == 0o777 & ~_umask()


def test_overlays_for_findings_only_skip_clean_attempts(tmp_path: Path) -> None:
    pipeline = Pipeline(overlays="findings")
    clean = pipeline.render(Program(language="matplotlib", source=GOOD), run_dir=tmp_path / "a")
    crowded = Program(language="matplotlib", source=OVERLAPPING)
    flagged = pipeline.render(crowded, run_dir=tmp_path / "b")
    assert not clean.findings and flagged.findings
    for result, drawn in ((clean, False), (flagged, True)):
        run_dir = Path(result.run_dir)
        record = RunRecord.model_validate_json((run_dir / "run.json").read_text())
        assert (run_dir / "attempt-1/overlay.png").exists() is drawn
        assert (record.attempts[0].overlay_file is not None) is drawn
        assert (run_dir / "attempt-1/check.json").exists()  # the report is always kept
    with pytest.raises(UsageError, match="overlays must be one of always, findings"):
        Pipeline(overlays="sometimes")
