"""PNG files for the pictures cocogen draws for people (check overlays, gallery thumbnails).

Pillow's PNG encoder tries every row filter on every row, which costs more than compressing:
~3.6 ms for a 640x480 overlay.  These are written as the renderers write charts
(`sandbox.pngcodec`: every row filtered "Up", deflated at a fast level), in about a third of
the time, and no larger for drawings made of flat colours.  Same pixels in, same bytes out (no
timestamps, no text chunks), and the checker reads them back without Pillow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox import pngcodec

if TYPE_CHECKING:
    from PIL import Image

MODES = ("L", "RGB", "RGBA")


def encode_png(image: Image.Image, level: int = 1) -> bytes:
    """`image` (mode L, RGB or RGBA; others are converted to RGBA) as an 8-bit PNG."""
    import numpy as np

    if image.mode not in MODES:
        image = image.convert("RGBA")
    return pngcodec.encode(np.asarray(image, dtype=np.uint8), level)
