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

from cocogen.batching.command import batch as batch_command
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
        run_dir = getattr(exc, "run_dir", None)  # set when a run record was still written
        _emit_json(
            {"status": "error", "error": message, "image": None, "run_dir": run_dir, "findings": []}
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


def report_options(func: Any) -> Any:
    func = click.option("--debug", is_flag=True, help="Show tracebacks.")(func)
    func = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(func)
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
@report_options
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
@click.option(
    "--refine",
    "refine_model",
    default=None,
    metavar="PATH",
    help="Refine the final image with this diffusers model (a local directory or cached id); "
    "the draft stays final if the refined image fails its re-check.",
)
@click.option("--refine-prompt", default=None, help="Prompt for the refiner (default: PROMPT).")
@click.option(
    "--model",
    default=None,
    help="The LLM backend's model (default: $COCOGEN_MODEL, else the backend's own).",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Ask the LLM again instead of reusing cached replies (fresh replies are still stored).",
)
@click.option(
    "--critique",
    is_flag=True,
    help="Let a multimodal LLM judge each draft against constraints no check can decide.",
)
@report_options
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
    refine_model: str | None,
    refine_prompt: str | None,
    model: str | None,
    no_cache: bool,
    critique: bool,
    as_json: bool,
    debug: bool,
) -> None:
    """Generate an image from a PROMPT: plan, render, check, repair, record."""
    from cocogen.api import generate as generate_api
    from cocogen.types import RefineOptions

    refine = None
    if refine_model is not None:
        refine = RefineOptions(model=refine_model, prompt=refine_prompt)
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
            refine=refine,
            model=model,
            cache=not no_cache,
            critique=critique,
        )
    except Exception as exc:  # noqa: BLE001 - mapped to one line and an exit code
        _fail(exc, as_json, debug)
    _finish(result, as_json)


@cli.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The layout manifest written with IMAGE (a run's attempt-N/manifest.json).",
)
@click.option("--model", required=True, help="A diffusers model: local directory or cached id.")
@click.option("--prompt", default=None, help="What the refined image should look like.")
@click.option("--strength", type=click.FloatRange(0.0, 1.0), default=0.3, show_default=True)
@click.option("--steps", type=click.IntRange(1, 200), default=20, show_default=True)
@click.option("--guidance", type=float, default=6.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--margin",
    type=click.IntRange(0, 256),
    default=4,
    show_default=True,
    help="Pixels of protection around texts and strokes.",
)
@click.option("--no-lock", is_flag=True, help="Do not paste the draft's texts and strokes back.")
@click.option("--controlnet", default=None, help="A ControlNet (directory or cached id).")
@click.option(
    "--region",
    "regions",
    multiple=True,
    metavar="ID=PROMPT",
    help="Refine a manifest element (or 'background') with its own prompt; repeatable.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cuda, cuda:N, mps, cpu")
@click.option("--allow-download", is_flag=True, help="Let diffusers download a missing model.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the result (default IMAGE.refined.png).",
)
@click.option(
    "--mask-output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the protect mask here.",
)
@report_options
def refine(
    image: Path,
    manifest: Path,
    model: str,
    prompt: str | None,
    strength: float,
    steps: int,
    guidance: float,
    seed: int,
    margin: int,
    no_lock: bool,
    controlnet: str | None,
    regions: tuple[str, ...],
    device: str,
    allow_download: bool,
    output: Path | None,
    mask_output: Path | None,
    as_json: bool,
    debug: bool,
) -> None:
    """Refine an existing IMAGE with a diffusers img2img model, keeping its texts exact.

    The result is re-checked; if a text or the structure suffered, the draft is written instead
    and the exit code is 1.
    """
    try:
        from cocogen.types import RefineOptions
        from refiners.command import parse_regions, refine_file

        options = RefineOptions(
            model=model,
            prompt=prompt,
            strength=strength,
            steps=steps,
            guidance=guidance,
            seed=seed,
            margin_px=margin,
            lock=not no_lock,
            controlnet=controlnet,
            regions=parse_regions(regions),
        )
        summary = refine_file(
            image,
            manifest,
            options,
            output=output,
            mask_output=mask_output,
            refiner_options={"device": device, "allow_download": allow_download},
        )
    except Exception as exc:  # noqa: BLE001 - mapped to one line and an exit code
        _fail(exc, as_json, debug)
    if as_json:
        _emit_json(summary)
    elif summary["accepted"]:
        click.echo(f"refined: {summary['image']}")
    else:
        click.echo(f"kept the draft: {summary['image']}", err=True)
        for reason in summary["reasons"]:
            click.echo(f"  {reason}", err=True)
    sys.exit(0 if summary["accepted"] else 1)


@cli.command("check")
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The image's layout manifest (an attempt's manifest.json); without it OCR alone judges.",
)
@click.option("--prompt", default="", help="The request: its quoted texts and numbers are checked.")
@click.option("--ocr", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True)
@click.option(
    "--overlay",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a picture of the findings here (.png).",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the check report (JSON) here.",
)
@report_options
def check_command(
    image: Path,
    manifest: Path | None,
    prompt: str,
    ocr: str,
    overlay: Path | None,
    report_file: Path | None,
    as_json: bool,
    debug: bool,
) -> None:
    """Check an existing IMAGE: layout, contrast, glyphs, OCR, and the PROMPT's promises."""
    try:
        from cocogen.checking.command import check_image

        outcome = check_image(
            image, manifest, prompt, ocr=ocr, overlay=overlay, report_file=report_file
        )
    except Exception as exc:  # noqa: BLE001 - mapped to one line and an exit code
        _fail(exc, as_json, debug)
    if as_json:
        _emit_json(outcome.to_json())
    else:
        failed = not outcome.report.passed
        click.echo(outcome.summary(), err=failed)
        for finding in outcome.report.findings:
            click.echo(f"  {finding.severity}: {finding.code}: {finding.message}", err=failed)
        for commitment in outcome.report.commitments.all():
            click.echo(f"  {commitment.status}: {commitment.kind} {commitment.value!r}", err=failed)
    sys.exit(0 if outcome.report.passed else 1)


@cli.command()
@report_options
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


cli.add_command(batch_command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
