"""More offline charts: several series (grouped or stacked bars, several lines), histograms of
given values, and tables — all from data the request spells out, nothing invented.

* **Series**: categories as a list or range ("for Q1-Q4", "of A, B, C") and two or more named
  runs of values, one value per category: "grouped bar chart of sales for Q1-Q4: 2022 10, 12,
  14, 16; 2023 11, 13, 15, 17".  Runs end at `;`, a new line, "and" or a word; a run's name is
  the quoted text, words or year just before it.  "stacked" stacks the bars; a line chart draws
  one line per series; anything else with bars groups them.
* **Histogram**: "histogram of ages 23, 25, 31, 35, 41 with 4 bins": the values as given, the
  bin count when stated (else Sturges' rule), counts on the y axis.
* **Table**: "a table with columns Name, Age, City; rows: Alice, 30, Paris; Bob, 25, Rome"
  (cells split by `,` or `|`; quoted cells may hold commas).  Each row must have one cell per
  column; the error says which row does not.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from cocogen.errors import NotUnderstood
from cocogen.planning.commitments import (
    STOPWORDS,
    Reading,
    Token,
    _range_lists,
    _word_lists,
    read_request,
)
from cocogen.planning.offline import (
    BAR_COLOR,
    CJK_FONTS,
    TICK_PT,
    TITLE_PT,
    VALUE_PT,
    _capitalised,
    _line_px,
    _literal,
    _needs_cjk,
    _numbers_literal,
    _text_px,
    _wrap_title,
    axis_label_lines,
)
from cocogen.types import Canvas

SERIES_COLORS = (
    "#4C72B0",
    "#DD8452",
    "#55A868",
    "#C44E52",
    "#8172B3",
    "#937860",
    "#DA8BC3",
    "#8C8C8C",
    "#CCB974",
    "#64B5CD",
)
_NAME_SKIP = frozenset(
    {
        "values",
        "value",
        "were",
        "are",
        "is",
        "at",
        "of",
        "with",
        "has",
        "had",
        "scored",
        "sold",
        "series",
    }
)
_SERIES_KIND = re.compile(
    r"\b(grouped|clustered|side[- ]by[- ]side|stacked|multi[- ]?line|lines?"
    r"|bars?|columns?)\b",
    re.I,
)


# --------------------------------------------------------------------------------------------
# Series
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float, ...]
    texts: tuple[str, ...]


@dataclass(frozen=True)
class SeriesSpec:
    kind: str
    """'grouped', 'stacked' or 'lines'."""
    title: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    x_label: str | None = None
    y_label: str | None = None


def _runs(tokens: list[Token]) -> list[tuple[int, list[int]]]:
    """(name token or -1, value token indices) for runs of numbers joined by commas/slashes."""
    runs: list[tuple[int, list[int]]] = []
    k = 0
    while k < len(tokens):
        if tokens[k].kind != "num":
            k += 1
            continue
        start = k
        name = -1
        # "2022 10, 12": a number directly followed by a number names the run.
        if k + 1 < len(tokens) and tokens[k + 1].kind == "num":
            name, start = k, k + 1
        elif k + 1 < len(tokens) and tokens[k + 1].kind == "punct" and tokens[k + 1].text in ":=":
            if k + 2 < len(tokens) and tokens[k + 2].kind == "num":
                name, start = k, k + 2
        run = [start]
        j = start + 1
        while j + 1 < len(tokens) and tokens[j].kind == "punct" and tokens[j].text in ",/":
            if tokens[j + 1].kind != "num":
                break
            run.append(j + 1)
            j += 2
        runs.append((name, run))
        k = run[-1] + 1
    return runs


def _run_name(tokens: list[Token], start: int, taken: set[int]) -> tuple[str, list[int]] | None:
    j = start - 1
    while j >= 0 and (
        (tokens[j].kind == "punct" and tokens[j].text in ":=(")
        or (tokens[j].kind == "word" and tokens[j].low in _NAME_SKIP)
    ):
        j -= 1
    if j < 0 or j in taken:
        return None
    if tokens[j].kind == "quote" and tokens[j].text:
        return tokens[j].text, [j]
    words: list[int] = []
    while (
        j >= 0
        and len(words) < 3
        and j not in taken
        and tokens[j].kind == "word"
        and (tokens[j].low not in STOPWORDS or (not words and len(tokens[j].text) == 1))
    ):
        words.append(j)
        j -= 1
    if not words:
        return None
    words.reverse()
    return " ".join(tokens[i].text for i in words), words


def parse_series_request(prompt: str) -> SeriesSpec | None:
    """A multi-series chart, or None when the prompt does not hold two or more series."""
    text = prompt.replace("\n", " ; ")
    reading: Reading = read_request(text)
    tokens = reading.tokens
    found: list[tuple[str, list[int], list[int]]] = []
    taken: set[int] = set()
    year_lists: list[tuple[str, ...]] = []
    for name_at, run in _runs(tokens):
        if len(run) < 2:
            continue
        if name_at >= 0:
            name, name_tokens = tokens[name_at].text, [name_at]
        else:
            named = _run_name(tokens, run[0], taken)
            if named is None:
                if all(re.fullmatch(r"(?:1[5-9]|2[01])\d\d", tokens[i].text) for i in run):
                    year_lists.append(tuple(tokens[i].text for i in run))
                continue
            name, name_tokens = named
        found.append((name, name_tokens, run))
        taken.update(run)
        taken.update(name_tokens)
    sizes = {len(run) for _, _, run in found}
    if len(found) < 2 or len(sizes) != 1:
        return None
    if reading.data is not None and reading.data.form in ("xy", "points"):
        return None  # "x = 1, 2 and y = 3, 4": one series of points, not two series
    if {name.lower() for name, _, _ in found} <= {"x", "y", "x values", "y values"}:
        return None
    size = sizes.pop()
    free = dataclasses.replace(reading, data_tokens=set(taken))
    lists = [
        lst
        for lst in _range_lists(free) + _word_lists(free)
        if len(lst.labels) == size and not set(lst.tokens) & taken
    ]
    first = min(min(name_tokens) for _, name_tokens, _ in found)
    before = [lst for lst in lists if lst.end < first]
    categories: tuple[str, ...]
    if before:
        categories = max(before, key=lambda lst: lst.end).labels
    elif lists:
        categories = lists[0].labels
    elif any(len(years) == size for years in year_lists):
        categories = next(years for years in year_lists if len(years) == size)
    else:
        categories = tuple(str(k + 1) for k in range(size))
    words = {m.group(1).lower().replace(" ", "-") for m in _SERIES_KIND.finditer(prompt)}
    if "stacked" in words:
        kind = "stacked"
    elif words & {"line", "lines", "multi-line", "multiline"} and not words & {
        "bar",
        "bars",
        "column",
        "columns",
        "grouped",
        "clustered",
        "side-by-side",
    }:
        kind = "lines"
    else:
        kind = "grouped"
    series = []
    for name, _, run in found:
        numbers = [tokens[i].number for i in run]
        series.append(
            Series(
                name,
                tuple(n.value for n in numbers if n is not None),
                tuple(n.literal for n in numbers if n is not None),
            )
        )
    names = {tokens[i].ref for _, name_tokens, _ in found for i in name_tokens}
    quotes = [q for k, q in enumerate(reading.quotes) if q and k not in names]
    title = reading.title or next(iter(quotes), None) or _series_subject(prompt)
    return SeriesSpec(
        kind=kind,
        title=title
        or {"grouped": "Grouped bar chart", "stacked": "Stacked bar chart", "lines": "Line chart"}[
            kind
        ],
        categories=categories,
        series=tuple(series),
        x_label=reading.axis_labels.get("x"),
        y_label=reading.axis_labels.get("y"),
    )


def _series_subject(prompt: str) -> str | None:
    match = re.search(
        r"\b(?:chart|graph|plot|bars|lines)\s+(?:of|comparing|showing)\s+([A-Za-z][\w' -]{1,40}?)"
        r"(?=\s+(?:for|by|in|across|over|from|with)\b|\s*[:,(]|$)",
        prompt,
        re.I,
    )
    return _capitalised(match.group(1).strip()) if match else None


def _preamble(texts: list[str], canvas: Canvas) -> list[str]:
    lines = ["import matplotlib.pyplot as plt"]
    if _needs_cjk(texts):
        lines += [
            "from matplotlib import font_manager",
            "",
            f"CJK_FONTS = {list(CJK_FONTS)!r}",
            "installed = {font.name for font in font_manager.fontManager.ttflist}",
            "fallback = [name for name in CJK_FONTS if name in installed]",
            "if fallback:",
            '    plt.rcParams["font.family"] = ["DejaVu Sans", *fallback]',
        ]
    return [*lines, "", f"W, H, DPI = {canvas.width}, {canvas.height}, {canvas.dpi}"]


def series_source(spec: SeriesSpec, canvas: Canvas) -> str:
    """The matplotlib program for a multi-series chart (same spec → same text)."""
    n, m = len(spec.categories), len(spec.series)
    texts = [spec.title, *spec.categories, *(s.name for s in spec.series)]
    lines = [f'"""{spec.kind.capitalize()} chart written by cocogen\'s offline planner."""']
    lines += _preamble(texts, canvas)
    lines += [
        f"TITLE = {_wrap_title(spec.title, canvas)!r}",
        f"CATEGORIES = {list(spec.categories)!r}",
        "SERIES = [",
        *(f"    ({s.name!r}, {_numbers_literal(s.values)})," for s in spec.series),
        "]",
        f"COLORS = {list(SERIES_COLORS[k % len(SERIES_COLORS)] for k in range(m))!r}",
        "",
        "fig, ax = plt.subplots(figsize=(W / DPI, H / DPI), dpi=DPI)",
        "positions = list(range(len(CATEGORIES)))",
    ]
    if spec.kind == "lines":
        lines += [
            "for (name, values), color in zip(SERIES, COLORS, strict=True):",
            '    ax.plot(positions, values, marker="o", linewidth=2, color=color, label=name)',
            'ax.grid(axis="y", alpha=0.3)',
        ]
    elif spec.kind == "stacked":
        lines += [
            "bottoms = [0.0] * len(CATEGORIES)",
            "for (name, values), color in zip(SERIES, COLORS, strict=True):",
            "    ax.bar(positions, values, width=0.6, bottom=bottoms, color=color, label=name)",
            "    bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]",
            'ax.grid(axis="y", alpha=0.3)',
        ]
    else:
        width = round(0.8 / m, 4)
        lines += [
            f"WIDTH = {width!r}",
            "for k, ((name, values), color) in enumerate(zip(SERIES, COLORS, strict=True)):",
            f"    offset = (k - {(m - 1) / 2!r}) * WIDTH",
            "    ax.bar([p + offset for p in positions], values, width=WIDTH, color=color, "
            "label=name)",
            'ax.grid(axis="y", alpha=0.3)',
        ]
    slot = canvas.width * 0.8 / max(n, 1)
    widest = max((_text_px(c, TICK_PT, canvas.dpi) for c in spec.categories), default=0.0)
    rotation = (
        0 if widest + 8 <= slot else (40 if slot >= _line_px(TICK_PT, canvas.dpi) * 1.6 else 90)
    )
    lines.append(f"ax.set_xticks(positions, CATEGORIES, fontsize={TICK_PT})")
    if rotation:
        lines.append(
            f'plt.setp(ax.get_xticklabels(), rotation={rotation}, ha="right", '
            'rotation_mode="anchor")'
        )
    low = min(0.0, *(v for s in spec.series for v in s.values))
    if spec.kind == "stacked":
        high = max(sum(s.values[k] for s in spec.series) for k in range(n))
    else:
        high = max(v for s in spec.series for v in s.values)
    lines += [
        f"ax.set_ylim({_literal(low)}, {_literal(float(f'{high * 1.12:.6g}'))})",
        f'ax.legend(title=None, fontsize={VALUE_PT + 1}, loc="upper left", '
        "bbox_to_anchor=(1.01, 1), borderaxespad=0)",
        f"ax.set_title(TITLE, fontsize={TITLE_PT}, pad=12)",
        'ax.spines[["top", "right"]].set_visible(False)',
        "ax.set_axisbelow(True)",
        f'ax.tick_params(axis="y", labelsize={TICK_PT})',
    ]
    lines += axis_label_lines(spec.x_label, spec.y_label)
    lines.append("fig.tight_layout()")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Histogram
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistogramSpec:
    title: str
    values: tuple[float, ...]
    bins: int
    x_label: str | None = None
    y_label: str | None = None


def parse_histogram_request(prompt: str) -> HistogramSpec | None:
    """A histogram of given values, or None when the prompt does not ask for one."""
    if not re.search(r"\bhistograms?\b|\bdistribution\b", prompt, re.I):
        return None
    bins_match = re.search(r"\b(\d{1,3})\s+(?:bins?|buckets?|intervals?)\b", prompt, re.I)
    body = prompt[: bins_match.start()] + prompt[bins_match.end() :] if bins_match else prompt
    reading = read_request(body)
    tokens = reading.tokens
    runs = [run for _, run in _runs(tokens)]
    best = max(runs, key=len, default=[])
    numbers = [tokens[i].number for i in best if tokens[i].number is not None]
    if len(numbers) < 3:
        raise NotUnderstood(
            'a histogram needs the values themselves (at least 3, e.g. "histogram of 3, 5, 5, '
            '6, 8"); the offline planner never invents data'
        )
    values = tuple(n.value for n in numbers if n is not None)
    bins = int(bins_match.group(1)) if bins_match else math.ceil(math.log2(len(values))) + 1
    if not 1 <= bins <= 200:
        raise NotUnderstood(f"a histogram needs between 1 and 200 bins, not {bins}")
    subject = re.search(
        r"\b(?:histogram|distribution)\s+of\s+(?:the\s+)?([A-Za-z][\w' -]{0,40}?)"
        r"(?=\s*[:(,]|\s+\d|\s+(?:with|for|in|from|across|using)\b|$)",
        body,
        re.I,
    )
    title = reading.title or next(iter(reading.free_quotes()), None)
    if title is None:
        title = f"Distribution of {subject.group(1).strip()}" if subject else "Histogram"
    return HistogramSpec(
        title=title,
        values=values,
        bins=bins,
        x_label=reading.axis_labels.get("x"),
        y_label=reading.axis_labels.get("y") or "Count",
    )


def histogram_source(spec: HistogramSpec, canvas: Canvas) -> str:
    lines = ['"""Histogram written by cocogen\'s offline planner; the values are as given."""']
    lines += _preamble([spec.title, spec.x_label or ""], canvas)
    lines += [
        f"TITLE = {_wrap_title(spec.title, canvas)!r}",
        f"VALUES = {_numbers_literal(spec.values)}",
        f"BINS = {spec.bins}",
        "",
        "fig, ax = plt.subplots(figsize=(W / DPI, H / DPI), dpi=DPI)",
        f'counts, edges, bars = ax.hist(VALUES, bins=BINS, color="{BAR_COLOR}", edgecolor="white")',
        "ax.bar_label(bars, labels=[str(int(c)) if c else '' for c in counts], padding=2, "
        f"fontsize={VALUE_PT})",
        "ax.set_ylim(0, max(counts) * 1.15 + 0.5)",
        f"ax.set_title(TITLE, fontsize={TITLE_PT}, pad=12)",
        'ax.spines[["top", "right"]].set_visible(False)',
        'ax.grid(axis="y", alpha=0.3)',
        "ax.set_axisbelow(True)",
        f'ax.tick_params(axis="both", labelsize={TICK_PT})',
    ]
    lines += axis_label_lines(spec.x_label, spec.y_label)
    lines.append("fig.tight_layout()")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    title: str | None
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


_TABLE_HEAD = re.compile(r"\b(?:columns?|headers?|headings?|fields?)\b\s*(?:are|of|:|=)?\s*", re.I)
_ROW_PREFIX = re.compile(
    r"^\s*(?:and\s+)?(?:rows?|records?|entries|data)?\s*(?:\d+)?\s*[:=]?\s*", re.I
)


def _cells(segment: str, quotes: list[str]) -> list[str]:
    parts = segment.split("|") if "|" in segment else re.split(r",|\s+and\s+", segment)
    cells = []
    for part in parts:
        cell = re.sub(r"\x00(\d+)\x00", lambda m: quotes[int(m.group(1))], part).strip()
        cell = cell.strip(".").strip()
        if cell:
            cells.append(" ".join(cell.split()))
    return cells


def parse_table_request(prompt: str) -> TableSpec | None:
    """A table given as columns and rows, or None when the prompt does not ask for a table."""
    if not re.search(r"\btables?\b", prompt, re.I):
        return None
    quotes: list[str] = []

    def mask(match: re.Match[str]) -> str:
        quotes.append(next(g for g in match.groups() if g is not None))
        return f"\x00{len(quotes) - 1}\x00"

    masked = re.sub(r'"([^"\n]*)"|“([^”\n]*)”', mask, prompt)
    head = _TABLE_HEAD.search(masked)
    if head is None:
        return None
    rest = masked[head.end() :]
    segments = [s for s in re.split(r"\s*(?:;|\n|\brows?\s*:)\s*", rest) if s.strip()]
    first, *others = segments
    header_part = re.split(r"\s+(?:and\s+)?(?:rows?|records?|with\s+rows?)\b", first, maxsplit=1)
    columns = _cells(header_part[0], quotes)
    if len(header_part) > 1 and header_part[1].strip(" :"):
        others.insert(0, header_part[1])
    rows: list[tuple[str, ...]] = []
    for k, segment in enumerate(others, start=1):
        cells = _cells(_ROW_PREFIX.sub("", segment, count=1), quotes)
        if not cells:
            continue
        if len(cells) != len(columns):
            raise NotUnderstood(
                f"table row {k} has {len(cells)} cells ({', '.join(cells[:6])}) but there are "
                f"{len(columns)} columns ({', '.join(columns[:6])}): give one cell per column"
            )
        rows.append(tuple(cells))
    if len(columns) < 1 or not rows:
        raise NotUnderstood(
            'a table needs columns and at least one row (e.g. "a table with columns Name, Age; '
            'rows: Ann, 31; Bo, 27")'
        )
    title = read_request(prompt).title
    return TableSpec(title, tuple(columns), tuple(rows))


def table_source(spec: TableSpec, canvas: Canvas) -> str:
    """A matplotlib table sized so that every cell's text fits its cell."""
    dpi = canvas.dpi
    ncols, nrows = len(spec.columns), len(spec.rows) + 1
    widths = [
        max(_text_px(cell, 12, dpi) for cell in [spec.columns[c], *(r[c] for r in spec.rows)])
        for c in range(ncols)
    ]
    room_w = canvas.width * 0.9
    room_h = canvas.height * (0.78 if spec.title else 0.9)
    font = 12.0
    fit_w = room_w / (sum(widths) * 1.0 + ncols * _text_px("MM", 12, dpi))
    fit_h = room_h / (nrows * _line_px(12, dpi) * 1.6)
    font = max(8.0, min(font * min(fit_w, fit_h), 20.0))
    scale = font / 12
    pads = [w * scale + _text_px("MM", font, dpi) for w in widths]
    total = sum(pads)
    col_widths = [round(min(0.98, 0.9 * canvas.width / total) * p / canvas.width, 4) for p in pads]
    row_h = round(_line_px(font, dpi) * 1.6 / (canvas.height * (0.9 if not spec.title else 0.8)), 4)
    texts = [spec.title or "", *spec.columns, *(c for r in spec.rows for c in r)]
    lines = ['"""Table written by cocogen\'s offline planner; every cell is as given."""']
    lines += _preamble(texts, canvas)
    lines += [
        f"TITLE = {spec.title!r}",
        f"COLUMNS = {list(spec.columns)!r}",
        f"ROWS = {[list(r) for r in spec.rows]!r}",
        f"COL_WIDTHS = {col_widths!r}",
        "",
        "fig, ax = plt.subplots(figsize=(W / DPI, H / DPI), dpi=DPI)",
        'ax.axis("off")',
        'table = ax.table(cellText=ROWS, colLabels=COLUMNS, colWidths=COL_WIDTHS, loc="center", '
        'cellLoc="center")',
        "table.auto_set_font_size(False)",
        f"table.set_fontsize({font:.1f})",
        "for (row, _col), cell in table.get_celld().items():",
        f"    cell.set_height({row_h!r})",
        '    cell.set_edgecolor("#9aa5b1")',
        "    if row == 0:",
        '        cell.set_facecolor("#dbe4f0")',
        '        cell.get_text().set_fontweight("bold")',
    ]
    if spec.title:
        lines.append(f"ax.set_title(TITLE, fontsize={TITLE_PT}, pad=12)")
    lines.append("fig.tight_layout()")
    return "\n".join(lines) + "\n"
