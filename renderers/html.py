"""The HTML/CSS renderer: a page laid out and drawn by headless Chromium, layout read from the DOM.

Runs inside the sandbox child.  The browser is long-lived and belongs to the process
(`renderers._browser.HOST`): a warm worker calls `warm_up()` once before it forks jobs, the
one-shot child starts it in `prepare(job)` (before the job's limits apply) and closes it after the
job.  The job only hands the page to the browser as data, over the DevTools pipe, on a made-up
origin whose only responses are the page and the request's input files; the network is
unreachable (see `_browser`).  JavaScript is off unless the job's options say
`javascript: true`.  An SVG document given to this renderer is drawn by Chromium too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from renderers._browser import HOST, blocked_note
from renderers._manifest import Meaning, build
from renderers._svgraster import Item
from renderers._svgsafe import check_canvas
from sandbox.wire import Job, RenderError, RenderOutput

ENGINE = "chromium"
SANDBOX = {"read_paths": ["/var/cache/fontconfig"]}
"""The browser runs outside the job (started by the worker); the job itself needs no relaxation."""
MAX_SOURCE_BYTES = 16 * 1024 * 1024
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_SVG_START = re.compile(
    r"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg\b", re.I | re.S
)


def warm_up() -> None:
    """Start this process's browser and open its pages now (a warm worker calls this once,
    before it forks jobs; each job then talks to the browser over the inherited pipe)."""
    HOST.prepare_pages()


def keep_fds() -> tuple[int, ...]:
    """Descriptors a warm worker must leave open in each forked job: the browser's pipe."""
    from renderers._browser import inherited_fds

    return inherited_fds()


def prepare(job: Job) -> None:
    """Start the browser for a one-shot job, before the sandbox lowers this process's limits."""
    if not HOST.running:
        HOST.start("job")


def meaning(item: Item) -> Meaning | None:
    """Roles from HTML semantics: headings are titles, captions annotate, the rest is text."""
    if item.kind == "image":
        return Meaning("image", item.tag or "image", owner=item.key)
    if item.kind == "shape":
        return Meaning("shape", "block", owner=item.key)
    tags = [h.get("tag", "") for h in item.hints]
    classes = " ".join(h.get("class", "") + " " + h.get("id", "") for h in item.hints[:3]).lower()
    if item.tag in _HEADINGS or any(t in _HEADINGS for t in tags[:3]):
        heading = next(t for t in [item.tag, *tags] if t in _HEADINGS)
        return Meaning("title", heading)
    if "legend" in tags[:3] or re.search(r"(^|[\s_-])legend($|[\s_-])", classes):
        return Meaning("legend", "legend")
    if any(t in ("figcaption", "caption") for t in tags[:3]):
        return Meaning("annotation", "caption")
    if re.search(r"(^|[\s_-])(title|headline)($|[\s_-])", classes):
        return Meaning("title", "title")
    if item.tag == "text":  # inline SVG text
        return Meaning("text", "svg_text")
    return Meaning("text", item.tag or "text")


def render(job: Job, workdir: Path) -> RenderOutput:
    source = job.source
    if len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
        raise RenderError("limit", f"the page is larger than {MAX_SOURCE_BYTES >> 20} MiB")
    check_canvas(job.width, job.height)
    is_svg = bool(_SVG_START.match(source[:4096]))
    if is_svg:
        # SVG through the browser keeps the SVG path's checks (entities, outside resources).
        from renderers._svgsafe import Resources, check_references, parse

        check_references(parse(source), source, Resources(workdir / "inputs"))
    else:
        check_markup(source)
    javascript = bool(job.options.get("javascript", False))
    inputs = workdir / "inputs"
    capture = HOST.capture_once(
        source.encode("utf-8"),
        "image/svg+xml" if is_svg else "text/html; charset=utf-8",
        size=(job.width, job.height),
        inputs=inputs if inputs.is_dir() else None,
        javascript=javascript,
        timeout_s=max(1.0, job.limits.wall_s / 2),
        settle_ms=int(job.options.get("settle_ms", 0)) if javascript else 0,
    )
    items = [_item(d) for d in capture.items]
    manifest = build(items, capture.width, capture.height, ENGINE, meaning, capture.png)
    notes = blocked_note(capture.blocked)
    if capture.truncated:
        notes.append("the page has more text than the manifest lists")
    out = Path(os.getcwd()) / "draft.png"
    tmp = out.with_suffix(".png.tmp")
    tmp.write_bytes(capture.png)
    os.replace(tmp, out)
    return RenderOutput(png_path=str(out), manifest=manifest, engine=ENGINE, notes=notes)


def _item(data: dict[str, Any]) -> Item:
    from renderers.svg import dom_item

    return dom_item(data)


_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_CLOSE_OPTIONAL = frozenset(
    "html head body p li dt dd option optgroup thead tbody tfoot tr td th rb rt rtc rp "
    "colgroup".split()
)


def check_markup(source: str) -> None:
    """Refuse pages whose tags do not balance, naming the line (browsers guess silently)."""
    from html.parser import HTMLParser

    stack: list[tuple[str, int]] = []
    problems: list[str] = []

    class Checker(HTMLParser):
        def handle_starttag(self, tag: str, attrs: Any) -> None:
            if tag not in _VOID:
                stack.append((tag, self.getpos()[0]))

        def handle_startendtag(self, tag: str, attrs: Any) -> None:
            pass

        def handle_endtag(self, tag: str) -> None:
            line = self.getpos()[0]
            if tag in _VOID:
                return
            if not any(open_tag == tag for open_tag, _ in stack):
                if not problems:
                    problems.append(f"line {line}: </{tag}> closes nothing that is open")
                return
            while stack:
                open_tag, opened = stack.pop()
                if open_tag == tag:
                    break
                if open_tag not in _CLOSE_OPTIONAL and not problems:
                    problems.append(
                        f"line {opened}: <{open_tag}> is not closed before </{tag}> at line {line}"
                    )

    checker = Checker(convert_charrefs=True)
    checker.feed(source)
    checker.close()
    unclosed = [(t, n) for t, n in stack if t not in _CLOSE_OPTIONAL]
    if not problems and unclosed:
        tag, line = unclosed[-1]
        problems.append(f"line {line}: <{tag}> is never closed")
    if problems:
        raise RenderError("error", f"malformed HTML at {problems[0]}")


def probe() -> dict[str, Any]:
    """What this renderer can do here (for `cocogen doctor`); runs on the host."""
    from renderers._browser import chromium_path

    return {"chromium": chromium_path()}
