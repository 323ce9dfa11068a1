"""`cocogen check IMAGE [--manifest M] [--prompt P] [--json]`: real renders, real OCR, exit codes
0 (passed), 1 (failed check), 2 (bad input), files written only when asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image
from support import run_matplotlib

from cocogen.cli import cli
from cocogen.types import CheckReport

CHART = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["North", "South", "East", "West"], [1200, 3400, 2100, 900])
ax.set_title("Quarterly revenue 2024")
ax.set_ylabel("Revenue (USD)")
"""


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    result = run_matplotlib(CHART)
    assert result.ok and result.png is not None, result.failure
    folder = tmp_path_factory.mktemp("chart")
    (folder / "chart.png").write_bytes(result.png)
    (folder / "manifest.json").write_text(json.dumps(result.manifest), encoding="utf-8")
    return folder / "chart.png", folder / "manifest.json"


def cocogen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cocogen.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


def test_full_check_with_manifest_prompt_overlay_and_report(
    chart: tuple[Path, Path], tmp_path: Path, ocr_engine: Any
) -> None:
    image, manifest = chart
    overlay, report_file = tmp_path / "overlay.png", tmp_path / "out" / "check.json"
    proc = cocogen(
        "check",
        str(image),
        "--manifest",
        str(manifest),
        "--prompt",
        'a chart titled "Quarterly revenue 2024" with 4 bars',
        "--overlay",
        str(overlay),
        "--report",
        str(report_file),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["status"] == "ok" and payload["passed"] is True
    assert payload["manifest"] is True and payload["image"] == str(image)
    assert payload["scores"]["text_confirmed"] == 1.0
    statuses = [c["status"] for c in payload["commitments"]["required_texts"]]
    assert statuses == ["satisfied"]
    assert payload["commitments"]["entities"][0]["status"] == "satisfied"
    with Image.open(overlay) as picture:
        assert picture.size == Image.open(image).size
    saved = CheckReport.model_validate_json(report_file.read_text(encoding="utf-8"))
    assert saved.passed and saved.scores == payload["scores"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "overlay.png"]


def test_image_alone_is_judged_by_ocr_against_the_prompt(
    chart: tuple[Path, Path], ocr_engine: Any
) -> None:
    image, _ = chart
    before = sorted(image.parent.iterdir())
    proc = cocogen(
        "check", str(image), "--prompt", 'titled "Quarterly revenue 2024" and "Annual budget"'
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("check failed: ")
    assert "commitment_violated" in proc.stderr and '"Annual budget"' in proc.stderr
    assert "satisfied: text 'Quarterly revenue 2024'" in proc.stderr
    assert sorted(image.parent.iterdir()) == before  # nothing written unasked


def test_failed_check_exit_code_and_human_output(chart: tuple[Path, Path], ocr_engine: Any) -> None:
    image, manifest = chart
    result = CliRunner().invoke(
        cli, ["check", str(image), "--manifest", str(manifest), "--prompt", 'titled "Profit"']
    )
    assert result.exit_code == 1
    assert "check failed" in result.output and "OCR confirmed" in result.output
    assert "commitment_violated" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.png"], "image not found: missing.png"),
        (["{bad}"], "is not a readable image"),
        (["{image}", "--manifest", "none.json"], "manifest not found: none.json"),
        (["{image}", "--manifest", "{bad}"], "is not a layout manifest"),
        (["{image}", "--manifest", "{small}"], "describes a 50x40 image but the image is"),
        (["{image}", "--ocr", "off"], "without --manifest only OCR can judge an image"),
        (["{image}", "--manifest", "{manifest}", "--overlay", "o.jpg"], "must end in .png"),
        (["{image}", "--manifest", "{manifest}", "--report", "{image}"], "is the image being"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    chart: tuple[Path, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    image, manifest = chart
    bad = tmp_path / "bad.txt"
    bad.write_text("not json, not a png", encoding="utf-8")
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"width": 50, "height": 40, "elements": []}), encoding="utf-8")
    names = {"image": image, "manifest": manifest, "bad": bad, "small": small}
    argv = ["check", *(a.format(**names) for a in args), "--json"]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    error = next(line for line in lines if line.startswith("error: "))
    assert message in error
    payload = json.loads(next(line for line in lines if line.startswith("{")))
    assert payload["status"] == "error" and message in payload["error"]
    assert not (image.parent / "o.jpg").exists()
