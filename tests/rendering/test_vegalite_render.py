"""The Vega-Lite renderer: roles from Vega's groups, boxes that match the pixels, the canvas filled,
CJK glyphs, input files inlined, and bad or hostile specs refused with one-line errors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import CountingServer, check_text_boxes, in_ci, pixels, run_renderer

from cocogen.checking.pixels import frame_count

RED = "#ff0000"
SPEC: dict[str, Any] = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "title": "Sales by region 地域",
    "data": {
        "values": [
            {"region": "North", "sales": 28, "kind": "online"},
            {"region": "South", "sales": 55, "kind": "store"},
            {"region": "East", "sales": 43, "kind": "online"},
        ]
    },
    "mark": {"type": "bar", "color": "#3060c0"},
    "encoding": {
        "x": {"field": "region", "type": "nominal", "title": "Region", "axis": {"labelAngle": 0}},
        "y": {"field": "sales", "type": "quantitative", "title": "Sales (units)"},
        "color": {"field": "kind", "type": "nominal", "scale": {"range": ["#3060c0", "#30a060"]}},
    },
    "config": {
        "axis": {"labelColor": RED, "titleColor": RED, "domainColor": "#888", "tickColor": "#888"},
        "title": {"color": RED},
        "legend": {"labelColor": RED, "titleColor": RED},
    },
}


def test_roles_boxes_and_canvas() -> None:
    result = run_renderer("vegalite", json.dumps(SPEC), width=640, height=480)
    assert result.ok, result.failure
    assert result.png is not None and result.manifest is not None
    manifest = result.manifest
    assert (manifest["width"], manifest["height"]) == (640, 480)  # a sizeless view fills it
    check_text_boxes(result.png, manifest)
    by_text = {e["text"]: e for e in manifest["elements"] if e.get("text")}
    assert by_text["Region"]["role"] == "axis_label" and by_text["Region"]["kind"] == "xlabel"
    assert by_text["Sales (units)"]["kind"] == "ylabel"
    assert by_text["Sales (units)"]["rotation"] == pytest.approx(90.0)
    assert by_text["Sales by region 地域"]["role"] == "title"
    assert by_text["North"]["role"] == "tick" and by_text["North"]["kind"] == "xtick"
    assert by_text["50"]["kind"] == "ytick"
    assert by_text["online"]["role"] == "legend"
    axes = [e for e in manifest["elements"] if e["role"] == "axes"]
    assert len(axes) == 1
    bars = [e for e in manifest["elements"] if e.get("kind") == "bar"]
    assert len(bars) == 3 and all(b["parent"] == axes[0]["id"] for b in bars)
    assert by_text["North"]["parent"] == axes[0]["id"]
    heights = {b["color"]: b["box"][3] - b["box"][1] for b in bars}
    assert max(heights.values()) > min(heights.values())


def test_cjk_text_renders_with_real_glyphs() -> None:
    """Vega's SVG is drawn by cairo, which has no per-glyph fallback: CJK titles and labels must
    be switched to a CJK family, or every character becomes the same empty box (tofu)."""
    chars = ["北", "京", "東", "語"]
    spec = {
        "title": {"text": "北京東語", "fontSize": 30},
        "data": {"values": [{"city": c, "sales": i + 1} for i, c in enumerate(chars)]},
        "mark": "bar",
        "encoding": {
            "x": {
                "field": "city",
                "type": "nominal",
                "sort": None,
                "axis": {"labelAngle": 0, "labelFontSize": 30, "title": None},
            },
            "y": {"field": "sales", "type": "quantitative"},
        },
    }
    result = run_renderer("vegalite", json.dumps(spec), width=480, height=320)
    assert result.ok, result.failure
    assert result.png is not None and result.manifest is not None
    rgb = pixels(result.png)
    by_text = {e["text"]: e for e in result.manifest["elements"] if e.get("text")}
    cjk = [by_text["北京東語"], *(by_text[c] for c in chars)]
    assert cjk[0]["role"] == "title" and all(e["kind"] == "xtick" for e in cjk[1:])
    if not in_ci() and not any("fallback" in note for note in result.notes):
        pytest.skip("no CJK font installed here (Debian fonts-noto-cjk); CI installs it")
    assert all(e["font_family"].startswith("Noto Sans CJK") for e in cjk)
    crops = []
    for element in cjk:
        x0, y0, x1, y1 = (round(v) for v in element["box"])
        crop = rgb[y0:y1, x0:x1]
        assert (crop.mean(axis=2) < 128).sum() > 20, element["text"]
        # A missing glyph is drawn as a closed frame one em tall; these characters have none.
        assert frame_count(crop, np.full(3, 255.0), element["font_size_px"]) == 0, element
        crops.append(crop.mean(axis=2) < 128)
    ticks = crops[1:]
    for i in range(4):
        for j in range(i + 1, 4):
            assert ticks[i].shape != ticks[j].shape or not np.array_equal(ticks[i], ticks[j])


def test_input_csv_is_inlined(tmp_path: Path) -> None:
    (tmp_path / "sales.csv").write_text("city,amount\nOslo,3\nLima,7\n", encoding="utf-8")
    spec = {
        "data": {"url": "sales.csv"},
        "mark": "bar",
        "encoding": {
            "x": {"field": "city", "type": "nominal"},
            "y": {"field": "amount", "type": "quantitative"},
        },
    }
    result = run_renderer(
        "vegalite", json.dumps(spec), files={"sales.csv": str(tmp_path / "sales.csv")}
    )
    assert result.ok, result.failure
    assert result.manifest is not None
    texts = {e["text"] for e in result.manifest["elements"] if e.get("text")}
    assert {"Oslo", "Lima", "city", "amount"} <= texts


def test_data_from_the_network_is_refused_and_no_request_arrives() -> None:
    with CountingServer() as server:
        spec = {"data": {"url": f"{server.url}/data.csv"}, "mark": "point"}
        result = run_renderer("vegalite", json.dumps(spec))
        time.sleep(0.2)
        assert server.paths == []
    assert result.failure is not None and result.failure["kind"] == "refused"
    assert server.url in result.failure["message"]


@pytest.mark.parametrize(
    ("source", "kind", "expected"),
    [
        (
            '{\n  "mark": "bar",\n  "encoding": {\n    "x": {"field": "a",}\n  }\n}',
            "error",
            "line 4",
        ),
        ('{"data": {"values": []}}', "error", '"mark"'),
        (
            '{"mark": "nonsense", "data": {"values": [{"a": 1}]}}',
            "error",
            "unknown mark 'nonsense'",
        ),
        (
            '{"mark": "bar", "transform": [{"calculate": "datum.a +", "as": "b"}]}',
            "error",
            "Unexpected end of input",
        ),
        ('{"mark": "bar", "width": 100000, "height": 100000}', "limit", "100000"),
    ],
)
def test_bad_specs_give_one_line_errors(source: str, kind: str, expected: str) -> None:
    result = run_renderer("vegalite", source)
    assert result.failure is not None
    assert result.failure["kind"] == kind
    assert expected in result.failure["message"]
    assert "\n" not in result.failure["message"]


def test_the_pool_shares_one_jailed_engine_and_replaces_a_runaway_one(cache_dir: Path) -> None:
    """In a warm worker, vl-convert's engine lives in a jailed process of its own that every
    job of the worker uses; a spec that compiles too long stops it, and the next job gets a
    new one."""
    from sandbox.pool import WorkerPool
    from sandbox.wire import Job, Limits

    def job(spec: dict[str, Any], wall_s: float = 20) -> Job:
        return Job(
            renderer="renderers.vegalite:render",
            source=json.dumps(spec),
            language="vegalite",
            width=640,
            height=480,
            limits=Limits(wall_s=wall_s),
        )

    runaway = {
        "data": {"sequence": {"start": 0, "stop": 200_000_000}},
        "mark": "point",
        "encoding": {"x": {"field": "data", "type": "quantitative"}},
    }
    with WorkerPool(1, cache_dir=cache_dir) as pool:
        first = pool.run(job(SPEC))
        assert first.ok, first.failure
        second = pool.run(job(SPEC))
        assert second.ok and "compiled by the worker's Vega-Lite engine" in second.notes
        stopped = pool.run(job(runaway, wall_s=3))
        assert stopped.failure is not None and stopped.failure["kind"] in ("timeout", "limit")
        again = pool.run(job(SPEC))
        assert again.ok and "compiled by the worker's Vega-Lite engine" in again.notes
        assert again.manifest == first.manifest


def test_long_legend_labels_stay_on_the_canvas() -> None:
    """Vega measures labels with the font the SVG path then draws them in (an nvBench pie whose
    legend ran 9 px past a 640 px canvas when Vega measured a narrower generic face)."""
    names = ["Mystery Weekend", "Smart Dummy", "Bermuda Triangle", "Piggy Banker"]
    spec = {
        "data": {
            "values": [{"x": f"The Case of the {name}", "y": 9 + i} for i, name in enumerate(names)]
        },
        "mark": "arc",
        "encoding": {
            "theta": {"field": "y", "type": "quantitative"},
            "color": {"field": "x", "type": "nominal", "title": "Title"},
        },
    }
    result = run_renderer("vegalite", json.dumps(spec), width=640, height=480)
    assert result.ok and result.manifest is not None, result.failure
    labels = [
        e
        for e in result.manifest["elements"]
        if e.get("role") == "legend" and str(e.get("text")).startswith("The Case")
    ]
    assert len(labels) == 4  # (Vega shortens a label longer than its labelLimit with "…")
    assert all(e["box"][2] <= 640 for e in labels)
    # The spec's own font is kept (and then measured as the spec says).
    spec["config"] = {"font": "DejaVu Sans Mono"}
    mono = run_renderer("vegalite", json.dumps(spec), width=640, height=480)
    assert mono.ok and mono.manifest is not None
    assert any("Mono" in (e.get("font_family") or "") for e in mono.manifest["elements"])
