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
