"""One decode per render, shared: the checker, the overlay and the batch's thumbnail read the
same pixels; and the PNGs cocogen writes for people hold exactly the pixels drawn."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cocogen.checking.raster import decode
from cocogen.pngwrite import encode_png


def png_of(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def gradient(mode: str, size: tuple[int, int] = (37, 23)) -> Image.Image:
    rng = np.random.default_rng(7)
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)


def test_a_render_is_decoded_once_and_shared_read_only() -> None:
    png = png_of(gradient("RGB"))
    first = decode(png)
    assert decode(bytes(bytearray(png))) is first  # equal bytes, another object: one decode
    with pytest.raises(ValueError, match="read-only"):
        first.rgb[0, 0, 0] = 1
    assert np.array_equal(np.asarray(first.image), first.rgb)


def test_transparency_is_composited_on_white_and_opaque_images_are_unchanged() -> None:
    opaque = gradient("RGBA")
    opaque.putalpha(255)
    assert np.array_equal(decode(png_of(opaque)).rgb, np.asarray(opaque.convert("RGB")))
    clear = Image.new("RGBA", (4, 4), (200, 0, 0, 0))
    half = Image.new("RGBA", (4, 4), (0, 0, 0, 128))
    assert decode(png_of(clear)).rgb[0, 0].tolist() == [255, 255, 255]
    assert decode(png_of(half)).rgb[0, 0].tolist() == [127, 127, 127]


def test_not_an_image_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a readable image"):
        decode(b"\x89PNG\r\n\x1a\nnot really")


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_written_pngs_hold_exactly_the_pixels(mode: str) -> None:
    image = gradient(mode)
    data = encode_png(image)
    with Image.open(io.BytesIO(data)) as back:
        back.load()
        assert back.mode == mode and back.size == image.size
        assert np.array_equal(np.asarray(back), np.asarray(image))
    assert encode_png(image) == data  # same pixels, same bytes


def test_other_modes_are_written_as_rgba() -> None:
    palette = gradient("RGB").convert("P")
    with Image.open(io.BytesIO(encode_png(palette))) as back:
        assert back.mode == "RGBA"
        assert np.array_equal(np.asarray(back), np.asarray(palette.convert("RGBA")))


@pytest.mark.parametrize(
    "box", [(10, 5, 20, 15), (0, 0, 7, 4), (30, 18, 37, 23), (0, 0, 37, 23), (3, 0, 4, 23)]
)
def test_ring_colour_is_the_median_of_the_band_around_the_box(box: tuple[int, ...]) -> None:
    from cocogen.checking.raster import ring_color

    raster = decode(encode_png(gradient("RGB")))
    x0, y0, x1, y1 = box
    rgb = raster.rgb.astype(np.float64)
    outer = (slice(max(0, y0 - 2), y1 + 2), slice(max(0, x0 - 2), x1 + 2))
    mask = np.zeros(rgb.shape[:2], dtype=bool)
    mask[outer] = True
    mask[y0:y1, x0:x1] = False
    band = rgb[mask]
    if band.size == 0:  # the box is the whole image: its own border
        inner = rgb[y0:y1, x0:x1]
        band = np.concatenate([inner[0], inner[-1], inner[:, 0], inner[:, -1]])
    assert np.array_equal(ring_color(raster, box), np.median(band, axis=0))


def test_a_pngcodec_render_is_read_without_pillow_and_composited_like_one() -> None:
    opaque = gradient("RGBA")
    opaque.putalpha(255)
    png = encode_png(opaque)  # rows filtered "Up": read back with numpy
    raster = decode(png)
    assert np.array_equal(raster.rgb, np.asarray(opaque.convert("RGB")))
    assert np.array_equal(np.asarray(raster.image), raster.rgb)
