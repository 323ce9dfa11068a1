"""Data-driven checker cases: every file in `cases/` is a matplotlib program and what the
checker must say about it, rendered through the real sandbox and checked with the real OCR.

A case's header (its first comment lines) holds:

    # expect: code, code    codes that must be found (any severity); empty for a near miss
    # near-miss: code       the code this case is a near miss of (so it must not be found)
    # prompt: ...           the request whose commitments are traced
    # settings: {...}       CheckSettings fields, as JSON
    # png: truncated | trailing-bytes | none    what is done to the PNG before checking
    # needs: ocr            skip (with the reason) when OCR cannot run here

A case passes when every expected code is found and every error or warning is expected.  Every
finding code has at least one defect case and one near miss (see the last test).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support import run_matplotlib

from cocogen.checking import ALL_CODES, CheckSettings, check
from cocogen.checking.ocr import ocr_unavailable
from cocogen.planning.commitments import extract_commitments
from cocogen.types import LayoutManifest

CASES = Path(__file__).parent / "cases"


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    expect: frozenset[str]
    near_miss: frozenset[str] = frozenset()
    prompt: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    png: str = ""
    needs: frozenset[str] = frozenset()


def _codes(value: str) -> frozenset[str]:
    return frozenset(c.strip() for c in value.split(",") if c.strip())


def load(path: Path) -> Case:
    source = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    for line in source.splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if sep and key.strip() in {"expect", "near-miss", "prompt", "settings", "png", "needs"}:
            header[key.strip()] = value.strip()
    if "expect" not in header:
        raise ValueError(f"{path.name}: no '# expect:' line")
    return Case(
        name=path.stem,
        source=source,
        expect=_codes(header["expect"]),
        near_miss=_codes(header.get("near-miss", "")),
        prompt=header.get("prompt", ""),
        settings=json.loads(header.get("settings", "{}")),
        png=header.get("png", ""),
        needs=_codes(header.get("needs", "")),
    )


ALL_CASES = [load(p) for p in sorted(CASES.glob("*.py"))]


def _damage(png: bytes, how: str) -> bytes | None:
    if how == "truncated":
        return png[: len(png) // 3]
    if how == "trailing-bytes":
        return png + b"\x00garbage after IEND\x00" * 4
    if how == "none":
        return None
    assert how == "", f"unknown png directive {how!r}"
    return png


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.name for c in ALL_CASES])
def test_case(case: Case, request: pytest.FixtureRequest) -> None:
    if "ocr" in case.needs:
        request.getfixturevalue("ocr_engine")
    result = run_matplotlib(case.source)
    assert result.ok, result.failure
    assert result.png is not None
    manifest = LayoutManifest.model_validate(result.manifest)
    report = check(
        manifest,
        _damage(result.png, case.png),
        extract_commitments(case.prompt),
        CheckSettings(**case.settings),
    )
    found = {f.code for f in report.findings}
    loud = {f.code for f in report.findings if f.severity != "info"}
    explain = "\n".join(f"{f.severity}: {f.code}: {f.message}" for f in report.findings)
    assert case.expect <= found, f"missing {sorted(case.expect - found)}; found:\n{explain}"
    assert loud <= case.expect, f"unexpected {sorted(loud - case.expect)}:\n{explain}"
    assert not (case.near_miss & found), f"near miss flagged:\n{explain}"
    assert report.passed == (report.count("error") == 0)


def test_every_code_has_a_defect_case_and_a_near_miss() -> None:
    expected = set().union(*(c.expect for c in ALL_CASES))
    near = set().union(*(c.near_miss for c in ALL_CASES))
    assert sorted(ALL_CODES - expected) == []
    assert sorted(ALL_CODES - near) == []
    assert not [c.name for c in ALL_CASES if c.expect & c.near_miss]


def test_ocr_cases_say_they_need_ocr() -> None:
    # Without OCR these codes cannot appear (ocr_skipped aside): their cases must be skippable.
    for case in ALL_CASES:
        if case.expect & {"ocr_mismatch", "ocr_unknown_text"}:
            assert "ocr" in case.needs, case.name
    if ocr_unavailable() is None:
        assert all(c.needs <= {"ocr"} for c in ALL_CASES)
