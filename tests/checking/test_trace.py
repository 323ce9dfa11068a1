"""Commitment tracing: normalised matching, statuses, evidence, and the findings check() makes."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from cocogen.checking import CheckSettings, check
from cocogen.checking.trace import (
    contains_phrase,
    entity_kinds,
    normalize_text,
    trace_commitment,
    trace_commitments,
)
from cocogen.types import Box, Commitment, Commitments, Element, LayoutManifest, Role

GEOMETRY_ONLY = CheckSettings(ocr="off", pixel_checks=False)
"""These tests judge manifests drawn by hand over blank images: no pixels or OCR to judge."""


def text(id: str, value: str, box: Box = (10, 10, 100, 30), role: Role = "text") -> Element:
    return Element(id=id, role=role, box=box, text=value)


def shape(id: str, kind: str, parent: str = "ax0") -> Element:
    return Element(id=id, role="shape", box=(0, 0, 10, 10), kind=kind, parent=parent)


def manifest(*elements: Element) -> LayoutManifest:
    return LayoutManifest(width=400, height=300, elements=list(elements))


CommitmentKind = Literal["text", "number", "entity", "constraint"]


def commit(kind: CommitmentKind, value: str, count: int | None = None, **fields: Any) -> Commitment:
    return Commitment(kind=kind, value=value, count=count, **fields)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Revenue\n  BY   Quarter ", "revenue by quarter"),
        ("\u22125", "-5"),
        ("2019\u20132024", "2019-2024"),
        ("a \u2014 b", "a - b"),
        ("1,200", "1200"),
        ("1,234,567.0", "1234567"),
        ("12.00", "12"),
        ("12.05", "12.05"),
        ("45 %", "45%"),
        ("$ 1,200", "$1200"),
        ("1\u202f200 €", "1200€"),
        ("version 1.0.3", "version 1.0.3"),
        ("1,2345", "1,2345"),
        ("\u201cquoted\u201d", '"quoted"'),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("haystack", "needle", "found"),
    [
        ("q1", "q1", True),
        ("q1 sales", "q1", True),
        ("sales (q1)", "q1", True),
        ("q10", "q1", False),
        ("aq1", "q1", False),
        ("total: 45%", "45%", True),
        ("145%", "45%", False),
        ("4.5", "5", False),
        ("15", "5", False),
        ("-5", "5", False),
        ("jan-5", "5", True),
        ("5.", "5", True),
        ("5.5", "5", False),
        ("45%", "45", True),
        ("revenue by quarter", "by quarter", True),
        ("", "x", False),
        ("x", "", False),
    ],
)
def test_contains_phrase(haystack: str, needle: str, found: bool) -> None:
    assert contains_phrase(haystack, needle) is found


def test_text_commitment_satisfied_with_evidence() -> None:
    title = text("t", "Quarterly  Revenue (Q1\u2013Q4)", (20, 5, 300, 25), role="title")
    m = manifest(title, text("x", "Q10"))
    traced = trace_commitment(commit("text", "quarterly revenue"), m)
    assert traced.status == "satisfied"
    assert traced.evidence.element_ids == ["t"]
    assert traced.evidence.texts == ["Quarterly  Revenue (Q1\u2013Q4)"]
    assert traced.evidence.boxes == [(20, 5, 300, 25)]
    assert trace_commitment(commit("text", "Q1-Q4"), m).status == "satisfied"


def test_text_commitment_is_a_whole_word_match() -> None:
    m = manifest(text("a", "Q10"), text("b", "Revenues"))
    assert trace_commitment(commit("text", "Q1"), m).status == "violated"
    assert trace_commitment(commit("text", "Revenue"), m).status == "violated"
    assert trace_commitment(commit("text", "q10"), m).status == "satisfied"


@pytest.mark.parametrize(
    ("value", "drawn"),
    [
        ("1,200", "Total: 1200"),
        ("1200", "1,200 units"),
        ("-5", "\u22125 °C"),
        ("12.0", "12"),
        ("12", "12.0"),
        ("45%", "45 %"),
        ("45%", "45%"),
        ("$12", "$ 12"),
    ],
)
def test_number_commitment_found_in_text(value: str, drawn: str) -> None:
    traced = trace_commitment(commit("number", value), manifest(text("n", drawn)))
    assert traced.status == "satisfied"
    assert traced.evidence.element_ids == ["n"]


@pytest.mark.parametrize("drawn", ["4.5", "15", "-5", "5.5", "50"])
def test_number_commitment_not_in_text_is_only_unverified(drawn: str) -> None:
    traced = trace_commitment(commit("number", "5"), manifest(text("n", drawn)))
    assert traced.status == "unverified"
    assert traced.evidence.element_ids == []


def test_entity_counts() -> None:
    bars = [shape(f"b{i}", "bar") for i in range(5)]
    m = manifest(*bars, shape("l", "line"))
    five = trace_commitment(commit("entity", "bar", 5), m)
    assert five.status == "satisfied"
    assert five.evidence.element_ids == [f"b{i}" for i in range(5)]
    assert trace_commitment(commit("entity", "bars", 4), m).status == "violated"
    assert trace_commitment(commit("entity", "bar"), m).status == "satisfied"  # no count
    assert trace_commitment(commit("entity", "slice", 5), m).status == "unverified"


def test_entity_slices_are_wedges_and_points() -> None:
    wedges = manifest(*[shape(f"w{i}", "wedge") for i in range(3)])
    assert trace_commitment(commit("entity", "pie slices", 3), wedges).status == "satisfied"
    assert trace_commitment(commit("entity", "slice", 4), wedges).status == "violated"
    points = manifest(*[shape(f"p{i}", "point") for i in range(4)])
    assert trace_commitment(commit("entity", "points", 4), points).status == "satisfied"
    scatter = manifest(shape("c", "collection"), shape("c2", "points"))
    traced = trace_commitment(commit("entity", "data points", 40), scatter)
    assert traced.status == "unverified"
    assert traced.evidence.element_ids == ["c", "c2"]


@pytest.mark.parametrize(
    ("value", "noun"),
    [("bars", "bar"), ("Pie Slices", "slice"), ("boxes", "box"), ("categories", "category")],
)
def test_entity_nouns(value: str, noun: str) -> None:
    assert entity_kinds(value)[0] == noun


def test_constraints_are_unverified_and_the_input_is_not_changed() -> None:
    commitments = Commitments(
        required_texts=[commit("text", "Sales")],
        numbers=[commit("number", "42")],
        entities=[commit("entity", "bar", 2)],
        constraints=[commit("constraint", "use a log scale", status="satisfied")],
        unknowns=["colour scheme"],
    )
    m = manifest(text("t", "Sales"), text("n", "42"), shape("b0", "bar"), shape("b1", "bar"))
    traced = trace_commitments(commitments, m)
    assert [c.status for c in traced.all()] == ["satisfied", "satisfied", "satisfied", "unverified"]
    assert traced.unknowns == ["colour scheme"]
    assert [c.status for c in commitments.all()] == [
        "unverified",
        "unverified",
        "unverified",
        "satisfied",
    ]


def test_check_turns_violations_into_findings_and_scores() -> None:
    commitments = Commitments(
        required_texts=[commit("text", "Q1 Revenue"), commit("text", "Profit")],
        numbers=[commit("number", "1,200")],
        entities=[commit("entity", "bars", 4)],
    )
    m = manifest(
        text("title", "Q1 Revenues", (20, 5, 200, 25), role="title"),
        text("p", "Profit", (20, 40, 80, 55)),
        *[shape(f"b{i}", "bar") for i in range(3)],
    )
    report = check(m, None, commitments, GEOMETRY_ONLY)
    violated = [f for f in report.findings if f.code == "commitment_violated"]
    assert len(violated) == 2 and all(f.severity == "error" for f in violated)
    missing, count = violated
    assert '"Q1 Revenue"' in missing.llm_message and '"Q1 Revenues"' in missing.llm_message
    assert missing.element_ids == ["title"]
    assert "4" in count.llm_message and "3" in count.llm_message
    assert count.element_ids == ["b0", "b1", "b2"]
    assert not report.passed
    assert report.scores["layout_ok"] == 1.0
    assert report.scores["commitments_satisfied"] == pytest.approx(1 / 4)
    assert [c.status for c in report.commitments.all()] == [
        "violated",
        "satisfied",
        "unverified",
        "violated",
    ]


def test_check_passes_when_commitments_hold() -> None:
    commitments = Commitments(required_texts=[commit("text", "Profit")])
    report = check(manifest(text("p", "PROFIT")), None, commitments, GEOMETRY_ONLY)
    assert report.passed and report.findings == []
    assert report.scores["commitments_satisfied"] == 1.0


def line(id: str, value: str, top: float, size: float = 16, left: float = 20) -> Element:
    box = (left, top, left + 300, top + size * 1.2)
    return Element(id=id, role="text", box=box, text=value, font_size_px=size, parent="p")


def test_a_text_wrapped_over_lines_is_satisfied_by_the_lines_that_hold_it() -> None:
    page = manifest(
        line("h", "Opening hours", 10, size=32),
        line("l1", "Fresh coffee and pastries", 60),
        line("l2", "all day long, every day of", 80),
        line("l3", "the week", 100),
        line("n", "Cash only", 160),
    )
    wrapped = trace_commitment(commit("text", "pastries all day long"), page)
    assert wrapped.status == "satisfied"
    assert wrapped.evidence.element_ids == ["l1", "l2"]
    whole = trace_commitment(
        commit("text", "Fresh coffee and pastries all day long, every day of the week"), page
    )
    assert whole.status == "satisfied" and whole.evidence.element_ids == ["l1", "l2", "l3"]
    # Not across paragraphs: the heading (another size) and the note (a gap) are not lines of it.
    assert trace_commitment(commit("text", "Opening hours Fresh"), page).status == "violated"
    assert trace_commitment(commit("text", "the week Cash only"), page).status == "violated"


def test_wrapped_cjk_lines_join_without_a_space() -> None:
    page = manifest(line("a", "欢迎光临本", 10), line("b", "店", 30))
    assert trace_commitment(commit("text", "欢迎光临本店"), page).status == "satisfied"
