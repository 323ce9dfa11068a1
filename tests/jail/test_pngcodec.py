"""The PNG files the renderers write (rows filtered "Up"), and the host's fast read of them."""

from __future__ import annotations

import io
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sandbox import outcome, pngcodec
from sandbox.wire import JobResult


def _pixels(channels: int, seed: int = 0) -> np.ndarray:
    """A small drawing: flat areas, a gradient, and noise (every filter byte value occurs)."""
    rng = np.random.default_rng(seed)
    pixels = np.full((37, 53, channels), 255, dtype=np.uint8)
    pixels[5:20, 10:30] = 40
    pixels[:, 30:] = np.arange(23, dtype=np.uint8)[None, :, None] * 11
    pixels[25:] = rng.integers(0, 256, size=(12, 53, channels), dtype=np.uint8)
    return pixels


def _read(png: bytes) -> np.ndarray | None:
    parsed = pngcodec.structure(png)
    assert not isinstance(parsed, str), parsed
    raw = pngcodec.inflate(*parsed)
    assert isinstance(raw, bytes), raw
    return pngcodec.unfilter(parsed[0], raw)


@pytest.mark.parametrize(("channels", "mode"), [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_written_pixels_read_back_exactly_by_pillow_and_by_unfilter(
    channels: int, mode: str
) -> None:
    pixels = _pixels(channels)
    png = pngcodec.encode(pixels)
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == mode
        assert np.array_equal(np.asarray(image).reshape(pixels.shape), pixels)
    back = _read(png)
    assert isinstance(back, np.ndarray)
    assert np.array_equal(back, pixels)


def test_same_pixels_same_bytes_and_the_dpi_is_recorded() -> None:
    pixels = _pixels(4)
    png = pngcodec.encode(pixels, dpi=150)
    assert png == pngcodec.encode(pixels.copy(), dpi=150)
    with Image.open(io.BytesIO(png)) as image:
        assert round(image.info["dpi"][0]) == 150
    assert b"pHYs" not in pngcodec.encode(pixels)


def _filtered_png(pixels: np.ndarray, filters: list[int]) -> bytes:
    """`pixels` as a PNG whose row y is filtered by filters[y] (0 None, 1 Sub, 2 Up, 4 Paeth)."""
    height, width, channels = pixels.shape
    flat = pixels.reshape(height, -1).astype(np.int16)
    rows = []
    for y, kind in enumerate(filters):
        above = flat[y - 1] if y else np.zeros_like(flat[y])
        left = np.concatenate([np.zeros(channels, np.int16), flat[y][:-channels]])
        corner = np.concatenate([np.zeros(channels, np.int16), above[:-channels]])
        guess = left + above - corner
        near = [np.abs(guess - v) for v in (left, above, corner)]
        paeth = np.where(
            (near[0] <= near[1]) & (near[0] <= near[2]),
            left,
            np.where(near[1] <= near[2], above, corner),
        )
        predictor = {0: 0, 1: left, 2: above, 4: paeth}[kind]
        rows.append(bytes([kind]) + ((flat[y] - predictor) % 256).astype(np.uint8).tobytes())
    colour = pngcodec.COLOUR_TYPES[channels]
    header = pngcodec.struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        pngcodec.SIGNATURE
        + pngcodec._chunk(b"IHDR", header)
        + pngcodec._chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + pngcodec._chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("channels", [3, 4])
def test_rows_filtered_none_sub_or_up_in_any_mix_read_back_as_pillow_reads_them(
    channels: int,
) -> None:
    pixels = _pixels(channels, seed=3)
    mixes = [
        [1] * len(pixels),  # every row "Sub", as vl-convert writes them
        [2] * len(pixels),  # "Up" from the first row on (zeros above it)
        list(np.random.default_rng(5).integers(0, 3, len(pixels))),
    ]
    for filters in mixes:
        png = _filtered_png(pixels, [int(f) for f in filters])
        with Image.open(io.BytesIO(png)) as image:
            assert np.array_equal(np.asarray(image), pixels)
        back = _read(png)
        assert isinstance(back, np.ndarray)
        assert np.array_equal(back, pixels)


def test_other_pngs_are_left_to_pillow() -> None:
    buffer = io.BytesIO()
    Image.fromarray(_pixels(3)).save(buffer, format="PNG")  # Pillow picks filters per row
    pillow = _read(buffer.getvalue())
    assert pillow is None or np.array_equal(pillow, _pixels(3))
    buffer = io.BytesIO()
    Image.fromarray(_pixels(3)).convert("P").save(buffer, format="PNG")
    assert _read(buffer.getvalue()) is None


def test_a_second_header_is_refused() -> None:
    png = pngcodec.encode(_pixels(3))
    header = png[8:33]  # the IHDR chunk, whole
    assert pngcodec.structure(png[:33] + header + png[33:]) == (
        "IHDR is not the first chunk, or not the only one"
    )


def test_a_wrong_amount_of_image_data_is_named() -> None:
    png = pngcodec.encode(_pixels(3))
    header, idat = pngcodec.structure(png)  # type: ignore[misc]
    short = zlib.compress(zlib.decompress(idat)[:-7])
    problem = pngcodec.inflate(header, short)
    assert isinstance(problem, str) and "header promises" in problem
    problem = pngcodec.inflate(header, b"not zlib")
    assert isinstance(problem, str) and "does not inflate" in problem


@pytest.mark.parametrize("kind", [3, 4, 9])  # "Average", "Paeth", no such filter
def test_other_filters_are_left_to_pillow(kind: int) -> None:
    pixels = _pixels(3)
    png = pngcodec.encode(pixels)
    header, idat = pngcodec.structure(png)  # type: ignore[misc]
    raw = bytearray(zlib.decompress(idat))
    raw[header.row_bytes * 3] = kind  # row 3's filter byte
    assert pngcodec.unfilter(header, bytes(raw)) is None
    assert pngcodec.decode(pngcodec.encode(pixels)) is not None


def test_bad_pixels_are_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        pngcodec.encode(np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        pngcodec.encode(np.zeros((4, 4, 5), dtype=np.uint8))


def _result(png: bytes, box: list[float]) -> bytes:
    width, height = Image.open(io.BytesIO(png)).size
    manifest = {
        "width": width,
        "height": height,
        "elements": [{"id": "e0", "role": "title", "text": "Sales", "box": box}],
    }
    return JobResult(png=png, manifest=manifest, engine="test").to_json().encode()


def test_accept_reads_these_pngs_once_and_still_catches_a_forged_manifest() -> None:
    pixels = _pixels(4)
    png = pngcodec.encode(pixels)
    inked = outcome.accept(_result(png, [25, 0, 45, 30]))  # gradient and flat: has ink
    assert inked.ok
    decoded = outcome.recent_decode(png)
    assert isinstance(decoded, np.ndarray) and np.array_equal(decoded, pixels)
    assert not decoded.flags.writeable
    forged = outcome.accept(_result(png, [12, 7, 28, 18]))  # inside the flat square
    assert not forged.ok and forged.failure is not None
    assert "'Sales' is listed where the image is blank" in forged.failure["message"]


def test_accept_names_a_broken_png_of_this_kind() -> None:
    png = pngcodec.encode(_pixels(3))
    header, idat = pngcodec.structure(png)  # type: ignore[misc]
    body = zlib.compress(zlib.decompress(idat)[:-1])
    broken = png.replace(
        png[png.index(b"IDAT") - 4 : png.index(b"IEND") - 4],
        len(body).to_bytes(4, "big")
        + b"IDAT"
        + body
        + zlib.crc32(b"IDAT" + body).to_bytes(4, "big"),
    )
    result = outcome.accept(_result(broken, [0, 0, 10, 10]))
    assert result.failure is not None
    assert "broken" in result.failure["message"]
    assert f"the header promises {header.row_bytes * header.height}" in result.failure["message"]


def test_accept_leaves_rows_it_cannot_undo_to_pillow_and_still_checks_them() -> None:
    pixels = _pixels(3, seed=9)
    paeth = _filtered_png(pixels, [4 if y % 2 else 2 for y in range(len(pixels))])
    with Image.open(io.BytesIO(paeth)) as image:
        assert np.array_equal(np.asarray(image), pixels)
    assert outcome.accept(_result(paeth, [25, 0, 45, 30])).ok
    assert not isinstance(outcome.recent_decode(paeth), np.ndarray)  # Pillow decoded it
    forged = outcome.accept(_result(paeth, [12, 7, 28, 18]))
    assert (
        forged.failure is not None
        and "is listed where the image is blank" in (forged.failure["message"])
    )


@pytest.mark.parametrize("opaque", [True, False])
def test_svg_surfaces_hold_the_pixels_cairo_would_have_written(opaque: bool) -> None:
    cairo = pytest.importorskip("cairocffi")
    from renderers._svgraster import surface_png

    surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, 97, 61)
    context = cairo.Context(surface)
    if opaque:
        context.set_source_rgb(1, 1, 1)
        context.paint()
    context.set_source_rgba(0.2, 0.4, 0.9, 0.6)
    context.rectangle(10, 10, 60, 40)
    context.fill()
    context.set_source_rgba(0.1, 0.7, 0.1, 0.3)
    context.arc(60, 30, 25, 0, 6.3)
    context.fill()
    theirs = io.BytesIO()
    surface.write_to_png(theirs)
    ours = surface_png(surface)
    with Image.open(theirs) as expected, Image.open(io.BytesIO(ours)) as got:
        assert got.mode == expected.mode == ("RGB" if opaque else "RGBA")
        assert np.array_equal(np.asarray(got), np.asarray(expected))
    assert isinstance(_read(ours), np.ndarray)


def test_zlib_ng_writes_and_reads_when_installed_and_zlib_reads_its_files() -> None:
    zlib_ng = pytest.importorskip("zlib_ng.zlib_ng")  # a dependency of cocogen
    assert pngcodec.compress is zlib_ng.compress
    assert pngcodec.decompressobj is zlib_ng.decompressobj
    png = pngcodec.encode(_pixels(4))
    parsed = pngcodec.structure(png)
    assert not isinstance(parsed, str)
    header, idat = parsed
    assert zlib.decompress(idat) == pngcodec.inflate(header, idat)  # a plain zlib stream


def test_without_zlib_ng_the_codec_uses_zlib() -> None:
    # The sandbox needs only the standard library: with zlib-ng hidden, the same pixels go
    # through zlib both ways.
    script = (
        "import sys, zlib\n"
        "sys.modules['zlib_ng'] = None\n"
        "import numpy as np\n"
        "from sandbox import pngcodec\n"
        "assert pngcodec.compress is zlib.compress\n"
        "assert pngcodec.decompressobj is zlib.decompressobj\n"
        "pixels = np.arange(60, dtype=np.uint8).reshape(3, 5, 4)\n"
        "assert (pngcodec.decode(pngcodec.encode(pixels)) == pixels).all()\n"
        "header = pngcodec.structure(pngcodec.encode(pixels))[0]\n"
        "assert 'does not inflate' in pngcodec.inflate(header, b'not zlib')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(pngcodec.__file__).parents[1],
    )
    assert done.returncode == 0, done.stderr
