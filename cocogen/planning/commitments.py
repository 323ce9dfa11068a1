"""Deterministic reading of a request: quoted texts, numbers, label ranges and lists, counts.

Why this module exists: a request carries promises that can be checked on the rendered image
without any model — the title the user quoted, the numbers they typed, "five bars", "Q1-Q4".
`extract_commitments` turns a prompt into `cocogen.types.Commitments` with no LLM, and the offline
planner (`cocogen.planning.offline`) builds its charts from the same reading (`read_request`), so
what it draws and what the checker expects come from one parse.

Conventions:

* A number commitment's `value` is the literal exactly as the user wrote it ("1,200", "3.5%",
  "$4.2M", "-12", "1.5k"); `parse_number` gives its float (1200, 3.5, 4200000, -12, 1500).  A
  percentage keeps its face value (3.5, not 0.035).  Each literal is committed once.
* "1,200" is one number (groups of exactly three digits after the comma); "1,2,3" and "1, 2, 3"
  are three.
* Quoted strings ("...", '...', “...”, ‘...’, «...», 「...」, 『...』, „...“) are texts, verbatim
  inside the quotes (outer whitespace stripped).  Numbers inside quotes are not number
  commitments.
* Ranges become their members as texts: "Q1-Q4" → Q1, Q2, Q3, Q4; "2019 to 2023" → 2019 … 2023;
  "Jan-Jun" → Jan … Jun; "Mon-Fri" → Mon … Fri; "Week 1 to Week 5" → Week 1 … Week 5.  Their
  numbers are not number commitments.
* Data labels are texts: the labels of "A=5, B=7" / "apples 30, bananas 45" pairs, and a list of
  labels ("for Jan, Feb and Mar", "labels A, B, C") when it is introduced by such a word or has
  as many items as a list of values next to it.  Years used as labels are texts, not numbers.
* "N bars/slices/nodes/points/lines/columns/…" (digits or one … twenty) is an entity commitment
  with the singular noun as value and N as count; N is not a number commitment.
* Sizes ("800 px", "1024 x 768", "font size 12") are neither numbers nor counts.
* Vague quantities ("several bars") go to `unknowns`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal

from cocogen.types import Commitment, Commitments

# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------

_SIGNS = "-+\u2212"
_CURRENCIES = "$€£¥₹"
_NUM_BODY = (
    rf"(?P<sign>[{_SIGNS}])?(?P<cur>[{_CURRENCIES}])?"
    r"(?:(?P<int>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?P<frac>\.\d+)?|(?P<bare>\.\d+))"
    r"(?P<suf>%|‰|bn|[kKMB]|m)?"
)
_NUM_RE = re.compile(_NUM_BODY)
_NUM_NO_SUFFIX_RE = re.compile(_NUM_BODY.replace("(?P<suf>%|‰|bn|[kKMB]|m)?", "(?P<suf>)"))
_SCALES: dict[str, Decimal] = {
    "k": Decimal(1000),
    "K": Decimal(1000),
    "M": Decimal(1_000_000),
    "m": Decimal(1_000_000),
    "B": Decimal(1_000_000_000),
    "bn": Decimal(1_000_000_000),
}
# A number literal for the point pattern, without named groups.
_NUM_SRC = (
    rf"[{_SIGNS}]?[{_CURRENCIES}]?(?:(?:\d{{1,3}}(?:,\d{{3}})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:%|bn|[kKMB])?"
)


def parse_number(literal: str) -> float | None:
    """The float a number literal stands for: "1,200" → 1200, "$4.2M" → 4200000, "3.5%" → 3.5.

    Returns None when `literal` is not a single number as this module reads them.
    """
    match = _NUM_RE.fullmatch(literal.strip())
    if match is None:
        return None
    digits = (match["int"] or "").replace(",", "") + (match["frac"] or match["bare"] or "")
    try:
        magnitude = Decimal(digits if not digits.startswith(".") else "0" + digits)
    except InvalidOperation:  # pragma: no cover - the pattern only admits digits
        return None
    magnitude *= _SCALES.get(match["suf"] or "", Decimal(1))
    negative = (match["sign"] or "") in ("-", "\u2212")
    return float(-magnitude if negative else magnitude)


@dataclass(frozen=True)
class Number:
    """A number as written (`literal`) and as a float (`value`)."""

    literal: str
    value: float

    @property
    def prefix(self) -> str:
        """The currency sign, if any ("$" for "$4.2M")."""
        match = _NUM_RE.fullmatch(self.literal)
        return (match["cur"] or "") if match else ""

    @property
    def suffix(self) -> str:
        """The unit or scale letter, if any ("M" for "$4.2M", "%" for "3.5%")."""
        match = _NUM_RE.fullmatch(self.literal)
        return (match["suf"] or "") if match else ""

    @property
    def scale(self) -> float:
        """What the suffix multiplies by (1e6 for "M", 1 for "%" or none)."""
        return float(_SCALES.get(self.suffix, Decimal(1)))

    @property
    def grouped(self) -> bool:
        """True when written with thousands separators ("1,200")."""
        return "," in self.literal


def _is_year(literal: str) -> bool:
    return bool(re.fullmatch(r"(?:1[5-9]|2[01])\d\d", literal))


# --------------------------------------------------------------------------------------------
# Quotes, ranges, points: found on the raw text and replaced by placeholders
# --------------------------------------------------------------------------------------------

_QUOTE_RE = re.compile(
    r'"(?P<dq>[^"\n]*)"'
    r"|“(?P<cq>[^”\n]*)”"
    r"|„(?P<lq>[^“”\n]*)[“”]"
    r"|«(?P<gq>[^»\n]*)»"
    r"|「(?P<jq>[^」\n]*)」"
    r"|『(?P<wq>[^』\n]*)』"
    r"|‘(?P<csq>[^’\n]*)’"
    r"|(?<![\w'’])'(?P<sq>[^'\n]+)'(?!\w)"
)
_WIDE_SEPARATORS = str.maketrans(
    {"，": ",", "：": ":", "；": ";", "、": ",", "（": "(", "）": ")", "＝": "=", "\u3000": " "}
)
_PLACEHOLDER_RE = re.compile(r"\x00([QRPB])(\d*)\x00")
_BREAK = " \x00B\x00 "

# A range dash has no space on either side or spaces on both: "Q1 -12" is Q1 and minus twelve.
_TO = r"(?:[-–—]|\s+[-–—]\s+|\s*[–—]\s*|\s+(?:to|through|thru|until|till)\s+)"
_YEAR_SRC = r"(?:1[5-9]\d\d|2[01]\d\d)"
_YEAR_RANGE_RE = re.compile(
    rf"(?<![\w.,{_CURRENCIES}])(?P<a>{_YEAR_SRC}){_TO}(?P<b>{_YEAR_SRC})(?![\w%]|[.,]\d)"
)
_PREFIXED_RANGE_RE = re.compile(
    rf"(?<![\w])(?P<p>[A-Za-z]{{1,8}})(?P<sp> ?)(?P<a>\d{{1,4}}){_TO}"
    r"(?P<again>(?P=p)(?P=sp))?(?P<b>\d{1,4})(?![\w%]|[.,]\d)"
)
_MONTHS: tuple[tuple[str, str], ...] = (
    ("January", "Jan"),
    ("February", "Feb"),
    ("March", "Mar"),
    ("April", "Apr"),
    ("May", "May"),
    ("June", "Jun"),
    ("July", "Jul"),
    ("August", "Aug"),
    ("September", "Sep"),
    ("October", "Oct"),
    ("November", "Nov"),
    ("December", "Dec"),
)
_WEEKDAYS: tuple[tuple[str, str], ...] = (
    ("Monday", "Mon"),
    ("Tuesday", "Tue"),
    ("Wednesday", "Wed"),
    ("Thursday", "Thu"),
    ("Friday", "Fri"),
    ("Saturday", "Sat"),
    ("Sunday", "Sun"),
)


def _name_index(names: Sequence[tuple[str, str]]) -> dict[str, tuple[int, str]]:
    """'Jan' / 'January' / 'JAN' / 'Sept' → (position, style)."""
    index: dict[str, tuple[int, str]] = {}
    for position, (full, short) in enumerate(names):
        for word, style in ((full, "full"), (short, "short")):
            index[word] = (position, style)
            index[word.upper()] = (position, style + "-upper")
    if names is _MONTHS:
        index["Sept"] = (8, "short")
        index["SEPT"] = (8, "short-upper")
    return index


_MONTH_INDEX = _name_index(_MONTHS)
_WEEKDAY_INDEX = _name_index(_WEEKDAYS)


def _names_alternation(index: dict[str, tuple[int, str]]) -> str:
    return "|".join(sorted((re.escape(k) for k in index), key=len, reverse=True))


_MONTH_RANGE_RE = re.compile(
    rf"(?<![\w])(?P<a>{_names_alternation(_MONTH_INDEX)})\.?{_TO}"
    rf"(?P<b>{_names_alternation(_MONTH_INDEX)})\.?(?!\w)"
)
_WEEKDAY_RANGE_RE = re.compile(
    rf"(?<![\w])(?P<a>{_names_alternation(_WEEKDAY_INDEX)})\.?{_TO}"
    rf"(?P<b>{_names_alternation(_WEEKDAY_INDEX)})\.?(?!\w)"
)
_POINT_RE = re.compile(rf"\(\s*(?P<x>{_NUM_SRC})\s*[,;]\s*(?P<y>{_NUM_SRC})\s*\)")

# Axis labels: `x-axis "Quarter"`, `y label "Revenue ($k)"`, `x axis labeled Year`.
_AXIS_HEAD = (
    r"(?<![\w])(?:(?P<axis>[xXyY])(?P<aword>\s*-?\s*axis(?:\s+(?:label|title))?"
    r"|\s*-?\s*(?:label|title))|(?P<hv>horizontal|vertical)\s+axis(?:\s+(?:label|title))?)\b"
)
_AXIS_CONNECT = (
    r"(?P<conn>(?:\s*(?:(?:is|as|labell?ed|titled|named|called|reads?|reading)\b|[=:]))*)"
)
_UNQUOTED = (
    r"(?P<u>[^\W\d_][^,;:\n\x00()]*?(?:\([^)\n\x00]*\))?)"
    r"(?=\s*(?:[,;:\n]|\.(?:\s|$)|\x00|$|\band\b|\bwith\b|\bfor\b|\busing\b|\bwhile\b"
    r"|\b[xXyY]\s*-?\s*(?:axis|label)))"
)
_AXIS_RE = re.compile(
    _AXIS_HEAD + _AXIS_CONNECT + r"\s*(?:\x00Q(?P<q>\d+)\x00|" + _UNQUOTED + ")", re.IGNORECASE
)
_AXIS_REVERSED_RE = re.compile(
    r"(?<![\w])label(?:l?ed)?\s+(?:the\s+)?(?P<axis>[xy])\s*-?\s*axis\s+(?:as\s+)?"
    r"(?:\x00Q(?P<q>\d+)\x00|" + _UNQUOTED + ")",
    re.IGNORECASE,
)
# Titles: `titled "Team size"`, `with the title "..."`, `title: Sales`, `called "..."`.
_TITLE_RE = re.compile(
    r"(?<![\w])(?:(?P<open>titled|entitled|with\s+(?:the|a)\s+title|title\s*(?:is|=|:))"
    r"|(?P<quoted_only>title|called|named|headline|heading))"
    r"\s*(?::\s*)?(?:\x00Q(?P<q>\d+)\x00|" + _UNQUOTED + ")",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LabelRange:
    """A range written in the prompt ("Q1-Q4") and the labels it stands for."""

    literal: str
    labels: tuple[str, ...]
    temporal: bool


def _expand_names(
    a: str, b: str, index: dict[str, tuple[int, str]], names: Sequence[tuple[str, str]]
) -> tuple[str, ...] | None:
    start, style = index[a]
    end, _ = index[b]
    if start == end:
        return None
    count = (end - start) % len(names) + 1
    out: list[str] = []
    for step in range(count):
        full, short = names[(start + step) % len(names)]
        word = full if style.startswith("full") else short
        out.append(word.upper() if style.endswith("upper") else word)
    return tuple(out)


def _find_ranges(text: str) -> tuple[str, list[LabelRange]]:
    """Replace every range by a placeholder; return the new text and the ranges in order."""
    found: list[tuple[int, int, LabelRange]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e, _ in found)

    for m in _YEAR_RANGE_RE.finditer(text):
        a, b = int(m["a"]), int(m["b"])
        if a < b <= a + 60 and free(m.start(), m.end()):
            labels = tuple(str(y) for y in range(a, b + 1))
            found.append((m.start(), m.end(), LabelRange(m.group(0), labels, True)))
    for m in _PREFIXED_RANGE_RE.finditer(text):
        a, b = int(m["a"]), int(m["b"])
        if m["sp"] and not m["again"]:
            continue  # "A 5 - 10" is not a range; "Week 1 to Week 5" is
        if a < b <= a + 60 and free(m.start(), m.end()):
            labels = tuple(f"{m['p']}{m['sp']}{k}" for k in range(a, b + 1))
            temporal = m["p"].upper() in ("Q", "H", "FY", "W", "WEEK", "DAY", "MONTH", "YEAR")
            found.append((m.start(), m.end(), LabelRange(m.group(0), labels, temporal)))
    for regex, index, names in (
        (_MONTH_RANGE_RE, _MONTH_INDEX, _MONTHS),
        (_WEEKDAY_RANGE_RE, _WEEKDAY_INDEX, _WEEKDAYS),
    ):
        for m in regex.finditer(text):
            labels_or_none = _expand_names(m["a"], m["b"], index, names)
            if labels_or_none and free(m.start(), m.end()):
                found.append((m.start(), m.end(), LabelRange(m.group(0), labels_or_none, True)))
    found.sort(key=lambda item: item[0])
    pieces: list[str] = []
    last = 0
    ranges: list[LabelRange] = []
    for start, end, label_range in found:
        pieces.append(text[last:start])
        pieces.append(f" \x00R{len(ranges)}\x00 ")
        ranges.append(label_range)
        last = end
    pieces.append(text[last:])
    return "".join(pieces), ranges


# --------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------

TokenKind = Literal["word", "num", "quote", "range", "point", "punct", "break"]


@dataclass(frozen=True)
class Token:
    """One token of the masked prompt.  `ref` indexes quotes / ranges / points."""

    kind: TokenKind
    text: str
    ref: int = -1
    number: Number | None = None

    @property
    def low(self) -> str:
        return self.text.casefold()


def is_wide(char: str) -> bool:
    """True for CJK and other full-width characters (they form words of their own)."""
    return unicodedata.east_asian_width(char) in ("W", "F") and char.isalnum()


def _number_at(text: str, i: int) -> re.Match[str] | None:
    """A number token starting at `i`, checked against its neighbours, else None."""
    for regex in (_NUM_RE, _NUM_NO_SUFFIX_RE):
        m = regex.match(text, i)
        if m is None or not (m["int"] or m["bare"]):
            continue
        if m["suf"] == "m" and not m["cur"]:
            continue
        if m["sign"] and i > 0 and (text[i - 1].isalnum() or text[i - 1] in ")]"):
            return None
        end = m.end()
        if end < len(text):
            nxt = text[end]
            if (nxt.isalnum() and not is_wide(nxt)) or nxt == "_":
                continue
            if nxt == "." and end + 1 < len(text) and text[end + 1].isdigit():
                continue
        return m
    return None


def _tokenize(masked: str, quotes: Sequence[str], ranges: Sequence[LabelRange]) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(masked)
    while i < n:
        ch = masked[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "\x00":
            ph = _PLACEHOLDER_RE.match(masked, i)
            if ph is None:  # pragma: no cover - placeholders are always well formed
                i += 1
                continue
            letter, ref = ph[1], int(ph[2] or -1)
            if letter == "Q":
                tokens.append(Token("quote", quotes[ref], ref))
            elif letter == "R":
                tokens.append(Token("range", ranges[ref].literal, ref))
            elif letter == "P":
                tokens.append(Token("point", "", ref))
            else:
                tokens.append(Token("break", ""))
            i = ph.end()
            continue
        if is_wide(ch):
            j = i
            while j < n and is_wide(masked[j]) and not masked[j].isdigit():
                j += 1
            if j > i:
                tokens.append(Token("word", masked[i:j]))
                i = j
                continue
        if ch.isdigit() or ch in _SIGNS or ch in _CURRENCIES or ch == ".":
            m = _number_at(masked, i)
            if m is not None:
                literal = m.group(0)
                value = parse_number(literal)
                if value is not None:
                    tokens.append(Token("num", literal, number=Number(literal, value)))
                    i = m.end()
                    continue
        if ch.isalnum():
            j = i + 1
            while (
                j < n and not is_wide(masked[j]) and (masked[j].isalnum() or masked[j] in "_'’.-&")
            ):
                j += 1
            word = masked[i:j].rstrip("'’.-&")
            tokens.append(Token("word", word))
            i += len(word)
            continue
        tokens.append(Token("punct", ch))
        i += 1
    return tokens


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

STRUCTURAL: frozenset[str] = frozenset(
    """
    chart charts plot plots graph graphs diagram bar bars barh column columns line lines pie pies
    donut doughnut scatter scatterplot trend trends histogram value values label labels category
    categories data titled title entitled called named showing show shows comparing compare
    compared comparison with axis x-axis y-axis horizontal vertical percent percentage
    percentages respectively draw make create render generate points point slices slice
    using labeled labelled table tables row rows cell cells header headers
    """.split()
)
"""Words that are never part of a data label."""

STOPWORDS: frozenset[str] = STRUCTURAL | frozenset(
    """
    a an the of for and or by in on to from at as is are was were be been it its this that these
    those their them please me give i want need can could would should will you my our your we
    which where who whom whose what when how each per every all both across between over under
    into onto about than then also only just very some any few several many much more most less
    there here have has had do does did not no nor versus vs via within without like such
    include includes including
    """.split()
)
"""Function words and structural words: they end a label when scanning for one."""

_INTRODUCERS: frozenset[str] = frozenset(
    """
    labels label categories category for named called including include includes items groups
    bars slices columns segments series names nodes
    """.split()
)
"""Words that announce a list of labels ("for Jan, Feb and Mar", "labels A, B, C")."""

_ENTITY_SINGULAR: dict[str, str] = {
    "bar": "bar",
    "bars": "bar",
    "column": "column",
    "columns": "column",
    "slice": "slice",
    "slices": "slice",
    "wedge": "wedge",
    "wedges": "wedge",
    "sector": "sector",
    "sectors": "sector",
    "segment": "segment",
    "segments": "segment",
    "node": "node",
    "nodes": "node",
    "edge": "edge",
    "edges": "edge",
    "point": "point",
    "points": "point",
    "dot": "dot",
    "dots": "dot",
    "marker": "marker",
    "markers": "marker",
    "line": "line",
    "lines": "line",
    "curve": "curve",
    "curves": "curve",
    "box": "box",
    "boxes": "box",
    "circle": "circle",
    "circles": "circle",
    "row": "row",
    "rows": "row",
    "step": "step",
    "steps": "step",
    "stage": "stage",
    "stages": "stage",
    "category": "category",
    "categories": "category",
    "item": "item",
    "items": "item",
    "series": "series",
}
_NUMBER_WORDS: dict[str, int] = {
    word: k
    for k, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_VAGUE = frozenset({"several", "some", "many", "few", "multiple", "various", "numerous"})
_SIZE_UNITS = frozenset(
    {"px", "pixel", "pixels", "pt", "pts", "point-size", "dpi", "inch", "inches", "cm", "mm", "em"}
)
_SIZE_WORDS = frozenset(
    {"size", "fontsize", "font-size", "width", "height", "dpi", "resolution", "font"}
)
_LIST_SEPARATORS = frozenset({",", ";", "&", "|", "and"})
_PAIR_VERBS = frozenset({"is", "are", "was", "were", "at", "equals"})
"""Words that may join a label to its value: "apples are 5"."""


def _is_sep(token: Token) -> bool:
    return (token.kind == "punct" and token.text in _LIST_SEPARATORS) or (
        token.kind == "word" and token.low in ("and", "&")
    )


def _label_word(token: Token, adjacent: bool = False) -> bool:
    """A word that may be part of a label; a single letter always may when `adjacent`."""
    if token.kind != "word":
        return False
    if adjacent and len(token.text) == 1:
        return True
    return token.low not in STOPWORDS


# --------------------------------------------------------------------------------------------
# The reading
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    """The chart data a prompt spells out.

    `form`: "pairs" (A=5, B=7), "reversed" (30% apples, 45% pears), "lists" (labels + values
    lists, ranges included), "values" (numbers only), "points" ((1, 2), (3, 4)) or "xy"
    (x = 1, 2, 3 and y = 4, 5, 6).  `temporal` is True when the labels read as time (a year,
    month, weekday or quarter range, or a list of years).
    """

    form: Literal["pairs", "reversed", "lists", "values", "points", "xy"]
    labels: tuple[str, ...] = ()
    values: tuple[Number, ...] = ()
    points: tuple[tuple[Number, Number], ...] = ()
    temporal: bool = False


@dataclass(frozen=True)
class Mismatch:
    """Labels and values that belong together but differ in count."""

    what: str
    labels: tuple[str, ...]
    values: tuple[Number, ...]


@dataclass(frozen=True)
class Count:
    """'3 bars': an entity noun (singular) and how many."""

    noun: str
    count: int
    token: int


@dataclass
class Reading:
    """Everything `read_request` found in a prompt; see the module docstring for the rules."""

    prompt: str
    masked: str
    quotes: list[str]
    ranges: list[LabelRange]
    points: list[tuple[Number, Number]]
    tokens: list[Token]
    axis_labels: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    used_quotes: set[int] = field(default_factory=set)
    counts: list[Count] = field(default_factory=list)
    vague: list[str] = field(default_factory=list)
    sizes: set[int] = field(default_factory=set)
    data: Data | None = None
    mismatch: Mismatch | None = None
    data_tokens: set[int] = field(default_factory=set)
    label_lists: list[tuple[str, ...]] = field(default_factory=list)
    """Lists of labels worth committing to (introduced, or matched with values)."""
    label_numbers: set[int] = field(default_factory=set)
    """Token indices of numbers used as labels (years), which are texts, not numbers."""

    def free_quotes(self) -> list[str]:
        """Non-empty quoted strings not used as a title, an axis label or a data label."""
        return [q for i, q in enumerate(self.quotes) if i not in self.used_quotes and q]


def _mask_quotes(prompt: str) -> tuple[str, list[str]]:
    quotes: list[str] = []

    def replace(m: re.Match[str]) -> str:
        inner = next(g for g in m.groups() if g is not None)
        quotes.append(inner.strip())
        return f" \x00Q{len(quotes) - 1}\x00 "

    return _QUOTE_RE.sub(replace, prompt), quotes


def _take_axis_labels(masked: str, quotes: list[str], axes: dict[str, str], used: set[int]) -> str:
    """Record `x-axis "Quarter"` / `y axis labeled Revenue` and blank them out of the text."""

    def replace(m: re.Match[str], reversed_form: bool) -> str:
        groups = m.groupdict()
        axis = (groups.get("axis") or "").lower()
        if not axis:
            axis = "x" if (groups.get("hv") or "").lower() == "horizontal" else "y"
        if m["q"] is not None:
            value = quotes[int(m["q"])]
            used.add(int(m["q"]))
        else:
            head = (groups.get("aword") or "").lower()
            labelled = (
                reversed_form
                or bool((groups.get("conn") or "").strip())
                or "label" in head
                or "title" in head
            )
            if not labelled:
                return m.group(0)
            value = " ".join(m["u"].split())
        if value and axis not in axes:
            axes[axis] = value
        return _BREAK

    masked = _AXIS_RE.sub(lambda m: replace(m, False), masked)
    return _AXIS_REVERSED_RE.sub(lambda m: replace(m, True), masked)


def _take_title(masked: str, quotes: list[str], used: set[int]) -> tuple[str, str | None]:
    for m in _TITLE_RE.finditer(masked):
        if m["q"] is not None:
            used.add(int(m["q"]))
            title = quotes[int(m["q"])]
        elif m["open"] is not None:
            title = " ".join(m["u"].split())
        else:
            continue
        if title:
            return masked[: m.start()] + _BREAK + masked[m.end() :], title
    return masked, None


def _take_points(masked: str) -> tuple[str, list[tuple[Number, Number]]]:
    points: list[tuple[Number, Number]] = []

    def replace(m: re.Match[str]) -> str:
        x, y = parse_number(m["x"]), parse_number(m["y"])
        if x is None or y is None:  # pragma: no cover - the pattern only admits numbers
            return m.group(0)
        points.append((Number(m["x"], x), Number(m["y"], y)))
        return f" \x00P{len(points) - 1}\x00 "

    return _POINT_RE.sub(replace, masked), points


def _mark_sizes_and_counts(reading: Reading) -> None:
    tokens = reading.tokens
    for k, tok in enumerate(tokens):
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        prev = tokens[k - 1] if k > 0 else None
        if tok.kind == "num":
            if nxt is not None and nxt.kind == "word" and nxt.low in _SIZE_UNITS:
                reading.sizes.add(k)
            elif prev is not None and prev.kind == "word" and prev.low in _SIZE_WORDS:
                reading.sizes.add(k)
            elif (
                nxt is not None
                and nxt.low in ("x", "×")
                and k + 2 < len(tokens)
                and tokens[k + 2].kind == "num"
            ):
                reading.sizes.update({k, k + 2})
        if k in reading.sizes:
            continue
        count: int | None = None
        if tok.kind == "num" and tok.number is not None and re.fullmatch(r"\d{1,4}", tok.text):
            count = int(tok.text)
        elif tok.kind == "word" and tok.low in _NUMBER_WORDS:
            count = _NUMBER_WORDS[tok.low]
        noun_at: int | None = None
        for gap in (1, 2):
            if k + gap < len(tokens) and tokens[k + gap].kind == "word":
                if tokens[k + gap].low in _ENTITY_SINGULAR:
                    noun_at = k + gap
                    break
                if tokens[k + gap].low in STOPWORDS and tokens[k + gap].low != "data":
                    break
            else:
                break
        if noun_at is None:
            continue
        noun = _ENTITY_SINGULAR[tokens[noun_at].low]
        if count is not None and count > 0:
            reading.counts.append(Count(noun, count, k))
        elif tok.kind == "word" and tok.low in _VAGUE:
            reading.vague.append(f"how many {tokens[noun_at].low} ('{tok.text}')")


def _usable_num(reading: Reading, k: int) -> bool:
    tok = reading.tokens[k]
    return (
        tok.kind == "num"
        and k not in reading.sizes
        and k not in reading.data_tokens
        and all(c.token != k for c in reading.counts)
    )


def _num_run(reading: Reading, start: int) -> list[int]:
    """Indices of a run of numbers from `start`: "1, 2, 3", "1 2 and 3", "[1, 2, 3]"."""
    tokens = reading.tokens
    if not _usable_num(reading, start):
        return []
    run = [start]
    k = start + 1
    while k < len(tokens):
        j = k
        while j < len(tokens) and _is_sep(tokens[j]) and j - k < 2:
            j += 1
        if j < len(tokens) and _usable_num(reading, j):
            run.append(j)
            k = j + 1
        else:
            break
    return run


@dataclass(frozen=True)
class _Item:
    label: str
    start: int
    num: int
    label_tokens: tuple[int, ...]
    quote: int = -1


def _backward_label(reading: Reading, end: int, limit: int = 4) -> list[int]:
    """Word indices of a label ending at `end` (inclusive), scanning back over label words.

    The scan stops at a function word ("for Jan" → "Jan"), except right after a colon, where
    the whole phrase is the label ("by country: United States of America 1,200").
    """
    tokens = reading.tokens
    idxs: list[int] = []
    j = end
    while j >= 0 and len(idxs) < limit and _label_word(tokens[j], adjacent=not idxs):
        if j in reading.data_tokens:
            break
        idxs.append(j)
        j -= 1
    if not idxs:
        return []
    extended: list[int] = []
    while (
        j >= 0
        and tokens[j].kind == "word"
        and tokens[j].low not in STRUCTURAL
        and j not in reading.data_tokens
        and len(idxs) + len(extended) < 6
    ):
        extended.append(j)
        j -= 1
    if extended and j >= 0 and tokens[j].kind == "punct" and tokens[j].text == ":":
        while extended and tokens[extended[-1]].low in ("and", "or", "the", "a", "an"):
            extended.pop()
        idxs += extended
    return list(reversed(idxs))


def _forward_items(reading: Reading) -> list[_Item]:
    tokens = reading.tokens
    items: list[_Item] = []
    for k, tok in enumerate(tokens):
        if not _usable_num(reading, k):
            continue
        j = k - 1
        if j >= 0 and (
            (tokens[j].kind == "punct" and tokens[j].text in (":", "="))
            or (tokens[j].kind == "word" and tokens[j].low in _PAIR_VERBS)
        ):
            has_sep = True
            j -= 1
        else:
            has_sep = False
        if j < 0:
            continue
        before = tokens[j]
        if before.kind == "quote" and before.text:
            items.append(_Item(before.text, j, k, (j,), before.ref))
        elif (
            before.kind == "num"
            and _is_year(before.text)
            and (has_sep or not _is_year(tok.text))
            and _usable_num(reading, j)
        ):
            items.append(_Item(before.text, j, k, (j,)))
        elif before.kind == "word":
            idxs = _backward_label(reading, j)
            if idxs:
                label = " ".join(tokens[i].text for i in idxs)
                items.append(_Item(label, idxs[0], k, tuple(idxs)))
    return items


def _chain(reading: Reading, items: list[_Item]) -> list[_Item]:
    """The longest run of items separated only by list separators (labels may absorb words)."""
    tokens = reading.tokens
    best: list[_Item] = []
    run: list[_Item] = []
    for item in items:
        if run:
            prev = run[-1]
            between = list(range(prev.num + 1, item.start))
            seps = [i for i in between if _is_sep(tokens[i])]
            words = [i for i in between if not _is_sep(tokens[i])]
            ok = item.start > prev.num and all(
                i < (words[0] if words else item.start) for i in seps
            )
            if ok and words:
                ok = (
                    bool(seps)
                    and item.quote < 0
                    and all(
                        tokens[i].kind == "word" and tokens[i].low not in STRUCTURAL for i in words
                    )
                )
                while ok and words and tokens[words[0]].low in ("and", "or", "the"):
                    words = words[1:]
                if ok and words and len(words) + len(item.label_tokens) <= 5:
                    joined = " ".join(tokens[i].text for i in words) + " " + item.label
                    item = _Item(joined, words[0], item.num, (*words, *item.label_tokens))
                elif ok and words:
                    ok = False
            if not ok:
                if len(run) > len(best):
                    best = run
                run = []
        run.append(item)
    if len(run) > len(best):
        best = run
    return best if len(best) >= 2 else []


def _reversed_items(reading: Reading) -> list[_Item]:
    """'30% apples, 45% bananas': a number then a label."""
    tokens = reading.tokens
    items: list[_Item] = []
    for k in range(len(tokens)):
        if not _usable_num(reading, k):
            continue
        j = k + 1
        if j < len(tokens) and tokens[j].kind == "quote":
            items.append(_Item(tokens[j].text, k, k, (j,), tokens[j].ref))
            continue
        idxs: list[int] = []
        while j < len(tokens) and len(idxs) < 4 and _label_word(tokens[j]):
            idxs.append(j)
            j += 1
        if idxs and tokens[idxs[0]].low not in _ENTITY_SINGULAR:
            label = " ".join(tokens[i].text for i in idxs)
            items.append(_Item(label, k, k, tuple(idxs)))
    run: list[_Item] = []
    best: list[_Item] = []
    for item in items:
        if run:
            prev_end = max(run[-1].label_tokens)
            between = range(prev_end + 1, item.num)
            if not all(_is_sep(tokens[i]) for i in between):
                best = run if len(run) > len(best) else best
                run = []
        run.append(item)
    best = run if len(run) > len(best) else best
    return best if len(best) >= 2 else []


@dataclass(frozen=True)
class _LabelList:
    labels: tuple[str, ...]
    tokens: tuple[int, ...]
    start: int
    end: int
    strong: bool
    temporal: bool
    quotes: tuple[int, ...] = ()


def _word_lists(reading: Reading) -> list[_LabelList]:
    """Lists of labels: 'Jan, Feb and Mar', '"North", "South"', 'A, B, C'."""
    tokens = reading.tokens
    lists: list[_LabelList] = []
    covered = -1
    for p, tok in enumerate(tokens):
        if p <= covered or not _is_sep(tok) or p == 0:
            continue
        # The first item ends just before this separator.
        left = tokens[p - 1]
        items: list[tuple[str, tuple[int, ...], int]] = []
        if left.kind == "quote" and left.text:
            items.append((left.text, (p - 1,), left.ref))
        elif left.kind == "word":
            idxs = _backward_label(reading, p - 1, limit=3)
            if not idxs:
                continue
            items.append((" ".join(tokens[i].text for i in idxs), tuple(idxs), -1))
        else:
            continue
        q = p
        while q < len(tokens) and _is_sep(tokens[q]):
            q += 1
        while q < len(tokens):
            nxt = tokens[q]
            if nxt.kind == "quote" and nxt.text:
                items.append((nxt.text, (q,), nxt.ref))
                q += 1
            elif nxt.kind == "word" and q not in reading.data_tokens:
                r = q
                while r < len(tokens) and tokens[r].kind == "word" and not _is_sep(tokens[r]):
                    r += 1
                span = list(range(q, r))
                if (
                    r < len(tokens)
                    and _is_sep(tokens[r])
                    and len(span) <= 4
                    and all(tokens[i].low not in STRUCTURAL for i in span)
                ):
                    items.append((" ".join(tokens[i].text for i in span), tuple(span), -1))
                    q = r
                else:
                    lead: list[int] = []
                    for i in span:
                        if len(lead) >= 3 or not _label_word(tokens[i], adjacent=not lead):
                            break
                        lead.append(i)
                    if lead:
                        items.append((" ".join(tokens[i].text for i in lead), tuple(lead), -1))
                        q = lead[-1] + 1
                    break
            else:
                break
            if q < len(tokens) and _is_sep(tokens[q]):
                while q < len(tokens) and _is_sep(tokens[q]):
                    q += 1
            else:
                break
        if len(items) < 2:
            continue
        first = min(items[0][1])
        intro = first - 1
        if intro >= 0 and tokens[intro].kind == "punct" and tokens[intro].text == ":":
            intro -= 1
        introduced = (
            intro >= 0 and tokens[intro].kind == "word" and (tokens[intro].low in _INTRODUCERS)
        )
        all_quoted = all(ref >= 0 for _, _, ref in items)
        if not all_quoted and any(ref >= 0 for _, _, ref in items):
            # Quotes in prose ('announces, "Organic Honey", instantly conveying'): the quotes
            # are commitments of their own; the words between them are no list of labels.
            continue
        idx = tuple(i for _, span, _ in items for i in span)
        lists.append(
            _LabelList(
                labels=tuple(label for label, _, _ in items),
                tokens=idx,
                start=first,
                end=max(idx),
                strong=introduced or all_quoted,
                temporal=all(
                    label in _MONTH_INDEX or label in _WEEKDAY_INDEX for label, _, _ in items
                ),
                quotes=tuple(ref for _, _, ref in items if ref >= 0),
            )
        )
        covered = max(idx)
    return lists


def _range_lists(reading: Reading) -> list[_LabelList]:
    out: list[_LabelList] = []
    for k, tok in enumerate(reading.tokens):
        if tok.kind == "range":
            label_range = reading.ranges[tok.ref]
            out.append(_LabelList(label_range.labels, (k,), k, k, True, label_range.temporal))
    return out


def _xy_lists(reading: Reading) -> bool:
    """'x = 1, 2, 3 and y = 2, 4, 6' / 'x values 1, 2, 3; y values 4, 5, 6'."""
    tokens = reading.tokens
    runs: dict[str, list[int]] = {}
    for k, tok in enumerate(tokens):
        if tok.kind != "word" or tok.low not in ("x", "y") or tok.low in runs:
            continue
        j = k + 1
        if (
            j < len(tokens)
            and tokens[j].kind == "word"
            and tokens[j].low in ("values", "value", "coordinates", "data")
        ):
            j += 1
        if j < len(tokens) and tokens[j].kind == "punct" and tokens[j].text in ("=", ":"):
            j += 1
        if j < len(tokens) and tokens[j].kind == "punct" and tokens[j].text in ("[", "("):
            j += 1
        run = _num_run(reading, j) if j < len(tokens) else []
        if len(run) >= 2:
            runs[tok.low] = [*range(k, j), *run]  # "x values =" belongs to the data too
    if "x" not in runs or "y" not in runs:
        return False
    xs = [reading.tokens[i].number for i in runs["x"] if reading.tokens[i].kind == "num"]
    ys = [reading.tokens[i].number for i in runs["y"] if reading.tokens[i].kind == "num"]
    x_numbers = tuple(n for n in xs if n is not None)
    y_numbers = tuple(n for n in ys if n is not None)
    reading.data_tokens.update(runs["x"] + runs["y"])
    if len(x_numbers) != len(y_numbers):
        reading.mismatch = Mismatch("x values", tuple(n.literal for n in x_numbers), y_numbers)
        return True
    reading.data = Data("xy", points=tuple(zip(x_numbers, y_numbers, strict=True)))
    return True


def _numbers_of(reading: Reading, idxs: Iterable[int]) -> tuple[Number, ...]:
    return tuple(n for i in idxs if (n := reading.tokens[i].number) is not None)


def _find_data(reading: Reading) -> None:
    tokens = reading.tokens
    # 1. Points: "(1, 2), (2, 4)".
    point_tokens = [k for k, t in enumerate(tokens) if t.kind == "point"]
    if len(point_tokens) >= 2:
        reading.data = Data("points", points=tuple(reading.points))
        reading.data_tokens.update(point_tokens)
        return
    # 2. x and y lists.
    if _xy_lists(reading):
        return
    # 3. Label/value pairs: "A=5, B=7", "apples 30, bananas 45".
    pairs = _chain(reading, _forward_items(reading))
    if pairs:
        _use_items(reading, pairs, "pairs")
        return
    # 4. A list of labels and a list of values.
    lists = _range_lists(reading) + _word_lists(reading)
    runs: list[list[int]] = []
    k = 0
    while k < len(tokens):
        run = _num_run(reading, k)
        if len(run) >= 2:
            runs.append(run)
            k = run[-1] + 1
        else:
            k += 1
    for run in runs:
        if all(_is_year(tokens[i].text) for i in run):
            lists.append(
                _LabelList(
                    tuple(tokens[i].text for i in run), tuple(run), run[0], run[-1], True, True
                )
            )
    # A request that quotes what it wants written spells out its texts: an unquoted list in
    # its prose ("labels emphasize clarity and accessibility", "icons for art, music and food")
    # is description, unless it turns out to be the data's labels (below).
    prose = bool(reading.quotes)
    reading.label_lists = [
        lst.labels for lst in lists if lst.strong and not (prose and not lst.quotes)
    ]
    best: tuple[tuple[int, int, int], _LabelList, list[int]] | None = None
    for lst in lists:
        for run in runs:
            if set(run) & set(lst.tokens) or len(run) != len(lst.labels):
                continue
            distance = run[0] - lst.end if run[0] > lst.end else lst.start - run[-1]
            score = (0 if lst.strong else 1, 0 if run[0] > lst.end else 1, distance)
            if best is None or score < best[0]:
                best = (score, lst, run)
    if best is not None:
        _, lst, run = best
        reading.data = Data("lists", lst.labels, _numbers_of(reading, run), temporal=lst.temporal)
        reading.data_tokens.update(lst.tokens)
        reading.data_tokens.update(run)
        reading.used_quotes.update(lst.quotes)
        if all(_is_year(tokens[i].text) for i in lst.tokens if tokens[i].kind == "num"):
            reading.label_numbers.update(i for i in lst.tokens if tokens[i].kind == "num")
        if lst.labels not in reading.label_lists:
            reading.label_lists.append(lst.labels)
        return
    value_runs = [r for r in runs if not all(_is_year(tokens[i].text) for i in r)] or runs
    # 5. Numbers then labels: "30% apples, 45% bananas".
    flipped = _reversed_items(reading)
    if flipped and not (value_runs and len(max(value_runs, key=len)) > len(flipped)):
        _use_items(reading, flipped, "reversed")
        return
    if not value_runs:
        return
    longest = max(value_runs, key=len)

    def gap(lst: _LabelList) -> int:
        return longest[0] - lst.end if longest[0] > lst.end else lst.start - longest[-1]

    # A list counts against the values when announced ("for", "labels", a range) or adjacent.
    label_lists = [
        lst for lst in lists if not set(lst.tokens) & set(longest) and (lst.strong or gap(lst) <= 3)
    ]
    if label_lists:
        # 6. Labels and values that do not pair up: report both, nearest list first.
        nearest = min(label_lists, key=lambda lst: (0 if lst.strong else 1, gap(lst)))
        reading.mismatch = Mismatch("labels", nearest.labels, _numbers_of(reading, longest))
        reading.data_tokens.update(longest)
        return
    # 7. Values alone.
    reading.data = Data("values", values=_numbers_of(reading, longest))
    reading.data_tokens.update(longest)


def _use_items(reading: Reading, items: list[_Item], form: Literal["pairs", "reversed"]) -> None:
    labels = tuple(item.label for item in items)
    values = _numbers_of(reading, (item.num for item in items))
    temporal = all(
        _is_year(label) or label in _MONTH_INDEX or label in _WEEKDAY_INDEX for label in labels
    )
    reading.data = Data(form, labels, values, temporal=temporal)
    for item in items:
        reading.data_tokens.add(item.num)
        reading.data_tokens.update(item.label_tokens)
        if item.quote >= 0:
            reading.used_quotes.add(item.quote)
        for i in item.label_tokens:
            if reading.tokens[i].kind == "num":
                reading.label_numbers.add(i)
    reading.label_lists.append(labels)


def read_request(prompt: str) -> Reading:
    """Read a prompt deterministically: see the module docstring for what is found and how."""
    masked, quotes = _mask_quotes(prompt)
    masked = masked.translate(_WIDE_SEPARATORS)
    axis_labels: dict[str, str] = {}
    used: set[int] = set()
    masked = _take_axis_labels(masked, quotes, axis_labels, used)
    masked, title = _take_title(masked, quotes, used)
    masked, points = _take_points(masked)
    masked, ranges = _find_ranges(masked)
    tokens = _tokenize(masked, quotes, ranges)
    reading = Reading(
        prompt=prompt,
        masked=masked,
        quotes=quotes,
        ranges=ranges,
        points=points,
        tokens=tokens,
        axis_labels=axis_labels,
        title=title,
        used_quotes=used,
    )
    _mark_sizes_and_counts(reading)
    _find_data(reading)
    return reading


# --------------------------------------------------------------------------------------------
# Commitments
# --------------------------------------------------------------------------------------------


def _dedup(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.add(value)
            out.append(value)
    return out


def extract_commitments(prompt: str) -> Commitments:
    """The request's checkable promises, found without a model (rules: module docstring)."""
    reading = read_request(prompt)
    texts: list[str] = [q for q in reading.quotes if q]
    texts.extend(reading.axis_labels.values())
    if reading.title:
        texts.append(reading.title)
    for label_range in reading.ranges:
        texts.extend(label_range.labels)
    for labels in reading.label_lists:
        texts.extend(labels)
    data = reading.data
    if data is not None and data.form != "values":
        texts.extend(data.labels)
    if reading.mismatch is not None and reading.mismatch.what == "labels":
        texts.extend(reading.mismatch.labels)

    numbers: list[str] = []
    if data is not None:
        numbers.extend(n.literal for n in data.values)
        for x, y in data.points:
            numbers.extend((x.literal, y.literal))
    if reading.mismatch is not None:
        if reading.mismatch.what != "labels":
            numbers.extend(reading.mismatch.labels)
        numbers.extend(n.literal for n in reading.mismatch.values)
    for x, y in reading.points:
        numbers.extend((x.literal, y.literal))
    counted = {c.token for c in reading.counts}
    for k, tok in enumerate(reading.tokens):
        if (
            tok.kind == "num"
            and k not in reading.sizes
            and k not in counted
            and k not in reading.label_numbers
        ):
            numbers.append(tok.text)

    entities: list[Commitment] = []
    seen_counts: set[tuple[str, int]] = set()
    for c in reading.counts:
        if (c.noun, c.count) not in seen_counts:
            seen_counts.add((c.noun, c.count))
            entities.append(Commitment(kind="entity", value=c.noun, count=c.count))

    return Commitments(
        required_texts=[Commitment(kind="text", value=t) for t in _dedup(texts)],
        numbers=[Commitment(kind="number", value=v) for v in _dedup(numbers)],
        entities=entities,
        unknowns=_dedup(reading.vague),
    )


# --------------------------------------------------------------------------------------------
# Commitments from a model, and merging them with the deterministic ones
# --------------------------------------------------------------------------------------------

_FOLD_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "\u00a0": " "})


def _folded(text: str) -> str:
    """Case, quote style, spacing and a final full stop folded (how texts are compared here)."""
    folded = " ".join(unicodedata.normalize("NFKC", text).translate(_FOLD_QUOTES).split())
    return folded.casefold().rstrip(".").strip()


def _grounded(value: str, prompt: str) -> bool:
    needle = _folded(value)
    return bool(needle) and needle in _folded(prompt)


def _strings(value: object, limit: int = 200) -> list[str]:
    if not isinstance(value, list):
        return []
    out: list[str] = []
    for item in value[:limit]:
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            text = " ".join(str(item).split())
            if text and len(text) <= 1000:
                out.append(text)
    return out


def llm_commitments(block: dict[str, object], prompt: str) -> Commitments:
    """Commitments from a model's JSON block, kept only where the request supports them.

    Texts and numbers the request itself contains (case, quotes, spacing and a final full stop
    folded) become required texts / numbers; a text the request does not contain (the model's
    own wording) becomes a constraint, which only the visual critique can judge.  Counts become
    entities (1-500).  Constraints and unknowns are taken as given.  All are `source="llm"`.
    """
    texts: list[Commitment] = []
    constraints: list[Commitment] = []
    for text in _strings(block.get("texts")):
        if _grounded(text, prompt):
            texts.append(Commitment(kind="text", value=text, source="llm"))
        else:
            constraints.append(
                Commitment(
                    kind="constraint", value=f'the image shows the text "{text}"', source="llm"
                )
            )
    numbers = [
        Commitment(kind="number", value=n, source="llm")
        for n in _strings(block.get("numbers"))
        if parse_number(n) is not None and _grounded(n, prompt)
    ]
    entities: list[Commitment] = []
    raw_counts = block.get("counts")
    for item in raw_counts if isinstance(raw_counts, list) else []:
        if not isinstance(item, dict):
            continue
        what, count = item.get("what"), item.get("count")
        if isinstance(what, str) and what.strip() and isinstance(count, int) and 0 < count <= 500:
            entities.append(
                Commitment(kind="entity", value=what.strip().lower(), count=count, source="llm")
            )
    constraints += [
        Commitment(kind="constraint", value=c, source="llm")
        for c in _strings(block.get("constraints"), limit=40)
    ]
    return Commitments(
        required_texts=texts,
        numbers=numbers,
        entities=entities,
        constraints=constraints,
        unknowns=_strings(block.get("unknowns"), limit=40),
    )


def merge_commitments(base: Commitments, extra: Commitments) -> Commitments:
    """`base` (the deterministic reading) plus what `extra` (a model's) adds.

    Duplicates are dropped by folded value (case, quotes, spacing, a final full stop); an
    entity the rules already count keeps the rules' count.
    """

    def add(mine: list[Commitment], theirs: list[Commitment]) -> list[Commitment]:
        seen = {_folded(c.value) for c in mine}
        out = list(mine)
        for c in theirs:
            key = _folded(c.value)
            if key and key not in seen:
                seen.add(key)
                out.append(c)
        return out

    counted = {_folded(c.value) for c in base.entities}
    entities = list(base.entities) + [c for c in extra.entities if _folded(c.value) not in counted]
    unknowns = _dedup([*base.unknowns, *extra.unknowns])
    return Commitments(
        required_texts=add(base.required_texts, extra.required_texts),
        numbers=add(base.numbers, extra.numbers),
        entities=_unique_entities(entities),
        constraints=add(base.constraints, extra.constraints),
        unknowns=unknowns,
    )


def _unique_entities(items: list[Commitment]) -> list[Commitment]:
    seen: set[tuple[str, int | None]] = set()
    out: list[Commitment] = []
    for c in items:
        key = (_folded(c.value), c.count)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out
