"""The offline planner on many phrasings: which language the rules (or the planner) choose, and
what the program holds — every label, series, node and quoted text the prompt gave, nothing else.

Programs are checked as text here (fast); `test_offline_rendering` renders one of each kind."""

from __future__ import annotations

import html
from dataclasses import dataclass

import pytest

from cocogen.errors import NotUnderstood
from cocogen.planning.base import GenerationRequest
from cocogen.planning.language import decide_language
from cocogen.planning.offline import OfflineBackend
from cocogen.types import Program, Request


@dataclass(frozen=True)
class Phrasing:
    prompt: str
    language: str
    kind: str
    """A word the program's notes must contain (bar, line, pie, grouped, table, flowchart, …)."""
    shows: tuple[str, ...] = ()
    """Texts the program must contain (labels, series names, node names, quoted texts)."""


PHRASINGS: list[Phrasing] = [
    # single-series charts
    Phrasing("A bar chart comparing Q1-Q4 sales with values 100, 120, 150, 140", "matplotlib",
             "bar chart", ("Q1", "Q4")),
    Phrasing("bar chart: apples 3, pears 5, plums 2", "matplotlib", "bar chart",
             ("apples", "plums")),
    Phrasing("Horizontal bar chart of team size: Design 4, Engineering 12, Sales 7",
             "matplotlib", "barh chart", ("Engineering",)),
    Phrasing("Column chart of visitors for Mon-Fri: 120, 98, 143, 150, 80", "matplotlib",
             "bar chart", ("Mon", "Fri")),
    Phrasing("Line chart of revenue for Jan, Feb, Mar, Apr: 10, 12, 9, 15", "matplotlib",
             "line chart", ("Jan", "Apr")),
    Phrasing("Plot sales of 2019 to 2023 as a line: 5, 7, 8, 12, 15", "matplotlib",
             "line chart", ("2019", "2023")),
    Phrasing("pie chart: apples 30, bananas 45, cherries 25", "matplotlib", "pie chart",
             ("bananas",)),
    Phrasing('Donut chart titled "Market share" of A 40%, B 35%, C 25%', "matplotlib",
             "pie chart", ("Market share",)),
    Phrasing("Scatter plot of points (1, 2), (2, 4), (3, 5.5), (4, 8)", "matplotlib",
             "scatter chart"),
    Phrasing("x = 1, 2, 3, 4 and y = 1, 4, 9, 16 as a scatter plot", "matplotlib",
             "scatter chart"),
    Phrasing("Chart of rainfall by month: Jan=30, Feb=25, Mar=40", "matplotlib", "line chart",
             ("Jan", "Mar")),
    Phrasing("trend of users over time: 2020 100, 2021 180, 2022 260", "matplotlib",
             "line chart", ("2020", "2022")),
    # several series
    Phrasing("Grouped bar chart of sales for Q1-Q4: 2022 10, 12, 14, 16; 2023 11, 13, 15, 17",
             "matplotlib", "grouped chart of 2 series", ("Q1", "2022", "2023")),
    Phrasing("stacked bar chart of A, B, C with Men 10, 20, 30 and Women 15, 25, 35",
             "matplotlib", "stacked chart of 2 series", ("Men", "Women")),
    Phrasing("line chart of temperature for Mon-Fri: Berlin 20, 22, 19, 18, 21; "
             "Madrid 30, 31, 29, 33, 32", "matplotlib", "lines chart of 2 series",
             ("Berlin", "Madrid", "Wed")),
    Phrasing('grouped bars for North, South, East: "Plan" 5, 6, 7 and "Actual" 4, 6, 8',
             "matplotlib", "grouped chart of 2 series", ("Plan", "Actual", "East")),
    Phrasing("clustered column chart for 2023, 2024: apples: 3, 4 and pears: 5, 6",
             "matplotlib", "grouped chart of 2 series", ("apples", "pears")),
    Phrasing("Stacked bars of energy mix for Q1-Q3\nSolar: 5, 7, 9\nWind: 8, 8, 7\nGas: 10, 9, 8",
             "matplotlib", "stacked chart of 3 series", ("Solar", "Wind", "Gas")),
    # histograms
    Phrasing("histogram of ages 23, 25, 31, 35, 41, 44, 52, 58 with 4 bins", "matplotlib",
             "histogram of 8 values in 4 bins"),
    Phrasing("Histogram of test scores: 55, 62, 68, 70, 71, 75, 80, 88, 90, 94",
             "matplotlib", "histogram of 10 values in 5 bins"),
    Phrasing("Show the distribution of 1.2, 1.5, 1.7, 2.0, 2.1, 2.4 as a histogram",
             "matplotlib", "histogram of 6 values"),
    Phrasing("histogram with 3 bins of delays: 5, 7, 9, 12, 15, 21, 30", "matplotlib",
             "histogram of 7 values in 3 bins"),
    # tables
    Phrasing("a table with columns Name, Age, City; rows: Alice, 30, Paris; Bob, 25, Rome",
             "matplotlib", "table of 2 rows and 3 columns", ("Alice", "Rome")),
    Phrasing('Table titled "Team" with columns Name | Role and rows Ann | Lead; Bo | Dev',
             "matplotlib", "table of 2 rows and 2 columns", ("Team", "Lead", "Dev")),
    Phrasing("Make a table. Headers: Product, Price\nrow: Tea, $3\nrow: Cake, $4.50",
             "matplotlib", "table of 2 rows and 2 columns", ("Product", "$4.50")),
    Phrasing('table of columns City, Country; "Paris, Texas", USA; Lyon, France',
             "matplotlib", "table of 2 rows and 2 columns", ("Paris, Texas", "Lyon")),
    # flowcharts
    Phrasing("Flowchart: Start -> Check input -> Valid? -[yes]-> Save -> End; "
             "Valid? -[no]-> Check input", "graphviz", "flowchart of 5 steps",
             ("Check input", "Valid?", "yes", "no")),
    Phrasing("A flowchart of the login process: Open app -> Enter password -> Dashboard",
             "graphviz", "flowchart of 3 steps", ("Open app", "Enter password", "Dashboard")),
    Phrasing('Draw "Idea" -> "Prototype" -> "Launch" as a flowchart left to right',
             "graphviz", "flowchart of 3 steps", ("Idea", "Launch", "rankdir=LR")),
    Phrasing('Make a diagram: A -> B, A -> C, B -> D, C -> D titled "Diamond"', "graphviz",
             "flowchart of 4 steps", ('"Diamond"',)),
    Phrasing("ideas → drafts → review → publish in a flow chart", "graphviz",
             "flowchart of 4 steps", ("drafts", "publish")),
    Phrasing("Order placed --paid--> Packed => Shipped ⟶ Delivered", "graphviz",
             "flowchart of 4 steps", ("Order placed", "paid", "Delivered")),
    Phrasing("pipeline diagram: raw data -> clean -> train model -> evaluate -> deploy",
             "graphviz", "flowchart of 5 steps", ("raw data", "train model", "deploy")),
    Phrasing("wake up -> coffee -> work\nwork -> lunch -> work", "graphviz",
             "flowchart of 4 steps", ("coffee", "lunch")),
    # text layouts
    Phrasing('A sign that reads "OPEN"', "html", "layout of 1 quoted texts", ("OPEN",)),
    Phrasing('A poster for a jazz night: "JAZZ BY THE RIVER", "Friday 8 PM", '
             '"Free entry"', "html", "layout of 3 quoted texts",
             ("JAZZ BY THE RIVER", "Free entry")),
    Phrasing('Slide titled "Quarterly review" with the points "Revenue up 12%", '
             '"Two new markets" and "Hiring paused"', "html", "layout of 4 quoted texts",
             ("Quarterly review", "Hiring paused")),
    Phrasing('A jar label reading "Wildflower Honey" and below it "Harvested locally with '
             'care"', "html", "layout of 2 quoted texts", ("Wildflower Honey",)),
    Phrasing('A web page hero with the headline "Build faster" and the text "Ship your app '
             'in days, not months"', "html", "layout of 2 quoted texts",
             ("Build faster", "not months")),
    Phrasing('A comic with speech bubbles: "Is it Friday yet?" and "It is Tuesday."',
             "html", "layout of 2 quoted texts", ("Is it Friday yet?",)),
    Phrasing('caption at the bottom of a documentary frame: "Arctic glaciers are melting '
             'faster than ever before recorded" and the timestamp "00:47:23"', "html",
             "layout of 2 quoted texts", ("00:47:23",)),
    Phrasing('A street scene with a billboard that reads "FRESH BREWS, EVERY MORNING" and a '
             'tagline "Locally Roasted Since 1998"', "html", "layout of 2 quoted texts",
             ("FRESH BREWS, EVERY MORNING", "Locally Roasted Since 1998")),
    Phrasing('a certificate: "Certificate of Achievement", "Presented to Ms. Amelia Johnson", '
             '"December 10, 2023"', "html", "layout of 3 quoted texts",
             ("Presented to Ms. Amelia Johnson",)),
    Phrasing('店铺招牌写着 "新鲜面包" 和 "每日烘焙"', "html", "layout of 2 quoted texts",
             ("新鲜面包", "每日烘焙")),
]


def generate(prompt: str) -> tuple[str, Program]:
    backend = OfflineBackend()
    request = Request(prompt=prompt)
    language, _ = decide_language(request, backend)
    generation = GenerationRequest(request=request, language=language, canvas=request.canvas)
    return language, backend.generate(generation)


def test_there_are_enough_phrasings() -> None:
    assert len(PHRASINGS) >= 40
    assert {p.language for p in PHRASINGS} == {"matplotlib", "graphviz", "html"}


@pytest.mark.parametrize("case", PHRASINGS, ids=[p.prompt[:48] for p in PHRASINGS])
def test_phrasing(case: Phrasing) -> None:
    language, program = generate(case.prompt)
    assert language == case.language
    assert program.language == case.language
    assert case.kind in program.notes
    source = html.unescape(program.source) if language == "html" else program.source
    for text in case.shows:
        assert text in source, text
    assert program.source == generate(case.prompt)[1].source  # deterministic


@pytest.mark.parametrize(
    ("prompt", "needle"),
    [
        ("A poster about our summer party", "has neither"),
        ("a flowchart of how we hire people", "steps with arrows"),
        ("a table of our customers", "not a table"),
        ("histogram of 4, 5", "at least 3"),
        ("a table with columns Name, Age; rows: Ann, 31, Paris", "row 1 has 3 cells"),
        ("an icon of a house", "has neither"),
    ],
)
def test_requests_it_cannot_serve_name_what_is_missing(prompt: str, needle: str) -> None:
    with pytest.raises(NotUnderstood) as caught:
        generate(prompt)
    message = str(caught.value)
    assert needle in message and "\n" not in message


def test_flowchart_commitments_name_every_node() -> None:
    _, program = generate("Flowchart: Start -> Valid? -[yes]-> End")
    assert program.commitments is not None
    assert [c.value for c in program.commitments.required_texts] == [
        "Start", "Valid?", "End", "yes"
    ]


def test_text_layout_shrinks_long_texts_to_fit() -> None:
    from cocogen.planning.offline_text import parse_text_request, text_layout
    from cocogen.types import Canvas

    long = " ".join(["a long sentence that keeps going"] * 12)
    request = parse_text_request(f'A poster: "Title" and "{long}" and "Short one"')
    small, large = text_layout(request, Canvas(width=640, height=480)), text_layout(
        request, Canvas(width=1600, height=1200)
    )
    for layout, canvas_h in ((small, 480), (large, 1200)):
        bottom = max(b.top + b.height for b in layout.blocks)
        assert bottom <= canvas_h - layout.pad + 1
        assert all(b.font_px >= 14 for b in layout.blocks)
    assert small.blocks[1].font_px < large.blocks[1].font_px
    assert small.blocks[0].headline and small.blocks[0].font_px > small.blocks[1].font_px
