"""The Graphviz renderer: DOT laid out by Debian's graphviz into SVG, then the SVG path.

Runs inside the sandbox child.  Graphviz is called as a library (`libgvc` through ctypes, what
`dot -Tsvg` does inside) because a jailed job may not start programs; its error messages are
captured and the one naming the line is reported.  The layout engine is the graph's own `layout`
attribute (dot by default).  A graph without a `size` is scaled down, never up, to fit the job's
canvas.  In the manifest, node labels are `text` with their node's shape as parent, edge labels
are `annotation`s, graph and cluster labels are `title`s.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from pathlib import Path
from typing import Any

from renderers._manifest import Meaning, class_words, covers_canvas
from renderers._svgraster import Item
from renderers._svgsafe import Resources, is_allowed, refusal
from renderers.svg import draw_svg
from sandbox.wire import Job, RenderError, RenderOutput

ENGINES = ("dot", "neato", "fdp", "sfdp", "circo", "twopi", "osage", "patchwork")
MAX_SOURCE_BYTES = 4 * 1024 * 1024
# Attributes whose value graphviz opens as a file, and <IMG SRC="..."> in HTML-like labels.
_FILE_ATTRS = re.compile(
    r"\b(image|shapefile|imagepath|fontpath|stylesheet)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^\s,;\]]+)",
    re.I,
)
_IMG_SRC = re.compile(r"<img\b[^>]*\bsrc\s*=\s*\"([^\"]*)\"", re.I)
_ERROR_LINE = re.compile(r"\bline (\d+)")


class _Graphviz:
    """The few libgvc/libcgraph calls that `dot -Tsvg` makes."""

    def __init__(self) -> None:
        # Sonames first: find_library runs gcc/ld, and a jailed job may not start programs.
        names = (("gvc", "libgvc.so.6"), ("cgraph", "libcgraph.so.6"))
        libraries: list[Any] = []
        for short, soname in names:
            try:
                libraries.append(ctypes.CDLL(soname))
                continue
            except OSError:
                pass
            try:
                libraries.append(ctypes.CDLL(ctypes.util.find_library(short) or soname))
            except OSError:
                raise RenderError(
                    "error",
                    "Graphviz is not installed (libgvc not found): apt-get install graphviz",
                ) from None
        self.gvc, self.cgraph = libraries
        c_void_p, c_char_p, c_int = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        self.gvc.gvContext.restype = c_void_p
        self.gvc.gvLayout.argtypes = [c_void_p, c_void_p, c_char_p]
        self.gvc.gvRenderData.argtypes = [
            c_void_p,
            c_void_p,
            c_char_p,
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_uint),
        ]
        self.gvc.gvFreeRenderData.argtypes = [c_void_p]
        self.gvc.gvFreeLayout.argtypes = [c_void_p, c_void_p]
        self.gvc.gvFreeContext.argtypes = [c_void_p]
        self.cgraph.agmemread.restype = c_void_p
        self.cgraph.agmemread.argtypes = [c_char_p]
        self.cgraph.agclose.argtypes = [c_void_p]
        self.cgraph.agget.restype = c_char_p
        self.cgraph.agget.argtypes = [c_void_p, c_char_p]
        self.cgraph.agattr.restype = c_void_p
        self.cgraph.agattr.argtypes = [c_void_p, c_int, c_char_p, c_char_p]
        self.cgraph.agsafeset.argtypes = [c_void_p, c_char_p, c_char_p, c_char_p]
        self.errors: list[str] = []
        callback_type = ctypes.CFUNCTYPE(c_int, c_char_p)

        def on_error(message: bytes) -> int:
            self.errors.append(message.decode("utf-8", "replace"))
            return 0

        self._callback = callback_type(on_error)  # kept alive as long as this object
        self.cgraph.agseterrf(self._callback)

    def render_svg(self, source: str, imagepath: str | None, size_in: tuple[float, float]) -> str:
        gvc = self.gvc.gvContext()
        graph = self.cgraph.agmemread(source.encode("utf-8"))
        try:
            if not graph:
                raise RenderError("error", self._message("DOT syntax error"))
            engine = (self.cgraph.agget(graph, b"layout") or b"dot").decode() or "dot"
            if engine not in ENGINES:
                raise RenderError(
                    "error", f"unknown Graphviz layout {engine!r} (use one of {', '.join(ENGINES)})"
                )
            if not (self.cgraph.agget(graph, b"size") or b"").strip():
                self.cgraph.agsafeset(
                    graph, b"size", f"{size_in[0]:.3f},{size_in[1]:.3f}".encode(), b""
                )
            if imagepath is not None:
                self.cgraph.agsafeset(graph, b"imagepath", imagepath.encode(), b"")
            if self.gvc.gvLayout(gvc, graph, engine.encode()) != 0:
                raise RenderError("error", self._message("Graphviz could not lay out the graph"))
            data = ctypes.c_void_p()
            length = ctypes.c_uint()
            if self.gvc.gvRenderData(gvc, graph, b"svg", ctypes.byref(data), ctypes.byref(length)):
                raise RenderError("error", self._message("Graphviz could not draw the graph"))
            svg = ctypes.string_at(data, length.value).decode("utf-8", "replace")
            self.gvc.gvFreeRenderData(data)
            self.gvc.gvFreeLayout(gvc, graph)
            return svg
        finally:
            if graph:
                self.cgraph.agclose(graph)
            self.gvc.gvFreeContext(gvc)

    def _message(self, fallback: str) -> str:
        text = " ".join(" ".join(self.errors).split())
        if not text:
            return fallback
        text = re.sub(r"^Error\s*:\s*", "", text)
        text = text.replace("<stdin>: ", "")
        match = _ERROR_LINE.search(text)
        where = f" at line {match.group(1)}" if match else ""
        return f"{fallback}{where}: {text}"[:500]


SANDBOX = {"read_paths": ["/var/cache/fontconfig"]}


def warm_up() -> None:
    """Load libgvc and its plugins, and cairo's fonts, once (a warm worker, before forking)."""
    from renderers.svg import warm_up as warm_svg

    _Graphviz().render_svg("digraph { a -> b }", None, (4.0, 4.0))
    warm_svg(browser=False)


def check_files(source: str, resources: Resources) -> None:
    """Refuse DOT that names a file the request did not provide, before graphviz opens it."""
    for match in _FILE_ATTRS.finditer(source):
        attr, value = match.group(1).lower(), match.group(2).strip('"')
        if attr in ("imagepath", "fontpath"):
            raise RenderError(
                "refused", f"the graph sets {attr}: search paths are chosen by cocogen"
            )
        if value and not is_allowed(value, resources):
            line = source.count("\n", 0, match.start()) + 1
            raise RenderError(
                "refused", refusal(value, resources.names(), f" in {attr}= at line {line}")
            )
    for match in _IMG_SRC.finditer(source):
        if not is_allowed(match.group(1), resources):
            line = source.count("\n", 0, match.start()) + 1
            raise RenderError(
                "refused", refusal(match.group(1), resources.names(), f" in <IMG> at line {line}")
            )


def meaning(item: Item, width: int, height: int) -> Meaning | None:
    """Nodes, edges, clusters and their labels from the classes graphviz puts on its groups."""
    group = item.hints[1] if len(item.hints) > 1 else {}
    words = class_words(group)
    owner = item.ancestor_keys[0] if item.ancestor_keys else None
    if item.kind == "image":
        return Meaning("image", "image")
    if item.kind == "shape":
        if "graph" in words or covers_canvas(item.box, width, height):
            return None
        for word, kind in (("node", "node"), ("edge", "edge"), ("cluster", "cluster")):
            if word in words:
                if word == "edge" and item.tag == "polygon":
                    return Meaning("shape", "arrowhead")
                return Meaning("shape", kind, owner=owner if word != "edge" else None)
        return Meaning("shape", item.tag)
    if "node" in words:
        return Meaning("text", "node_label")
    if "edge" in words:
        return Meaning("annotation", "edge_label")
    if "cluster" in words:
        return Meaning("title", "cluster_label")
    if "graph" in words:
        return Meaning("title", "graph_label")
    return Meaning("text", "text")


def render(job: Job, workdir: Path) -> RenderOutput:
    source = job.source
    if len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
        raise RenderError("limit", f"the graph is larger than {MAX_SOURCE_BYTES >> 20} MiB")
    resources = Resources(workdir / "inputs")
    check_files(source, resources)
    size_in = (job.width / 96.0, job.height / 96.0)
    imagepath = str(resources.inputs) if resources.inputs is not None else None
    svg_text = _Graphviz().render_svg(source, imagepath, size_in)
    return draw_svg(svg_text, job, workdir, meaning, what="Graphviz SVG", default_engine="cairo")


def probe() -> dict[str, Any]:
    """What this renderer can do here (for `cocogen doctor`); runs on the host."""
    try:
        _Graphviz()
    except RenderError as exc:
        return {"ok": False, "error": exc.message}
    return {"ok": True}
