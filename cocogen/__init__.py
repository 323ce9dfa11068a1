"""cocogen: exact, verified images from layout code.

`generate(prompt)` plans a program from a description, `render(code_or_path)` renders one you
have; both return a `Result` and leave a run directory.  Heavy modules load on first use, so
`import cocogen` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Pipeline", "Result", "__version__", "generate", "render"]

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    if name == "Pipeline":
        from cocogen.pipeline import Pipeline

        return Pipeline
    if name == "Result":
        from cocogen.result import Result

        return Result
    raise AttributeError(f"module 'cocogen' has no attribute {name!r}")
