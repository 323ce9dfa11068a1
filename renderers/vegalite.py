"""The Vega-Lite renderer: a JSON spec compiled to SVG by vl-convert, then the SVG path.

Runs inside the sandbox child.  The spec is data: vl-convert compiles and lays it out in its own
embedded engine (in a warm worker, one jailed engine process that the worker's jobs share) with
every external data URL refused (`allowed_base_urls=[]`); a `data.url`
that names one of the request's input files is inlined first.  Roles come from the classes Vega
puts on its SVG groups (`role-axis-title`, `role-axis-label`, `role-title-text`,
`role-legend-label`, `role-mark`, ...), so axis titles, ticks, legends and marks land in the
manifest with the same roles as matplotlib's.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from renderers._fonts import FONT_CHAIN
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
fails under any RLIMIT_AS measured, up to 64 GiB), so an address-space limit cannot bind it.  A
job that starts its own engine (the one-shot child, or a spec too large for the worker's engine)
starts it first and then limits what the job adds (`prepare`).  The worker's shared engine
(`Engine`) runs without that limit; each of its compiles is bounded in time instead."""


def warm_up(confine: Callable[[], None] | None = None) -> None:
    """Import vl-convert and warm cairo.  The engine starts threads, which do not survive a
    fork, so a warm worker that can jail a helper (`confine`) runs the engine in a process of
    its own, shared by its jobs (`ENGINE`); otherwise each job starts one (`prepare`)."""
    import vl_convert  # noqa: F401

    from renderers.svg import warm_up as warm_svg

    warm_svg(browser=False)
    if confine is not None:
        ENGINE.start(confine)


def ready() -> None:
    """In the worker before each job: an engine that stopped (a request ran too long, or it
    served its share) is started again."""
    ENGINE.ensure()


def keep_fds() -> tuple[int, ...]:
    """What a forked job keeps open: its end of the engine's socket."""
    return ENGINE.fds()


def prepare(job: Job) -> Limits | None:
    """Without the worker's engine: start vl-convert's engine before the job's limits apply,
    and return limits that give the job its address space on top of what the engine reserved
    (V8 reserves ~32 GiB up front)."""
    if ENGINE.usable(job):
        return None
    import vl_convert

    vl_convert.vegalite_to_svg(_WARM_SPEC, allowed_base_urls=[])
    reserved = _address_space_mb()
    return replace(job.limits, address_space_mb=reserved + job.limits.address_space_mb)


MAX_MESSAGE = 4 << 20
"""Largest request or reply on the engine's socket (a spec with its data; an SVG).  A bigger
spec is compiled by an engine of the job's own."""
ENGINE_REQUESTS = 500
"""Compiles one engine serves before it is replaced (bounds what V8 accumulates)."""
ENGINE_START_S = 30.0
READY = b"ready"


class Engine:
    """vl-convert's engine in a jailed process of its own, forked from a warm worker.

    Jobs reach it over a SOCK_SEQPACKET socket pair: a message arrives whole or not at all, so a
    job killed halfway through cannot leave half a request behind, and each request carries an
    id, so an answer meant for a killed job is skipped.  Each compile runs under an alarm of the
    job's wall-clock time; one that outlasts it kills the engine, and the worker starts another
    before the next job (`ready`)."""

    def __init__(self) -> None:
        self.confine: Callable[[], None] | None = None
        self.pid = 0
        self.pidfd = -1
        self.client = -1

    def start(self, confine: Callable[[], None]) -> None:
        self.confine = confine
        client, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for end in (client, server):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, MAX_MESSAGE + 4096)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, MAX_MESSAGE + 4096)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the engine process
            code = 1
            try:
                fd = os.dup2(server.fileno(), 3, inheritable=False)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.closerange(4, 1 << 16)  # nothing of the worker's (its protocol pipes) stays
                confine()
                code = _serve(socket.socket(fileno=fd))
            finally:
                os._exit(code)
        server.close()
        # Jailed and warm, the engine says so; one that cannot start leaves jobs to their own.
        answered = select.select([client], [], [], ENGINE_START_S)[0]
        if not answered or client.recv(64) != READY:
            client.close()
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            self.confine = None
            self.close()
            raise RuntimeError("vl-convert's engine did not start in its jail")
        moved = fcntl.fcntl(client.detach(), fcntl.F_DUPFD_CLOEXEC, 200)
        self.close()
        self.pid, self.pidfd, self.client = pid, os.pidfd_open(pid), moved

    def alive(self) -> bool:
        return self.pidfd >= 0 and not select.select([self.pidfd], [], [], 0)[0]

    def ensure(self) -> None:
        if self.confine is not None and not self.alive():
            self.start(self.confine)

    def close(self) -> None:
        for fd in (self.pidfd, self.client):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.pid, self.pidfd, self.client = 0, -1, -1

    def fds(self) -> tuple[int, ...]:
        return (self.client,) if self.client >= 0 else ()

    def usable(self, job: Job) -> bool:
        return self.client >= 0 and len(job.source.encode("utf-8")) < MAX_MESSAGE // 2

    def compile(self, spec: dict[str, Any], seconds: float) -> str:
        """The spec's SVG, from the worker's engine (in a job forked from that worker)."""
        request = {"id": os.urandom(8).hex(), "spec": spec, "seconds": seconds}
        data = json.dumps(request).encode("utf-8")
        if len(data) > MAX_MESSAGE:
            raise RenderError("limit", f"the spec is {len(data) >> 20} MiB with its data")
        channel = socket.socket(fileno=os.dup(self.client))
        try:
            channel.send(data)
            deadline = time.monotonic() + seconds + 1
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([channel], [], [], remaining)[0]:
                    raise RenderError(
                        "timeout", f"Vega-Lite did not compile the spec in {seconds:g} s"
                    )
                message = channel.recv(MAX_MESSAGE + 4096)
                if not message:
                    raise RenderError(
                        "timeout",
                        f"Vega-Lite's engine stopped while compiling the spec (longer than "
                        f"{seconds:g} s, or out of memory)",
                    )
                reply = json.loads(message)
                if reply.get("id") != request["id"]:
                    continue  # the answer to a job that was killed before it read it
                if "error" in reply:
                    raise RenderError("error", _first_error_line(str(reply["error"])))
                return str(reply["svg"])
        finally:
            channel.close()


def _serve(channel: socket.socket) -> int:  # pragma: no cover - the engine process
    import vl_convert

    vl_convert.vegalite_to_svg(_WARM_SPEC, allowed_base_urls=[])
    channel.send(READY)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the alarm kills: V8 holds the thread
    for _ in range(ENGINE_REQUESTS):
        message = channel.recv(MAX_MESSAGE + 4096)
        if not message:
            return 0
        try:
            request = json.loads(message)
            ident, spec, seconds = request["id"], request["spec"], float(request["seconds"])
        except (ValueError, KeyError, TypeError):
            continue
        signal.setitimer(signal.ITIMER_REAL, max(0.5, seconds))
        try:
            reply: dict[str, Any] = {
                "id": ident,
                "svg": str(vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])),
            }
        except ValueError as exc:
            reply = {"id": ident, "error": str(exc)[:4000]}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        data = json.dumps(reply).encode("utf-8")
        if len(data) > MAX_MESSAGE:
            data = json.dumps({"id": ident, "error": "the compiled SVG is too large"}).encode()
        with contextlib.suppress(OSError):
            channel.send(data)
    return 0


ENGINE = Engine()
"""This worker's engine (unstarted in a one-shot child, which compiles in-process)."""


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


def measure_with_drawn_font(spec: dict[str, Any]) -> None:
    """Vega lays text out with the metrics of `config.font`; unset, it measures a generic face
    narrower than the one cairo then draws, and long labels run past the canvas.  The font
    chain's first family (what the SVG path draws Latin text with) is measured instead."""
    config = spec.get("config")
    if config is None:
        config = spec["config"] = {}
    if isinstance(config, dict) and "font" not in config:
        config["font"] = FONT_CHAIN[0]


def check_size(spec: dict[str, Any]) -> None:
    for key in ("width", "height"):
        value = spec.get(key)
        if isinstance(value, int | float) and value > MAX_SIDE_PX:
            raise RenderError(
                "limit", f"the spec's {key} is {value:g} px; the limit is {MAX_SIDE_PX} px"
            )


def compile_svg(spec: dict[str, Any], job: Job | None = None) -> str:
    if job is not None and ENGINE.usable(job):
        return ENGINE.compile(spec, max(1.0, job.limits.wall_s * 0.8))
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
    measure_with_drawn_font(spec)
    check_size(spec)
    shared = ENGINE.usable(job)
    svg_text = compile_svg(spec, job)
    notes = ["compiled by the worker's Vega-Lite engine"] if shared else []
    return draw_svg(
        svg_text, job, workdir, meaning, notes=notes, what="Vega-Lite SVG", default_engine="cairo"
    )
