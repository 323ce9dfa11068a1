"""The matplotlib renderer: runs a program, saves its figure, and reads the layout from the artists.

Runs inside the sandbox child.  The manifest is taken during the real `savefig` draw: `Text.draw`,
`Axes.draw`, `Tick.draw` and `Legend.draw` are wrapped so that each drawn text records its window
extent with the renderer that actually produced the PNG.  Because only the last `Figure.draw` of a
save counts, boxes are in the PNG's own pixels at any dpi and with `bbox_inches='tight'`.
"""

from __future__ import annotations

import fcntl
import gc
import io
import os
import random
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from renderers._program import exec_program
from sandbox import pngcodec
from sandbox.wire import Job, RenderError, RenderOutput

ENGINE = "matplotlib"

# Preferred fonts, first match wins per glyph: Latin from DejaVu, CJK from Noto (Debian
# fonts-noto-cjk), then whatever Noto faces are present.
FONT_CHAIN = (
    "DejaVu Sans",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "Noto Sans",
    "Noto Sans Symbols",
    "Noto Sans Symbols2",
)

# For the sandbox pool (`sandbox.layers`): what a worker imports before it forks the first job.
SANDBOX = {"preload": ["matplotlib.pyplot"], "defer_warm_up": True}

PNG_COMPRESS_LEVEL = 3
"""zlib level of the PNG (`sandbox.pngcodec`, rows filtered "Up").  Levels 1-3 use zlib's fast
matcher, whose output inflates 5x faster than that of levels 4-9: for a 1024x768 chart 1.2 ms
against 6 ms for every later read (the sandbox's checks, the checker, OCR), for a file of 38 KB
against 26 KB."""

# savefig keywords a program may choose; everything else (fname, format, metadata) is ours.
SAVE_KEYS = (
    "dpi",
    "bbox_inches",
    "pad_inches",
    "facecolor",
    "edgecolor",
    "transparent",
    "bbox_extra_artists",
)


def font_chain() -> list[str]:
    """The fallback chain restricted to families that are installed (avoids findfont warnings)."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in FONT_CHAIN if name in installed] or ["DejaVu Sans"]


_CONFIGURED_FOR: tuple[int, int, int] | None = None
"""The canvas (width, height, dpi) `warm_spare` configured pyplot for, until a job takes it."""


def configure(job: Job) -> None:
    global _CONFIGURED_FOR
    canvas, _CONFIGURED_FOR = _CONFIGURED_FOR, None
    if canvas == (job.width, job.height, job.dpi):
        _seed(job.seed)  # nothing has run since `warm_spare` configured the rest
        return
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.close("all")
    matplotlib.rcdefaults()
    rc = matplotlib.rcParams
    rc["figure.figsize"] = (job.width / job.dpi, job.height / job.dpi)
    rc["figure.dpi"] = job.dpi
    rc["savefig.dpi"] = "figure"
    rc["font.family"] = font_chain()
    rc["svg.hashsalt"] = "cocogen"
    rc["path.simplify"] = True
    _seed(job.seed)


def _seed(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is a matplotlib dependency
        pass


class Capture:
    """Collects manifest elements during one `Figure.draw`; the last draw of a save wins."""

    def __init__(self) -> None:
        self.elements: list[dict[str, Any]] = []
        self.height = 0.0
        self.width = 0.0
        self.dpi = 72.0
        self.context: list[tuple[str, str]] = []  # (role, kind) from Tick/Legend draws
        self.axes_ids: dict[int, str] = {}
        self.axes_stack: list[str] = []
        self.roles: dict[int, tuple[str, str]] = {}
        self.backgrounds: dict[str, str] = {}
        self.figure_background = "#ffffff"

    def start(self, figure: Any, renderer: Any) -> None:
        self.elements = []
        self.axes_ids = {}
        self.axes_stack = []
        self.context = []
        self.width, self.height = float(renderer.width), float(renderer.height)
        self.dpi = float(renderer.dpi)
        self.roles = known_text_roles(figure)
        self.figure_background = _hex(figure.get_facecolor())

    def add(self, role: str, bbox: Any, **fields: Any) -> dict[str, Any]:
        x0, y0, x1, y1 = bbox.x0, bbox.y0, bbox.x1, bbox.y1
        element = {
            "id": f"e{len(self.elements)}",
            "role": role,
            "box": [
                round(x0, 2),
                round(self.height - y1, 2),
                round(x1, 2),
                round(self.height - y0, 2),
            ],
            **{k: v for k, v in fields.items() if v is not None},
        }
        self.elements.append(element)
        return element


def _hex(color: Any) -> str:
    from matplotlib.colors import to_hex

    try:
        return str(to_hex(color, keep_alpha=False))
    except (ValueError, TypeError):
        return ""


def known_text_roles(figure: Any) -> dict[int, tuple[str, str]]:
    """Texts whose role is known from the figure's structure, keyed by id()."""
    roles: dict[int, tuple[str, str]] = {}
    suptitle = getattr(figure, "_suptitle", None)
    if suptitle is not None:
        roles[id(suptitle)] = ("title", "suptitle")
    for name, kind in (("_supxlabel", "supxlabel"), ("_supylabel", "supylabel")):
        text = getattr(figure, name, None)
        if text is not None:
            roles[id(text)] = ("axis_label", kind)
    for ax in figure.get_axes():
        for attr in ("title", "_left_title", "_right_title"):
            text = getattr(ax, attr, None)
            if text is not None:
                roles[id(text)] = ("title", "axes_title")
        for axis_name in ("xaxis", "yaxis", "zaxis"):
            axis = getattr(ax, axis_name, None)
            if axis is None:
                continue
            roles[id(axis.label)] = ("axis_label", f"{axis_name[0]}label")
            roles[id(axis.get_offset_text())] = ("tick", f"{axis_name[0]}offset")
    return roles


def _font_family(text: Any) -> str | None:
    from matplotlib import font_manager

    try:
        path = font_manager.findfont(text.get_fontproperties(), fallback_to_default=True)
        return str(font_manager.get_font(path).family_name)
    except Exception:  # noqa: BLE001 - a missing family name is not worth failing a render
        return None


def _mark_kind(artist: Any, bar_ids: set[int]) -> str:
    from matplotlib.patches import Wedge

    if id(artist) in bar_ids:
        return "bar"
    if isinstance(artist, Wedge):
        return "wedge"
    return "patch"


@contextmanager
def capturing(capture: Capture) -> Iterator[None]:
    """Wrap the draw methods that give the manifest; restore them afterwards."""
    from matplotlib.axes import Axes
    from matplotlib.axis import Tick
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend
    from matplotlib.text import Annotation, Text

    originals: list[tuple[type, str, Callable[..., Any] | None]] = []

    def wrap(
        cls: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]
    ) -> None:
        originals.append((cls, name, cls.__dict__.get(name)))
        setattr(cls, name, make(getattr(cls, name)))

    def figure_draw(original: Callable[..., Any]) -> Callable[..., Any]:
        def draw(self: Any, renderer: Any) -> Any:
            capture.start(self, renderer)
            return original(self, renderer)

        return draw

    def axes_draw(original: Callable[..., Any]) -> Callable[..., Any]:
        def draw(self: Any, renderer: Any) -> Any:
            if not self.get_visible():
                return original(self, renderer)
            element = capture.add("axes", self.bbox, kind=type(self).__name__.lower())
            capture.axes_ids[id(self)] = element["id"]
            capture.backgrounds[element["id"]] = _hex(self.get_facecolor())
            capture.axes_stack.append(element["id"])
            try:
                result = original(self, renderer)
            finally:
                capture.axes_stack.pop()
            record_marks(self, renderer, capture)
            return result

        return draw

    def context_draw(role: str, kind_of: Callable[[Any], str]) -> Callable[..., Any]:
        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            def draw(self: Any, renderer: Any) -> Any:
                capture.context.append((role, kind_of(self)))
                try:
                    return original(self, renderer)
                finally:
                    capture.context.pop()

            return draw

        return make

    def text_draw(original: Callable[..., Any]) -> Callable[..., Any]:
        def draw(self: Any, renderer: Any) -> Any:
            result = original(self, renderer)
            if renderer is None or not self.get_visible() or not self.get_text().strip():
                return result
            record_text(self, renderer, capture, Annotation)
            return result

        return draw

    wrap(Figure, "draw", figure_draw)
    wrap(Axes, "draw", axes_draw)
    wrap(Tick, "draw", context_draw("tick", lambda tick: f"{_axis_letter(tick)}tick"))
    wrap(Legend, "draw", context_draw("legend", lambda _legend: "legend"))
    wrap(Text, "draw", text_draw)
    try:
        yield
    finally:
        for cls, name, original in reversed(originals):
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)


def _axis_letter(tick: Any) -> str:
    from matplotlib.axis import XTick

    return "x" if isinstance(tick, XTick) else "y"


def record_text(text: Any, renderer: Any, capture: Capture, annotation_cls: type) -> None:
    from matplotlib.text import Text

    # Text's own extent: an Annotation's get_window_extent would include its arrow.
    bbox = Text.get_window_extent(text, renderer)
    if bbox.width <= 0 or bbox.height <= 0:
        return
    role, kind = capture.roles.get(id(text), ("", ""))
    if not role and capture.context:
        role, kind = capture.context[-1]
    if not role:
        role, kind = (
            ("annotation", "annotation")
            if isinstance(text, annotation_cls)
            else (
                "text",
                "text",
            )
        )
    parent = capture.axes_ids.get(id(text.axes)) if text.axes is not None else None
    if parent is None and capture.axes_stack:
        parent = capture.axes_stack[-1]
    background = _background_at(bbox, parent, capture)
    capture.add(
        role,
        bbox,
        text=text.get_text(),
        kind=kind,
        parent=parent,
        rotation=round(float(text.get_rotation()) % 360.0, 2),
        font_family=_font_family(text),
        font_size_px=round(float(text.get_fontsize()) * capture.dpi / 72.0, 2),
        color=_hex(text.get_color()),
        background=background,
    )


def _background_at(bbox: Any, parent: str | None, capture: Capture) -> str:
    """The axes face colour when the text's centre lies inside its axes, else the figure's."""
    if parent is not None:
        axes = next((e for e in capture.elements if e["id"] == parent), None)
        if axes is not None:
            x0, top, x1, bottom = axes["box"]
            cx, cy = (bbox.x0 + bbox.x1) / 2, capture.height - (bbox.y0 + bbox.y1) / 2
            if x0 <= cx <= x1 and top <= cy <= bottom:
                return capture.backgrounds.get(parent, "") or capture.figure_background
    return capture.figure_background


def record_marks(ax: Any, renderer: Any, capture: Capture) -> None:
    """Data marks of an axes (bars, wedges, lines, point collections) as `shape` elements."""
    from matplotlib.container import BarContainer

    parent = capture.axes_ids.get(id(ax))
    bar_ids = {id(p) for c in ax.containers if isinstance(c, BarContainer) for p in c.patches}
    marks: list[tuple[Any, str]] = [
        (p, _mark_kind(p, bar_ids)) for p in ax.patches if p is not ax.patch
    ]
    marks += [(line, "line") for line in ax.get_lines()]
    marks += [(c, "points") for c in ax.collections]
    for artist, kind in marks:
        if not artist.get_visible():
            continue
        try:
            bbox = artist.get_window_extent(renderer)
        except Exception:  # noqa: BLE001 - some artists cannot say where they are
            continue
        if not all(map(_finite, (bbox.x0, bbox.y0, bbox.x1, bbox.y1))):
            continue
        capture.add("shape", bbox, kind=kind, parent=parent, color=_hex(_face(artist)))
    legend = ax.get_legend()
    if legend is not None and legend.get_visible():
        capture.add("legend", legend.get_window_extent(renderer), kind="legend_box", parent=parent)


def _face(artist: Any) -> Any:
    for getter in ("get_facecolor", "get_color"):
        if hasattr(artist, getter):
            value = getattr(artist, getter)()
            if hasattr(value, "ndim") and value.ndim == 2:
                return value[0] if len(value) else None
            return value
    return None


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


def run_program(source: str) -> list[tuple[Any, dict[str, Any]]]:
    """Exec the program; return the figures it saved (with their savefig keywords)."""
    from matplotlib.figure import Figure

    saved: list[tuple[Any, dict[str, Any]]] = []
    original_savefig = Figure.savefig

    def savefig(self: Any, fname: Any, *args: Any, **kwargs: Any) -> None:
        saved.append((self, {k: v for k, v in kwargs.items() if k in SAVE_KEYS}))
        original_savefig(self, fname, *args, **kwargs)

    Figure.savefig = savefig  # type: ignore[method-assign]
    try:
        exec_program(source)
    finally:
        Figure.savefig = original_savefig  # type: ignore[method-assign]
    return saved


def choose_figure(saved: list[tuple[Any, dict[str, Any]]]) -> tuple[Any, dict[str, Any], int]:
    """The figure to deliver: the last one the program saved, else the first one left open."""
    import matplotlib.pyplot as plt

    open_figures = [plt.figure(num) for num in plt.get_fignums()]
    if saved:
        figure, kwargs = saved[-1]
        others = {id(f) for f, _ in saved} | {id(f) for f in open_figures}
        return figure, kwargs, len(others)
    if not open_figures:
        raise RenderError(
            "no_output",
            "the program produced no figure: draw with matplotlib and leave the figure open "
            "(or call savefig)",
        )
    return open_figures[0], {}, len(open_figures)


def render(job: Job, workdir: Path) -> RenderOutput:
    configure(job)
    saved = run_program(job.source)
    figure, kwargs, count = choose_figure(saved)
    capture = Capture()
    buffer = io.BytesIO()
    try:
        with capturing(capture):
            # The pixels as Agg drew them (RGBA), written by `sandbox.pngcodec`: Pillow's PNG
            # encoder, which savefig would use, is 3x slower and its files slower to read.
            figure.savefig(buffer, format="rgba", **kwargs)
    except Exception as exc:  # noqa: BLE001 - a figure that cannot be drawn is the program's fault
        raise RenderError(
            "error", f"the figure could not be drawn: {type(exc).__name__}: {exc}"[:500]
        ) from None
    out = Path(os.getcwd()) / "draft.png"
    out.write_bytes(_png(buffer.getbuffer(), capture))
    manifest = {
        "width": int(capture.width),
        "height": int(capture.height),
        "engine": ENGINE,
        "elements": capture.elements,
    }
    notes = (
        [f"{count} figures; delivered the {'last saved' if saved else 'first'} one"]
        if (count > 1)
        else []
    )
    sys.stdout.flush()
    return RenderOutput(png_path=str(out), manifest=manifest, engine=ENGINE, notes=notes)


def _png(rgba: memoryview, capture: Capture) -> bytes:
    import numpy as np

    width, height = int(capture.width), int(capture.height)
    if len(rgba) != width * height * 4:
        raise RenderError(
            "error", f"the figure drew {len(rgba)} bytes of pixels, not {width}x{height} RGBA"
        )
    pixels = np.frombuffer(rgba, dtype=np.uint8).reshape(height, width, 4)
    return pngcodec.encode(pixels, PNG_COMPRESS_LEVEL, dpi=capture.dpi)


def warm_up() -> None:
    """Import and exercise matplotlib once in a sandbox worker, before jobs are forked from it.

    Every forked job then starts with pyplot, Agg, the axes toolkits, the font cache, the default
    fonts and the mathtext parser already loaded (`sandbox.layers` describes this hook).
    """
    import importlib

    # What charts import besides pyplot: the axes toolkits, contour and triangulation engines.
    for name in ("mpl_toolkits.axes_grid1", "mpl_toolkits.axisartist", "contourpy", "numpy.fft"):
        importlib.import_module(name)

    _draw_warm_figure(rare=True)


def _draw_warm_figure(rare: bool) -> None:
    """A small chart with what most charts have (bars, a line, a title, a label, a legend) and,
    when `rare`, what fewer do (mathtext, an annotation with an arrow)."""
    import matplotlib.pyplot as plt

    configure(Job(renderer="", source="", width=320, height=240, dpi=100))
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [1, 2], label="bars")
    ax.plot([0, 1], [1, 2], label="line")
    ax.set_title(r"warm-up $\alpha^2$" if rare else "warm-up", fontweight="bold")
    ax.set_xlabel("x")
    if rare:
        ax.annotate("note", (0, 1), xytext=(0.5, 1.5), arrowprops={"arrowstyle": "->"})
    ax.legend()
    capture, buffer = Capture(), io.BytesIO()
    with capturing(capture):
        fig.savefig(buffer, format="rgba")
    _png(buffer.getbuffer(), capture)
    plt.close("all")


def warm_spare() -> tuple[int, ...]:
    """In a spare child the worker forks ahead of its job: draw a chart like most jobs draw.

    The pages a chart writes (refcounts of pyplot's, Agg's and the text machinery's objects) are
    then already this process's own copies when the job's clock starts.  Only the common parts
    are drawn (no mathtext, no annotation): a short job waits for its spare to be ready, and in
    a fresh fork this takes ~56 ms against ~68 ms for `warm_up`'s whole figure, for no slower
    jobs (over 41 gallery charts with one spare ahead, 3 ms of waiting a chart against 7 ms).
    Returns the fonts the warm-up opened, for the job to keep through the jail
    (`sandbox.worker`): matplotlib drops its fonts in every forked child, and opening the
    default chain again (DejaVu, the Noto CJK faces, the last resort) costs a chart ~4 ms.  They
    are read-only, and the job may read fonts anyway.
    """
    _draw_warm_figure(rare=False)
    gc.collect()
    _configure_default()
    return _open_font_files()


def refresh_spare() -> tuple[int, ...]:
    """`warm_spare` for a spare that has copied the pages an earlier spare's `warm_spare` wrote
    (`sandbox.heap.own_pages`): what else that drawing left ready for the job.  The fonts of
    its text (normal and bold, through the whole fallback chain: matplotlib drops its fonts in
    every forked child) and pyplot set up for the default canvas.  ~12 ms against ~60 ms for
    `warm_spare` in a fresh fork.  Returns the fonts it opened, as `warm_spare` does."""
    from matplotlib import font_manager

    try:
        for weight in ("normal", "bold"):
            props = font_manager.FontProperties(weight=weight)
            font_manager.get_font(font_manager.fontManager._find_fonts_by_props(props))
    except (AttributeError, TypeError):  # a matplotlib without that private helper
        _draw_warm_figure(rare=False)
    _configure_default()
    return _open_font_files()


def _configure_default() -> None:
    """Most jobs draw on the default canvas: pyplot is set up for it now (~0.5 ms of theirs)."""
    global _CONFIGURED_FOR
    default = Job(renderer="", source="")
    configure(default)
    _CONFIGURED_FOR = (default.width, default.height, default.dpi)


FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".afm", ".pfb")


def _open_font_files() -> tuple[int, ...]:
    found = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
            read_only = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY
        except OSError:
            continue  # the listing's own descriptor, closed by now
        if regular and read_only and target.lower().endswith(FONT_SUFFIXES):
            found.append(fd)
    return tuple(sorted(found))


def probe() -> dict[str, Any]:
    """What this renderer can do here (for `cocogen doctor`); runs on the host."""
    import matplotlib

    return {"version": matplotlib.__version__, "fonts": font_chain()}
