"""Reading batch specs: JSONL and CSV rows, bad lines with their numbers, names, content keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cocogen.batching.keys import batch_settings
from cocogen.batching.spec import load, read_spec
from cocogen.checking import CheckSettings
from cocogen.errors import UsageError
from cocogen.types import Program, Request

SETTINGS = batch_settings(
    backend="offline", max_attempts=3, check_settings=CheckSettings(), limits=None
)
SVG = (
    "<svg xmlns='http://www.w3.org/2000/svg' width='64' height='48'>"
    "<text x='2' y='20'>A</text></svg>"
)


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n",
        encoding="utf-8",
    )
    return path


def test_jsonl_rows_bad_lines_and_duplicates(tmp_path: Path) -> None:
    (tmp_path / "progs").mkdir()
    (tmp_path / "progs" / "chart.py").write_text("import matplotlib.pyplot as plt\nplt.figure()\n")
    spec = write_jsonl(
        tmp_path / "spec.jsonl",
        [
            {
                "output": "sales.png",
                "prompt": "bar chart of A, B with values 1, 2",
                "canvas": "320x240@50",
            },
            {"program": SVG, "width": 64, "height": 48},
            "",
            {"program_file": "progs/chart.py", "seed": 7, "refine": True},
            {"promt": "typo"},
            "{not json",
            {"program": {"mark": "bar", "data": {"values": []}}},
            {"program": SVG, "width": 64, "height": 48},
            {"output": "sales", "prompt": "another chart of X, Y with values 3, 4"},
            {"output": "../escape", "prompt": "x"},
            {"prompt": "chart", "canvas": {"width": 5}},
            {"language": "svg"},
            {"program_file": "missing.py"},
            ["a", "list"],
        ],
    )
    reading = read_spec(spec, SETTINGS)
    names = [row.name for row in reading.rows]
    assert names[0] == "sales" and len(names) == 4
    first = reading.rows[0]
    assert first.line == 1 and first.program is None
    assert (first.request.canvas.width, first.request.canvas.height, first.request.canvas.dpi) == (
        320,
        240,
        50,
    )
    svg_row = reading.rows[1]
    assert svg_row.line == 2 and svg_row.program is not None
    assert svg_row.program.language == "svg" and svg_row.request.language == "svg"
    assert svg_row.name.startswith("row-")
    file_row = reading.rows[2]
    assert file_row.line == 4 and file_row.program is not None
    assert file_row.program.language == "matplotlib" and file_row.request.seed == 7
    assert file_row.request.refine is not None
    vega = reading.rows[3]
    assert vega.program is not None and vega.program.language == "vegalite"
    assert json.loads(vega.program.source)["mark"] == "bar"

    bad = {b.line: b.error for b in reading.bad}
    assert set(bad) == {5, 6, 9, 10, 11, 12, 13, 14}
    assert "unknown field 'promt'" in bad[5]
    assert "not valid JSON" in bad[6]
    assert "already used by line 1" in bad[9]
    assert "not a plain file name" in bad[10]
    assert "canvas.width" in bad[11]
    assert "needs a prompt or a program" in bad[12]
    assert "missing.py" in bad[13] and "not found" in bad[13]
    assert "JSON object" in bad[14]
    assert [(d.line, d.error) for d in reading.duplicates] == [
        (8, "same request and output as line 2")
    ]


def test_csv_has_the_same_columns_and_reports_record_start_lines(tmp_path: Path) -> None:
    spec = tmp_path / "spec.csv"
    spec.write_text(
        "output,prompt,program,language,data,canvas,seed,refine\n"
        'a,"bar chart of A, B with values 1, 2",,,,320x240,3,\n'
        'b,,"import matplotlib.pyplot as plt\nplt.figure()\n",matplotlib,,,,false\n'
        'c,chart,,,"{""labels"": [""x""], ""values"": [1]}",,,\n'
        "d,chart,,,{broken,,,\n"
        "e,chart,,,,,notanumber,\n"
        "f,chart,,,,,,\n",
        encoding="utf-8",
    )
    reading = read_spec(spec, SETTINGS)
    rows = {row.name: row for row in reading.rows}
    assert set(rows) == {"a", "b", "c", "f"}
    assert rows["a"].line == 2 and rows["a"].request.seed == 3
    assert rows["a"].request.canvas.width == 320
    assert rows["b"].line == 3 and rows["b"].program is not None
    assert rows["b"].program.source.endswith("plt.figure()\n")  # a cell over 3 lines, verbatim
    assert rows["c"].line == 6 and rows["c"].request.data == {"labels": ["x"], "values": [1]}
    assert rows["f"].line == 9
    bad = {b.line: b.error for b in reading.bad}
    assert set(bad) == {7, 8}
    assert "data is not valid JSON" in bad[7] and "seed must be an integer" in bad[8]

    unknown = tmp_path / "unknown.csv"
    unknown.write_text("output,colour\na,red\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"unknown.csv:1: unknown column 'colour'"):
        read_spec(unknown, SETTINGS)


def test_keys_follow_content_not_position(tmp_path: Path) -> None:
    ref = tmp_path / "ref.png"
    ref.write_bytes(b"one")
    row = {"prompt": "bar chart of A, B with values 1, 2", "reference_images": {"r": "ref.png"}}
    spec = write_jsonl(tmp_path / "a.jsonl", [row, {"program": SVG}])
    before = {r.line: r.key for r in read_spec(spec, SETTINGS).rows}

    # The same rows in another order: same keys and names.
    swapped = write_jsonl(tmp_path / "b.jsonl", [{"program": SVG}, row])
    after = {r.line: r.key for r in read_spec(swapped, SETTINGS).rows}
    assert before[1] == after[2] and before[2] == after[1]

    # A reference image's bytes are part of the key, its path is not.
    ref.write_bytes(b"two")
    changed = {r.line: r.key for r in read_spec(spec, SETTINGS).rows}
    assert changed[1] != before[1] and changed[2] == before[2]

    # Planner settings change planned rows only; checker settings change every row.
    other_backend = dict(SETTINGS, backend="anthropic")
    keys = {r.line: r.key for r in read_spec(spec, other_backend).rows}
    assert keys[1] != changed[1] and keys[2] == changed[2]
    stricter = batch_settings(
        backend="offline", max_attempts=3, check_settings=CheckSettings(min_text_px=12), limits=None
    )
    keys = {r.line: r.key for r in read_spec(spec, stricter).rows}
    assert keys[1] != changed[1] and keys[2] != changed[2]


def test_python_objects_as_requests() -> None:
    reading = load(
        [
            Request(prompt="bar chart of A, B with values 1, 2"),
            Program(language="svg", source=SVG),
            {"program": SVG, "output": "named"},
            Request(prompt=""),
            42,
        ],
        SETTINGS,
    )
    assert [row.line for row in reading.rows] == [1, 2, 3]
    assert reading.rows[2].name == "named"
    assert {b.line for b in reading.bad} == {4, 5}
    with pytest.raises(UsageError, match="spec file not found"):
        load(Path("nope.jsonl"), SETTINGS)
    with pytest.raises(UsageError, match="iterable"):
        load(3.5, SETTINGS)
