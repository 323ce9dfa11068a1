"""Core types survive a JSON round trip unchanged, bytes included."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cocogen.result import Result
from cocogen.types import (
    AttemptRecord,
    Canvas,
    CheckReport,
    Commitment,
    Commitments,
    Draft,
    Element,
    Evidence,
    Finding,
    LayoutManifest,
    Program,
    RenderFailure,
    Request,
    RunRecord,
    TokenUsage,
)

MANIFEST = LayoutManifest(
    width=100,
    height=80,
    engine="matplotlib",
    elements=[
        Element(id="e0", role="axes", box=(10, 10, 90, 70)),
        Element(id="e1", role="tick", box=(12, 72, 20, 78), text="Q1", parent="e0", rotation=45),
    ],
)
FINDING = Finding(
    code="text_overlap", severity="error", message="m", element_ids=["e1"], boxes=[(1, 2, 3, 4)]
)
COMMITMENTS = Commitments(
    required_texts=[
        Commitment(
            kind="text",
            value="Q1",
            status="satisfied",
            evidence=Evidence(element_ids=["e1"], boxes=[(12, 72, 20, 78)]),
        )
    ],
    numbers=[Commitment(kind="number", value="1,200")],
    entities=[Commitment(kind="entity", value="bar", count=4)],
    unknowns=["colour scheme"],
)
PROGRAM = Program(
    language="matplotlib", source="print(1)", backend="offline", usage=TokenUsage(input_tokens=3)
)
REPORT = CheckReport(
    findings=[FINDING], commitments=COMMITMENTS, scores={"layout_ok": 0.0}, passed=False
)

CASES = [
    Request(prompt="p", canvas=Canvas(width=640, height=480, dpi=80), data={"a": [1, 2]}, seed=4),
    COMMITMENTS,
    PROGRAM,
    MANIFEST,
    Draft(png=b"\x89PNG\r\n\x1a\n\x00\xff", manifest=MANIFEST, timings={"x": 1.5}),
    Draft(failure=RenderFailure(kind="timeout", message="slow")),
    FINDING,
    REPORT,
    RunRecord(
        id="r",
        status="ok",
        request=Request(prompt="p"),
        commitments=COMMITMENTS,
        attempts=[
            AttemptRecord(number=1, program=PROGRAM, program_file="attempt-1/p.py", report=REPORT)
        ],
        final_attempt=1,
    ),
    Result(status="check_failed", image="x.png", run_dir="runs/r", findings=[FINDING]),
]


@pytest.mark.parametrize("value", CASES, ids=lambda v: type(v).__name__)
def test_json_round_trip(value: object) -> None:
    cls = type(value)
    text = value.model_dump_json()  # type: ignore[attr-defined]
    assert cls.model_validate_json(text) == value  # type: ignore[attr-defined]


def test_boxes_are_normalised_and_types_are_frozen() -> None:
    element = Element(id="e", role="text", box=(10, 20, 5, 2), text="x")
    assert element.box == (5, 2, 10, 20)
    with pytest.raises(ValidationError):
        element.text = "y"  # type: ignore[misc]


def test_bad_values_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValidationError, match="width"):
        Canvas(width=0)
    with pytest.raises(ValidationError, match="language"):
        Request(language="pdf")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"unexpected|extra"):
        Program(language="svg", source="", colour="red")  # type: ignore[call-arg]
