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
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sandbox.recent import Recent
from sandbox.wire import Job, JobResult, png_size

TEXT_ROLES = frozenset({"title", "axis_label", "tick", "legend", "annotation", "text"})
MAX_ELEMENTS = 100_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


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


def parse(text: str) -> JobResult:
    """A JobResult from the child's JSON, refusing anything not shaped like one."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError("not an object")
        result = JobResult.from_json(text)
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
    if not data.startswith(PNG_SIGNATURE):
        return "not a PNG"
    pos, idat, header, ended = 8, [], None, False
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            return "truncated chunk"
        if zlib.crc32(kind + body) != int.from_bytes(crc, "big"):
            return f"bad CRC in {kind.decode('latin-1')!r} chunk"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            ended = True
            break
        pos += 12 + length
    if header is None or not ended or not idat:
        return "missing IHDR, IDAT or IEND"
    width, height, depth, colour, _compression, _filter, interlace = header
    if colour not in CHANNELS or width == 0 or height == 0:
        return "bad IHDR"
    if interlace:
        return None  # Adam7 sizes are not worth recomputing; the decode check covers it
    row = math.ceil(width * CHANNELS[colour] * depth / 8) + 1
    expected = row * height
    inflated = _inflated_size(b"".join(idat), expected + 1)
    if isinstance(inflated, str):
        return f"image data does not inflate: {inflated}"
    if inflated != expected:
        return f"image data holds {inflated} bytes, the header promises {expected}"
    return None


def _inflated_size(data: bytes, limit: int, chunk: int = 1 << 18) -> int | str:
    """How many bytes `data` inflates to (counting stops at `limit`), or zlib's error.

    Inflated in pieces and thrown away: a chart's pixels are ~100x their compressed size, and
    one buffer that large costs more to allocate than to fill."""
    inflater = zlib.decompressobj()
    size = 0
    try:
        while size < limit:
            piece = inflater.decompress(data, min(chunk, limit - size))
            if not piece:
                break
            size += len(piece)
            data = inflater.unconsumed_tail
    except zlib.error as exc:
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
        return JobResult.failed("invalid_output", f"the job's PNG is broken: {problem}")
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


def blank_text_elements(png: bytes, elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Text elements whose box, where it lies inside the image, is a single flat colour."""
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    image.load()
    _remember(png, image)
    width, height = image.size
    blank = []
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
        extrema = image.crop((cx0, cy0, cx1, cy1)).getextrema()
        bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
        if all(low == high for low, high in bands):
            blank.append(element)
    return blank


_recent: Recent[Any] = Recent(count=8, max_bytes=64 << 20)


def _remember(png: bytes, image: Any) -> None:
    _recent.put(png, image, image.width * image.height * len(image.getbands()))


def recent_decode(png: bytes) -> Any:
    """The Pillow image the cross-check decoded from these bytes, while it is among the last few
    (the host's checker reads the same pixels next; decoding them again costs as much).  Treat
    it as read-only: it is shared."""
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


def accept(text: str) -> JobResult:
    """parse + validate + crosscheck: the one way a child's result becomes the host's.

    Both checks read every pixel (validate inflates the PNG, the cross-check decodes it) and
    both release the GIL, so for an image of the size its manifest states they run side by
    side; validate's verdict comes first either way.
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
    checked = _checker().submit(crosscheck, result)
    validated = validate(result)
    cross = checked.result()
    return validated if validated.failure is not None else cross


@functools.cache
def _checker() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="cocogen-crosscheck")


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
