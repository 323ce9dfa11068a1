"""The Graphviz renderer: node, edge and graph labels with roles and parents, boxes that match the
pixels, CJK labels, DOT errors named by line, files outside the job refused."""

from __future__ import annotations

import pytest
from support import check_text_boxes, run_renderer

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
