"""Helpers of the batch tests: tiny real programs, spec files, reading an output directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

COCOGEN = [sys.executable, "-m", "cocogen.cli"]


def tiny_program(label: str, size: tuple[int, int] = (64, 48)) -> str:
    """A matplotlib program that draws one text: cheap to render in a warm worker."""
    width, height = size
    return (
        "import matplotlib.pyplot as plt\n"
        f"fig = plt.figure(figsize=({width / 100}, {height / 100}), dpi=100)\n"
        f"fig.text(0.1, 0.4, {label!r}, fontsize=12)\n"
    )


def tiny_row(label: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "output": label,
        "program": tiny_program(label),
        "language": "matplotlib",
        "canvas": "64x48",
    }
    row.update(fields)
    return row


def write_spec(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def results(out: Path) -> list[dict[str, Any]]:
    text = (out / "results.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def by_name(out: Path) -> dict[str, dict[str, Any]]:
    rows = results(out)
    found = {r["name"]: r for r in rows}
    assert len(found) == len(rows), "results.jsonl has more than one line for a row"
    return found


def cocogen(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`cocogen ARGS` as users run it: a subprocess, with `env` on top of this environment."""
    return subprocess.run(
        [*COCOGEN, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
