"""Layout defects that can be read off the manifest's boxes (and the PNG's pixels) alone.

The renderer records every text element's box and font size, so the most common ways a
generated figure fails a reader — labels on top of each other, text cut off at the edge, text
too small to read, an empty canvas or an empty plot — are decidable without OCR or a model.
Each defect becomes a `Finding` with a message for people (naming texts, ids and boxes) and a
compact `llm_message` that tells the generating model what to change.

Boxes are (x0, y0, x1, y1) in the PNG's own pixels, origin top-left (see `cocogen.types.Box`).
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence

from cocogen.checking.settings import CheckSettings
from cocogen.types import Box, Element, Finding, LayoutManifest

TEXT_OVERLAP = "text_overlap"
TEXT_CLIPPED = "text_clipped"
TEXT_TOO_SMALL = "text_too_small"
BLANK_CANVAS = "blank_canvas"
EMPTY_AXES = "empty_axes"
PNG_UNREADABLE = "png_unreadable"
TEXT_OVER_LEGEND = "text_over_legend"
TEXT_OVER_MARK = "text_over_mark"

GEOMETRY_CODES: frozenset[str] = frozenset(
    {
        TEXT_OVERLAP,
        TEXT_CLIPPED,
        TEXT_TOO_SMALL,
        BLANK_CANVAS,
        EMPTY_AXES,
        PNG_UNREADABLE,
        TEXT_OVER_LEGEND,
        TEXT_OVER_MARK,
    }
)
"""Every code this module can emit; `layout_ok` is 0 when one of them is an error."""

_MAX_NAMED = 3
"""How many texts a grouped finding names before saying 'and N more'."""


# --------------------------------------------------------------------------- small helpers


def area(box: Box) -> float:
    """Area of a box (0 for degenerate boxes)."""
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def intersection(a: Box, b: Box) -> float:
    """Area of the intersection of two boxes (0 when they only touch)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def overlap_fraction(a: Box, b: Box) -> float:
    """Intersection as a fraction of the smaller box's area (0 when either box is empty)."""
    smaller = min(area(a), area(b))
    return intersection(a, b) / smaller if smaller > 0 else 0.0


def fmt_box(box: Box) -> str:
    """A box as '[x0, y0, x1, y1]' in whole pixels."""
    return "[" + ", ".join(str(round(v)) for v in box) + "]"


def quote(text: str | None, limit: int = 40) -> str:
    """A text as it should appear inside a message: one line, double-quoted, shortened."""
    one_line = " ".join((text or "").split())
    if len(one_line) > limit:
        one_line = one_line[: limit - 1] + "…"
    return f'"{one_line}"'


def axis_letter(element: Element) -> str:
    """'x' or 'y' for a tick label whose kind says which axis it belongs to, else ''."""
    kind = (element.kind or "").lower()
    if kind.startswith("x"):
        return "x"
    if kind.startswith("y"):
        return "y"
    return ""


def role_name(element: Element) -> str:
    """What a reader would call the element: 'x tick label', 'legend text', 'title', ..."""
    if element.role == "tick":
        letter = axis_letter(element)
        return f"{letter} tick label" if letter else "tick label"
    return {
        "title": "title",
        "axis_label": "axis label",
        "legend": "legend text",
        "annotation": "annotation",
        "text": "text",
        "axes": "axes",
        "shape": element.kind or "shape",
        "image": "image",
    }[element.role]


def describe(element: Element) -> str:
    """Role plus quoted text, e.g. 'x tick label "January"'."""
    if element.text:
        return f"{role_name(element)} {quote(element.text)}"
    return f"{role_name(element)} {element.id}"


def _name_list(elements: Sequence[Element]) -> str:
    named = ", ".join(quote(e.text) for e in elements[:_MAX_NAMED])
    if len(elements) > _MAX_NAMED:
        named += f" and {len(elements) - _MAX_NAMED} more"
    return named


def _px(value: float) -> str:
    """A pixel size for messages: one decimal at most ('8.3', '9')."""
    return f"{round(value, 1):g}"


def _plural_role(element: Element) -> str:
    name = role_name(element)
    return name[:-4] + "texts" if name.endswith("text") else name + "s"


# --------------------------------------------------------------------------- text_overlap


def _same_record(a: Element, b: Element) -> bool:
    """True when two entries describe one drawn thing (same id, or same text at the same box)."""
    if a.id == b.id:
        return True
    return a.text == b.text and all(abs(p - q) <= 0.5 for p, q in zip(a.box, b.box, strict=True))


def _tick_group(element: Element) -> tuple[str, str] | None:
    """Which axis's tick labels an element is one of: (parent, kind); None for non-ticks.

    The kind separates x from y tick labels ('xtick', 'ytick') and both from an axis's offset
    text ('xoffset'), which is a tick-role element but not one of the crowd.
    """
    if element.role != "tick":
        return None
    return (element.parent or "", (element.kind or "").casefold())


def _slanted(element: Element) -> bool:
    """Rotated by an angle whose axis-aligned box is larger than the glyphs (not 0/90/180/270).

    At multiples of 90° the box is exact, so overlapping boxes are overlapping glyphs.
    """
    return round(element.rotation, 3) % 90 != 0


def _own_rectangle(element: Element) -> list[tuple[float, float]] | None:
    """The corners of a slanted text's own (rotated) rectangle, recovered from its axis-aligned
    box; None when the box does not determine it.

    A rectangle W×H turned by θ has the box w = W·|cos θ| + H·|sin θ|, h = W·|sin θ| + H·|cos θ|
    around the same centre; near 45° the two are one equation, and the line height that the
    font size gives stands in for H.  Rotation is counter-clockwise as drawn (y grows down).
    """
    theta = math.radians(element.rotation)
    c, s = abs(math.cos(theta)), abs(math.sin(theta))
    x0, y0, x1, y1 = element.box
    w, h = x1 - x0, y1 - y0
    width = height = 0.0
    if abs(c - s) > 0.15:
        det = c * c - s * s
        width, height = (w * c - h * s) / det, (h * c - w * s) / det
    if (width <= 0 or height <= 0) and element.font_size_px:
        lines = max(1, (element.text or "").count("\n") + 1)
        height = min(1.25 * element.font_size_px * lines, min(w, h))
        width = (w - height * s) / c if c >= s else (h - height * c) / s
    if width <= 0 or height <= 0:
        return None
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ux, uy = math.cos(theta), -math.sin(theta)  # along the baseline
    vx, vy = -uy, ux  # across it
    return [
        (
            cx + sx * width / 2 * ux + sy * height / 2 * vx,
            cy + sx * width / 2 * uy + sy * height / 2 * vy,
        )
        for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
    ]


def _box_corners(box: Box) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = box
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


Point = tuple[float, float]


def _signed_area(points: Sequence[Point]) -> float:
    """Shoelace area: positive for one winding order, negative for the other."""
    return (
        sum(
            x0 * y1 - x1 * y0
            for (x0, y0), (x1, y1) in zip(points, [*points[1:], points[0]], strict=True)
        )
        / 2
    )


def _polygon_area(points: Sequence[Point]) -> float:
    return abs(_signed_area(points))


def _side(a: Point, b: Point, p: Point) -> float:
    """Twice the signed area of (a, b, p): which side of the line a→b the point p is on."""
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


def _cut(p: Point, q: Point, sp: float, sq: float) -> Point:
    t = sp / (sp - sq)
    return (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))


def _clip(subject: list[Point], clip: list[Point]) -> list[Point]:
    """Sutherland–Hodgman: the part of convex polygon `subject` inside convex polygon `clip`."""
    sign = 1.0 if _signed_area(clip) > 0 else -1.0
    output = list(subject)
    for a, b in zip(clip, [*clip[1:], clip[0]], strict=True):
        points, output = output, []
        if not points:
            break
        for p, q in zip(points, [*points[1:], points[0]], strict=True):
            sp, sq = sign * _side(a, b, p), sign * _side(a, b, q)
            if sq >= 0:
                if sp < 0:
                    output.append(_cut(p, q, sp, sq))
                output.append(q)
            elif sp >= 0:
                output.append(_cut(p, q, sp, sq))
    return output


def text_overlap_fraction(a: Element, b: Element) -> float:
    """Overlap of two texts as a fraction of the smaller one: of their boxes, or, when either
    is slanted, of the rectangles the glyphs really occupy."""
    if not (_slanted(a) or _slanted(b)):
        return overlap_fraction(a.box, b.box)
    first = _own_rectangle(a) if _slanted(a) else _box_corners(a.box)
    second = _own_rectangle(b) if _slanted(b) else _box_corners(b.box)
    if first is None or second is None:
        return overlap_fraction(a.box, b.box)
    smaller = min(_polygon_area(first), _polygon_area(second))
    if smaller <= 0:
        return 0.0
    common = _clip(first, second)
    return _polygon_area(common) / smaller if len(common) >= 3 else 0.0


def _overlapping_pairs(
    texts: Sequence[Element], settings: CheckSettings
) -> list[tuple[Element, Element, float]]:
    """Pairs of texts whose overlap exceeds their tolerance, found with a sweep along x."""
    order = sorted(texts, key=lambda e: (e.box[0], e.box[1], e.id))
    pairs: list[tuple[Element, Element, float]] = []
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            if b.box[0] >= a.box[2]:
                break
            if _same_record(a, b):
                continue
            if overlap_fraction(a.box, b.box) <= 0.0:
                continue
            fraction = text_overlap_fraction(a, b)
            if fraction <= 0.0:
                continue
            tolerance = settings.overlap_tolerance
            group = _tick_group(a)
            if group is not None and group == _tick_group(b) and _slanted(a) and _slanted(b):
                tolerance = max(tolerance, settings.rotated_tick_overlap_tolerance)
            if fraction > tolerance:
                first, second = sorted((a, b), key=lambda e: (e.box[0], e.box[1], e.id))
                pairs.append((first, second, fraction))
    return pairs


def _pair_advice(a: Element, b: Element) -> str:
    roles = {a.role, b.role}
    if "legend" in roles:
        return "move the legend to a free spot (another location or outside the plot)"
    if roles == {"tick", "axis_label"}:
        return "add padding between the axis label and the tick labels, or shorten the ticks"
    if "tick" in roles:
        return "move the other text away from the axis tick labels"
    if "title" in roles:
        return "add space around the title or shorten it"
    if "annotation" in roles:
        return "offset one annotation so the two do not collide, or shorten its text"
    return "move one of them apart or reduce the font size"


def _tick_advice(sample: Element) -> str:
    letter = axis_letter(sample)
    if letter == "y":
        return "use fewer y ticks or a smaller tick font"
    if letter == "x" and sample.rotation % 360 == 0:
        return "rotate the x tick labels (e.g. 45°) or use fewer ticks"
    if letter == "x":
        return "use fewer x ticks, shorten the labels or widen the figure"
    return "use fewer ticks, rotate them or shorten the labels"


def text_overlap_findings(
    manifest: LayoutManifest, settings: CheckSettings | None = None
) -> list[Finding]:
    """`text_overlap` errors: one per overlapping pair, or one per axis for crowded ticks."""
    settings = settings or CheckSettings()
    pairs = _overlapping_pairs(manifest.texts(), settings)
    findings: list[Finding] = []
    tick_pairs: dict[tuple[str, str], list[tuple[Element, Element, float]]] = defaultdict(list)
    for a, b, fraction in pairs:
        group = _tick_group(a)
        if group is not None and group == _tick_group(b):
            tick_pairs[group].append((a, b, fraction))
            continue
        percent = round(fraction * 100)
        findings.append(
            Finding(
                code=TEXT_OVERLAP,
                severity="error",
                message=(
                    f"{describe(a)} ({a.id}) at {fmt_box(a.box)} and {describe(b)} ({b.id}) at "
                    f"{fmt_box(b.box)} overlap by {percent}% of the smaller box"
                ),
                llm_message=(
                    f"{describe(a)} and {describe(b)} overlap by {percent}%: {_pair_advice(a, b)}"
                ),
                element_ids=[a.id, b.id],
                boxes=[a.box, b.box],
            )
        )
    for group_pairs in tick_pairs.values():
        findings.append(_crowded_ticks(group_pairs))
    return findings


def _crowded_ticks(pairs: list[tuple[Element, Element, float]]) -> Finding:
    a, b, worst = max(pairs, key=lambda p: p[2])
    percent = round(worst * 100)
    involved: dict[str, Element] = {}
    for p, q, _ in pairs:
        involved.setdefault(p.id, p)
        involved.setdefault(q.id, q)
    elements = sorted(involved.values(), key=lambda e: (e.box[0], e.box[1], e.id))
    letter = axis_letter(a)
    labels = f"{letter} tick labels" if letter else "tick labels"
    advice = _tick_advice(a)
    if len(pairs) == 1:
        llm = f"{labels} {quote(a.text)} and {quote(b.text)} overlap by {percent}%: {advice}"
        message = (
            f"crowded ticks: {labels} {quote(a.text)} ({a.id}) at {fmt_box(a.box)} and "
            f"{quote(b.text)} ({b.id}) at {fmt_box(b.box)} overlap by {percent}% of the smaller box"
        )
    else:
        llm = (
            f"{labels} are crowded: {len(pairs)} pairs overlap, worst {quote(a.text)} and "
            f"{quote(b.text)} by {percent}%: {advice}"
        )
        message = (
            f"crowded ticks: {len(pairs)} pairs of {labels} overlap ({len(elements)} labels: "
            f"{_name_list(elements)}); worst {quote(a.text)} ({a.id}) at {fmt_box(a.box)} and "
            f"{quote(b.text)} ({b.id}) at {fmt_box(b.box)} by {percent}% of the smaller box"
        )
    return Finding(
        code=TEXT_OVERLAP,
        severity="error",
        message=message,
        llm_message=llm,
        element_ids=[e.id for e in elements],
        boxes=[e.box for e in elements],
    )


# --------------------------------------------------------------------------- text_clipped


def _overflow(box: Box, width: int, height: int) -> dict[str, float]:
    """How far the box sticks out past each canvas edge (positive values only)."""
    x0, y0, x1, y1 = box
    out = {"left": -x0, "top": -y0, "right": x1 - width, "bottom": y1 - height}
    return {side: amount for side, amount in out.items() if amount > 0}


def _outside_side(box: Box, width: int, height: int) -> str | None:
    """The side a box lies beyond when it is entirely off the canvas, else None."""
    x0, y0, x1, y1 = box
    if x1 <= 0:
        return "left"
    if x0 >= width:
        return "right"
    if y1 <= 0:
        return "top"
    if y0 >= height:
        return "bottom"
    return None


def _sides(sides: Iterable[str]) -> str:
    names = list(sides)
    if len(names) == 1:
        return f"the {names[0]} edge"
    return "the " + ", ".join(names[:-1]) + f" and {names[-1]} edges"


def text_clipped_findings(
    manifest: LayoutManifest, settings: CheckSettings | None = None
) -> list[Finding]:
    """`text_clipped` errors: texts cut off by, or lying outside, the canvas edges.

    Tick labels of one axis that are cut off at the same edge are reported together.
    """
    settings = settings or CheckSettings()
    width, height = manifest.width, manifest.height
    findings: list[Finding] = []
    tick_groups: dict[tuple[str, str, str], list[tuple[Element, float]]] = defaultdict(list)
    for element in manifest.texts():
        outside = _outside_side(element.box, width, height)
        if outside is not None:
            findings.append(
                Finding(
                    code=TEXT_CLIPPED,
                    severity="error",
                    message=(
                        f"{describe(element)} ({element.id}) at {fmt_box(element.box)} lies "
                        f"entirely outside the {width}x{height} canvas ({outside})"
                    ),
                    llm_message=(
                        f"{describe(element)} lies entirely outside the canvas ({outside}): "
                        "move it inside the visible area"
                    ),
                    element_ids=[element.id],
                    boxes=[element.box],
                )
            )
            continue
        over = {
            side: amount
            for side, amount in _overflow(element.box, width, height).items()
            if amount > settings.clip_tolerance_px
        }
        if not over:
            continue
        group = _tick_group(element)
        if group is not None:
            for side, amount in over.items():
                tick_groups[(*group, side)].append((element, amount))
            continue
        worst = max(over.values())
        findings.append(
            Finding(
                code=TEXT_CLIPPED,
                severity="error",
                message=(
                    f"{describe(element)} ({element.id}) at {fmt_box(element.box)} is cut off at "
                    f"{_sides(over)} of the {width}x{height} canvas by up to {worst:.0f} px"
                ),
                llm_message=(
                    f"{describe(element)} is cut off at {_sides(over)} by {worst:.0f} px: move it "
                    "inward or leave more margin"
                ),
                element_ids=[element.id],
                boxes=[element.box],
            )
        )
    for (_, _, side), members in tick_groups.items():
        elements = [e for e, _ in members]
        worst = max(amount for _, amount in members)
        first = elements[0]
        what = _plural_role(first) if len(elements) > 1 else describe(first)
        names = _name_list(elements) if len(elements) > 1 else ""
        subject = f"{len(elements)} {what} ({names})" if names else what
        verb = "are" if len(elements) > 1 else "is"
        findings.append(
            Finding(
                code=TEXT_CLIPPED,
                severity="error",
                message=(
                    f"{subject} {verb} cut off at the {side} edge of the {width}x{height} canvas "
                    f"by up to {worst:.0f} px; boxes: "
                    + ", ".join(f"{e.id} {fmt_box(e.box)}" for e in elements)
                ),
                llm_message=(
                    f"{subject} {verb} cut off at the {side} edge by up to {worst:.0f} px: leave "
                    "more margin on that side or shorten the labels"
                ),
                element_ids=[e.id for e in elements],
                boxes=[e.box for e in elements],
            )
        )
    return findings


# --------------------------------------------------------------------------- text_too_small


def text_too_small_findings(
    manifest: LayoutManifest, settings: CheckSettings | None = None
) -> list[Finding]:
    """`text_too_small` warnings, one per role (all small tick labels together, ...)."""
    settings = settings or CheckSettings()
    limit = settings.min_text_px
    groups: dict[str, list[Element]] = defaultdict(list)
    for element in manifest.texts():
        if element.font_size_px is not None and element.font_size_px < limit:
            groups[element.role].append(element)
    findings: list[Finding] = []
    for members in groups.values():
        smallest = min(e.font_size_px or 0.0 for e in members)
        if len(members) == 1:
            subject, verb, its = describe(members[0]), "is", "its"
        else:
            subject = f"{len(members)} {_plural_role(members[0])} ({_name_list(members)})"
            verb, its = "are", "their"
        size = f"{_px(smallest)} px"
        size = size if len(members) == 1 else f"as small as {size}"
        findings.append(
            Finding(
                code=TEXT_TOO_SMALL,
                severity="warning",
                message=(
                    f"{subject} {verb} {size}, below the {_px(limit)} px minimum; "
                    + ", ".join(
                        f"{e.id} {fmt_box(e.box)} {_px(e.font_size_px or 0.0)}px" for e in members
                    )
                ),
                llm_message=(
                    f"{subject} {verb} {size} tall: increase {its} font size to at least "
                    f"{_px(limit)} px"
                ),
                element_ids=[e.id for e in members],
                boxes=[e.box for e in members],
            )
        )
    return findings


# --------------------------------------------------------------------------- empty_axes


def empty_axes_findings(manifest: LayoutManifest) -> list[Finding]:
    """`empty_axes` warnings: axes without any data mark whose `parent` is that axes.

    Only manifests that record data marks at all (some element with role 'shape') are judged;
    an image (role 'image', e.g. a heat map) also counts as content.
    """
    if not any(e.role == "shape" for e in manifest.elements):
        return []
    filled = {e.parent for e in manifest.elements if e.role in ("shape", "image") and e.parent}
    titles = {e.parent: e.text for e in manifest.texts() if e.role == "title" and e.parent}
    findings: list[Finding] = []
    for axes in manifest.elements:
        if axes.role != "axes" or axes.id in filled:
            continue
        title = titles.get(axes.id)
        name = f"axes {quote(title)} ({axes.id})" if title else f"axes {axes.id}"
        findings.append(
            Finding(
                code=EMPTY_AXES,
                severity="warning",
                message=f"{name} at {fmt_box(axes.box)} contains no data marks",
                llm_message=f"{name} is empty: plot the data into it or remove the unused axes",
                element_ids=[axes.id],
                boxes=[axes.box],
            )
        )
    return findings


# --------------------------------------------------------------------------- blank_canvas


def dominant_color_fraction(png: bytes, max_distance: int = 12) -> float:
    """Fraction of pixels within `max_distance` (per channel, 0-255) of the most common colour.

    Transparent pixels are composited onto white first.  Raises `ValueError` when the bytes
    are not a readable image.
    """
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(png)) as opened:
            opened.load()
            image = opened.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"not a readable image: {exc}") from exc
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    rgb = np.asarray(Image.alpha_composite(background, image).convert("RGB"), dtype=np.uint8)
    height, width, _ = rgb.shape
    total = height * width
    if total == 0:
        return 1.0
    # The mode from a subsample is enough to name the background; the count uses every pixel.
    step = max(1, int((total / 1_000_000) ** 0.5))
    sample = rgb[::step, ::step].reshape(-1, 3).astype(np.uint32)
    packed = (sample[:, 0] << 16) | (sample[:, 1] << 8) | sample[:, 2]
    values, counts = np.unique(packed, return_counts=True)
    mode = int(values[int(np.argmax(counts))])
    colour = np.array([(mode >> 16) & 255, (mode >> 8) & 255, mode & 255], dtype=np.int16)
    near = 0
    rows = max(1, 4_000_000 // max(width, 1))
    for top in range(0, height, rows):
        chunk = rgb[top : top + rows].astype(np.int16)
        near += int(np.count_nonzero(np.abs(chunk - colour).max(axis=2) <= max_distance))
    return near / total


def blank_canvas_findings(
    manifest: LayoutManifest, png: bytes | None, settings: CheckSettings | None = None
) -> list[Finding]:
    """`blank_canvas` error when the PNG is (almost) one colour and the manifest has no text.

    A PNG that cannot be decoded gives a `png_unreadable` error instead; no PNG gives nothing.
    """
    settings = settings or CheckSettings()
    if png is None or manifest.texts():
        return []
    try:
        fraction = dominant_color_fraction(png, settings.blank_color_distance)
    except ValueError as exc:
        return [
            Finding(
                code=PNG_UNREADABLE,
                severity="error",
                message=f"the rendered PNG could not be decoded: {exc}",
                llm_message="the program produced no readable image: make sure it saves a PNG",
            )
        ]
    if fraction <= settings.blank_fraction:
        return []
    what = "no elements" if not manifest.elements else "no text"
    return [
        Finding(
            code=BLANK_CANVAS,
            severity="error",
            message=(
                f"the image is blank: {fraction:.1%} of its pixels are one colour and the layout "
                f"has {what}"
            ),
            llm_message=(
                "the image is blank (a single colour, no text): make sure the chart is drawn on "
                "the figure that gets saved"
            ),
            boxes=[(0.0, 0.0, float(manifest.width), float(manifest.height))],
        )
    ]


# --------------------------------------------------------------------------- text over marks

_MARK_KINDS = frozenset({"bar"})
"""Marks whose box is their shape (a line's or a wedge's box is mostly empty space)."""
_CONTAINED = 0.98
"""A text this much inside a mark is a label in its bar (readability: the contrast check)."""


def _first_covers(
    texts: Iterable[Element], covers: Sequence[Element], accept: Callable[[float], bool]
) -> Iterator[tuple[Element, Element, int]]:
    """Each text (of non-zero area) with the first of `covers` whose share of the text's box
    `accept` takes, and that share as a whole percent."""
    for text in texts:
        if area(text.box) == 0:
            continue
        for cover in covers:
            share = intersection(text.box, cover.box) / area(text.box)
            if accept(share):
                yield text, cover, round(share * 100)
                break


def text_over_legend_findings(
    manifest: LayoutManifest, settings: CheckSettings | None = None
) -> list[Finding]:
    """`text_over_legend` errors: a text that is not the legend's own, under or over its box."""
    settings = settings or CheckSettings()
    tolerance = settings.overlap_tolerance
    legends = [e for e in manifest.elements if e.kind == "legend_box"]
    texts = (t for t in manifest.texts() if t.role != "legend")
    return [
        Finding(
            code=TEXT_OVER_LEGEND,
            severity="error",
            message=(
                f"{describe(text)} ({text.id}) at {fmt_box(text.box)} lies {percent}% "
                f"inside the legend box ({legend.id}) at {fmt_box(legend.box)}"
            ),
            llm_message=(
                f"the legend covers {describe(text)}: move the legend (another loc, or "
                f"outside the axes with bbox_to_anchor) or move the text"
            ),
            element_ids=[text.id, legend.id],
            boxes=[text.box, legend.box],
        )
        for text, legend, percent in _first_covers(texts, legends, lambda s: s > tolerance)
    ]


def text_over_mark_findings(
    manifest: LayoutManifest, settings: CheckSettings | None = None
) -> list[Finding]:
    """`text_over_mark` warnings: a text that straddles the edge of a data mark (a bar).

    A text wholly inside its bar is a legitimate value label; one across the bar's edge is half
    on the mark and half off it, which is hard to read and usually a placement slip.
    """
    settings = settings or CheckSettings()
    tolerance = settings.overlap_tolerance
    marks = [e for e in manifest.elements if e.role == "shape" and e.kind in _MARK_KINDS]
    texts = (t for t in manifest.texts() if t.role not in ("tick", "legend"))
    return [
        Finding(
            code=TEXT_OVER_MARK,
            severity="warning",
            message=(
                f"{describe(text)} ({text.id}) at {fmt_box(text.box)} straddles the edge "
                f"of a {mark.kind} ({mark.id}) at {fmt_box(mark.box)}: {percent}% on it"
            ),
            llm_message=(
                f"{describe(text)} is half on a {mark.kind}: put it fully inside the "
                f"{mark.kind} or clear of it (e.g. ax.bar_label with padding)"
            ),
            element_ids=[text.id, mark.id],
            boxes=[text.box, mark.box],
        )
        for text, mark, percent in _first_covers(texts, marks, lambda s: tolerance < s < _CONTAINED)
    ]


# --------------------------------------------------------------------------- all together


def geometry_findings(
    manifest: LayoutManifest, png: bytes | None = None, settings: CheckSettings | None = None
) -> list[Finding]:
    """Every geometry finding of a manifest (and its PNG, for the blank-canvas test)."""
    settings = settings or CheckSettings()
    return [
        *blank_canvas_findings(manifest, png, settings),
        *text_clipped_findings(manifest, settings),
        *text_overlap_findings(manifest, settings),
        *text_too_small_findings(manifest, settings),
        *empty_axes_findings(manifest),
        *text_over_legend_findings(manifest, settings),
        *text_over_mark_findings(manifest, settings),
    ]
