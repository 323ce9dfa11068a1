"""Test-wide state isolation: every test runs in its own cwd with no LLM keys in sight."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

KEY_VARIABLES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "COCOGEN_RUNS_DIR")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One matplotlib font cache for the session (building it costs ~1.5 s)."""
    return tmp_path_factory.mktemp("cocogen-cache")


@pytest.fixture(autouse=True)
def isolated_state(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COCOGEN_CACHE_DIR", str(cache_dir))
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield tmp_path
