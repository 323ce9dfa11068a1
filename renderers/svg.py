"""The SVG renderer: raw SVG, or Python that writes one with `svgwrite`; cairo draws, Chromium
when cairo cannot.

Runs inside the sandbox child.  The document is parsed safely and its resources checked first
(`_svgsafe`: no entities, no network, no files but the request's), then cairosvg draws it and the
manifest comes from cairo's own paths (`_svgraster`).  SVGs that use what cairosvg drops
(`foreignObject`, filter primitives other than offset/flood/blend, blend modes) are drawn by
Chromium instead (`_browser`), and the record names the engine.  `draw_svg` is the shared path
for every language that compiles to SVG (Vega-Lite, Graphviz), each with its own classifier.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from renderers._manifest import Meaning, build, class_words, covers_canvas
from renderers._svgraster import Item, rasterise
from renderers._svgsafe import Resources, canvas_size, check_references, local_name, parse
from sandbox.wire import Job, RenderError, RenderOutput

if TYPE_CHECKING:
    from renderers._browser import Capture

ENGINE_CAIRO = "cairosvg"
ENGINE_CHROMIUM = "chromium"
SVGWRITE_OUTPUT = "drawing.svg"

# Features cairosvg drops or gets wrong (measured on the resvg suite by benchmarks/svg_suite.py:
# with these sent to Chromium, 'auto' passes ~90% of non-text tests, cairo alone ~56%).
_BROWSER_FEATURES: tuple[tuple[str, str], ...] = (
    ("foreignObject", r"<(?:\w+:)?foreignObject\b"),
    ("filters", r"\bfilter\s*[=:]"),
    ("masks", r"\bmask\s*[=:]"),
    ("clip paths", r"\bclip-path\s*[=:]"),
    ("patterns", r"<(?:\w+:)?pattern\b"),
    ("markers", r"\bmarker(?:-start|-mid|-end)?\s*[=:]"),
    ("blend modes", r"mix-blend-mode|\bisolation\s*[=:]"),
    ("transform-origin", r"transform-origin"),
    ("paint-order", r"paint-order"),
    ("systemLanguage", r"systemLanguage"),
    ("images", r"<(?:\w+:)?image\b"),
)
_BROWSER_HINTS = re.compile(
    "|".join(f"(?P<f{i}>{p})" for i, (_n, p) in enumerate(_BROWSER_FEATURES))
)

# Words in a text's own (or its group's) id/class that say what it is.
_ROLE_WORDS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("subtitle",), "title", "subtitle"),
    (("title", "heading", "headline"), "title", "title"),
    (("xlabel", "x-label", "xaxis-label", "x-axis-label"), "axis_label", "xlabel"),
    (("ylabel", "y-label", "yaxis-label", "y-axis-label"), "axis_label", "ylabel"),
    (("axis-label", "axis_label", "axislabel", "axis-title"), "axis_label", "axis_label"),
    (("xtick", "x-tick"), "tick", "xtick"),
    (("ytick", "y-tick"), "tick", "ytick"),
    (("tick",), "tick", "tick"),
    (("legend",), "legend", "legend"),
    (("annotation", "callout", "note", "caption", "label"), "annotation", "annotation"),
)


def needs_browser(svg_text: str) -> str | None:
    """The feature cairosvg would drop or get wrong, when the document uses one (else None)."""
    match = _BROWSER_HINTS.search(svg_text)
    if match is None or match.lastgroup is None:
        return None
    return _BROWSER_FEATURES[int(match.lastgroup[1:])][0]


def engine_for(job: Job, svg_text: str | None, default: str = "auto") -> tuple[str, str | None]:
    """(engine, reason) from the job's `engine` option ('auto', 'cairo', 'chromium')."""
    wanted = str(job.options.get("engine", default)).lower()
    if wanted in ("chromium", "browser"):
        return ENGINE_CHROMIUM, "the job asked for Chromium"
    if wanted in ("cairo", "cairosvg"):
        return ENGINE_CAIRO, None
    if wanted != "auto":
        raise RenderError("error", f"unknown SVG engine {wanted!r} (auto, cairo or chromium)")
    feature = needs_browser(svg_text) if svg_text is not None else None
    if feature:
        return ENGINE_CHROMIUM, f"the SVG uses {feature}, which cairosvg does not draw faithfully"
    return ENGINE_CAIRO, None


SANDBOX = {"read_paths": ["/var/cache/fontconfig"]}
"""fontconfig's caches: without them every job would rescan the fonts."""

WARM_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text x="1" y="15" '
    'font-family="sans-serif">Ag 北</text></svg>'
)


def warm_up(browser: bool = True) -> None:
    """Load cairo, fontconfig and the font chain once (a warm worker, before it forks jobs), and
    start the browser that draws what cairo cannot."""
    from renderers._svgraster import rasterise

    rasterise(WARM_SVG.encode("utf-8"), (40, 20), Resources(None))
    if browser:
        from renderers._browser import HOST

        try:
            HOST.prepare_pages()
        except RenderError:
            pass  # jobs fall back to cairo, and say so


def keep_fds() -> tuple[int, ...]:
    """Descriptors a warm worker must leave open in each forked job: the browser's pipe."""
    from renderers._browser import inherited_fds

    return inherited_fds()


def prepare(job: Job) -> None:
    """Start the browser before the job's limits apply, when this job will need it."""
    source = job.source if is_svg_text(job.source) else None
    engine, _reason = engine_for(job, source)
    if engine == ENGINE_CHROMIUM or (source is None and needs_browser(job.source)):
        from renderers._browser import HOST

        try:
            HOST.start("job")
        except RenderError:
            pass  # render() says so, and falls back to cairo where it can


def is_svg_text(source: str) -> bool:
    head = source.lstrip("\ufeff \t\r\n")[:2048]
    return head.startswith("<")


def svg_from_program(job: Job) -> tuple[str, list[str]]:
    """Run a Python program; the SVG is the `.svg` file it wrote last, or an unsaved
    `svgwrite.Drawing` it left in a variable."""
    from renderers._program import run_python

    before = {p.name: p.stat().st_mtime_ns for p in Path.cwd().glob("*.svg")}
    namespace = run_python(job.source, job.seed)
    written = [p for p in Path.cwd().glob("*.svg") if before.get(p.name) != p.stat().st_mtime_ns]
    if written:
        latest = max(written, key=lambda p: (p.stat().st_mtime_ns, p.name))
        notes = (
            [f"{len(written)} SVG files written; drew {latest.name}"] if len(written) > 1 else []
        )
        return latest.read_text(encoding="utf-8"), notes
    drawings = [
        v for v in namespace.values() if type(v).__name__ == "Drawing" and hasattr(v, "tostring")
    ]
    if drawings:
        return str(drawings[-1].tostring()), []
    raise RenderError(
        "no_output",
        "the program wrote no SVG: build an svgwrite.Drawing and call .save() "
        "(or write an .svg file in the working directory)",
    )


def generic_meaning(item: Item, width: int, height: int) -> Meaning | None:
    """Roles for hand-written SVG: ids and classes that say what a text is, else 'text'."""
    if item.kind == "image":
        return Meaning("image", "image")
    if item.kind == "shape":
        if covers_canvas(item.box, width, height):
            return None
        return Meaning("shape", item.tag)
    words = " ".join(f"{h.get('id', '')} {h.get('class', '')}".lower() for h in item.hints[:3])
    for needles, role, kind in _ROLE_WORDS:
        if any(re.search(rf"(^|[\s_-]){re.escape(n)}($|[\s_-])", words) for n in needles):
            return Meaning(role, kind)
    return Meaning("text", "text")


Meaning3 = Callable[[Item, int, int], Meaning | None]
"""What an item means in a language, given the PNG's width and height (None: leave it out)."""


def _chromium_capture(
    svg_text: str, size: tuple[int, int], resources: Resources, job: Job
) -> Capture:
    from renderers._browser import HOST

    return HOST.capture_once(
        svg_text.encode("utf-8"),
        "image/svg+xml",
        size=size,
        inputs=resources.inputs,
        timeout_s=max(1.0, job.limits.wall_s / 2),
    )


def draw_svg(
    svg_text: str,
    job: Job,
    workdir: Path,
    meaning: Meaning3 | None = None,
    notes: list[str] | None = None,
    what: str = "SVG",
    default_engine: str = "auto",
) -> RenderOutput:
    """Check, draw and describe one SVG document; the shared path of every SVG language.

    `default_engine` is used when the job's options do not choose one: 'auto' for SVG written by
    people or models, 'cairo' for SVG a tool generated (Vega, Graphviz), which cairo handles."""
    notes = list(notes or [])
    resources = Resources(workdir / "inputs")
    root = parse(svg_text, what)
    if local_name(root.tag) != "svg":
        raise RenderError(
            "error", f"the {what}'s root element is <{local_name(root.tag)}>, not <svg>"
        )
    check_references(root, svg_text, resources)
    size = canvas_size(root, (job.width, job.height))
    engine, reason = engine_for(job, svg_text, default_engine)
    items: list[Item]
    if engine == ENGINE_CHROMIUM:
        from renderers._browser import blocked_note

        try:
            capture = _chromium_capture(svg_text, size, resources, job)
        except RenderError as exc:
            if job.options.get("engine") in ("chromium", "browser"):
                raise
            notes.append(f"drawn by cairo although {reason}: {exc.message}")
            engine = ENGINE_CAIRO
        else:
            png, width, height = capture.png, capture.width, capture.height
            items = [dom_item(d) for d in capture.items]
            notes.append(f"drawn by Chromium: {reason}")
            notes += blocked_note(capture.blocked)
    if engine == ENGINE_CAIRO:
        try:
            raster = rasterise(svg_text.encode("utf-8"), size, resources)
        except RenderError:
            raise
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - cairosvg's errors are the document's
            failed = f"cairosvg could not draw the {what}: {type(exc).__name__}: {exc}"[:500]
            # cairosvg trips over valid SVG it does not know (opacity="50%", "5mm" lengths):
            # Chromium draws it, unless cairo was asked for (or the SVG came from a tool).
            wanted = str(job.options.get("engine", default_engine)).lower()
            if wanted in ("cairo", "cairosvg"):
                raise RenderError("error", failed) from None
            from renderers._browser import blocked_note

            try:
                capture = _chromium_capture(svg_text, size, resources, job)
            except RenderError as browser:
                raise RenderError("error", f"{failed}; Chromium: {browser.message}") from None
            png, width, height = capture.png, capture.width, capture.height
            items = [dom_item(d) for d in capture.items]
            engine = ENGINE_CHROMIUM
            notes.append(f"drawn by Chromium: {failed}")
            notes += blocked_note(capture.blocked)
        else:
            png, width, height, items = raster.png, raster.width, raster.height, raster.items
            notes += raster.notes

    chosen = meaning or generic_meaning

    def classify(item: Item) -> Meaning | None:
        return chosen(item, width, height)

    manifest = build(items, width, height, engine, classify, png)
    out = Path(os.getcwd()) / "draft.png"
    tmp = out.with_suffix(".png.tmp")
    tmp.write_bytes(png)
    os.replace(tmp, out)
    return RenderOutput(png_path=str(out), manifest=manifest, engine=engine, notes=notes)


def dom_item(data: dict[str, Any]) -> Item:
    """An `Item` from what `_dom.DOM_SCRIPT` returned."""
    return Item(
        kind=str(data["kind"]),
        tag=str(data.get("tag") or ""),
        box=[float(v) for v in data["box"]],
        text=str(data.get("text") or ""),
        rotation=float(data.get("rotation") or 0.0),
        font_family=data.get("font_family") or None,
        font_size_px=data.get("font_size_px"),
        color=data.get("color"),
        background=data.get("background"),
        hints=list(data.get("hints") or []),
        key=int(data.get("key") or 0),
        ancestor_keys=[int(k) for k in data.get("ancestor_keys") or []],
    )


def render(job: Job, workdir: Path) -> RenderOutput:
    if is_svg_text(job.source):
        return draw_svg(job.source, job, workdir)
    svg_text, notes = svg_from_program(job)
    return draw_svg(svg_text, job, workdir, notes=notes)


def probe() -> dict[str, Any]:
    """What this renderer can do here (for `cocogen doctor`); runs on the host."""
    import cairosvg

    return {"version": cairosvg.__version__, "browser_fallback": bool(_chromium())}


def _chromium() -> str | None:
    from renderers._browser import chromium_path

    return chromium_path()


__all__ = ["class_words", "draw_svg", "render"]
