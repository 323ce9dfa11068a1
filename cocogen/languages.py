"""Which layout language a program is written in, from its file name, its fence or its first lines.

Order of evidence: a file suffix that names a language (`.svg`, `.html`, `.vl.json`, `.dot`; a
`.py` file is matplotlib unless it imports svgwrite), then a Markdown fence's info string
(```svg, ```html, ```vega-lite, ```dot, ```python), then the text itself: `<svg` (after an XML
prolog, DOCTYPE or comments), `<!DOCTYPE html`/`<html`/a leading HTML element, a JSON object that
is a Vega-Lite spec (`$schema` naming vega-lite, or a `mark`/`layer`/... key), `digraph`/`graph`
(after comments), Python imports.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cocogen.errors import UsageError

SUFFIXES: tuple[tuple[str, str], ...] = (
    (".vl.json", "vegalite"),
    (".vega-lite.json", "vegalite"),
    (".vl", "vegalite"),
    (".py", "matplotlib"),
    (".svg", "svg"),
    (".html", "html"),
    (".htm", "html"),
    (".dot", "graphviz"),
    (".gv", "graphviz"),
)

FENCE_TAGS: dict[str, str] = {
    "svg": "svg",
    "xml": "svg",
    "html": "html",
    "htm": "html",
    "vega-lite": "vegalite",
    "vegalite": "vegalite",
    "vl": "vegalite",
    "json": "vegalite",
    "dot": "graphviz",
    "graphviz": "graphviz",
    "gv": "graphviz",
    "python": "python",
    "py": "python",
    "matplotlib": "matplotlib",
}

VEGALITE_KEYS = ("mark", "layer", "facet", "hconcat", "vconcat", "concat", "repeat")

_FENCE = re.compile(r"^\s*(```+|~~~+)[ \t]*([\w+.-]*)[^\n]*\n(.*?)(?:\n\s*\1[ \t]*)?\s*$", re.S)
_LEADING_XML = re.compile(r"^(\s*(<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>]*>))*\s*", re.S | re.I)
_HTML_START = re.compile(
    r"^<(!DOCTYPE\s+html|html|head|body|div|section|main|article|header|style|table|p|h[1-6]"
    r"|span|ul|ol|figure|canvas|meta|link|title)\b",
    re.I,
)
_DOT_COMMENTS = re.compile(r"^(\s*(//[^\n]*|#[^\n]*|/\*.*?\*/))*\s*", re.S)
_DOT_START = re.compile(r"^(strict\s+)?(di)?graph\b", re.I)
_PYTHON = re.compile(r"^\s*(import|from)\s+[\w.]+|\bplt\.|\bmatplotlib\b|\bsvgwrite\b", re.M)
_SVGWRITE = re.compile(r"^\s*(import\s+svgwrite|from\s+svgwrite\b)", re.M)


def strip_fence(source: str) -> tuple[str | None, str]:
    """(language named by the fence or None, the code inside) for a fenced block, else
    (None, source) unchanged."""
    match = _FENCE.match(source)
    if match is None:
        return None, source
    tag = match.group(2).lower()
    return FENCE_TAGS.get(tag), match.group(3)


def python_language(source: str) -> str:
    """A Python program's layout language: svg when it draws with svgwrite, else matplotlib."""
    return "svg" if _SVGWRITE.search(source) else "matplotlib"


def is_vegalite(source: str) -> bool:
    text = source.strip()
    if not text.startswith("{"):
        return False
    try:
        spec = json.loads(text)
    except json.JSONDecodeError:
        # A broken spec still says what it is: its renderer then names the bad line.
        head = text[:4000]
        return bool(re.search(r'"\$schema"\s*:\s*"[^"]*vega-lite', head)) or bool(
            re.search(r'"(' + "|".join(VEGALITE_KEYS) + r')"\s*:', head)
        )
    if not isinstance(spec, dict):
        return False
    schema = str(spec.get("$schema", ""))
    return "vega-lite" in schema or any(key in spec for key in VEGALITE_KEYS)


def sniff(source: str) -> str | None:
    """The language the text itself shows, or None."""
    text = source.lstrip("\ufeff")
    markup = _LEADING_XML.sub("", text[:8000], count=1)
    if re.match(r"<svg\b", markup, re.I):
        return "svg"
    if _HTML_START.match(markup) or re.match(r"^\s*<!DOCTYPE\s+html", text, re.I):
        return "html"
    if is_vegalite(text):
        return "vegalite"
    if _DOT_START.match(_DOT_COMMENTS.sub("", text[:8000], count=1)):
        return "graphviz"
    if _PYTHON.search(text[:8000]):
        return python_language(text)
    return None


def detect(source: str, filename: str | None = None) -> str:
    """The language of `source`; a file suffix that names one wins, then a fence, then the text."""
    if filename:
        name = Path(filename).name.lower()
        for suffix, language in SUFFIXES:
            if name.endswith(suffix):
                return python_language(source) if suffix == ".py" else language
    fenced, code = strip_fence(source)
    if fenced == "python":
        return python_language(code)
    if fenced == "vegalite" and not is_vegalite(code):
        fenced = None  # ```json that is not a spec says nothing
    if fenced is not None:
        return fenced
    found = sniff(code)
    if found is not None:
        return found
    raise UsageError(
        "cannot tell the program's language; pass --language "
        "(matplotlib, svg, html, vegalite or graphviz)"
    )
