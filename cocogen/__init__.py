"""cocogen: exact, verified images from layout code.

`generate(prompt)` plans a program from a description, `render(code_or_path)` renders one you
have; both return a `Result` and leave a run directory.  Heavy modules load on first use, so
`import cocogen` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Pipeline", "Result", "__version__", "batch", "generate", "render"]

if TYPE_CHECKING:
    from cocogen.batching.driver import BatchRun
    from cocogen.pipeline import Pipeline
    from cocogen.result import Result


def generate(prompt: str, **options: Any) -> Result:
    """Generate an image from a description. See `cocogen.api.generate` for the options."""
    from cocogen.api import generate as _generate

    return _generate(prompt, **options)


def render(code_or_path: Any, **options: Any) -> Result:
    """Render an existing program (source text or a path). See `cocogen.api.render`."""
    from cocogen.api import render as _render

    return _render(code_or_path, **options)


def batch(requests: Any, out_dir: Any, **options: Any) -> BatchRun:
    """Render many requests into `out_dir`: a run dir per row, `results.jsonl`, `index.html`.

    `requests`: a JSONL/CSV spec path, or an iterable of `Request`s, `Program`s or dicts of
    spec fields.  Returns an iterator of `RowResult`s (rows already done first, then the others
    as they finish); its `summary` is set at the end.  Options: `workers`, `executor`
    ('local' or 'ray'), `resume`, `force`, `strict`, `retry_failed`, `backend`,
    `llm_concurrency`, `max_attempts`, `check_settings`, `limits`, `runner`, `ray_address`,
    `reporter`.  See `cocogen.batching`.
    """
    from cocogen.batching import run_batch

    return run_batch(requests, out_dir, **options)


def __getattr__(name: str) -> Any:
    if name == "Pipeline":
        from cocogen.pipeline import Pipeline

        return Pipeline
    if name == "Result":
        from cocogen.result import Result

        return Result
    raise AttributeError(f"module 'cocogen' has no attribute {name!r}")
