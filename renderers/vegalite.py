"""The Vega-Lite renderer: a JSON spec compiled to SVG by vl-convert, then the SVG path.

Runs inside the sandbox child.  The spec is data: vl-convert compiles and lays it out in its own
embedded engine with every external data URL refused (`allowed_base_urls=[]`); a `data.url`
that names one of the request's input files is inlined first.  Roles come from the classes Vega
puts on its SVG groups (`role-axis-title`, `role-axis-label`, `role-title-text`,
`role-legend-label`, `role-mark`, ...), so axis titles, ticks, legends and marks land in the
manifest with the same roles as matplotlib's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from renderers._manifest import Meaning, class_words, covers_canvas
from renderers._svgraster import Item
from renderers._svgsafe import MAX_SIDE_PX, Resources
from renderers.svg import draw_svg
from sandbox.wire import Job, Limits, RenderError, RenderOutput

MARKS = (
    "arc",
    "area",
    "bar",
    "boxplot",
    "circle",
    "errorband",
    "errorbar",
    "geoshape",
    "image",
    "line",
    "point",
    "rect",
    "rule",
    "square",
    "text",
    "tick",
    "trail",
)
VIEW_KEYS = ("mark", "layer", "facet", "hconcat", "vconcat", "concat", "repeat")
_MARK_KINDS = {
    "mark-rect": "bar",
    "mark-arc": "wedge",
    "mark-line": "line",
    "mark-area": "area",
    "mark-symbol": "points",
    "mark-rule": "rule",
    "mark-trail": "line",
    "mark-image": "image",
    "mark-shape": "shape",
    "mark-path": "shape",
}


SANDBOX = {"seccomp_allow": ["socket"], "read_paths": ["/var/cache/fontconfig"]}
"""vl-convert's engine talks to its own threads over a Unix socketpair (the network namespace
still keeps the network away)."""

UNLIMITED_ADDRESS_SPACE = True
"""V8 reserves tens of GiB of address space before it allocates anything (Oilpan's caged heap
fails under any RLIMIT_AS measured, up to 64 GiB), so an address-space limit cannot bind it.  The
one-shot child starts the engine first and then limits what the job adds (`prepare`); a pool
should bound this renderer's memory another way (RLIMIT_DATA counts writable memory, not
reservations)."""


def warm_up() -> None:
    """Import vl-convert and warm cairo; the engine itself starts threads, which must not be
    forked, so it starts in the job."""
    import vl_convert  # noqa: F401

    from renderers.svg import warm_up as warm_svg

    warm_svg(browser=False)


def prepare(job: Job) -> Limits:
    """Start vl-convert's engine before the job's limits apply, and return limits that give the
    job its address space on top of what the engine reserved (V8 reserves ~32 GiB up front)."""
    import vl_convert

    vl_convert.vegalite_to_svg(_WARM_SPEC, allowed_base_urls=[])
    reserved = _address_space_mb()
    return replace(job.limits, address_space_mb=reserved + job.limits.address_space_mb)


_WARM_SPEC = {"data": {"values": [{"a": 1}]}, "mark": "point", "encoding": {"x": {"field": "a"}}}


def _address_space_mb() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) // 1024 + 1
    except OSError:
        pass
    return 64 * 1024


def load_spec(source: str) -> dict[str, Any]:
    """The spec as a dict, with a one-line error naming the line for bad JSON."""
    try:
        spec = json.loads(source)
    except json.JSONDecodeError as exc:
        raise RenderError(
            "error", f"invalid Vega-Lite JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(spec, dict):
        raise RenderError("error", "a Vega-Lite spec must be a JSON object")
    if not any(key in spec for key in VIEW_KEYS):
        raise RenderError(
            "error",
            "invalid Vega-Lite spec: it needs one of " + ", ".join(f'"{k}"' for k in VIEW_KEYS),
        )
    check_marks(spec)
    return spec


def check_marks(node: Any) -> None:
    """Name an unknown mark type (Vega-Lite itself fails with an unrelated TypeError)."""
    if isinstance(node, dict):
        mark = node.get("mark")
        kind = mark.get("type") if isinstance(mark, dict) else mark
        if isinstance(kind, str) and kind not in MARKS:
            raise RenderError(
                "error",
                f"invalid Vega-Lite spec: unknown mark {kind!r} (one of {', '.join(MARKS)})",
            )
        for value in node.values():
            check_marks(value)
    elif isinstance(node, list):
        for value in node:
            check_marks(value)


def _data_blocks(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "url" in node and isinstance(node.get("url"), str) and ("values" not in node):
            yield node
        for value in node.values():
            yield from _data_blocks(value)
    elif isinstance(node, list):
        for value in node:
            yield from _data_blocks(value)


def inline_inputs(spec: dict[str, Any], resources: Resources) -> None:
    """Replace each `data.url` naming an input file by the file's contents; refuse the rest."""
    for block in _data_blocks(spec):
        url = block["url"]
        path = resources.find(url) if "://" not in url and not url.startswith("//") else None
        if path is None:
            names = resources.names()
            have = f" (provided: {', '.join(names)})" if names else ""
            raise RenderError(
                "refused",
                f"refused the data URL {url!r}: a spec may only load files the request "
                f'provides{have}; put the data inline under "values"',
            )
        text = path.read_text(encoding="utf-8")
        fmt = dict(block.get("format") or {})
        suffix = PurePosixPath(path.name).suffix.lower().lstrip(".")
        kind = fmt.get("type") or {"tsv": "tsv", "csv": "csv"}.get(suffix, "json")
        del block["url"]
        if kind == "json":
            block["values"] = json.loads(text)
        else:
            block["values"] = text
            fmt["type"] = kind
        if fmt:
            block["format"] = fmt


def fit_to_canvas(spec: dict[str, Any], job: Job) -> None:
    """A single view without a size fills the job's canvas (axes and titles included)."""
    if "mark" not in spec and "layer" not in spec:
        return
    if "width" in spec or "height" in spec or "autosize" in spec:
        return
    spec["width"] = job.width
    spec["height"] = job.height
    spec["autosize"] = {"type": "fit", "contains": "padding"}


def check_size(spec: dict[str, Any]) -> None:
    for key in ("width", "height"):
        value = spec.get(key)
        if isinstance(value, int | float) and value > MAX_SIDE_PX:
            raise RenderError(
                "limit", f"the spec's {key} is {value:g} px; the limit is {MAX_SIDE_PX} px"
            )


def compile_svg(spec: dict[str, Any]) -> str:
    import vl_convert

    try:
        return str(vl_convert.vegalite_to_svg(spec, allowed_base_urls=[]))
    except ValueError as exc:
        raise RenderError("error", _first_error_line(str(exc))) from None


def _first_error_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("at ")]
    detail = next(
        (line for line in lines if "conversion failed" not in line), lines[0] if lines else message
    )
    return f"invalid Vega-Lite spec: {detail}"[:500]


def axis_letter(item: Item) -> str:
    for hint in item.hints:
        if "role-axis" in class_words(hint):
            label = hint.get("aria-label", "")
            if label.startswith("X-axis"):
                return "x"
            if label.startswith("Y-axis"):
                return "y"
    return ""


def meaning(item: Item, width: int, height: int) -> Meaning | None:
    """Roles from the classes Vega puts on its groups; None for grid lines and backgrounds."""
    words: set[str] = set()
    for hint in item.hints[:2]:
        words |= class_words(hint)
    if item.kind == "image":
        return Meaning("image", "image")
    if item.kind == "shape":
        if "background" in words:
            # The plot area of a view: the `axes` of its marks and axes.
            if covers_canvas(item.box, width, height, 0.999):
                return None
            owner = item.ancestor_keys[0] if item.ancestor_keys else None
            return Meaning("axes", "view", owner=owner)
        group = item.hints[1] if len(item.hints) > 1 else {}
        group_words = class_words(group)
        if "role-mark" in group_words:
            kind = next((k for c, k in _MARK_KINDS.items() if c in group_words), "shape")
            return Meaning("shape", kind)
        if "role-legend-symbol" in group_words:
            return Meaning("shape", "legend_symbol")
        return None
    letter = axis_letter(item)
    if "role-axis-title" in words:
        return Meaning("axis_label", f"{letter}label" if letter else "axis_label")
    if "role-axis-label" in words:
        return Meaning("tick", f"{letter}tick" if letter else "tick")
    if "role-title-text" in words:
        return Meaning("title", "title")
    if "role-title-subtitle" in words:
        return Meaning("title", "subtitle")
    if "role-legend-title" in words:
        return Meaning("legend", "legend_title")
    if "role-legend-label" in words:
        return Meaning("legend", "legend")
    if "role-mark" in words:
        return Meaning("annotation", "text_mark")
    return Meaning("text", "text")


def render(job: Job, workdir: Path) -> RenderOutput:
    spec = load_spec(job.source)
    inline_inputs(spec, Resources(workdir / "inputs"))
    fit_to_canvas(spec, job)
    check_size(spec)
    svg_text = compile_svg(spec)
    return draw_svg(svg_text, job, workdir, meaning, what="Vega-Lite SVG", default_engine="cairo")
