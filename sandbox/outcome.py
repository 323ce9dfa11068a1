"""From what came back to a `JobResult`: parse, validate, cross-check, and explain crashes.

Everything a job returns is untrusted (the program ran in the same process as the renderer and
could have replaced its hooks), so the host checks it before believing it:

- the result is well-formed JSON with fields of the right types, within the size caps;
- the PNG is a complete PNG (signature, chunk CRCs, IHDR, IEND, the image data inflates to exactly
  the size its header promises) and the manifest has the PNG's size;
- every text element of the manifest covers ink: the part of its box inside the image is not one
  flat colour.  A program that forges manifest entries where nothing is drawn is caught here; what
  the ink says is confirmed later by the checker's OCR.  The pixel check needs Pillow (a core
  dependency of cocogen) and is reported inactive without it.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import json
import math
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sandbox import pngcodec
from sandbox.recent import Recent
from sandbox.wire import Job, JobResult, png_size

if TYPE_CHECKING:
    import numpy as np

TEXT_ROLES = frozenset({"title", "axis_label", "tick", "legend", "annotation", "text"})
MAX_ELEMENTS = 100_000


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@functools.cache
def crosscheck_available() -> tuple[bool, str]:
    if importlib.util.find_spec("PIL") is None:
        return False, "Pillow is not installed: manifest boxes are not checked against pixels"
    return True, "every text box of the manifest must cover ink in the PNG (Pillow)"


def parse(text: str | bytes) -> JobResult:
    """A JobResult from what the child wrote (`JobResult.to_json`'s JSON, or the pool's
    `to_packed` bytes: JSON text never holds a NUL byte), refusing anything not shaped like one."""
    try:
        if isinstance(text, bytes) and b"\0" in text:
            result = JobResult.from_packed(text)
        else:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError("not an object")
            result = JobResult.from_dict(data)
    except (ValueError, TypeError, KeyError) as exc:
        return JobResult.failed("invalid_output", f"unreadable result: {exc}"[:300])
    checks = [
        result.png is None or isinstance(result.png, bytes),
        result.manifest is None or isinstance(result.manifest, dict),
        isinstance(result.engine, str),
        result.failure is None
        or (
            isinstance(result.failure, dict)
            and all(isinstance(result.failure.get(k, ""), str) for k in ("kind", "message"))
        ),
        isinstance(result.notes, list) and all(isinstance(n, str) for n in result.notes),
        isinstance(result.timings, dict)
        and all(isinstance(v, int | float) for v in result.timings.values()),
    ]
    if not all(checks):
        return JobResult.failed("invalid_output", "the result has fields of the wrong type")
    return result


def png_problem(data: bytes) -> str | None:
    """Why `data` is not a complete, consistent PNG (None when it is)."""
    parsed = pngcodec.structure(data)
    if isinstance(parsed, str):
        return parsed
    header, idat = parsed
    if header.interlace:
        return None  # Adam7 sizes are not worth recomputing; the decode check covers it
    expected = header.row_bytes * header.height
    inflated = _inflated_size(idat, expected + 1)
    if isinstance(inflated, str):
        return f"image data does not inflate: {inflated}"
    if inflated != expected:
        return f"image data holds {inflated} bytes, the header promises {expected}"
    return None


def _inflated_size(data: bytes, limit: int, chunk: int = 1 << 18) -> int | str:
    """How many bytes `data` inflates to (counting stops at `limit`), or zlib's error.

    Inflated in pieces and thrown away: a chart's pixels are ~100x their compressed size, and
    one buffer that large costs more to allocate than to fill."""
    inflater = pngcodec.decompressobj()
    size = 0
    try:
        while size < limit:
            piece = inflater.decompress(data, min(chunk, limit - size))
            if not piece:
                break
            size += len(piece)
            data = inflater.unconsumed_tail
    except pngcodec.INFLATE_ERRORS as exc:
        return str(exc)
    return size


def validate(result: JobResult) -> JobResult:
    """Check what the child claims: a complete PNG with a manifest of the same size."""
    if result.failure is not None:
        return result
    if result.png is None or result.manifest is None:
        return JobResult.failed("invalid_output", "the job returned no image or no manifest")
    size = png_size(result.png)
    if size is None:
        return JobResult.failed("invalid_output", "the job's image is not a PNG")
    problem = png_problem(result.png)
    if problem is not None:
        return _broken(problem)
    return _check_manifest(result, size)


def _broken(problem: str) -> JobResult:
    return JobResult.failed("invalid_output", f"the job's PNG is broken: {problem}")


def _check_manifest(result: JobResult, size: tuple[int, int]) -> JobResult:
    assert result.manifest is not None
    manifest_size = (result.manifest.get("width"), result.manifest.get("height"))
    elements = result.manifest.get("elements")
    if manifest_size != size or not isinstance(elements, list):
        return JobResult.failed(
            "invalid_output",
            f"the manifest ({manifest_size[0]}x{manifest_size[1]}) does not describe the image "
            f"({size[0]}x{size[1]})",
        )
    if len(elements) > MAX_ELEMENTS or not all(_well_formed(e) for e in elements):
        return JobResult.failed("invalid_output", "the manifest has malformed elements")
    return result


def _well_formed(element: Any) -> bool:
    if not isinstance(element, dict):
        return False
    box = element.get("box")
    return (
        isinstance(box, list)
        and len(box) == 4
        and all(isinstance(v, int | float) and math.isfinite(v) for v in box)
        and isinstance(element.get("role"), str)
        and (element.get("text") is None or isinstance(element.get("text"), str))
    )


def _judged_boxes(
    elements: list[dict[str, Any]], width: int, height: int
) -> Iterator[tuple[dict[str, Any], tuple[int, int, int, int]]]:
    """Each text element with enough of its box inside the image to judge, and that part."""
    for element in elements:
        text = element.get("text")
        if element.get("role") not in TEXT_ROLES or not isinstance(text, str) or not text.strip():
            continue
        x0, y0, x1, y1 = element["box"]
        x0, x1 = sorted((x0, x1))
        y0, y1 = sorted((y0, y1))
        area = (x1 - x0) * (y1 - y0)
        cx0, cy0 = max(0, math.floor(x0)), max(0, math.floor(y0))
        cx1, cy1 = min(width, math.ceil(x1)), min(height, math.ceil(y1))
        if cx1 - cx0 < 2 or cy1 - cy0 < 2:
            continue  # (nearly) all outside the canvas: the checker reports clipping
        if area > 0 and (cx1 - cx0) * (cy1 - cy0) < 0.5 * area:
            continue  # mostly clipped: too little left to judge
        yield element, (cx0, cy0, cx1, cy1)


def blank_text_elements(png: bytes, elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Text elements whose box, where it lies inside the image, is a single flat colour."""
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    image.load()
    _recent.put(png, image, image.width * image.height * len(image.getbands()))
    blank = []
    for element, box in _judged_boxes(elements, image.width, image.height):
        extrema = image.crop(box).getextrema()
        bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
        if all(low == high for low, high in bands):
            blank.append(element)
    return blank


def blank_in_pixels(pixels: np.ndarray, elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`blank_text_elements` for pixels already decoded (H×W×C)."""
    height, width = pixels.shape[:2]
    blank = []
    for element, (x0, y0, x1, y1) in _judged_boxes(elements, width, height):
        region = pixels[y0:y1, x0:x1]
        if (region == region[0, 0]).all():
            blank.append(element)
    return blank


_recent: Recent[Any] = Recent(count=8, max_bytes=64 << 20)


def recent_decode(png: bytes) -> Any:
    """The pixels the cross-check decoded from these bytes while they are among the last few
    (the host's checker reads the same pixels next; decoding them again costs as much): an
    H×W×C uint8 array for the PNGs `sandbox.pngcodec` reads, a Pillow image for others.
    Treat it as read-only: it is shared."""
    return _recent.get(png)


def crosscheck(result: JobResult) -> JobResult:
    """Fail a result whose manifest names text where the image shows nothing."""
    if not result.ok or not crosscheck_available()[0]:
        return result
    assert result.png is not None and result.manifest is not None
    try:
        blank = blank_text_elements(result.png, result.manifest["elements"])
    except Exception as exc:  # noqa: BLE001 - an image Pillow cannot read is invalid output
        return JobResult.failed("invalid_output", f"the job's PNG cannot be decoded: {exc}"[:300])
    return _verdict(result, blank)


def _verdict(result: JobResult, blank: list[dict[str, Any]]) -> JobResult:
    if not blank:
        return result
    first = blank[0]
    shown = ", ".join(repr(str(e["text"])[:40]) for e in blank[:3])
    more = f" and {len(blank) - 3} more" if len(blank) > 3 else ""
    return JobResult.failed(
        "invalid_output",
        f"the manifest does not match the image: text {shown}{more} is listed where the image "
        f"is blank (first at box {[round(v) for v in first['box']]}); text drawn invisibly, or "
        "a manifest that was tampered with",
    )


def accept(text: str | bytes) -> JobResult:
    """parse + validate + crosscheck: the one way a child's result becomes the host's.

    The image data is inflated once, for the size check; when `sandbox.pngcodec` can undo its
    rows (every PNG our renderers write but Chromium's) the cross-check reads those pixels, and
    the checker after it; otherwise Pillow decodes the PNG for the cross-check.
    """
    result = parse(text)
    manifest = result.manifest if isinstance(result.manifest, dict) else {}
    size = png_size(result.png) if result.png is not None else None
    if (
        result.failure is not None
        or size is None
        or size != (manifest.get("width"), manifest.get("height"))
        or not crosscheck_available()[0]
    ):
        return crosscheck(validate(result))
    assert result.png is not None
    parsed = pngcodec.structure(result.png)
    if isinstance(parsed, str):
        return _broken(parsed)
    raw = pngcodec.inflate(*parsed)
    if raw is None:  # interlaced or very large: counted in pieces, decoded by Pillow
        return crosscheck(validate(result))
    if isinstance(raw, str):
        return _broken(raw)
    checked = _check_manifest(result, size)
    pixels = pngcodec.unfilter(parsed[0], raw) if numpy_available() else None
    if checked.failure is not None or pixels is None:
        return crosscheck(checked)
    pixels.setflags(write=False)
    _recent.put(result.png, pixels, pixels.nbytes)
    return _verdict(result, blank_in_pixels(pixels, manifest["elements"]))


@functools.cache
def numpy_available() -> bool:
    return importlib.util.find_spec("numpy") is not None


def crashed(
    job: Job,
    exit_code: int | None,
    signal_number: int | None,
    stderr_tail: str,
    cpu_s: float | None = None,
) -> JobResult:
    """A failure for a child that ended without writing a result."""
    limits = job.limits
    if signal_number is not None:
        if signal_number == signal.SIGXCPU or (
            signal_number == signal.SIGKILL and cpu_s is not None and cpu_s >= limits.cpu_s
        ):
            return JobResult.failed("limit", f"CPU time limit ({limits.cpu_s} s) exceeded")
        if signal_number == signal.SIGXFSZ:
            return JobResult.failed(
                "limit", f"file size limit ({limits.file_size_mb} MiB) exceeded"
            )
        if signal_number == signal.SIGSYS:
            return JobResult.failed(
                "refused",
                "the sandbox stopped the program at a forbidden system call (starting a process "
                "or a shell, exec, ptrace, mount or another kernel-level call; SIGSYS)",
            )
        return JobResult.failed("crash", f"the program was killed by {signal_name(signal_number)}")
    last = stderr_tail.strip().splitlines()[-1:] or [""]
    if exit_code == 0:
        return JobResult.failed(
            "crash", "the program ended the process before the renderer could return a result"
        )
    return JobResult.failed(
        "crash", f"the program exited with code {exit_code} before finishing: {last[0]}"
    )
