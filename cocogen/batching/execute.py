"""One row, start to finish, the same for every executor: run the pipeline into the row's run
dir, then write the image and the thumbnail and describe the outcome as a `RowResult`.

The executor appends that result to `results.jsonl`; nothing here marks a row done.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from cocogen.batching.model import BatchRow, FindingBrief, RowResult
from cocogen.batching.store import Layout, replace_file
from cocogen.checking.raster import decode
from cocogen.errors import CocogenError
from cocogen.pipeline import Pipeline
from cocogen.pngwrite import encode_png
from cocogen.result import Result

THUMB_SIZE = (320, 240)
TOP_FINDINGS = 8


def run_row(pipeline: Pipeline, row: BatchRow, layout: Layout) -> RowResult:
    """Render (or plan and render) one row into `runs/<name>/` and `images/<name>.png`."""
    started = time.perf_counter()
    run_dir, image = layout.run_dir(row.name), layout.image(row.name)
    try:
        if row.program is not None:
            result = pipeline.render(row.program, row.request, output=image, run_dir=run_dir)
        else:
            result = pipeline.generate(row.request, output=image, run_dir=run_dir)
    except CocogenError as exc:
        return error_result(row, layout, str(exc), getattr(exc, "run_dir", None), started)
    except Exception as exc:  # noqa: BLE001 - one row's host fault must not stop the batch
        return error_result(row, layout, f"{type(exc).__name__}: {exc}", None, started)
    return finish_row(layout, row, result, started)


def error_result(
    row: BatchRow, layout: Layout, message: str, run_dir: str | None, started: float
) -> RowResult:
    """A row the host could not run (planner, backend, refiner setup): retried on resume."""
    relative = None
    if run_dir is not None:
        try:
            relative = layout.relative(Path(run_dir).resolve())
        except ValueError:
            relative = run_dir
    return RowResult(
        name=row.name,
        key=row.key,
        line=row.line,
        status="error",
        run_dir=relative,
        error=message.splitlines()[0][:500] if message else "error",
        timings={"row_s": round(time.perf_counter() - started, 4)},
        finished_at=time.time(),
    )


def make_thumbnail(png: bytes, size: tuple[int, int] = THUMB_SIZE) -> bytes:
    """A small PNG of the image as a viewer shows it (on white), from the checker's decode of
    the same bytes when it is still at hand."""
    from PIL import Image

    image = decode(png).image
    factor = min(image.width // size[0], image.height // size[1])
    # Halving (or thirding...) by box averaging first is several times faster than resampling.
    thumb = image.reduce(factor) if factor >= 2 else image.copy()
    thumb.thumbnail(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return encode_png(thumb, level=3)


def _cache_tokens(record: dict[str, Any]) -> dict[str, int]:
    read = write = 0
    seen = False
    for attempt in record.get("attempts") or []:
        usage = (attempt.get("program") or {}).get("usage")
        if usage:
            seen = True
            read += int(usage.get("cache_read_tokens") or 0)
            write += int(usage.get("cache_write_tokens") or 0)
    return {"read_tokens": read, "write_tokens": write} if seen else {}


def finish_row(layout: Layout, row: BatchRow, result: Result, started: float) -> RowResult:
    """The row's run dir and image are in place: thumbnail, hashes, the result line."""
    image, thumb = layout.image(row.name), layout.thumb(row.name)
    image_sha = thumb_rel = None
    if result.image is not None:
        png = image.read_bytes()
        image_sha = hashlib.sha256(png).hexdigest()
        replace_file(thumb, make_thumbnail(png))
        thumb_rel = layout.relative(thumb)
    else:
        # No image this time: an earlier run's image of this row must not pass for this one's.
        image.unlink(missing_ok=True)
        thumb.unlink(missing_ok=True)
    run_json = layout.run_dir(row.name) / "run.json"
    record_bytes = run_json.read_bytes()
    counts = {"error": 0, "warning": 0, "info": 0}
    for finding in result.findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    top = [
        FindingBrief(severity=f.severity, code=f.code, message=f.message[:300])
        for f in sorted(
            result.findings, key=lambda f: ("error", "warning", "info").index(f.severity)
        )
        if f.severity != "info"
    ][:TOP_FINDINGS]
    timings = dict(result.timings)
    timings["row_s"] = round(time.perf_counter() - started, 4)
    return RowResult(
        name=row.name,
        key=row.key,
        line=row.line,
        status=result.status,
        image=layout.relative(image) if result.image is not None else None,
        image_sha256=image_sha,
        run_dir=layout.relative(layout.run_dir(row.name)),
        record_sha256=hashlib.sha256(record_bytes).hexdigest(),
        thumb=thumb_rel,
        findings=counts,
        top_findings=top,
        attempts=result.attempts,
        language=result.language,
        backend=result.backend,
        timings=timings,
        cache=_cache_tokens(json.loads(record_bytes)),
        error=result.failure.one_line()[:500] if result.failure else None,
        finished_at=time.time(),
    )
