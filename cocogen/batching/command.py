"""`cocogen batch SPEC --out DIR`: the command line face of `cocogen.batch`.

Imported by `cocogen.cli` on every start, so it imports click only; the batch machinery loads
when the command runs.  Exit codes: 0 every row ok, 1 some row failed (or a bad line was
skipped, or the batch was interrupted), 2 bad usage.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click


def _fail(exc: BaseException, as_json: bool, debug: bool) -> NoReturn:
    from cocogen.errors import CocogenError

    code = exc.exit_code if isinstance(exc, CocogenError) else 1
    message = str(exc) if isinstance(exc, CocogenError) else f"{type(exc).__name__}: {exc}"
    if debug:
        traceback.print_exc()
    click.echo(f"error: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"status": "error", "error": message}, sort_keys=True))
    sys.exit(code)


def _summary_text(summary: Any) -> str:
    parts = [
        f"{summary.ok} ok",
        f"{summary.check_failed} check failed",
        f"{summary.render_failed} render failed",
        f"{summary.errors} errors",
    ]
    extra = []
    if summary.resumed:
        extra.append(f"{summary.resumed} already done")
    if summary.pending:
        extra.append(f"{summary.pending} pending")
    if summary.bad_lines:
        extra.append(f"{len(summary.bad_lines)} bad lines skipped")
    if summary.duplicates:
        extra.append(f"{len(summary.duplicates)} duplicates")
    head = f"batch {'interrupted' if summary.interrupted else 'done'}: {summary.rows} rows: "
    tail = f" ({', '.join(extra)})" if extra else ""
    return (
        head
        + ", ".join(parts)
        + tail
        + f"; ran {summary.ran} in {summary.elapsed_s:.1f} s ({summary.rows_per_s:.2f} rows/s, "
        f"{summary.runner or 'no'} runner)\n"
        f"results: {summary.results}\ngallery: {summary.gallery}"
    )


@click.command(name="batch")
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory: runs/, images/, thumbs/, results.jsonl, index.html.",
)
@click.option(
    "--workers",
    type=click.IntRange(0, 1024),
    default=0,
    show_default=True,
    help="Concurrent renders (0: one per CPU core).",
)
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option(
    "--ray-address",
    default=None,
    help="Ray cluster for --executor ray (default: $RAY_ADDRESS, else a local Ray).",
)
@click.option(
    "--resume", is_flag=True, help="Continue a batch in DIR: rows already done are skipped."
)
@click.option("--force", is_flag=True, help="Redo every row, done or not.")
@click.option("--retry-failed", is_flag=True, help="With --resume: also redo rows that failed.")
@click.option(
    "--strict", is_flag=True, help="Stop on the first bad spec line instead of skipping it."
)
@click.option(
    "--backend",
    default=None,
    help="Planner for rows without a program (default: an LLM whose key is set, else offline).",
)
@click.option(
    "--llm-concurrency",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Planning (LLM) calls in flight at once.",
)
@click.option("--max-attempts", type=click.IntRange(1, 10), default=3, show_default=True)
@click.option(
    "--ocr",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="OCR confirmation of texts (auto: when rapidocr is installed).",
)
@click.option(
    "--overlays",
    type=click.Choice(["findings", "always"]),
    default="findings",
    show_default=True,
    help="Which checked attempts get an overlay.png: those with findings, or every one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print only the summary, as one JSON object.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def batch(
    spec: Path,
    out_dir: Path,
    workers: int,
    executor: str,
    ray_address: str | None,
    resume: bool,
    force: bool,
    retry_failed: bool,
    strict: bool,
    backend: str | None,
    llm_concurrency: int,
    max_attempts: int,
    ocr: str,
    overlays: str,
    as_json: bool,
    debug: bool,
) -> None:
    """Render every row of SPEC (JSONL or CSV) into DIR; resumable, with a gallery index.html.

    Each row (prompt and/or program, language, data, canvas, refine, output) becomes a run dir
    and one line of DIR/results.jsonl.  Rows are keyed by a hash of their content: --resume skips
    rows already done.  Progress goes to stderr; the summary to stdout.
    """
    from cocogen.batching.driver import run_batch
    from cocogen.batching.progress import default_reporter
    from cocogen.checking import CheckSettings

    try:
        run = run_batch(
            spec,
            out_dir,
            workers=workers,
            executor=executor,
            resume=resume,
            force=force,
            strict=strict,
            retry_failed=retry_failed,
            backend=backend,
            llm_concurrency=llm_concurrency,
            max_attempts=max_attempts,
            check_settings=CheckSettings(ocr=ocr),
            overlays=overlays,
            ray_address=ray_address,
            reporter=default_reporter(),
        )
    except Exception as exc:  # noqa: BLE001 - mapped to one line and an exit code
        _fail(exc, as_json, debug)
    interrupted = False
    try:
        run.run()
    except KeyboardInterrupt:
        interrupted = True  # rows in flight finished; the summary says what is pending
    except Exception as exc:  # noqa: BLE001 - mapped to one line and an exit code
        _fail(exc, as_json, debug)
    summary = run.summary
    if summary is None:
        _fail(RuntimeError("the batch stopped before it could sum up"), as_json, debug)
    if as_json:
        payload = summary.model_dump(mode="json")
        payload["status"] = "ok" if summary.all_ok else "failed"
        click.echo(json.dumps(payload, ensure_ascii=False, sort_keys=True))
    else:
        click.echo(_summary_text(summary))
    sys.exit(130 if interrupted else 0 if summary.all_ok else 1)
