"""Fixtures of the checker tests: one OCR engine for the whole session.

Creating rapidocr's engine and loading its models takes a second or two; `cocogen.checking.ocr`
keeps one per process, and this fixture makes the first test that needs it pay once (or skip
with the reason when OCR is not installed).
"""

from __future__ import annotations

from typing import Any

import pytest

from cocogen.checking.ocr import engine, ocr_unavailable


@pytest.fixture(scope="session")
def ocr_engine() -> Any:
    reason = ocr_unavailable()
    if reason is not None:
        pytest.skip(f"OCR unavailable: {reason}")
    return engine()
