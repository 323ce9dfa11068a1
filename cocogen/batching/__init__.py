"""Batch rendering: a spec of many requests → one run dir per row, `results.jsonl`, a gallery.

`cocogen.batch(requests, out_dir, ...)` and `cocogen batch SPEC --out DIR` both come here.  The
parts: `spec` reads JSONL/CSV rows, `keys` hashes them, `store` owns the output directory and
decides what is done, `execute` runs one row, `local` and `ray_executor` run many, `gallery`
writes `index.html`, `driver` ties them together.  Importing this package is cheap (the CLI
imports `command` on every start); the parts load when a batch runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cocogen.batching.driver import BatchRun

__all__ = ["run_batch"]


def run_batch(requests: Any, out_dir: Any, **options: Any) -> BatchRun:
    """See `cocogen.batch`."""
    from cocogen.batching.driver import run_batch as _run_batch

    return _run_batch(requests, out_dir, **options)
