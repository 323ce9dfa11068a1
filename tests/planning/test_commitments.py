"""Deterministic commitment extraction: quotes, numbers, ranges, label lists, counts."""

from __future__ import annotations

import pytest

from cocogen.planning.commitments import extract_commitments, parse_number, read_request
from cocogen.types import Commitments


def texts(c: Commitments) -> list[str]:
    return [x.value for x in c.required_texts]


def numbers(c: Commitments) -> list[str]:
    return [x.value for x in c.numbers]


def entities(c: Commitments) -> list[tuple[str, int | None]]:
    return [(x.value, x.count) for x in c.entities]


# --------------------------------------------------------------------------------------------
# Quotes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ('a poster with the headline "Summer Sale"', ["Summer Sale"]),
        ("a sign that says 'Open late'", ["Open late"]),
        ("a banner reading “Grand Opening”", ["Grand Opening"]),
        ("a card: ‘Merci’ and «Bonjour à tous»", ["Merci", "Bonjour à tous"]),
        ("ポスター「夏祭り」と『花火大会』", ["夏祭り", "花火大会"]),
        ("German quotes „Guten Tag“ too", ["Guten Tag"]),
        ('title "  padded  " keeps its inside', ["padded"]),
    ],
)
def test_quoted_strings_are_required_texts(prompt: str, expected: list[str]) -> None:
    c = extract_commitments(prompt)
    assert texts(c) == expected
    assert all(x.kind == "text" and x.source == "request" for x in c.required_texts)


def test_apostrophes_are_not_quotes() -> None:
    c = extract_commitments("the company's chart isn't 'big' and it's the '90s")
    assert texts(c) == ["big"]


def test_numbers_inside_quotes_are_not_number_commitments() -> None:
    c = extract_commitments('a sign saying "Route 66 since 1926"')
    assert texts(c) == ["Route 66 since 1926"]
    assert numbers(c) == []


def test_empty_quotes_are_ignored() -> None:
    assert texts(extract_commitments('a chart titled ""')) == []


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------


def test_numbers_keep_the_literal_as_written() -> None:
    c = extract_commitments("values 1,200, 3.5%, $4.2M, -12 and 1.5k")
    assert numbers(c) == ["1,200", "3.5%", "$4.2M", "-12", "1.5k"]
    assert all(x.kind == "number" for x in c.numbers)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("1,200", 1200.0),
        ("3.5%", 3.5),
        ("$4.2M", 4_200_000.0),
        ("-12", -12.0),
        ("−12", -12.0),
        ("1.5k", 1500.0),
        ("€2bn", 2_000_000_000.0),
        (".5", 0.5),
        ("1,234,567.89", 1234567.89),
        ("apples", None),
        ("1,2", None),
    ],
)
def test_parse_number(literal: str, value: float | None) -> None:
    assert parse_number(literal) == value


def test_commas_without_three_digits_separate_numbers() -> None:
    assert numbers(extract_commitments("line chart: 1,2,3")) == ["1", "2", "3"]
    assert numbers(extract_commitments("line chart: 1,200 and 5")) == ["1,200", "5"]


def test_repeated_numbers_are_committed_once() -> None:
    assert numbers(extract_commitments("bar chart: A 10, B 10, C 12")) == ["10", "12"]


def test_sizes_are_not_numbers() -> None:
    c = extract_commitments("a 800 x 600 px chart with font size 14: A 3, B 4")
    assert numbers(c) == ["3", "4"]


def test_words_with_digits_are_not_numbers() -> None:
    assert numbers(extract_commitments("a 3D chart of the 1st and 2nd place")) == []


# --------------------------------------------------------------------------------------------
# Ranges and label lists
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "labels"),
    [
        ("sales for Q1-Q4", ["Q1", "Q2", "Q3", "Q4"]),
        ("sales for Q1 to Q3", ["Q1", "Q2", "Q3"]),
        ("sales from 2019 to 2023", ["2019", "2020", "2021", "2022", "2023"]),
        ("sales 2019–2021", ["2019", "2020", "2021"]),
        ("rainfall Jan-Apr", ["Jan", "Feb", "Mar", "Apr"]),
        ("rainfall from March to May", ["March", "April", "May"]),
        ("rainfall Nov-Feb", ["Nov", "Dec", "Jan", "Feb"]),
        ("visits Mon-Fri", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("steps for Week 1 to Week 3", ["Week 1", "Week 2", "Week 3"]),
    ],
)
def test_ranges_expand_to_their_members(prompt: str, labels: list[str]) -> None:
    c = extract_commitments(prompt)
    assert texts(c) == labels
    assert numbers(c) == [], "the numbers of a range are labels, not values"


def test_a_spaced_minus_is_not_a_range() -> None:
    c = extract_commitments("bar chart: Q1 -12, Q2 5")
    assert texts(c) == ["Q1", "Q2"]
    assert numbers(c) == ["-12", "5"]


@pytest.mark.parametrize(
    ("prompt", "labels", "values"),
    [
        ("revenue for Jan, Feb and Mar", ["Jan", "Feb", "Mar"], []),
        ("labels A, B, C", ["A", "B", "C"], []),
        ("categories: red, green, blue", ["red", "green", "blue"], []),
        ("a bar chart of A, B, C with values 1, 2, 3", ["A", "B", "C"], ["1", "2", "3"]),
        (
            "Line chart of revenue for Jan, Feb, Mar, Apr: 10, 12, 9, 15",
            ["Jan", "Feb", "Mar", "Apr"],
            ["10", "12", "9", "15"],
        ),
        (
            "pie chart: apples 30, bananas 45, cherries 25",
            ["apples", "bananas", "cherries"],
            ["30", "45", "25"],
        ),
        (
            'bar chart titled "Team size" with A=5, B=7, C=3',
            ["Team size", "A", "B", "C"],
            ["5", "7", "3"],
        ),
        ("bar chart of 北京 10, 上海 20, 广州 15", ["北京", "上海", "广州"], ["10", "20", "15"]),
        ("line chart: 2019: 5, 2020: 7", ["2019", "2020"], ["5", "7"]),
        ("pie of 30% apples and 70% pears", ["apples", "pears"], ["30%", "70%"]),
    ],
)
def test_labels_and_values(prompt: str, labels: list[str], values: list[str]) -> None:
    c = extract_commitments(prompt)
    assert texts(c) == labels
    assert numbers(c) == values


def test_an_unannounced_word_list_is_not_a_commitment() -> None:
    c = extract_commitments("a red, green and blue line chart: 1, 2")
    assert texts(c) == []
    assert numbers(c) == ["1", "2"]


def test_axis_labels_and_unquoted_titles_are_texts() -> None:
    c = extract_commitments("bar chart titled Team size, x axis labeled Year: A 1, B 2")
    assert texts(c) == ["Year", "Team size", "A", "B"]


# --------------------------------------------------------------------------------------------
# Counts
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a chart with 5 bars", [("bar", 5)]),
        ("a pie with three slices", [("slice", 3)]),
        ("a graph of 12 nodes and 20 edges", [("node", 12), ("edge", 20)]),
        ("plot 40 data points", [("point", 40)]),
        ("two lines and 4 columns", [("line", 2), ("column", 4)]),
    ],
)
def test_counts_are_entities(prompt: str, expected: list[tuple[str, int]]) -> None:
    c = extract_commitments(prompt)
    assert entities(c) == expected
    assert numbers(c) == [], "a count is not also a value"
    assert all(x.kind == "entity" for x in c.entities)


def test_count_and_data_together() -> None:
    c = extract_commitments("a bar chart with 3 bars: A 3, B 5, C 7")
    assert entities(c) == [("bar", 3)]
    assert numbers(c) == ["3", "5", "7"], "the value 3 is still a value"


def test_vague_quantities_are_unknowns() -> None:
    c = extract_commitments("a chart with several bars")
    assert c.entities == []
    assert c.unknowns == ["how many bars ('several')"]


# --------------------------------------------------------------------------------------------
# Points, free text, determinism
# --------------------------------------------------------------------------------------------


def test_points_give_their_coordinates() -> None:
    c = extract_commitments("Scatter plot of points (1, 2), (2, 4), (3, 5.5)")
    assert numbers(c) == ["1", "2", "4", "3", "5.5"]
    assert texts(c) == []


def test_nothing_to_commit() -> None:
    c = extract_commitments("make it look nice")
    assert c.all() == [] and c.unknowns == []


def test_extraction_is_deterministic() -> None:
    prompt = 'bar chart titled "Q" for Q1-Q4 with values 1,200, 3.5%, $4.2M, -12 and 5 bars'
    assert extract_commitments(prompt) == extract_commitments(prompt)
    assert (
        extract_commitments(prompt).model_dump_json()
        == extract_commitments(prompt).model_dump_json()
    )


def test_reading_exposes_the_data() -> None:
    reading = read_request("bar chart: A=5, B=7")
    assert reading.data is not None
    assert reading.data.form == "pairs"
    assert reading.data.labels == ("A", "B")
    assert [n.value for n in reading.data.values] == [5.0, 7.0]


def test_quotes_in_prose_are_the_texts_and_its_word_lists_are_not() -> None:
    """LongText-style requests describe a scene around the texts they quote: the lists in that
    prose ("labels emphasize clarity and accessibility, complementing ...") are no labels."""
    prompt = (
        'A shop shelf. A label distinctly announces, "Organic Honey", instantly conveying '
        'quality. Nearby labels read "Raw Almond Butter" and "Maple Syrup". These labels '
        "emphasize clarity and accessibility, complementing the store's clean, organized look, "
        "with icons for art, music and food."
    )
    texts = [c.value for c in extract_commitments(prompt).required_texts]
    assert texts == ["Organic Honey", "Raw Almond Butter", "Maple Syrup"]
    # Without quotes a list still names labels; with data it is the data's labels.
    assert [c.value for c in extract_commitments("bars for North, South and East").required_texts]
    chart = 'bar chart titled "Sales" for Q1, Q2, Q3 with values 1, 2, 3'
    assert [c.value for c in extract_commitments(chart).required_texts] == [
        "Sales",
        "Q1",
        "Q2",
        "Q3",
    ]
