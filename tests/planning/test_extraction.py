"""Pulling programs out of untidy model replies, and refusing the wrong language."""

from __future__ import annotations

import json
import re

import pytest

from cocogen.planning.extraction import (
    NoProgram,
    WrongLanguage,
    commitments_block,
    extract_program,
    fenced_blocks,
    join_continuation,
    open_fence,
    sniff,
)

PY = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar(['a'], [1])\n"
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50"><text>Hi</text></svg>'
HTML = "<!DOCTYPE html>\n<html><body><h1>Hello</h1></body></html>"
DOT = 'digraph G {\n  a -> b;\n  b -> c [label="x"];\n}'
VEGA = json.dumps({"mark": "bar", "data": {"values": [{"a": 1}]}, "encoding": {}}, indent=1)


@pytest.mark.parametrize(
    ("reply", "language", "expected"),
    [
        (f"```python\n{PY}```", "matplotlib", PY),
        (f"Sure, here you go:\n\n```py\n{PY}```\n\nThis draws one bar.", "matplotlib", PY),
        (f"```\n{PY}```", "matplotlib", PY),  # no tag: the content decides
        (f"````python\n{PY}````", "matplotlib", PY),
        (f"~~~python\n{PY}~~~", "matplotlib", PY),
        (f"```python\nax.set_title('x')\n```\nFull program:\n```python\n{PY}```", "matplotlib",
         PY),
        (f"```python\n{PY}```\n```bash\npip install matplotlib\n```", "matplotlib", PY),
        (f'```commitments\n{{"texts": ["Hi"]}}\n```\n```xml\n{SVG}\n```', "svg", SVG + "\n"),
        (f"```html\n{HTML}\n```", "html", HTML + "\n"),
        (f"```dot\n{DOT}\n```", "graphviz", DOT + "\n"),
        (f'```json\n{{"texts": ["a"]}}\n```\n```json\n{VEGA}\n```', "vegalite", VEGA + "\n"),
    ],
)
def test_fenced(reply: str, language: str, expected: str) -> None:
    assert extract_program(reply, language).source == expected


@pytest.mark.parametrize(
    ("reply", "language", "expected"),
    [
        (f"Here is the SVG: {SVG} I hope it helps.", "svg", SVG),
        (f"The page:\n{HTML}\nDone.", "html", HTML),
        (f"Graph below.\n{DOT}\nThat is all.", "graphviz", DOT),
        (f"Spec: {VEGA} (Vega-Lite v5)", "vegalite", VEGA),
        (f"Here is the code:\n{PY}\nIt draws one bar.", "matplotlib", PY.rstrip("\n")),
    ],
)
def test_unfenced(reply: str, language: str, expected: str) -> None:
    assert extract_program(reply, language).source == expected + "\n"


@pytest.mark.parametrize(
    ("reply", "language", "found"),
    [
        (f"```svg\n{SVG}\n```", "matplotlib", "svg"),
        (f"```python\n{PY}```", "html", "matplotlib"),
        (f"```html\n{SVG}\n```", "html", "svg"),  # the content wins over the tag
        (f"Here: {HTML}", "svg", "html"),
        (f"```json\n{VEGA}\n```", "graphviz", "vegalite"),
    ],
)
def test_wrong_language_is_named(reply: str, language: str, found: str) -> None:
    with pytest.raises(WrongLanguage) as caught:
        extract_program(reply, language)
    assert caught.value.found == found and caught.value.expected == language


def test_no_program() -> None:
    with pytest.raises(NoProgram, match=re.escape("no HTML program: 'I cannot draw that.'")):
        extract_program("I cannot draw that.", "html")
    with pytest.raises(NoProgram, match="it was empty"):
        extract_program("", "svg")


def test_truncated_block_is_kept_and_flagged() -> None:
    reply = f"```python\n{PY}ax.set_tit"
    assert open_fence(reply)
    assert not open_fence(f"```python\n{PY}```")
    assert extract_program(reply, "matplotlib").source.endswith("ax.set_tit\n")
    (block,) = fenced_blocks(reply)
    assert not block.closed and block.tag == "python"


def test_join_continuation_drops_repeats() -> None:
    partial = "```python\nimport matplotlib.pyplot as plt\nfig, ax = plt.sub"
    assert join_continuation(partial, "plots()\n```") == partial + "plots()\n```"
    # A continuation that opens a new fence, or repeats the last words, is stitched cleanly.
    assert join_continuation(partial, "```python\nplots()\n```") == partial + "plots()\n```"
    assert join_continuation(partial, "fig, ax = plt.subplots()\n```").count("fig, ax") == 1


def test_sniff() -> None:
    assert sniff(PY) == "matplotlib"
    assert sniff('<?xml version="1.0"?>\n<!-- x -->\n' + SVG) == "svg"
    assert sniff(HTML) == "html" and sniff("<div>hi</div>") == "html"
    assert sniff("strict digraph { a -> b }") == "graphviz"
    assert sniff(VEGA) == "vegalite"
    assert sniff("hello there") is None


def test_commitments_block() -> None:
    reply = '```commitments\n{"texts": ["A"], "counts": [{"what": "bar", "count": 2}]}\n```'
    assert commitments_block(reply) == {"texts": ["A"], "counts": [{"what": "bar", "count": 2}]}
    assert commitments_block(f'```json\n{{"numbers": ["1"]}}\n```\n```python\n{PY}```') == {
        "numbers": ["1"]
    }
    assert commitments_block(f"```json\n{VEGA}\n```") is None
    assert commitments_block("```commitments\nnot json\n```") is None
