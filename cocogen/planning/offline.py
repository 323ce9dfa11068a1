"""The `offline` backend: bar, line, pie and scatter charts from requests that spell out data.

Why it exists: cocogen must work with no API key and no network — in tests, in CI, on an air-gapped
machine — and many requests ("a bar chart of A, B, C with values 1, 2, 3") need no model at all.
This planner reads the prompt deterministically (`cocogen.planning.commitments.read_request`,
the same reading the checker's commitments come from), builds a `ChartSpec`
(`parse_chart_request`) and writes a matplotlib program for it (`chart_source`).  It cannot repair
(`can_repair = False`): the same request always gives byte-identical source.  A request it cannot
read raises `NotUnderstood` with one line saying what it needs.

Title rule (deterministic, and the title is the text drawn):
1. an explicit title: `titled "X"`, `with the title "X"`, `title: X`, `titled X` (unquoted, up to
   a comma, colon, "with" or "for");
2. else the first quoted string that is not an axis label or a data label;
3. else the subject of the request, as the user wrote it, first letter upper-cased: the words after
   the chart noun ("bar chart comparing Q1-Q4 sales with …" → "Q1-Q4 sales", "line chart of
   revenue for …" → "Revenue"), or else the words before it ("Plot sales of 2019 to 2023 as a
   line" → "Sales of 2019 to 2023");
4. else the chart's name: "Bar chart", "Line chart", "Pie chart", "Donut chart", "Scatter plot".

Program contract: `import matplotlib.pyplot as plt` (and `math` for pies), one figure made with
`plt.subplots(figsize=(W / DPI, H / DPI), dpi=DPI)` from the request's canvas, every user text and
number embedded with `repr()`, no savefig/show, the figure left open.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cocogen.errors import NotUnderstood
from cocogen.planning.base import GenerationRequest
from cocogen.planning.commitments import (
    STOPWORDS,
    Data,
    Number,
    Reading,
    Token,
    is_wide,
    read_request,
)
from cocogen.types import Canvas, Commitment, Commitments, Program, Request

ChartKind = Literal["bar", "barh", "line", "pie", "scatter"]
TitleSource = Literal["explicit", "quoted", "subject", "kind"]

LLM_HINT = (
    "for free-form requests use an LLM backend: set ANTHROPIC_API_KEY and pass --backend "
    "anthropic (or --backend openai with OPENAI_API_KEY)"
)
NEEDS_DATA = (
    'the offline planner needs the data spelled out (e.g. "a bar chart of A, B, C with values '
    '1, 2, 3"); ' + LLM_HINT
)

_KIND_WORDS: dict[str, ChartKind] = {
    "bar": "bar",
    "bars": "bar",
    "column": "bar",
    "columns": "bar",
    "barh": "barh",
    "line": "line",
    "lines": "line",
    "trend": "line",
    "trends": "line",
    "linechart": "line",
    "pie": "pie",
    "pies": "pie",
    "donut": "pie",
    "doughnut": "pie",
    "scatter": "scatter",
    "scatterplot": "scatter",
}
_UNSUPPORTED = frozenset(
    """
    histogram histograms heatmap heatmaps flowchart flowcharts gantt venn sankey treemap boxplot
    candlestick infographic mindmap table diagram poster logo slide timeline org-chart
    """.split()
)
"""Kinds the offline planner does not draw, named in its refusal."""
_UNSUPPORTED_BEFORE_NOUN = frozenset(
    "area bubble funnel radar waterfall violin network tree map box org flow heat".split()
)
"""Words that name an unsupported kind only before 'chart'/'plot'/'graph' ("area chart")."""
_CHART_NOUNS = frozenset({"chart", "charts", "plot", "plots", "graph", "graphs", "diagram"})
_KIND_NAMES: dict[str, str] = {
    "bar": "Bar chart",
    "barh": "Bar chart",
    "line": "Line chart",
    "pie": "Pie chart",
    "scatter": "Scatter plot",
}
_SUBJECT_LEAD = frozenset(
    {"of", "comparing", "showing", "depicting", "displaying", "illustrating", "about", "on"}
)
_SUBJECT_INNER = frozenset(
    {"of", "by", "per", "in", "across", "vs", "versus", "from", "between", "and", "the", "over"}
)
_SUBJECT_SKIP = frozenset(
    """
    a an the please plot draw make create render generate show give me i want need can could you
    would like to build simple nice clean small big large basic colorful colourful horizontal
    vertical stacked grouped quick
    """.split()
)
_GENERIC = frozenset(
    {
        "data",
        "values",
        "value",
        "points",
        "point",
        "numbers",
        "following",
        "these",
        "this",
        "my",
        "some",
        "it",
        "chart",
        "plot",
        "the",
        "our",
    }
)

# Layout constants (points / fractions); all font sizes are at least 10 pt.
TITLE_PT = 15
AXIS_LABEL_PT = 12
TICK_PT = 11
VALUE_PT = 10
BAR_COLOR = "#4C72B0"
LINE_COLOR = "#C44E52"
PIE_COLORS = (
    "#8dd3c7",
    "#ffffb3",
    "#bebada",
    "#fb8072",
    "#80b1d3",
    "#fdb462",
    "#b3de69",
    "#fccde5",
    "#d9d9d9",
    "#bc80bd",
    "#ccebc5",
    "#ffed6f",
)
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "Noto Sans CJK HK",
    "Source Han Sans SC",
    "Source Han Sans",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Hiragino Sans",
    "Yu Gothic",
    "Malgun Gothic",
    "Arial Unicode MS",
    "Noto Serif CJK SC",
    "Noto Serif CJK JP",
)


@dataclass(frozen=True)
class ChartSpec:
    """What the offline planner will draw; `parse_chart_request` builds it from a prompt.

    `labels`/`values`/`value_texts` are parallel (value_texts are the numbers as the user wrote
    them, used for value labels).  `points` (with `point_texts`) is set instead for scatter and
    line charts of (x, y) pairs.
    """

    kind: ChartKind
    title: str
    labels: tuple[str, ...] = ()
    values: tuple[float, ...] = ()
    value_texts: tuple[str, ...] = ()
    points: tuple[tuple[float, float], ...] = ()
    point_texts: tuple[tuple[str, str], ...] = ()
    x_label: str | None = None
    y_label: str | None = None
    donut: bool = False
    title_source: TitleSource = "kind"


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def _kind_of(token: Token) -> ChartKind | None:
    if token.kind != "word":
        return None
    for part in token.low.split("-"):
        if part in _KIND_WORDS:
            return _KIND_WORDS[part]
    return None


def _find_kind(reading: Reading) -> tuple[ChartKind | None, int, int, str | None, bool]:
    """(kind, first token of the kind phrase, last token, unsupported word, donut)."""
    tokens = reading.tokens
    lows = [t.low if t.kind == "word" else "" for t in tokens]
    donut = any(w in ("donut", "doughnut") or w.startswith("donut-") for w in lows)
    horizontal = "horizontal" in lows or "barh" in lows
    unsupported: str | None = None
    for k, tok in enumerate(tokens):
        if k in reading.data_tokens or tok.kind != "word":
            continue
        kind = _kind_of(tok)
        if (
            kind is None
            and tok.low == "over"
            and k + 1 < len(tokens)
            and tokens[k + 1].low in ("time",)
        ):
            kind = "line"
        if (
            kind is None
            and tok.low == "time"
            and k + 1 < len(tokens)
            and tokens[k + 1].low in ("series",)
        ):
            kind = "line"
        if kind is None:
            following = tokens[k + 1].low if k + 1 < len(tokens) else ""
            if unsupported is None and tok.low in _UNSUPPORTED:
                unsupported = tok.low
            elif (
                unsupported is None
                and tok.low in _UNSUPPORTED_BEFORE_NOUN
                and (following in _CHART_NOUNS)
            ):
                unsupported = f"{tok.low} {following}"
            continue
        if kind == "bar" and horizontal:
            kind = "barh"
        end = k
        while end + 1 < len(tokens) and (
            tokens[end + 1].low in _CHART_NOUNS
            or tokens[end + 1].low in ("time", "series")
            or _kind_of(tokens[end + 1]) == kind
        ):
            end += 1
        start = k
        while start - 1 >= 0 and tokens[start - 1].low in ("horizontal", "vertical", "stacked"):
            start -= 1
        return kind, start, end, unsupported, donut
    return None, -1, -1, unsupported, donut


def _phrase(tokens: Sequence[Token], idxs: Sequence[int]) -> str:
    return " ".join(tokens[i].text for i in idxs)


def _subject(reading: Reading, start: int, end: int) -> str | None:
    """The subject the user named around the chart noun (title rule 3), or None."""
    tokens = reading.tokens

    def collect(k: int, stop_at: int) -> list[int]:
        taken: list[int] = []
        while k < stop_at:
            tok = tokens[k]
            used = k in reading.data_tokens
            if tok.kind == "range" or (tok.kind == "num" and not used):
                taken.append(k)
            elif (
                tok.kind == "word"
                and not used
                and (tok.low in _SUBJECT_INNER or tok.low not in STOPWORDS)
            ):
                if _kind_of(tok) is not None or tok.low in _CHART_NOUNS:
                    break
                taken.append(k)
            else:
                break
            k += 1
        while taken and tokens[taken[-1]].low in _SUBJECT_INNER | {"a", "an"}:
            taken.pop()
        while taken and tokens[taken[0]].low in ("the", "a", "an", "and"):
            taken.pop(0)
        if not taken or len(taken) > 8 or all(tokens[i].low in _GENERIC for i in taken):
            return []
        return taken

    after: list[int] = []
    if end >= 0:
        k = end + 1
        while k < len(tokens) and tokens[k].low in _SUBJECT_LEAD:
            k += 1
        if k > end + 1:
            after = collect(k, len(tokens))
    if after:
        return _phrase(tokens, after)
    k = 0
    while k < len(tokens) and tokens[k].low in _SUBJECT_SKIP:
        k += 1
    before = collect(k, start if start >= 0 else len(tokens))
    return _phrase(tokens, before) if before else None


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def _plain_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _attached_data(data: Any) -> Data | None:
    """Data given with the request (`Request.data`), in a few obvious shapes, else None."""

    def number(value: Any) -> Number | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not math.isfinite(value):
            return None
        return Number(_plain_number(float(value)), float(value))

    if isinstance(data, dict):
        if isinstance(data.get("labels"), list) and isinstance(data.get("values"), list):
            values = [number(v) for v in data["values"]]
            if all(v is not None for v in values) and len(values) == len(data["labels"]):
                labels = tuple(str(label) for label in data["labels"])
                return Data("lists", labels, tuple(v for v in values if v is not None))
        if isinstance(data.get("x"), list) and isinstance(data.get("y"), list):
            xs, ys = [number(v) for v in data["x"]], [number(v) for v in data["y"]]
            if len(xs) == len(ys) and all(v is not None for v in [*xs, *ys]):
                pairs = tuple((x, y) for x, y in zip(xs, ys, strict=True) if x and y)
                return Data("points", points=pairs)
        numbers = {str(k): number(v) for k, v in data.items()}
        if len(numbers) >= 2 and all(v is not None for v in numbers.values()):
            return Data("pairs", tuple(numbers), tuple(v for v in numbers.values() if v))
    if (
        isinstance(data, list)
        and len(data) >= 2
        and all(
            isinstance(row, list | tuple) and len(row) == 2 and number(row[1]) is not None
            for row in data
        )
    ):
        values = [number(row[1]) for row in data]
        return Data("pairs", tuple(str(row[0]) for row in data), tuple(v for v in values if v))
    return None


def _listing(items: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (", …" if len(items) > limit else "")


def parse_chart_request(prompt: str, data: Any = None) -> ChartSpec:
    """Read a prompt (and optional attached `data`) into a `ChartSpec`; see the module docstring.

    Raises `NotUnderstood` with one line naming what is missing when there is no usable data,
    when labels and values differ in count, or when the chart kind is one this planner cannot
    draw.
    """
    reading = read_request(prompt)
    kind, start, end, unsupported, donut = _find_kind(reading)
    if kind is None and unsupported is not None:
        raise NotUnderstood(
            f"the offline planner draws bar, line, pie and scatter charts from spelled-out data, "
            f"not a {unsupported}; {LLM_HINT}"
        )
    found = _attached_data(data) or reading.data
    if found is None and reading.mismatch is not None:
        mismatch = reading.mismatch
        values = [n.literal for n in mismatch.values]
        raise NotUnderstood(
            f"the offline planner found {len(mismatch.labels)} {mismatch.what} "
            f"({_listing(mismatch.labels)}) but {len(values)} values ({_listing(values)}): "
            f"give exactly one value per label"
        )
    if found is None:
        raise NotUnderstood(NEEDS_DATA)
    if found.form == "values" and len(found.values) < 2:
        raise NotUnderstood(NEEDS_DATA)
    if kind is None:
        if found.points:
            kind = "scatter"
        elif found.temporal:
            kind = "line"
        else:
            kind = "bar"

    labels: tuple[str, ...] = found.labels
    numbers: tuple[Number, ...] = found.values
    points = found.points
    if points and kind in ("bar", "barh", "pie"):
        labels = tuple(x.literal for x, _ in points)
        numbers = tuple(y for _, y in points)
        points = ()
    if found.form == "values":
        if kind == "pie":
            raise NotUnderstood(
                'a pie chart needs a label for each value (e.g. "pie chart: apples 30, '
                f'bananas 45"); found only values ({_listing([n.literal for n in numbers])})'
            )
        labels = tuple(str(k + 1) for k in range(len(numbers)))

    entity = {
        "bar": ("bar", "column"),
        "barh": ("bar", "column"),
        "pie": ("slice", "wedge", "sector", "segment"),
        "scatter": ("point", "dot"),
    }
    size = len(points) if points else len(numbers)
    for count in reading.counts:
        if count.noun in entity.get(kind, ()) and count.count != size:
            raise NotUnderstood(
                f"the request asks for {count.count} {count.noun}s but spells out {size} values; "
                f"give one value per {count.noun}"
            )
    if kind == "pie":
        negative = [n.literal for n in numbers if n.value < 0]
        if negative:
            raise NotUnderstood(
                f"a pie chart needs values of zero or more, and {negative[0]} is negative: "
                f"ask for a bar chart for signed data"
            )
        if not any(n.value > 0 for n in numbers):
            raise NotUnderstood("a pie chart needs at least one value above zero")

    title_source: TitleSource
    free = reading.free_quotes()
    if reading.title:
        title, title_source = reading.title, "explicit"
    elif free:
        title, title_source = free[0], "quoted"
    elif (subject := _subject(reading, start, end)) is not None:
        title, title_source = _capitalised(subject), "subject"
    else:
        title = "Donut chart" if kind == "pie" and donut else _KIND_NAMES[kind]
        title_source = "kind"

    return ChartSpec(
        kind=kind,
        title=title,
        labels=labels if not points else (),
        values=tuple(n.value for n in numbers) if not points else (),
        value_texts=tuple(n.literal for n in numbers) if not points else (),
        points=tuple((x.value, y.value) for x, y in points),
        point_texts=tuple((x.literal, y.literal) for x, y in points),
        x_label=reading.axis_labels.get("x"),
        y_label=reading.axis_labels.get("y"),
        donut=donut and kind == "pie",
        title_source=title_source,
    )


# --------------------------------------------------------------------------------------------
# Code generation
# --------------------------------------------------------------------------------------------


@dataclass
class _Parts:
    """Pieces of a program: imports, data constants, and drawing lines after `plt.subplots`."""

    imports: list[str]
    constants: list[str]
    body: list[str]
    value_axis: str | None = None
    """'x' or 'y' when the ticks of that axis should be written like the values ("$4.2M")."""


def _text_px(text: str, size_pt: float, dpi: int) -> float:
    """A rough rendered width of `text` in pixels (DejaVu Sans-like metrics; CJK is 1 em)."""
    em = size_pt * dpi / 72.0
    width = 0.0
    for ch in text:
        if is_wide(ch):
            width += 1.0
        elif ch in " .,:;'|!iIl":
            width += 0.32
        elif ch.isdigit():
            width += 0.64
        elif ch.isupper() or ch in "%$€£@#&mwMW":
            width += 0.72
        else:
            width += 0.58
    return width * em


def _line_px(size_pt: float, dpi: int) -> float:
    return size_pt * dpi / 72.0 * 1.25


def _tidy(value: float) -> float:
    """A limit rounded to 6 significant digits so the source stays readable."""
    return float(f"{value:.6g}")


def _literal(value: float) -> str:
    """A Python literal for a number: integral values stay ints (100, not 100.0)."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _numbers_literal(values: Sequence[float]) -> str:
    return "[" + ", ".join(_literal(v) for v in values) + "]"


def _bar_limits(values: Sequence[float], room_px: float, extent_px: float) -> tuple[float, float]:
    """Value-axis limits from zero that leave `room_px` (of `extent_px`) for the value labels.

    The axis includes zero and grows on the side(s) the bars point to, so that a label at the
    end of the longest bar stays inside the axes (and clear of the title).
    """
    share = min(0.45, max(0.1, room_px / max(extent_px, 1.0)))
    top, bottom = max(max(values), 0.0), min(min(values), 0.0)
    if top == bottom:
        return 0.0, 1.0
    both = top > 0 > bottom
    pad = (top - bottom) * share / (1 - (2 * share if both else share))
    high = top + pad if top > 0 else 0.0
    low = bottom - pad if bottom < 0 else 0.0
    return _tidy(low), _tidy(high)


def _common_format(texts: Sequence[str]) -> tuple[str, str, float, bool] | None:
    """(prefix, suffix, scale, grouped) shared by every value literal, when worth a formatter."""
    numbers = [Number(t, 0.0) for t in texts]
    prefixes = {n.prefix for n in numbers}
    suffixes = {n.suffix for n in numbers}
    if len(prefixes) != 1 or len(suffixes) != 1:
        return None
    prefix, suffix = prefixes.pop(), suffixes.pop()
    grouped = any(n.grouped for n in numbers)
    if not (prefix or suffix or grouped):
        return None
    return prefix, suffix, numbers[0].scale, grouped


def _formatter(spec: ChartSpec) -> list[str]:
    """A tick formatter writing ticks the way the values were written, or nothing."""
    common = _common_format(spec.value_texts)
    if common is None:
        return []
    prefix, suffix, scale, grouped = common
    pattern = "{:,.2f}" if grouped else "{:.2f}"
    return [
        "",
        "",
        "def tick_text(value, _position):",
        '    """A tick written the way the values were: currency sign, separators, unit."""',
        f'    digits = {pattern!r}.format(abs(value) / {_literal(scale)}).rstrip("0").rstrip(".")',
        '    sign = "-" if value < 0 and digits != "0" else ""',
        f"    return sign + {prefix!r} + digits + {suffix!r}",
        "",
    ]


def axis_label_lines(x_label: str | None, y_label: str | None) -> list[str]:
    """The `set_xlabel` / `set_ylabel` lines for the axis titles a request gave."""
    return [
        f"ax.set_{axis}label({label!r}, fontsize={AXIS_LABEL_PT})"
        for axis, label in (("x", x_label), ("y", y_label))
        if label
    ]


def _wrap_title(title: str, canvas: Canvas) -> str:
    """The title, broken at spaces when it would be wider than the figure."""
    available = canvas.width * 0.92
    full = _text_px(title, TITLE_PT, canvas.dpi)
    if full <= available or " " not in title:
        return title
    per_char = full / len(title)
    return textwrap.fill(title, width=max(12, int(available / per_char)))


def _needs_cjk(texts: Sequence[str]) -> bool:
    return any(ord(ch) >= 0x2E80 for text in texts for ch in text)


def _category_ticks(spec: ChartSpec, canvas: Canvas, axis: str, extent_px: float) -> list[str]:
    """Category tick labels, rotated or thinned so that neighbours do not overlap."""
    slot = extent_px / max(len(spec.labels), 1)
    line = _line_px(TICK_PT, canvas.dpi)
    widest = max((_text_px(label, TICK_PT, canvas.dpi) for label in spec.labels), default=0.0)
    step, rotation = 1, 0
    if axis == "x" and widest + 8 > slot:
        rotation = 40 if slot >= line * 1.6 else 90
    if slot < line * 1.1:
        step = math.ceil(line * 1.2 / slot)
    shown = "positions, LABELS" if step == 1 else f"positions[::{step}], LABELS[::{step}]"
    lines = [f"ax.set_{axis}ticks({shown})"]
    if rotation:
        lines.append(
            f'plt.setp(ax.get_xticklabels(), rotation={rotation}, ha="right", '
            'rotation_mode="anchor")'
        )
    return lines


def _category_constants(spec: ChartSpec) -> list[str]:
    return [
        f"LABELS = {list(spec.labels)!r}",
        f"VALUES = {_numbers_literal(spec.values)}",
        f"VALUE_TEXTS = {list(spec.value_texts)!r}",
    ]


def _bar_parts(spec: ChartSpec, canvas: Canvas) -> _Parts:
    dpi = canvas.dpi
    value_w = max(_text_px(t, VALUE_PT, dpi) for t in spec.value_texts)
    if spec.kind == "barh":
        label_w = max(_text_px(t, TICK_PT, dpi) for t in spec.labels)
        extent = max(canvas.width * 0.85 - label_w, canvas.width * 0.3)
        low, high = _bar_limits(spec.values, value_w + 10, extent)
        body = [
            "positions = list(range(len(LABELS)))",
            f'bars = ax.barh(positions, VALUES, height=0.6, color="{BAR_COLOR}")',
            *_category_ticks(spec, canvas, "y", canvas.height * 0.72),
            "ax.invert_yaxis()",
            f"ax.bar_label(bars, labels=VALUE_TEXTS, padding=3, fontsize={VALUE_PT})",
            f"ax.set_xlim({_literal(low)}, {_literal(high)})",
            'ax.grid(axis="x", alpha=0.3)',
        ]
        return _Parts([], _category_constants(spec), body, value_axis="x")
    slot = canvas.width * 0.82 / len(spec.values)
    rotate_values = value_w + 4 > slot * 0.95
    room = (value_w if rotate_values else _line_px(VALUE_PT, dpi)) + 10
    low, high = _bar_limits(spec.values, room, canvas.height * 0.72)
    rotation = ", rotation=90" if rotate_values else ""
    body = [
        "positions = list(range(len(LABELS)))",
        f'bars = ax.bar(positions, VALUES, width=0.6, color="{BAR_COLOR}")',
        *_category_ticks(spec, canvas, "x", canvas.width * 0.82),
        f"ax.bar_label(bars, labels=VALUE_TEXTS, padding=3, fontsize={VALUE_PT}{rotation})",
        f"ax.set_ylim({_literal(low)}, {_literal(high)})",
        'ax.grid(axis="y", alpha=0.3)',
    ]
    return _Parts([], _category_constants(spec), body, value_axis="y")


_PLACE_OFFSETS: dict[str, tuple[float, float, str, str]] = {
    "above": (0, 8, "center", "bottom"),
    "below": (0, -8, "center", "top"),
    "above-left": (-6, 6, "right", "bottom"),
    "above-right": (6, 6, "left", "bottom"),
}
"""Value-label placements on a line chart: offset in points, horizontal and vertical alignment."""


def _line_label_places(values: Sequence[float]) -> list[str]:
    """Where each point's value label goes so that it stays off the line.

    Peaks and flat points: above.  Valleys: below.  A point the line climbs through: above-left
    (the line is below-left and above-right of it); one it falls through: above-right.  An end
    point the line leaves upwards (or arrives at from above): below.
    """
    places: list[str] = []
    last = len(values) - 1
    for i, y in enumerate(values):
        up_left = i > 0 and values[i - 1] > y
        up_right = i < last and values[i + 1] > y
        down_left = i > 0 and values[i - 1] < y
        down_right = i < last and values[i + 1] < y
        if up_left and up_right:
            places.append("below")
        elif i in (0, last) and (up_left or up_right):
            places.append("below")
        elif up_right and down_left:
            places.append("above-left")
        elif up_left and down_right:
            places.append("above-right")
        else:
            places.append("above")
    return places


def _labels_fit(places: Sequence[str], widths: Sequence[float], slot: float, dpi: int) -> bool:
    """True when no two neighbouring value labels overlap and none leaves the axes sideways."""
    pt = dpi / 72.0
    spans: list[tuple[float, float]] = []
    for i, (place, width) in enumerate(zip(places, widths, strict=True)):
        x = i * slot
        if place == "above-left":
            spans.append((x - 6 * pt - width, x - 6 * pt))
        elif place == "above-right":
            spans.append((x + 6 * pt, x + 6 * pt + width))
        else:
            spans.append((x - width / 2, x + width / 2))
    inside = spans[0][0] >= -slot / 2 and spans[-1][1] <= (len(spans) - 0.5) * slot
    return inside and all(a[1] + 3 <= b[0] for a, b in itertools.pairwise(spans))


def _line_limits(
    values: Sequence[float], room_above: float, room_below: float, extent: float
) -> tuple[float, float]:
    """Y limits leaving `room_above` / `room_below` pixels (of `extent`) beyond the data."""
    top, bottom = max(values), min(values)
    span = (top - bottom) or abs(top) or 1.0
    share_top = min(0.4, max(0.06, room_above / extent))
    share_bottom = min(0.4, max(0.06, room_below / extent))
    total = span / (1 - share_top - share_bottom)
    return _tidy(bottom - share_bottom * total), _tidy(top + share_top * total)


def _line_parts(spec: ChartSpec, canvas: Canvas) -> _Parts:
    dpi = canvas.dpi
    extent = canvas.height * 0.72
    if spec.points:
        ys = [p[1] for p in spec.points]
        low, high = _line_limits(ys, 12, 12, extent)
        constants = [
            f"XS = {_numbers_literal([p[0] for p in spec.points])}",
            f"YS = {_numbers_literal(ys)}",
        ]
        body = [
            f'ax.plot(XS, YS, marker="o", linewidth=2, color="{LINE_COLOR}")',
            f"ax.set_ylim({_literal(low)}, {_literal(high)})",
            "ax.grid(alpha=0.3)",
        ]
        return _Parts([], constants, body)
    slot = canvas.width * 0.82 / len(spec.values)
    places = _line_label_places(spec.values)
    widths = [_text_px(t, VALUE_PT, dpi) for t in spec.value_texts]
    annotate = len(spec.values) <= 40 and _labels_fit(places, widths, slot, dpi)
    room = _line_px(VALUE_PT, dpi) + 8 * dpi / 72 + 6
    low, high = _line_limits(
        spec.values,
        room if annotate else 12,
        room if annotate and "below" in places else 12,
        extent,
    )
    constants = _category_constants(spec)
    body = [
        "positions = list(range(len(LABELS)))",
        f'ax.plot(positions, VALUES, marker="o", linewidth=2, color="{LINE_COLOR}")',
    ]
    if annotate:
        constants += [
            "# Each value label sits off the line: above peaks, below valleys, beside slopes.",
            f"PLACES = {places!r}",
            f"OFFSETS = {_PLACE_OFFSETS!r}",
        ]
        body += [
            "for x, y, text, place in zip(positions, VALUES, VALUE_TEXTS, PLACES, strict=True):",
            "    dx, dy, ha, va = OFFSETS[place]",
            '    ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha, '
            f"va=va, fontsize={VALUE_PT})",
        ]
    body += [
        *_category_ticks(spec, canvas, "x", canvas.width * 0.82),
        "ax.set_xlim(-0.5, len(LABELS) - 0.5)",
        f"ax.set_ylim({_literal(low)}, {_literal(high)})",
        'ax.grid(axis="y", alpha=0.3)',
    ]
    return _Parts([], constants, body, value_axis="y")


def _scatter_parts(spec: ChartSpec, canvas: Canvas) -> _Parts:
    if spec.points:
        constants = [
            f"XS = {_numbers_literal([p[0] for p in spec.points])}",
            f"YS = {_numbers_literal([p[1] for p in spec.points])}",
        ]
        body = [f'ax.scatter(XS, YS, s=60, color="{BAR_COLOR}", zorder=3)']
    else:
        constants = _category_constants(spec)
        body = [
            "positions = list(range(len(LABELS)))",
            f'ax.scatter(positions, VALUES, s=60, color="{BAR_COLOR}", zorder=3)',
            *_category_ticks(spec, canvas, "x", canvas.width * 0.82),
        ]
    return _Parts([], constants, [*body, "ax.margins(0.1)", "ax.grid(alpha=0.3)"])


def _percent(share: float) -> str:
    return f"{round(share)}%" if abs(share - round(share)) < 0.05 else f"{share:.1f}%"


def _pie_label_positions(
    values: Sequence[float], canvas: Canvas, reach: float = 1.15, limit: float = 1.3
) -> list[tuple[float, float]]:
    """Outside-label anchors (in pie radii) at each wedge's middle, pushed apart vertically.

    Wedges start at 12 o'clock and run clockwise (as drawn).  On each side of the pie, labels
    are taken top to bottom and kept at least one text line apart, then kept within ±`limit`.
    """
    total = sum(values)
    radius_px = min(canvas.width * 0.8, canvas.height * 0.8) / 2.6
    gap = _line_px(TICK_PT, canvas.dpi) * 1.05 / radius_px
    mids: list[float] = []
    start = 90.0
    for value in values:
        sweep = 360.0 * value / total
        mids.append(math.radians(start - sweep / 2))
        start -= sweep
    ys = [reach * math.sin(a) for a in mids]
    for right in (True, False):
        side = sorted(
            (i for i, a in enumerate(mids) if (math.cos(a) >= 0) == right), key=lambda i: -ys[i]
        )
        for above, below in itertools.pairwise(side):
            ys[below] = min(ys[below], ys[above] - gap)
        if side and ys[side[-1]] < -limit:
            ys[side[-1]] = -limit
            for below, above in itertools.pairwise(reversed(side)):
                ys[above] = max(ys[above], ys[below] + gap)
    positions: list[tuple[float, float]] = []
    for angle, y in zip(mids, ys, strict=True):
        y = max(-limit, min(limit, y))
        x = max(math.sqrt(max(reach * reach - y * y, 0.0)), 0.08)
        positions.append((round(x if math.cos(angle) >= 0 else -x, 3), round(y, 3)))
    return positions


def _pie_parts(spec: ChartSpec, canvas: Canvas) -> _Parts:
    total = sum(spec.values)
    shares = [100.0 * v / total for v in spec.values]
    as_percent = all(t.endswith("%") for t in spec.value_texts) and abs(total - 100) < 0.51
    inner_radius = 0.775 if spec.donut else 0.62
    radius_px = min(canvas.width * 0.8, canvas.height * 0.8) / 2.6
    shown: list[str] = []
    inner: list[str] = []
    for label, text, share in zip(spec.labels, spec.value_texts, shares, strict=True):
        detail = text if as_percent else f"{text}\n({_percent(share)})"
        lines = detail.split("\n")
        size = max(
            max(_text_px(line, VALUE_PT, canvas.dpi) for line in lines),
            len(lines) * _line_px(VALUE_PT, canvas.dpi),
        )
        arc = inner_radius * radius_px * math.radians(3.6 * share)
        if arc >= size * 1.15 and (not spec.donut or size <= 0.45 * radius_px):
            shown.append(label)
            inner.append(detail)
        else:  # too thin for a text inside: say it all outside
            shown.append(f"{label}: {detail.replace(chr(10), ' ')}")
            inner.append("")
    ring = ', "width": 0.45' if spec.donut else ""
    positions = _pie_label_positions(spec.values, canvas)
    # Pie centred on the canvas: an outside label must end before the canvas edge.
    room = [
        canvas.width / 2 - abs(x) * radius_px - _text_px(label, TICK_PT, canvas.dpi)
        for label, (x, _y) in zip(shown, positions, strict=True)
    ]
    constants = [
        f"LABELS = {shown!r}",
        f"VALUES = {_numbers_literal(spec.values)}",
        f"INNER_TEXTS = {inner!r}",
        f"COLORS = {[PIE_COLORS[k % len(PIE_COLORS)] for k in range(len(spec.values))]!r}",
    ]
    pie = [
        "wedges, _ = ax.pie(",
        "    VALUES,",
        "    colors=COLORS,",
        "    startangle=90,",
        "    counterclock=False,",
        f'    wedgeprops={{"linewidth": 1, "edgecolor": "white"{ring}}},',
        ")",
    ]
    if min(room) < 0.03 * canvas.width:
        return _pie_legend_parts(constants, pie, inner_radius)
    constants += [
        "# Where each outside label goes (in pie radii): by its wedge, apart from its neighbours.",
        f"LABEL_XY = {positions!r}",
    ]
    body = [
        *pie,
        "rows = zip(wedges, LABELS, LABEL_XY, INNER_TEXTS, strict=True)",
        "for wedge, label, (x, y), text in rows:",
        "    angle = math.radians((wedge.theta1 + wedge.theta2) / 2)",
        "    edge_x, edge_y = math.cos(angle), math.sin(angle)",
        '    ax.plot([edge_x, x], [edge_y, y], color="0.55", linewidth=0.8)  # leader line',
        '    side = "left" if x >= 0 else "right"',
        f'    ax.text(x, y, label, ha=side, va="center", fontsize={TICK_PT})',
        "    if text:",
        f"        r = {inner_radius}",
        '        ax.text(r * edge_x, r * edge_y, text, ha="center", '
        f'va="center", fontsize={VALUE_PT})',
        'ax.set(aspect="equal", xlim=(-1.3, 1.3), ylim=(-1.3, 1.3))',
    ]
    return _Parts(["import math"], constants, body)


def _pie_legend_parts(constants: list[str], pie: list[str], inner_radius: float) -> _Parts:
    """Labels too long to sit beside the pie: a legend to its right names the wedges.

    `constants` and `pie` (the `ax.pie` call) are the ones `_pie_parts` wrote."""
    body = [
        *pie,
        "for wedge, text in zip(wedges, INNER_TEXTS, strict=True):",
        "    if text:",
        "        angle = math.radians((wedge.theta1 + wedge.theta2) / 2)",
        f"        r = {inner_radius}",
        "        ax.text(r * math.cos(angle), r * math.sin(angle), text, "
        f'ha="center", va="center", fontsize={VALUE_PT})',
        "# The labels are too long to sit beside the pie: a legend to its right names the wedges.",
        "ax.legend(",
        '    wedges, LABELS, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,',
        f"    fontsize={TICK_PT},",
        ")",
        '# "datalim": the layout keeps its room for the legend; the pie stays round in it.',
        'ax.set(aspect="equal", adjustable="datalim")',
    ]
    return _Parts(["import math"], constants, body)


def chart_source(spec: ChartSpec, canvas: Canvas) -> str:
    """The matplotlib program for `spec` on `canvas` (same inputs → byte-identical text)."""
    builders = {
        "bar": _bar_parts,
        "barh": _bar_parts,
        "line": _line_parts,
        "pie": _pie_parts,
        "scatter": _scatter_parts,
    }
    parts = builders[spec.kind](spec, canvas)
    cjk = _needs_cjk([spec.title, *spec.labels, spec.x_label or "", spec.y_label or ""])
    formatter = _formatter(spec) if parts.value_axis else []
    name = "Donut chart" if spec.donut else _KIND_NAMES[spec.kind]
    lines = [
        f'"""{name} written by cocogen\'s offline planner; the data are Python literals."""',
        *parts.imports,
        "import matplotlib.pyplot as plt",
    ]
    if cjk:
        lines.append("from matplotlib import font_manager")
    common = _common_format(spec.value_texts) if parts.value_axis else None
    whole = (
        bool(parts.value_axis)
        and (common is None or common[2] == 1)
        and all(float(v).is_integer() for v in spec.values)
    )
    tickers = [
        name for name, used in (("FuncFormatter", formatter), ("MaxNLocator", whole)) if used
    ]
    if tickers:
        lines.append(f"from matplotlib.ticker import {', '.join(tickers)}")
    if cjk:
        lines += [
            "",
            "# Some texts need CJK glyphs: fall back to whichever of these fonts is installed.",
            f"CJK_FONTS = {list(CJK_FONTS)!r}",
            "installed = {font.name for font in font_manager.fontManager.ttflist}",
            "fallback = [name for name in CJK_FONTS if name in installed]",
            "if fallback:",
            '    plt.rcParams["font.family"] = ["DejaVu Sans", *fallback]',
        ]
    lines += [
        "",
        f"W, H, DPI = {canvas.width}, {canvas.height}, {canvas.dpi}",
        f"TITLE = {_wrap_title(spec.title, canvas)!r}",
        *parts.constants,
        *formatter,
        "",
        "fig, ax = plt.subplots(figsize=(W / DPI, H / DPI), dpi=DPI)",
        *parts.body,
    ]
    if whole:  # whole-number data: no 17.5 between 15 and 20
        lines.append(
            f"ax.{parts.value_axis}axis.set_major_locator("
            "MaxNLocator(integer=True, steps=[1, 2, 5, 10]))"
        )
    if formatter:
        lines.append(f"ax.{parts.value_axis}axis.set_major_formatter(FuncFormatter(tick_text))")
    lines.append(f"ax.set_title(TITLE, fontsize={TITLE_PT}, pad=12)")
    if spec.kind != "pie":
        lines += [
            'ax.spines[["top", "right"]].set_visible(False)',
            "ax.set_axisbelow(True)",
            f'ax.tick_params(axis="both", labelsize={TICK_PT})',
        ]
        lines += axis_label_lines(spec.x_label, spec.y_label)
    lines.append("fig.tight_layout()")
    return "\n".join(lines) + "\n"


class OfflineBackend:
    """A deterministic, no-LLM planner for requests that spell out their data or texts.

    matplotlib: tables, histograms, multi-series and single-series charts (`offline_charts`,
    this module); graphviz: flowcharts written with arrows (`offline_flow`); html and svg:
    layouts of the quoted texts (`offline_text`).  Vega-Lite is not written offline.
    """

    name = "offline"
    can_repair = False
    default_language = "matplotlib"

    def __init__(self, **_options: Any) -> None:
        """Options are accepted (the registry may pass some) and ignored: nothing to configure."""

    def choose_language(self, request: Request, suggestion: str) -> tuple[str, str]:
        """When the rules are unsure: the language of what this planner can read in the request."""
        from cocogen.planning.offline_flow import parse_flow
        from cocogen.planning.offline_text import parse_text_request

        prompt = request.prompt
        try:
            parse_flow(prompt)
            return "graphviz", f"{suggestion}; the request's arrows make a flowchart"
        except NotUnderstood:
            pass
        try:
            _matplotlib_program(prompt, request.data, request.canvas)
            return "matplotlib", f"{suggestion}; the request spells out chart data"
        except NotUnderstood:
            pass
        try:
            parse_text_request(prompt)
            return "html", f"{suggestion}; the request quotes texts to lay out"
        except NotUnderstood:
            pass
        return self.default_language, f"{suggestion}; the offline planner's default"

    def generate(self, request: GenerationRequest) -> Program:
        language = request.language
        prompt = request.request.prompt
        commitments = None
        if language in ("matplotlib", "auto"):
            language = "matplotlib"
            source, notes, commitments = _matplotlib_program(
                prompt, request.request.data, request.canvas
            )
        elif language == "graphviz":
            from cocogen.planning.offline_flow import dot_source, flow_commitments, parse_flow

            flow = parse_flow(prompt)
            source = dot_source(flow, request.canvas)
            commitments = flow_commitments(flow)
            notes = f"offline planner: flowchart of {len(flow.nodes)} steps"
        elif language in ("html", "svg"):
            from cocogen.planning.offline_text import html_source, parse_text_request, svg_source

            texts = parse_text_request(prompt)
            write = html_source if language == "html" else svg_source
            source = write(texts, request.canvas)
            count = len(texts.texts) + (1 if texts.headline else 0)
            notes = f"offline planner: {texts.kind} layout of {count} quoted texts"
        else:
            raise NotUnderstood(
                f"the offline planner does not write {language}: pass --language matplotlib, "
                f"or {LLM_HINT}"
            )
        return Program(
            language=language,
            source=source,
            backend=self.name,
            attempt=request.attempt,
            notes=notes,
            commitments=commitments,
        )


def _texts(*groups: Sequence[str]) -> Commitments:
    values = list(dict.fromkeys(t for group in groups for t in group if t))
    return Commitments(required_texts=[Commitment(kind="text", value=v) for v in values])


def _matplotlib_program(
    prompt: str, data: Any, canvas: Canvas
) -> tuple[str, str, Commitments | None]:
    """(source, notes, texts it must show) for the first chart reading that fits: a table, a
    histogram, several series, one series (`parse_chart_request`, which raises `NotUnderstood`
    saying what it needs)."""
    from cocogen.planning import offline_charts as charts

    table = charts.parse_table_request(prompt)
    if table is not None:
        return (
            charts.table_source(table, canvas),
            f"offline planner: table of {len(table.rows)} rows and {len(table.columns)} columns",
            _texts(table.columns, *table.rows, [table.title or ""]),
        )
    histogram = charts.parse_histogram_request(prompt)
    if histogram is not None:
        return (
            charts.histogram_source(histogram, canvas),
            f"offline planner: histogram of {len(histogram.values)} values in "
            f"{histogram.bins} bins",
            None,
        )
    if data is None:
        series = charts.parse_series_request(prompt)
        if series is not None:
            return (
                charts.series_source(series, canvas),
                f"offline planner: {series.kind} chart of {len(series.series)} series over "
                f"{len(series.categories)} categories",
                _texts(series.categories, [s.name for s in series.series]),
            )
    spec = parse_chart_request(prompt, data)
    size = len(spec.points) or len(spec.values)
    return (
        chart_source(spec, canvas),
        f"offline planner: {spec.kind} chart of {size} values; title from {spec.title_source}",
        None,
    )
