"""The `cocogen` command line.

Exit codes: 0 success, 1 a failed render or check (or a host fault), 2 bad usage.  Errors are one
line on stderr; `--debug` adds the traceback.  `--json` prints exactly one JSON object on stdout.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click

from cocogen.errors import CocogenError, UsageError

LANGUAGE_CHOICE = click.Choice(["auto", "matplotlib", "svg", "html", "vegalite", "graphviz"])


def _emit_json(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, sort_keys=True))


def _fail(exc: BaseException, as_json: bool, debug: bool) -> NoReturn:
    code = exc.exit_code if isinstance(exc, CocogenError) else 1
    message = str(exc) if isinstance(exc, CocogenError) else f"{type(exc).__name__}: {exc}"
    if debug:
        traceback.print_exc()
    click.echo(f"error: {message}", err=True)
    if as_json:
        _emit_json(
            {"status": "error", "error": message, "image": None, "run_dir": None, "findings": []}
        )
    sys.exit(code)


def _finish(result: Any, as_json: bool) -> NoReturn:
    if as_json:
        _emit_json(result.model_dump(mode="json"))
    else:
        stream_err = not result.ok
        click.echo(result.summary(), err=stream_err)
        for finding in result.findings:
            click.echo(f"  {finding.severity}: {finding.code}: {finding.message}", err=stream_err)
    sys.exit(0 if result.ok else 1)


def canvas_options(func: Any) -> Any:
    func = click.option("--dpi", type=int, default=None, help="Dots per inch (default 100).")(func)
    func = click.option("--height", type=int, default=None, help="Height in px (default 768).")(
        func
    )
    func = click.option("--width", type=int, default=None, help="Width in px (default 1024).")(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cocogen")
def cli() -> None:
    """cocogen: exact charts, diagrams and posters from layout code, checked before delivery."""


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the final PNG here.",
)
@click.option("--language", type=LANGUAGE_CHOICE, default="auto", show_default=True)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for this run's artifacts (default runs/<id>).",
)
@click.option("--prompt", default="", help="What the image must say (its texts are checked).")
@canvas_options
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def render(
    file: Path,
    output: Path | None,
    language: str,
    run_dir: Path | None,
    prompt: str,
    width: int | None,
    height: int | None,
    dpi: int | None,
    seed: int,
    as_json: bool,
    debug: bool,
) -> None:
    """Render an existing program FILE (no LLM), check it and record the run."""
    from cocogen.api import render as render_api

    if not file.exists():
        _fail(UsageError(f"file not found: {file}"), as_json, debug)
    try:
        result = render_api(
            file,
            output=output,
            language=language,
            run_dir=run_dir,
            prompt=prompt,
            width=width,
            height=height,
            dpi=dpi,
            seed=seed,
        )
    except Exception as exc:  # noqa: BLE001 - mapped to one line and an exit code
        _fail(exc, as_json, debug)
    _finish(result, as_json)


@cli.command()
@click.argument("prompt")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the final PNG here.",
)
@click.option(
    "--backend",
    default=None,
    help="Planner: offline, anthropic, openai (default: an LLM whose key is set, else offline).",
)
@click.option("--language", type=LANGUAGE_CHOICE, default="auto", show_default=True)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for this run's artifacts (default runs/<id>).",
)
@canvas_options
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-attempts", type=click.IntRange(1, 10), default=3, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def generate(
    prompt: str,
    output: Path | None,
    backend: str | None,
    language: str,
    run_dir: Path | None,
    width: int | None,
    height: int | None,
    dpi: int | None,
    seed: int,
    max_attempts: int,
    as_json: bool,
    debug: bool,
) -> None:
    """Generate an image from a PROMPT: plan, render, check, repair, record."""
    from cocogen.api import generate as generate_api

    try:
        result = generate_api(
            prompt,
            output=output,
            backend=backend,
            language=language,
            run_dir=run_dir,
            width=width,
            height=height,
            dpi=dpi,
            seed=seed,
            max_attempts=max_attempts,
        )
    except Exception as exc:  # noqa: BLE001 - mapped to one line and an exit code
        _fail(exc, as_json, debug)
    _finish(result, as_json)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def doctor(as_json: bool, debug: bool) -> None:
    """Show what is installed and working: renderers, fonts, OCR, browser, sandbox, backends."""
    from cocogen.doctor import collect, format_report

    try:
        report = collect()
    except Exception as exc:  # noqa: BLE001 - mapped to one line and an exit code
        _fail(exc, as_json, debug)
    if as_json:
        _emit_json(report)
    else:
        click.echo(format_report(report))
    sys.exit(0 if report["ok"] else 1)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
