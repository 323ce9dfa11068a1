"""Language detection for `--language auto`, and `cocogen render` / `cocogen.render` accepting a
file in every language end to end (sandbox, manifest, checker, run directory)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import in_ci

import cocogen
from cocogen.errors import UsageError
from cocogen.languages import detect, strip_fence
from renderers._browser import chromium_path

COCOGEN = [sys.executable, "-m", "cocogen.cli"]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "programs"


@pytest.mark.parametrize(
    ("source", "language"),
    [
        ('<svg xmlns="http://www.w3.org/2000/svg"></svg>', "svg"),
        (
            '<?xml version="1.0"?>\n<!-- made by hand -->\n<!DOCTYPE svg PUBLIC "x" "y">\n<svg>',
            "svg",
        ),
        ("<!DOCTYPE html>\n<html><body></body></html>", "html"),
        ("<html lang='en'><body>hi</body></html>", "html"),
        ('<div class="card"><h1>Poster</h1></div>', "html"),
        ('{"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "data": {}}', "vegalite"),
        ('{\n  "mark": "bar",\n  "encoding": {}\n}', "vegalite"),
        ('{"layer": [{"mark": "line"}]}', "vegalite"),
        (
            '{"mark": "bar", "encoding": {"x": {"field": "a",}}}',
            "vegalite",
        ),  # broken, still Vega-Lite
        ("digraph G { a -> b }", "graphviz"),
        ("// services\n/* by team */\nstrict graph { a -- b }", "graphviz"),
        ("import matplotlib.pyplot as plt\nplt.plot([1])", "matplotlib"),
        ("import svgwrite\nd = svgwrite.Drawing('x.svg')\nd.save()", "svg"),
        ("```svg\n<svg></svg>\n```", "svg"),
        ("```html\n<p>hi</p>\n```", "html"),
        ('```json\n{"mark": "point"}\n```', "vegalite"),
        ("```dot\ndigraph { a -> b }\n```", "graphviz"),
        ("```python\nimport svgwrite\n```", "svg"),
        ("```\ndigraph { a }\n```", "graphviz"),
    ],
)
def test_detect_from_the_text(source: str, language: str) -> None:
    assert detect(source) == language


@pytest.mark.parametrize(
    ("filename", "language"),
    [
        ("chart.vl.json", "vegalite"),
        ("chart.py", "matplotlib"),
        ("drawing.svg", "svg"),
        ("page.htm", "html"),
        ("graph.gv", "graphviz"),
        ("graph.dot", "graphviz"),
    ],
)
def test_a_suffix_wins(filename: str, language: str) -> None:
    assert detect("whatever the text says", filename) == language


def test_a_python_file_that_uses_svgwrite_is_svg() -> None:
    assert detect("import svgwrite\n", "figure.py") == "svg"


def test_unknown_text_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--language"):
        detect("just some words")
    with pytest.raises(UsageError):
        detect('```json\n{"name": "not a chart"}\n```')


def test_strip_fence() -> None:
    assert strip_fence("```svg\n<svg/>\n```") == ("svg", "<svg/>")
    assert strip_fence("~~~\ndigraph {}\n~~~\n") == (None, "digraph {}")
    assert strip_fence("<svg/>") == (None, "<svg/>")


CASES = [
    ("release_flow.svg", "svg", "program.svg"),
    ("launch_poster.html", "html", "program.html"),
    ("monthly_signups.vl.json", "vegalite", "program.vl.json"),
    ("service_graph.dot", "graphviz", "program.dot"),
]


@pytest.mark.parametrize(("name", "language", "program"), CASES)
def test_cli_renders_every_language(name: str, language: str, program: str) -> None:
    if language == "html" and chromium_path() is None and not in_ci():
        pytest.skip("no Chromium here (Debian package chromium)")
    proc = subprocess.run(
        [*COCOGEN, "render", str(EXAMPLES / name), "-o", "out.png", "--run-dir", "run", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["language"] == language and summary["status"] == "ok"
    assert Path("out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (Path("run/attempt-1") / program).read_text(encoding="utf-8") == (
        EXAMPLES / name
    ).read_text(encoding="utf-8")
    manifest = json.loads(Path("run/attempt-1/manifest.json").read_text(encoding="utf-8"))
    assert any(e.get("text") for e in manifest["elements"])
    errors = [f for f in summary["findings"] if f["severity"] == "error"]
    assert errors == []


def test_library_renders_fenced_source() -> None:
    result = cocogen.render("```dot\ndigraph { hello -> world }\n```", output="graph.png")
    assert result.ok
    assert Path("graph.png").exists()
