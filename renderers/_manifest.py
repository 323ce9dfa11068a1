"""From drawn items to a layout manifest: roles from a language's classifier, parents, backgrounds.

Every engine (cairo, Chromium) reports the same `Item`s; each language says what its items mean
(`Classify`), and this module turns them into the manifest dict the sandbox returns, with the
`parent` links a language's grouping implies and, where the engine could not say, the background
colour sampled from the PNG around each text.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from renderers._svgraster import Item


@dataclass(frozen=True)
class Meaning:
    role: str
    kind: str | None = None
    owner: int | None = None
    """Key whose descendants get this element as their `parent` (an axes, a graph node)."""


Classify = Callable[[Item], Meaning | None]
"""What an item is in a language, or None to leave it out of the manifest."""


def class_words(hint: dict[str, str]) -> set[str]:
    return set(hint.get("class", "").split())


def build(
    items: list[Item],
    width: int,
    height: int,
    engine: str,
    classify: Classify,
    png: bytes | None = None,
) -> dict[str, Any]:
    """The manifest dict for `items` drawn into a `width` x `height` PNG."""
    chosen: list[tuple[Item, Meaning, dict[str, Any]]] = []
    owners: dict[int, str] = {}
    for item in items:
        meaning = classify(item)
        if meaning is None:
            continue
        element: dict[str, Any] = {
            "id": f"e{len(chosen)}",
            "role": meaning.role,
            "box": [float(v) for v in item.box],
        }
        if item.text:
            element["text"] = item.text
        if meaning.kind:
            element["kind"] = meaning.kind
        if item.kind == "text":
            element["rotation"] = item.rotation
            for name in ("font_family", "font_size_px", "color", "background"):
                value = getattr(item, name)
                if value is not None:
                    element[name] = value
        elif item.color:
            element["color"] = item.color
        if meaning.owner is not None and meaning.owner not in owners:
            owners[meaning.owner] = element["id"]
        chosen.append((item, meaning, element))
    for item, _meaning, element in chosen:
        for key in [item.key, *item.ancestor_keys]:
            parent = owners.get(key)
            if parent is not None and parent != element["id"]:
                element["parent"] = parent
                break
    if png is not None:
        fill_backgrounds([e for _i, _m, e in chosen if e.get("text")], png)
    return {
        "width": width,
        "height": height,
        "engine": engine,
        "elements": [e for _i, _m, e in chosen],
    }


def fill_backgrounds(elements: list[dict[str, Any]], png: bytes) -> None:
    """Set each text's missing `background` to the commonest colour on a ring around its box."""
    missing = [e for e in elements if not e.get("background")]
    if not missing:
        return
    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    rgb = np.asarray(image)
    height, width = rgb.shape[:2]
    for element in missing:
        x0, y0, x1, y1 = element["box"]
        c0, r0 = max(0, int(x0) - 3), max(0, int(y0) - 3)
        c1, r1 = min(width, int(x1) + 4), min(height, int(y1) + 4)
        if c1 - c0 < 2 or r1 - r0 < 2:
            continue
        ring = np.concatenate(
            [rgb[r0, c0:c1], rgb[r1 - 1, c0:c1], rgb[r0:r1, c0], rgb[r0:r1, c1 - 1]]
        )
        counts = Counter(map(tuple, ring.tolist()))
        r, g, b = counts.most_common(1)[0][0]
        element["background"] = f"#{r:02x}{g:02x}{b:02x}"


def covers_canvas(box: list[float], width: int, height: int, fraction: float = 0.95) -> bool:
    """Whether a box spans (nearly) the whole canvas: a background, not a mark."""
    w = min(box[2], width) - max(box[0], 0)
    h = min(box[3], height) - max(box[1], 0)
    return w > 0 and h > 0 and w * h >= fraction * width * height
