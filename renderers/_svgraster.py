"""SVG → PNG with cairosvg, and the layout read from cairo while it draws.

cairosvg draws each `<text>`/`<tspan>` by first building the glyph outlines as a cairo path and
then filling them; its shapes likewise leave their path in the context before the fill.  Wrapping
the tag functions therefore gives, for every drawn element, the exact outline in device pixels
(`path_extents` under an identity matrix), with all transforms, viewBox scaling and rotation
applied.  The wrappers also apply the font fallback chain per text (cairo has none) and skip what
is not painted (clip paths, `display:none`, hidden, patterns and masks drawn off-screen).
"""

from __future__ import annotations

import functools
import io
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from renderers._fonts import CairoFallback, first_family
from renderers._svgsafe import Resources, fetcher
from sandbox import pngcodec

TEXT_TAGS = ("text", "tspan", "textPath", "a")
SHAPE_TAGS = ("rect", "circle", "ellipse", "line", "polyline", "polygon", "path")
MAX_SHAPES = 4000
HINT_DEPTH = 10


@dataclass
class Item:
    """One drawn thing in device pixels, before a language gives it a role."""

    kind: str
    """'text', 'shape' or 'image'."""
    tag: str
    box: list[float]
    text: str = ""
    rotation: float = 0.0
    font_family: str | None = None
    font_size_px: float | None = None
    color: str | None = None
    background: str | None = None
    hints: list[dict[str, str]] = field(default_factory=list)
    """The element and its ancestors, nearest first: tag, id, class, aria-label."""
    key: int = 0
    """Identity of the element, so that a language can relate items to each other."""
    ancestor_keys: list[int] = field(default_factory=list)


def hex_color(value: str | None, opacity: float = 1.0) -> str | None:
    """'#rrggbb' for an SVG paint that is a plain colour; None for none/gradients/unknown."""
    if not value or value == "none" or value.startswith("url("):
        return None
    from cairosvg.colors import color

    try:
        r, g, b, a = color(value, opacity)
    except Exception:  # noqa: BLE001 - an unparsable colour is simply unknown
        return None
    if a <= 0:
        return None
    return "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))


def _hints(node: Any) -> tuple[list[dict[str, str]], list[int]]:
    hints: list[dict[str, str]] = []
    keys: list[int] = []
    current = node
    while current is not None and len(hints) < HINT_DEPTH:
        hint = {"tag": str(getattr(current, "tag", ""))}
        for name in ("id", "class", "aria-label", "aria-roledescription"):
            value = current.get(name) if hasattr(current, "get") else None
            if value:
                hint[name] = str(value)
        hints.append(hint)
        keys.append(id(current))
        current = getattr(current, "parent", None)
    return hints, keys


def _visible(node: Any) -> bool:
    if node.get("display", "inline") == "none" or node.get("visibility", "visible") == "hidden":
        return False
    try:
        return float(node.get("opacity", 1)) > 0
    except ValueError:
        return True


def _device_extents(context: Any) -> list[float] | None:
    """The current path's extents in device pixels (None for an empty path)."""
    context.save()
    try:
        context.identity_matrix()
        x0, y0, x1, y1 = context.path_extents()
    finally:
        context.restore()
    if x1 <= x0 and y1 <= y0:
        return None
    return [round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2)]


def _text_root(node: Any) -> Any | None:
    current = node
    while current is not None and getattr(current, "tag", "") in TEXT_TAGS:
        if current.tag == "text":
            return current
        current = getattr(current, "parent", None)
    return None


class Capture:
    """Collects items while cairosvg draws the root surface."""

    def __init__(self) -> None:
        self.texts: dict[int, Item] = {}
        self.items: list[Item] = []
        self.shapes = 0
        self.dropped_shapes = 0
        self.fallback = CairoFallback()
        self.substituted: set[str] = set()

    def is_root(self, surface: Any) -> bool:
        from cairosvg.surface import PNGSurface

        return isinstance(surface, PNGSurface) and bool(surface.stroke_and_fill)

    def before_text(self, node: Any) -> None:
        text = node.text or ""
        if not text.strip():
            return
        requested = first_family(node.get("font-family"))
        replacement = self.fallback.family_for(requested, text)
        if replacement:
            node["font-family"] = replacement
            self.substituted.add(replacement)

    def text(self, surface: Any, node: Any) -> None:
        content = node.text or ""
        if not content.strip() or not self.is_root(surface) or not _visible(node):
            return
        root = _text_root(node)
        if root is None:
            return
        box = _device_extents(surface.context)
        if box is None:
            return
        existing = self.texts.get(id(root))
        if existing is not None:
            existing.box = [
                min(existing.box[0], box[0]),
                min(existing.box[1], box[1]),
                max(existing.box[2], box[2]),
                max(existing.box[3], box[3]),
            ]
            existing.text += content
            return
        xx, yx, xy, yy, _x0, _y0 = surface.context.get_matrix().as_tuple()
        rotation = round((-math.degrees(math.atan2(yx, xx))) % 360.0, 2)
        scale = math.sqrt(abs(xx * yy - xy * yx))
        hints, keys = _hints(root)
        opacity = _float(node.get("fill-opacity", 1)) * _float(node.get("opacity", 1))
        item = Item(
            kind="text",
            tag="text",
            box=box,
            text=content,
            rotation=0.0 if rotation == 360.0 else rotation,
            font_family=first_family(node.get("font-family")),
            font_size_px=round(float(surface.font_size) * scale, 2),
            color=hex_color(node.get("fill", "black"), opacity)
            or hex_color(node.get("stroke"), opacity),
            hints=hints,
            key=id(root),
            ancestor_keys=keys[1:],
        )
        self.texts[id(root)] = item
        self.items.append(item)

    def shape(self, surface: Any, node: Any) -> None:
        if not self.is_root(surface) or not _visible(node):
            return
        fill, stroke = node.get("fill", "black"), node.get("stroke")
        if fill == "none" and (stroke is None or stroke == "none"):
            return
        if self.shapes >= MAX_SHAPES:
            self.dropped_shapes += 1
            return
        box = _device_extents(surface.context)
        if box is None:
            return
        self.shapes += 1
        hints, keys = _hints(node)
        opacity = _float(node.get("fill-opacity", 1)) * _float(node.get("opacity", 1))
        self.items.append(
            Item(
                kind="shape",
                tag=str(node.tag),
                box=box,
                color=hex_color(fill, opacity) or hex_color(stroke),
                hints=hints,
                key=id(node),
                ancestor_keys=keys[1:],
            )
        )

    def image(self, surface: Any, node: Any) -> None:
        from cairosvg.helpers import size

        if not self.is_root(surface) or not _visible(node):
            return
        context = surface.context
        x, y = size(surface, node.get("x"), "x"), size(surface, node.get("y"), "y")
        width, height = (
            size(surface, node.get("width"), "x"),
            size(surface, node.get("height"), "y"),
        )
        if width <= 0 or height <= 0:
            return
        corners = [
            context.user_to_device(x + dx, y + dy) for dx in (0, width) for dy in (0, height)
        ]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        hints, keys = _hints(node)
        self.items.append(
            Item(
                kind="image",
                tag="image",
                box=[round(min(xs), 2), round(min(ys), 2), round(max(xs), 2), round(max(ys), 2)],
                hints=hints,
                key=id(node),
                ancestor_keys=keys[1:],
            )
        )


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 1.0


@contextmanager
def capturing(capture: Capture) -> Iterator[None]:
    """Wrap cairosvg's tag functions for the duration of one conversion."""
    import cairosvg.surface as cs

    original_text: Callable[..., Any] = cs.text
    originals = dict(cs.TAGS)

    def text(surface: Any, node: Any, draw_as_text: bool = False) -> Any:
        if not draw_as_text:
            capture.before_text(node)
        result = original_text(surface, node, draw_as_text)
        if not draw_as_text:
            capture.text(surface, node)
        return result

    def wrap_shape(original: Callable[..., Any]) -> Callable[..., Any]:
        def shape(surface: Any, node: Any) -> Any:
            result = original(surface, node)
            capture.shape(surface, node)
            return result

        return shape

    def wrap_image(original: Callable[..., Any]) -> Callable[..., Any]:
        def image(surface: Any, node: Any) -> Any:
            capture.image(surface, node)
            return original(surface, node)

        return image

    cs.text = text  # draw() compares TAGS[tag] with this name to fill text as text
    for tag in TEXT_TAGS:
        if originals.get(tag) is original_text:
            cs.TAGS[tag] = text
    for tag in SHAPE_TAGS:
        cs.TAGS[tag] = wrap_shape(originals[tag])
    cs.TAGS["image"] = wrap_image(originals["image"])
    try:
        yield
    finally:
        cs.text = original_text
        cs.TAGS.clear()
        cs.TAGS.update(originals)


@dataclass
class Raster:
    png: bytes
    width: int
    height: int
    items: list[Item]
    notes: list[str]


@functools.cache
def _codec_surface() -> type[Any]:
    """cairosvg's PNG surface with its PNG written by `sandbox.pngcodec` instead of cairo's
    libpng writer, whose row filters cost the host a full Pillow decode to read back."""
    from cairosvg.surface import PNGSurface, Surface

    class CodecPNGSurface(PNGSurface):
        def finish(self) -> None:
            if self.output is not None:
                self.output.write(surface_png(self.cairo))
            Surface.finish(self)

    return CodecPNGSurface


def surface_png(surface: Any) -> bytes:
    """A cairo ARGB32 image surface as the PNG cairo's `write_to_png` would hold: RGB when
    every pixel is opaque, else RGBA with the colours un-premultiplied as cairo does."""
    import numpy as np

    surface.flush()
    width, height, stride = surface.get_width(), surface.get_height(), surface.get_stride()
    words = np.frombuffer(surface.get_data(), dtype=np.uint8).reshape(height, stride)
    argb = words[:, : width * 4].reshape(height, width, 4)
    # Native-endian 32-bit ARGB: B, G, R, A in memory on little-endian machines.
    order = [2, 1, 0, 3] if sys.byteorder == "little" else [1, 2, 3, 0]
    alpha = argb[:, :, order[3]]
    if bool((alpha == 255).all()):
        return pngcodec.encode(argb[:, :, order[:3]])
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    seen = alpha > 0
    a = alpha[seen].astype(np.uint32)
    for channel in range(3):
        premultiplied = argb[:, :, order[channel]][seen].astype(np.uint32)
        rgba[:, :, channel][seen] = (premultiplied * 255 + a // 2) // a
    rgba[:, :, 3] = alpha
    return pngcodec.encode(rgba)


def rasterise(
    svg: bytes,
    size: tuple[int, int],
    resources: Resources,
    background: str | None = "white",
) -> Raster:
    """Draw `svg` (already checked by `_svgsafe`) at `size` px; items in the PNG's pixels."""
    capture = Capture()
    buffer = io.BytesIO()
    with capturing(capture):
        _codec_surface().convert(
            bytestring=svg,
            write_to=buffer,
            dpi=96,
            parent_width=size[0],
            parent_height=size[1],
            output_width=size[0],
            output_height=size[1],
            background_color=background,
            url_fetcher=fetcher(resources),
            unsafe=False,
        )
    png = buffer.getvalue()
    for item in capture.items:
        if item.kind == "text":
            item.text = " ".join(item.text.split())
    notes: list[str] = []
    if capture.dropped_shapes:
        notes.append(
            f"manifest lists the first {MAX_SHAPES} shapes of "
            f"{capture.shapes + capture.dropped_shapes}"
        )
    if capture.substituted:
        notes.append(
            "font fallback: text without glyphs in its family drawn with "
            + ", ".join(sorted(capture.substituted))
        )
    from sandbox.wire import png_size

    width, height = png_size(png) or size
    return Raster(png=png, width=width, height=height, items=capture.items, notes=notes)
