"""The Graphviz renderer: node, edge and graph labels with roles and parents, boxes that match the
pixels, CJK labels, DOT errors named by line, files outside the job refused."""

from __future__ import annotations

import numpy as np
import pytest
from support import check_text_boxes, in_ci, pixels, run_renderer

from cocogen.checking.pixels import frame_count

RED_GRAPH = """// labels in red, everything else in other colours
digraph G {
  label="Deploy pipeline"; fontcolor="#ff0000"; labelloc=t;
  node [shape=box, color="#3050a0", fontcolor="#ff0000", fontname="DejaVu Sans"];
  edge [color="#406040", fontcolor="#ff0000", fontname="DejaVu Sans"];
  subgraph cluster_ci { label="CI"; color="#808080"; build; test; }
  build -> test [label="on green"];
  test -> ship;
  ship [label="Ship 出荷"];
}
"""


def test_labels_roles_parents_and_boxes() -> None:
    result = run_renderer("graphviz", RED_GRAPH)
    assert result.ok, result.failure
    assert result.png is not None and result.manifest is not None
    assert result.engine == "cairosvg"
    check_text_boxes(result.png, result.manifest)
    elements = result.manifest["elements"]
    by_text = {e["text"]: e for e in elements if e.get("text")}
    assert by_text["Deploy pipeline"]["role"] == "title"
    assert by_text["CI"]["kind"] == "cluster_label"
    assert by_text["on green"]["role"] == "annotation"
    assert by_text["on green"]["kind"] == "edge_label"
    nodes = {e["id"]: e for e in elements if e.get("kind") == "node"}
    assert len(nodes) == 3
    for label in ("build", "test", "Ship 出荷"):
        element = by_text[label]
        assert element["kind"] == "node_label"
        node = nodes[element["parent"]]
        x0, y0, x1, y1 = node["box"]  # the label lies inside its node's shape
        assert x0 <= element["box"][0] and element["box"][2] <= x1
        assert y0 <= element["box"][1] and element["box"][3] <= y1
    assert sum(1 for e in elements if e.get("kind") == "edge") == 2


def test_cjk_node_labels_render_with_real_glyphs() -> None:
    """Graphviz's SVG is drawn by cairo, which has no per-glyph fallback: CJK labels must be
    switched to a CJK family, or every character becomes the same empty box (tofu)."""
    chars = ["北", "京", "東", "語"]
    nodes = " ".join(f'n{i} [label="{c}"];' for i, c in enumerate(chars))
    dot = f'digraph G {{ node [shape=plaintext, fontsize=30, fontname="DejaVu Sans"]; {nodes} }}'
    result = run_renderer("graphviz", dot)
    assert result.ok, result.failure
    assert result.png is not None and result.manifest is not None
    rgb = pixels(result.png)
    labels = [e for e in result.manifest["elements"] if e.get("kind") == "node_label"]
    assert sorted(e["text"] for e in labels) == sorted(chars)
    if not in_ci() and not any("fallback" in note for note in result.notes):
        pytest.skip("no CJK font installed here (Debian fonts-noto-cjk); CI installs it")
    assert all(e["font_family"].startswith("Noto Sans CJK") for e in labels)
    crops = []
    for element in labels:
        x0, y0, x1, y1 = (round(v) for v in element["box"])
        crop = rgb[y0:y1, x0:x1]
        assert (crop.mean(axis=2) < 128).sum() > 20, element["text"]
        # A missing glyph is drawn as a closed frame one em tall; these characters have none.
        assert frame_count(crop, np.full(3, 255.0), element["font_size_px"]) == 0, element
        crops.append(crop.mean(axis=2) < 128)
    for i in range(4):
        for j in range(i + 1, 4):
            assert crops[i].shape != crops[j].shape or not np.array_equal(crops[i], crops[j])


def test_a_big_graph_is_scaled_down_to_the_canvas() -> None:
    edges = "; ".join(f"n{i} -> n{i + 1}" for i in range(40))
    result = run_renderer("graphviz", f"digraph {{ rankdir=LR; {edges} }}", width=800, height=600)
    assert result.ok, result.failure
    assert result.manifest is not None
    assert result.manifest["width"] <= 800 and result.manifest["height"] <= 600


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("digraph G {\n  a -> b;\n  b -> -> c;\n}", "line 3"),
        ('digraph G {\n  a -> b [label="x"\n', "syntax error"),
        ('graph G { layout="nonsense"; a -- b }', "unknown Graphviz layout"),
    ],
)
def test_dot_errors_name_the_line(source: str, expected: str) -> None:
    result = run_renderer("graphviz", source)
    assert result.failure is not None
    assert result.failure["kind"] == "error"
    assert expected in result.failure["message"]
    assert "\n" not in result.failure["message"]


@pytest.mark.parametrize(
    "attribute",
    [
        'a [image="/etc/passwd"]',
        'a [shapefile="../../etc/passwd"]',
        'a [label=<<TABLE><TR><TD><IMG SRC="/etc/passwd"/></TD></TR></TABLE>>]',
        'graph [imagepath="/etc"]; a [image="passwd"]',
        'graph [stylesheet="http://127.0.0.1:9/x.css"]',
    ],
)
def test_files_outside_the_job_are_refused(attribute: str) -> None:
    result = run_renderer("graphviz", f"digraph G {{\n  {attribute};\n  a -> b;\n}}")
    assert result.failure is not None
    assert result.failure["kind"] == "refused", result.failure
    assert "root:" not in result.failure["message"]
