"""The `cocogen` command as users run it: a real subprocess, exit codes, one JSON object."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from batch.batchkit import cocogen
from support import box_mask, pixels, run_matplotlib

SALES = "A bar chart comparing Q1-Q4 sales with values 100, 120, 150, 140"


def test_acceptance_generate_offline_sales_chart(tmp_path: Path) -> None:
    proc = cocogen("generate", SALES, "-o", "sales.png", "--json")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["status"] == "ok"
    assert payload["image"] == "sales.png" and Path("sales.png").exists()
    assert payload["findings"] == [] or all(f["severity"] != "error" for f in payload["findings"])
    run_dir = Path(payload["run_dir"])
    manifest = json.loads((run_dir / "attempt-1/manifest.json").read_text())
    texts = {e["text"]: e for e in manifest["elements"] if e.get("text")}
    for quarter in ("Q1", "Q2", "Q3", "Q4"):
        assert quarter in texts
    titles = [e for e in manifest["elements"] if e["role"] == "title"]
    assert len(titles) == 1 and titles[0]["text"]

    # Boxes match pixels: hide every text and re-render the same program.  Outside the boxes the
    # two images must be identical (no text there); inside each box the text must show.
    png = Path("sales.png").read_bytes()
    rgb = pixels(png)
    height, width = rgb.shape[:2]
    assert (manifest["width"], manifest["height"]) == (width, height)
    program = (run_dir / "attempt-1/program.py").read_text()
    hidden = program + (
        "\nimport matplotlib.text\n"
        "for _f in [plt.figure(n) for n in plt.get_fignums()]:\n"
        "    for _t in _f.findobj(matplotlib.text.Text):\n"
        "        _t.set_visible(False)\n"
    )
    bare = run_matplotlib(hidden, width=1024, height=768, dpi=100)
    assert bare.ok and bare.png is not None
    bare_rgb = pixels(bare.png)
    assert bare_rgb.shape == rgb.shape
    text_elements = [e for e in manifest["elements"] if e.get("text")]
    boxes = box_mask(rgb.shape, [e["box"] for e in text_elements], pad=1.5)
    diff = np.abs(rgb - bare_rgb).max(axis=2) > 0
    assert diff[~boxes].sum() == 0, "text pixels outside the manifest's boxes"
    for element in text_elements:
        x0, y0, x1, y1 = element["box"]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, element
        inside = box_mask(rgb.shape, [element["box"]], pad=0)
        dark = (rgb.max(axis=2) < 100) & inside
        assert dark.sum() >= 5, f"no dark text pixels in the box of {element['text']!r}"
        assert diff[inside].sum() >= 5, f"hiding {element['text']!r} changed nothing in its box"


def test_render_a_file_and_print_a_summary(tmp_path: Path) -> None:
    program = tmp_path / "chart.py"
    program.write_text("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.title('Hi')\n")
    proc = cocogen("render", str(program), "-o", "out.png", "--run-dir", "run1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok: out.png")
    assert Path("run1/final.png").exists() and Path("run1/attempt-1/program.py").exists()


def test_failed_render_exits_1_with_one_line_and_json(tmp_path: Path) -> None:
    program = tmp_path / "bad.py"
    program.write_text("raise ValueError('boom')\n")
    proc = cocogen("render", str(program), "--json")
    assert proc.returncode == 1
    payload = json.loads(proc.stdout)
    assert payload["status"] == "render_failed" and payload["image"] is None
    assert "ValueError: boom" in payload["failure"]["message"]
    assert {"status", "image", "run_dir", "findings"} <= payload.keys()


def test_bad_usage_exits_2_without_traceback() -> None:
    proc = cocogen("render", "missing.py")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: file not found: missing.py"
    proc = cocogen("generate", "a lovely poster about autumn")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "ANTHROPIC_API_KEY" in proc.stderr and "data" in proc.stderr
    proc = cocogen("generate", SALES, "--width", "0")
    assert proc.returncode == 2 and "width" in proc.stderr
    proc = cocogen("generate", SALES, "--language", "pdf")
    assert proc.returncode == 2
    proc = cocogen("generate", SALES, "--backend", "nosuch")
    assert proc.returncode == 2 and "nosuch" in proc.stderr and "offline" in proc.stderr


def test_debug_shows_the_traceback() -> None:
    proc = cocogen("generate", "a lovely poster about autumn", "--debug")
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_json_error_is_still_one_object() -> None:
    proc = cocogen("generate", "a lovely poster about autumn", "--json")
    assert proc.returncode == 2
    payload = json.loads(proc.stdout)
    assert payload["status"] == "error" and payload["run_dir"] is None


def test_doctor_reports_what_works() -> None:
    proc = cocogen("doctor", "--json", env={"ANTHROPIC_API_KEY": ""})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    assert report["renderers"]["matplotlib"]["ok"] is True
    assert report["backends"]["offline"]["ready"] is True
    assert report["backends"]["anthropic"]["key_set"] is False
    layers = report["sandbox"]["layers"]
    assert layers["scrubbed_env"]["active"] is True
    assert isinstance(layers["seccomp"]["active"], bool) and layers["seccomp"]["detail"]
    proc = cocogen("doctor")
    assert proc.returncode == 0 and "sandbox" in proc.stdout and "matplotlib" in proc.stdout


def test_import_and_help_stay_light() -> None:
    heavy = ("matplotlib", "numpy", "PIL", "pydantic", "anthropic", "openai", "torch")
    code = f"import sys, cocogen, cocogen.cli\nprint([m for m in {heavy!r} if m in sys.modules])\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
    proc = cocogen("--help")
    assert proc.returncode == 0 and "generate" in proc.stdout and "render" in proc.stdout


def test_library_returns_the_same_result_as_the_cli(tmp_path: Path) -> None:
    import cocogen as api

    result = api.generate(SALES, output=tmp_path / "lib.png")
    assert result.status == "ok" and Path(result.image or "").exists()
    proc = cocogen("generate", SALES, "--json")
    payload = json.loads(proc.stdout)
    assert set(payload) == set(result.model_dump(mode="json"))
    rendered = api.render(Path(result.run_dir) / "attempt-1/program.py")
    assert rendered.status == "ok"
    assert Path(rendered.image or "").read_bytes() == Path(result.image or "").read_bytes()
