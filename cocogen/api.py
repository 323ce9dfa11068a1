"""The library face: `generate(prompt, ...)` and `render(code_or_path, ...)` with plain options."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from cocogen.errors import UsageError
from cocogen.languages import SUFFIXES, detect, strip_fence
from cocogen.pipeline import Pipeline
from cocogen.registry import load_backend
from cocogen.result import Result
from cocogen.types import LANGUAGES, Canvas, Program, RefineOptions, Request


def _canvas(width: int | None, height: int | None, dpi: int | None) -> Canvas:
    values = {
        k: v for k, v in (("width", width), ("height", height), ("dpi", dpi)) if v is not None
    }
    try:
        return Canvas(**values)
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise UsageError(f"bad canvas {problem['loc'][0]}: {problem['msg']}") from None


def _language(language: str) -> str:
    if language not in LANGUAGES:
        raise UsageError(f"unknown language {language!r} (choose from {', '.join(LANGUAGES)})")
    return language


def generate(
    prompt: str,
    *,
    output: str | Path | None = None,
    backend: str | None = None,
    language: str = "auto",
    width: int | None = None,
    height: int | None = None,
    dpi: int | None = None,
    seed: int = 0,
    run_dir: str | Path | None = None,
    runs_root: str | Path | None = None,
    max_attempts: int = 3,
    pipeline: Pipeline | None = None,
    refine: RefineOptions | None = None,
    model: str | None = None,
    cache: bool = True,
    critique: bool = False,
) -> Result:
    """`refine`: refine the final draft (see refiners/); the draft stays if the result fails.
    `model`: the LLM backend's model (default: `COCOGEN_MODEL`, else the backend's own).
    `cache=False`: do not read cached LLM replies (fresh replies are still stored).
    `critique`: let a multimodal model judge each draft's constraints no check can decide."""
    request = Request(
        prompt=prompt,
        language=_language(language),
        canvas=_canvas(width, height, dpi),
        seed=seed,
        refine=refine,
    )
    if pipeline is None:
        options: dict[str, object] = {}
        if model:
            options["model"] = model
        if not cache:
            options["cache"] = False
        pipeline = Pipeline(
            backend=load_backend(backend, **options),
            max_attempts=max_attempts,
            runs_root=Path(runs_root) if runs_root else None,
            critique=critique,
        )
    return pipeline.generate(
        request,
        output=Path(output) if output else None,
        run_dir=Path(run_dir) if run_dir else None,
    )


# The last suffix of every file name that names a language (`.vl.json` -> `.json`).
PROGRAM_SUFFIXES = frozenset("." + name.rpartition(".")[2] for name, _language in SUFFIXES)


def load_program(code_or_path: str | Path, language: str = "auto") -> Program:
    """A Program from source text or a file path; the language from the suffix or the text."""
    _language(language)
    path: Path | None = None
    if isinstance(code_or_path, Path) or ("\n" not in code_or_path and len(code_or_path) < 4096):
        candidate = Path(code_or_path)
        if candidate.exists():
            path = candidate
        elif isinstance(code_or_path, Path) or candidate.suffix in PROGRAM_SUFFIXES:
            raise UsageError(f"file not found: {code_or_path}")
    if path is not None:
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from None
    else:
        source = str(code_or_path)
    if not source.strip():
        raise UsageError(f"{path or 'the program'} is empty")
    if language == "auto":
        language = detect(source, str(path) if path else None)
    _fence, source = strip_fence(source)  # a Markdown-fenced program renders as its code
    return Program(language=language, source=source, backend="user")


def render(
    code_or_path: str | Path,
    *,
    output: str | Path | None = None,
    language: str = "auto",
    width: int | None = None,
    height: int | None = None,
    dpi: int | None = None,
    seed: int = 0,
    prompt: str = "",
    run_dir: str | Path | None = None,
    runs_root: str | Path | None = None,
    pipeline: Pipeline | None = None,
    refine: RefineOptions | None = None,
) -> Result:
    program = load_program(code_or_path, language)
    request = Request(
        prompt=prompt,
        language=program.language,
        canvas=_canvas(width, height, dpi),
        seed=seed,
        refine=refine,
    )
    pipeline = pipeline or Pipeline(runs_root=Path(runs_root) if runs_root else None)
    return pipeline.render(
        program,
        request,
        output=Path(output) if output else None,
        run_dir=Path(run_dir) if run_dir else None,
    )
