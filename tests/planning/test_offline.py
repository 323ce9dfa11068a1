"""The offline planner: prompts with spelled-out data → ChartSpec → a matplotlib program.

Every case is checked twice: the parse (`parse_chart_request`) and the drawing (the generated
source exec'd under Agg, then the figure's title, tick labels and bar heights / line data / wedge
sizes / scatter offsets compared with what the prompt said).
"""

from __future__ import annotations

import ast
import itertools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle, Wedge
from matplotlib.text import Text

from cocogen.errors import NotUnderstood
from cocogen.planning.base import GenerationRequest, PreviousAttempt, supports_repair
from cocogen.planning.offline import (
    NEEDS_DATA,
    ChartSpec,
    OfflineBackend,
    chart_source,
    parse_chart_request,
)
from cocogen.types import Canvas, Program, Request


@dataclass(frozen=True)
class Case:
    prompt: str
    kind: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    title: str
    value_texts: tuple[str, ...] | None = None
    points: tuple[tuple[float, float], ...] = ()
    x_label: str | None = None
    y_label: str | None = None


CASES: list[Case] = [
    Case(
        "A bar chart comparing Q1-Q4 sales with values 100, 120, 150, 140",
        "bar",
        ("Q1", "Q2", "Q3", "Q4"),
        (100, 120, 150, 140),
        "Q1-Q4 sales",
    ),
    Case(
        "Line chart of revenue for Jan, Feb, Mar, Apr: 10, 12, 9, 15",
        "line",
        ("Jan", "Feb", "Mar", "Apr"),
        (10, 12, 9, 15),
        "Revenue",
    ),
    Case(
        "pie chart: apples 30, bananas 45, cherries 25",
        "pie",
        ("apples", "bananas", "cherries"),
        (30, 45, 25),
        "Pie chart",
    ),
    Case(
        "Scatter plot of points (1, 2), (2, 4), (3, 5.5), (4, 8)",
        "scatter",
        (),
        (),
        "Scatter plot",
        points=((1, 2), (2, 4), (3, 5.5), (4, 8)),
    ),
    Case(
        'bar chart titled "Team size" with A=5, B=7, C=3',
        "bar",
        ("A", "B", "C"),
        (5, 7, 3),
        "Team size",
    ),
    Case(
        "Plot sales of 2019 to 2023 as a line: 5, 6, 7, 9, 12",
        "line",
        ("2019", "2020", "2021", "2022", "2023"),
        (5, 6, 7, 9, 12),
        "Sales of 2019 to 2023",
    ),
    Case(
        "bar chart of 北京 10, 上海 20, 广州 15",
        "bar",
        ("北京", "上海", "广州"),
        (10, 20, 15),
        "Bar chart",
    ),
    Case(
        "Monthly visitors as a column chart: January 1,200; February 1,350; March 1,500",
        "bar",
        ("January", "February", "March"),
        (1200, 1350, 1500),
        "Monthly visitors",
        value_texts=("1,200", "1,350", "1,500"),
    ),
    Case(
        'horizontal bar chart of programming languages: Python 45, JavaScript 38, "C++" 20',
        "barh",
        ("Python", "JavaScript", "C++"),
        (45, 38, 20),
        "Programming languages",
    ),
    Case(
        "donut chart of 30% apples, 45% bananas and 25% cherries",
        "pie",
        ("apples", "bananas", "cherries"),
        (30, 45, 25),
        "Donut chart",
        value_texts=("30%", "45%", "25%"),
    ),
    Case(
        "Show the trend of visitors over Mon-Fri: 120, 135, 128, 150, 170",
        "line",
        ("Mon", "Tue", "Wed", "Thu", "Fri"),
        (120, 135, 128, 150, 170),
        "Visitors over Mon-Fri",
    ),
    Case(
        "Make a bar chart with labels North, South, East, West and values 3.5, 4, 2.25, 5",
        "bar",
        ("North", "South", "East", "West"),
        (3.5, 4, 2.25, 5),
        "Bar chart",
        value_texts=("3.5", "4", "2.25", "5"),
    ),
    Case(
        'bar chart of profit by quarter, x-axis "Quarter", y label "Profit ($k)": '
        "Q1 -12, Q2 5, Q3 18, Q4 9",
        "bar",
        ("Q1", "Q2", "Q3", "Q4"),
        (-12, 5, 18, 9),
        "Profit by quarter",
        x_label="Quarter",
        y_label="Profit ($k)",
    ),
    Case(
        'Create a line chart titled "Temperature (°C)" for Jan-Jun: -3, 0, 4.5, 9, 14, 18',
        "line",
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun"),
        (-3, 0, 4.5, 9, 14, 18),
        "Temperature (°C)",
    ),
    Case(
        'Pie chart with the title "Market share": "Product A" 40, "Product B" 35, "Other" 25',
        "pie",
        ("Product A", "Product B", "Other"),
        (40, 35, 25),
        "Market share",
    ),
    Case(
        "x = 1, 2, 3, 4 and y = 1, 4, 9, 16 as a scatter plot",
        "scatter",
        (),
        (),
        "Scatter plot",
        points=((1, 1), (2, 4), (3, 9), (4, 16)),
    ),
    Case(
        "Line chart of 2019 to 2022 with values 1.5k, 2k, 2.5k, 4k",
        "line",
        ("2019", "2020", "2021", "2022"),
        (1500, 2000, 2500, 4000),
        "2019 to 2022",
        value_texts=("1.5k", "2k", "2.5k", "4k"),
    ),
    Case(
        "revenue by region: EMEA=$4.2M, APAC=$3.1M, Americas=$5.5M",
        "bar",
        ("EMEA", "APAC", "Americas"),
        (4_200_000, 3_100_000, 5_500_000),
        "Revenue by region",
        value_texts=("$4.2M", "$3.1M", "$5.5M"),
    ),
    Case(
        "bar chart, x axis labeled Year, y axis labeled Sales: 2019: 5, 2020: 7, 2021: 9",
        "bar",
        ("2019", "2020", "2021"),
        (5, 7, 9),
        "Bar chart",
        x_label="Year",
        y_label="Sales",
    ),
    Case(
        "Plot 2020: 4, 2021: 6, 2022: 5",
        "line",
        ("2020", "2021", "2022"),
        (4, 6, 5),
        "Line chart",
    ),
    Case(
        "A bar chart about fruit where apples are 5, pears are 3 and plums are 7",
        "bar",
        ("apples", "pears", "plums"),
        (5, 3, 7),
        "Fruit",
    ),
    Case(
        "Sales over time: 2019 5, 2020 6, 2021 8",
        "line",
        ("2019", "2020", "2021"),
        (5, 6, 8),
        "Sales",
    ),
    Case(
        "bar chart of revenue by country: United States of America 1,200, "
        "United Kingdom 950, France 640",
        "bar",
        ("United States of America", "United Kingdom", "France"),
        (1200, 950, 640),
        "Revenue by country",
        value_texts=("1,200", "950", "640"),
    ),
]


@pytest.fixture(autouse=True)
def clean_figures() -> Iterator[None]:
    """Each test starts and ends with no figures and the default rc settings."""
    plt.close("all")
    with matplotlib.rc_context():
        yield
    plt.close("all")


def run_source(source: str) -> tuple[Figure, Axes]:
    """Exec a generated program the way the renderer does: fresh namespace, Agg, no savefig."""
    namespace: dict[str, Any] = {"__name__": "__cocogen_program__"}
    exec(compile(source, "<offline program>", "exec"), namespace)
    assert len(plt.get_fignums()) == 1, "the program must leave exactly one figure open"
    fig = plt.figure(plt.get_fignums()[0])
    assert len(fig.axes) == 1
    return fig, fig.axes[0]


def visible_texts(fig: Figure) -> list[Text]:
    """The texts a render shows: titles, axis labels, annotations, tick labels in view."""
    fig.canvas.draw()
    texts: list[Text] = list(fig.texts)
    for ax in fig.axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                if low - 1e-9 <= tick.get_loc() <= high + 1e-9 and tick.label1.get_visible():
                    texts.append(tick.label1)
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def assert_no_overlaps(fig: Figure) -> None:
    """No two visible texts overlap, and every text lies inside the figure."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    width, height = fig.canvas.get_width_height()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in visible_texts(fig)]
    for text, box in boxes:
        assert box.x0 >= -1 and box.y0 >= -1, f"{text!r} is cut off at the figure's edge"
        assert box.x1 <= width + 1 and box.y1 <= height + 1, f"{text!r} is cut off"
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        overlap_w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        overlap_h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        assert overlap_w <= 1 or overlap_h <= 1, f"{a!r} overlaps {b!r}"


def generation(prompt: str, **request: Any) -> GenerationRequest:
    req = Request(prompt=prompt, **request)
    return GenerationRequest(request=req, language="matplotlib", canvas=req.canvas)


# --------------------------------------------------------------------------------------------
# The data-driven cases
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.prompt[:40] for c in CASES])
def test_parse(case: Case) -> None:
    spec = parse_chart_request(case.prompt)
    assert spec.kind == case.kind
    assert spec.title == case.title
    assert spec.labels == case.labels
    assert spec.values == pytest.approx(case.values)
    assert spec.points == case.points
    if case.value_texts is not None:
        assert spec.value_texts == case.value_texts
    assert spec.x_label == case.x_label
    assert spec.y_label == case.y_label


@pytest.mark.parametrize("case", CASES, ids=[c.prompt[:40] for c in CASES])
def test_drawing(case: Case) -> None:
    program = OfflineBackend().generate(generation(case.prompt))
    fig, ax = run_source(program.source)
    assert ax.get_title() == case.title
    texts = [t.get_text() for t in visible_texts(fig)]
    if case.kind in ("bar", "barh"):
        bars = [p for p in ax.patches if isinstance(p, Rectangle)]
        sizes = [b.get_width() if case.kind == "barh" else b.get_height() for b in bars]
        assert sizes == pytest.approx(case.values)
        ticks = ax.get_yticklabels() if case.kind == "barh" else ax.get_xticklabels()
        assert tuple(t.get_text() for t in ticks) == case.labels
        shown = case.value_texts or tuple(str(int(v)) for v in case.values)
        assert [t.get_text() for t in ax.texts] == list(shown), "each bar carries its value"
    elif case.kind == "line":
        ydata = np.asarray(ax.get_lines()[0].get_ydata(), dtype=float)
        assert ydata.tolist() == pytest.approx(case.values)
        assert tuple(t.get_text() for t in ax.get_xticklabels()) == case.labels
    elif case.kind == "pie":
        wedges = [p for p in ax.patches if isinstance(p, Wedge)]
        total = sum(case.values)
        sweeps = [(w.theta2 - w.theta1) / 360 * total for w in wedges]
        assert sweeps == pytest.approx(case.values, abs=1e-6)
        for label in case.labels:
            assert any(label in text for text in texts), f"pie label {label!r} missing"
        assert any("%" in text for text in texts), "a pie shows percentages"
    else:
        offsets = np.asarray(ax.collections[0].get_offsets(), dtype=float)
        assert [(x, y) for x, y in offsets.tolist()] == list(case.points)
    if case.x_label:
        assert ax.get_xlabel() == case.x_label
    if case.y_label:
        assert ax.get_ylabel() == case.y_label
    sizes_pt = [float(t.get_fontsize()) for t in visible_texts(fig)]
    assert min(sizes_pt) >= 10, "fonts are at least 10 pt"
    assert_no_overlaps(fig)


@pytest.mark.parametrize("size", [(1024, 768, 100), (480, 360, 100), (800, 600, 150)])
def test_canvas_sets_figure_size(size: tuple[int, int, int]) -> None:
    width, height, dpi = size
    canvas = Canvas(width=width, height=height, dpi=dpi)
    program = OfflineBackend().generate(generation("bar chart: A 1, B 2, C 3", canvas=canvas))
    assert f"W, H, DPI = {width}, {height}, {dpi}" in program.source
    fig, _ = run_source(program.source)
    assert fig.dpi == dpi
    assert tuple(round(v * dpi) for v in fig.get_size_inches()) == (width, height)


@pytest.mark.parametrize(
    "prompt",
    [
        "A bar chart comparing Q1-Q4 sales with values 100, 120, 150, 140",
        "pie chart: rent 1200, food 450, transport 200, fun 60, savings 25, gifts 10",
        "line chart of temperature for Jan-Dec: 1.5, 2.5, 6, 10.25, 14, 18, 21, 20.5, 16, 11, 6, 2",
        "bar chart with values -12, 5, 8, -3 for A, B, C, D",
    ],
)
@pytest.mark.parametrize("size", [(1024, 768), (480, 360)])
def test_layout_has_no_overlaps(prompt: str, size: tuple[int, int]) -> None:
    canvas = Canvas(width=size[0], height=size[1])
    fig, _ = run_source(OfflineBackend().generate(generation(prompt, canvas=canvas)).source)
    assert_no_overlaps(fig)


def test_bar_headroom_keeps_value_labels_inside_the_axes() -> None:
    fig, ax = run_source(chart_source(parse_chart_request("bar chart: A 100, B 250"), Canvas()))
    assert ax.get_ylim()[1] >= 250 * 1.1
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    axes_box = ax.get_window_extent(renderer)
    for label in ax.texts:
        assert label.get_window_extent(renderer).y1 <= axes_box.y1
    assert ax.title.get_window_extent(renderer).y0 >= axes_box.y1


def test_long_labels_are_rotated() -> None:
    prompt = (
        "bar chart: United States of America 5, Federal Republic of Germany 4, "
        "Kingdom of the Netherlands 3, Republic of Korea 2, Commonwealth of Australia 1"
    )
    fig, ax = run_source(chart_source(parse_chart_request(prompt), Canvas()))
    rotations = {t.get_rotation() for t in ax.get_xticklabels()}
    assert rotations and all(r > 0 for r in rotations)
    assert_no_overlaps(fig)


def test_whole_number_data_gets_whole_number_ticks() -> None:
    fig, ax = run_source(chart_source(parse_chart_request("bar chart: A 10, B 20, C 15"), Canvas()))
    fig.canvas.draw()
    assert all(float(v).is_integer() for v in ax.get_yticks())
    plt.close("all")
    fig, ax = run_source(chart_source(parse_chart_request("bar chart: A 0.5, B 0.2"), Canvas()))
    fig.canvas.draw()
    assert not all(float(v).is_integer() for v in ax.get_yticks())


def test_short_labels_are_not_rotated() -> None:
    _, ax = run_source(chart_source(parse_chart_request("bar chart: A 5, B 4"), Canvas()))
    assert {t.get_rotation() for t in ax.get_xticklabels()} == {0.0}


def test_value_labels_use_the_numbers_as_written() -> None:
    source = chart_source(parse_chart_request("bar chart: A 100, B 1,200, C 3.50"), Canvas())
    _, ax = run_source(source)
    assert [t.get_text() for t in ax.texts] == ["100", "1,200", "3.50"]
    assert "VALUES = [100, 1200, 3.5]" in source


def test_tick_formatter_follows_the_users_units() -> None:
    fig, ax = run_source(
        chart_source(parse_chart_request("bar chart: A $1.5M, B $3M, C $2.25M"), Canvas())
    )
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert "$1M" in ticks and "$2M" in ticks


# --------------------------------------------------------------------------------------------
# Safety: user text is data, never code
# --------------------------------------------------------------------------------------------

INJECTIONS = [
    "bar chart titled “\"); import os; os.system('x') #” with A=1, B=2",
    "bar chart titled \"'); import os; os.system('x') #\" with A=1, B=2",
]
INJECTED_TITLES = ["\"); import os; os.system('x') #", "'); import os; os.system('x') #"]


@pytest.mark.parametrize(("prompt", "title"), list(zip(INJECTIONS, INJECTED_TITLES, strict=True)))
def test_injection_in_title_stays_text(
    prompt: str, title: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def fake_system(command: str) -> int:
        calls.append(command)
        return 0

    monkeypatch.setattr(os, "system", fake_system)
    program = OfflineBackend().generate(generation(prompt))
    tree = ast.parse(program.source)
    imported = {
        alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    allowed = {"matplotlib.pyplot", "math", "matplotlib.ticker.FuncFormatter"}
    assert imported <= allowed | {"matplotlib.ticker.MaxNLocator"}
    constants = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert title in constants
    _, ax = run_source(program.source)
    assert ax.get_title() == title
    assert calls == []


def test_labels_with_quotes_and_backslashes_round_trip() -> None:
    label = 'O\'Brien \\ "x" \\n'
    prompt = f"bar chart: “{label}” 3, B 4"
    spec = parse_chart_request(prompt)
    assert spec.labels == (label, "B")
    _, ax = run_source(chart_source(spec, Canvas()))
    assert [t.get_text() for t in ax.get_xticklabels()] == [label, "B"]


def test_source_never_saves_or_shows() -> None:
    for case in CASES:
        source = OfflineBackend().generate(generation(case.prompt)).source
        assert "savefig" not in source and ".show(" not in source
        assert "plt.subplots(figsize=(W / DPI, H / DPI), dpi=DPI)" in source


# --------------------------------------------------------------------------------------------
# Determinism and the backend contract
# --------------------------------------------------------------------------------------------


def test_same_request_same_source() -> None:
    for case in CASES:
        first = OfflineBackend().generate(generation(case.prompt)).source
        second = OfflineBackend().generate(generation(case.prompt)).source
        assert first == second


def test_different_data_different_source() -> None:
    a = OfflineBackend().generate(generation("bar chart: A 1, B 2")).source
    b = OfflineBackend().generate(generation("bar chart: A 1, B 3")).source
    assert a != b


def test_program_fields() -> None:
    backend = OfflineBackend()
    assert backend.name == "offline"
    assert backend.can_repair is False
    assert supports_repair(backend) is False
    program = backend.generate(generation("bar chart: A 1, B 2"))
    assert program.language == "matplotlib"
    assert program.backend == "offline"
    assert program.attempt == 1
    previous = PreviousAttempt(program=Program(language="matplotlib", source="x = 1"))
    retry = generation("bar chart: A 1, B 2").model_copy(update={"previous": [previous]})
    assert backend.generate(retry).attempt == 2


def test_attached_data_is_used() -> None:
    request = generation("a bar chart of this data", data={"labels": ["a", "b"], "values": [3, 4]})
    _, ax = run_source(OfflineBackend().generate(request).source)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert [p.get_height() for p in ax.patches if isinstance(p, Rectangle)] == [3, 4]


def test_values_only_line_chart_numbers_the_points() -> None:
    spec = parse_chart_request("line chart: 3, 1, 4, 1, 5")
    assert spec.labels == ("1", "2", "3", "4", "5")
    assert spec.values == (3, 1, 4, 1, 5)


def test_cjk_labels_get_a_cjk_font_when_one_is_installed() -> None:
    source = chart_source(parse_chart_request("bar chart of 北京 10, 上海 20"), Canvas())
    assert "CJK_FONTS" in source
    ascii_source = chart_source(parse_chart_request("bar chart of A 10, B 20"), Canvas())
    assert "CJK_FONTS" not in ascii_source


def test_spec_is_frozen() -> None:
    spec = parse_chart_request("bar chart: A 1, B 2")
    assert isinstance(spec, ChartSpec)
    with pytest.raises(AttributeError):
        spec.title = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Refusals: one line naming what is needed
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    ["Draw a nice chart about our company", "make a bar chart of sales", "a line chart", "hi"],
)
def test_no_data(prompt: str) -> None:
    with pytest.raises(NotUnderstood) as caught:
        OfflineBackend().generate(generation(prompt))
    message = str(caught.value)
    assert message == NEEDS_DATA
    assert "spelled out" in message and "--backend anthropic" in message
    assert "ANTHROPIC_API_KEY" in message and "OPENAI_API_KEY" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("prompt", "parts"),
    [
        ("bar chart of A, B, C with values 1, 2", ["3 labels", "(A, B, C)", "2 values", "(1, 2)"]),
        ("line chart for Q1-Q4: 5, 6, 7", ["4 labels", "Q1, Q2, Q3, Q4", "3 values"]),
        ("x = 1, 2, 3 and y = 4, 5", ["3 x values", "2 values"]),
        ("bar chart with 3 bars: A 1, B 2", ["3 bars", "2 values"]),
    ],
)
def test_count_mismatch_names_both_counts(prompt: str, parts: list[str]) -> None:
    with pytest.raises(NotUnderstood) as caught:
        parse_chart_request(prompt)
    message = str(caught.value)
    for part in parts:
        assert part in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("prompt", "needle"),
    [
        ("histogram of ages: 1, 2, 3", "histogram"),
        ("an area chart: A 1, B 2", "area chart"),
        ("pie chart: A -5, B 10", "-5"),
        ("pie chart of 1, 2, 3", "label for each value"),
        ("pie chart: A 0, B 0", "above zero"),
    ],
)
def test_refusals_say_why(prompt: str, needle: str) -> None:
    with pytest.raises(NotUnderstood) as caught:
        parse_chart_request(prompt)
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)


def test_other_languages_say_what_they_need() -> None:
    request = Request(prompt="bar chart: A 1, B 2")
    svg = GenerationRequest(request=request, language="svg", canvas=request.canvas)
    with pytest.raises(NotUnderstood, match=r"texts given in quotes.*ANTHROPIC_API_KEY"):
        OfflineBackend().generate(svg)
    vega = GenerationRequest(request=request, language="vegalite", canvas=request.canvas)
    with pytest.raises(NotUnderstood, match=r"does not write vegalite.*--backend anthropic"):
        OfflineBackend().generate(vega)


def test_supported_kind_wins_over_an_unsupported_word() -> None:
    spec = parse_chart_request("bar chart for the table: A 1, B 2")
    assert spec.kind == "bar"


def test_percentages_in_pie_match_the_shares() -> None:
    spec = parse_chart_request("pie chart: A 1, B 3")
    _, ax = run_source(chart_source(spec, Canvas()))
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "25%" in texts and "75%" in texts
    assert math.isclose(sum(spec.values), 4)
