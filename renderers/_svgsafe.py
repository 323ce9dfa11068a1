"""Reading untrusted SVG safely: parse without entities, refuse outside resources, bound the canvas.

An SVG is data, but XML and SVG both have ways to reach out: entity declarations (XXE reads
`/etc/passwd`, "billion laughs" expands to gigabytes), external DTDs, and resource references
(`<image href>`, `<use href>`, `url(...)` in styles, `@import`, `<?xml-stylesheet?>`).  Here a
DOCTYPE is accepted (real files name the SVG 1.1 DTD) but no entity is declared and nothing
external is fetched; a resource may only be a `data:` URL, a fragment of the document itself or
a file the request provided (found by its name in the job's `inputs/`).  Everything else is
refused with an error naming the reference and its line.  Hyperlinks (`<a href>`) are not
resources: they are never fetched.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

from sandbox.wire import RenderError

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
MAX_SOURCE_BYTES = 32 * 1024 * 1024
MAX_SIDE_PX = 8192
MAX_PIXELS = 8192 * 8192
MAX_RESOURCE_BYTES = 32 * 1024 * 1024

# Attributes that load something, per element name ('*' = any element).  Hyperlinks are absent.
_LINK_TAGS = frozenset({"a", "area"})
_RESOURCE_ATTRS = ("href", XLINK_HREF, "src", "poster", "background")
_URL_FUNCTION = re.compile(r"url\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)\s]*))\s*\)", re.I)
_IMPORT = re.compile(r"@import\s+(?:\"([^\"]*)\"|'([^']*)')", re.I)
_STYLESHEET_PI = re.compile(r"<\?xml-stylesheet\b[^>]*?\bhref\s*=\s*[\"']([^\"']*)[\"']", re.I)
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_UNITS = {"px": 1.0, "pt": 96 / 72, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4}
_LENGTH = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-z%]*)\s*$")


def local_name(tag: Any) -> str:
    """'svg' for '{http://www.w3.org/2000/svg}svg'; '' for comments and processing instructions."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def line_of(source: str, needle: str) -> int | None:
    """The 1-based line where `needle` first occurs in `source`, if it does."""
    index = source.find(needle) if needle else -1
    return source.count("\n", 0, index) + 1 if index >= 0 else None


def parse(source: str | bytes, what: str = "SVG") -> Any:
    """The document's root element, parsed with entities and external references forbidden."""
    import xml.etree.ElementTree as ET

    from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
    from defusedxml.ElementTree import fromstring

    data = source.encode("utf-8") if isinstance(source, str) else source
    if len(data) > MAX_SOURCE_BYTES:
        raise RenderError(
            "limit", f"the {what} is {len(data) >> 20} MiB; the limit is {MAX_SOURCE_BYTES >> 20}"
        )
    try:
        return fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except EntitiesForbidden as exc:
        raise RenderError(
            "refused",
            f"the {what} declares the XML entity {exc.name!r}: entity declarations are refused "
            "(they can read local files or expand without bound)",
        ) from None
    except (ExternalReferenceForbidden, DTDForbidden) as exc:
        raise RenderError(
            "refused", f"the {what} refers to an external DTD or entity ({exc}): refused"
        ) from None
    except ET.ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        message = str(exc).split(":", 1)[0]
        raise RenderError(
            "error", f"malformed {what} at line {line}, column {column + 1}: {message}"
        ) from None


def length_px(value: str | None, reference: float | None = None) -> float | None:
    """A CSS/SVG length in px (96 per inch); None when absent, relative without a reference, or
    not a length."""
    if value is None:
        return None
    match = _LENGTH.match(value)
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2).lower()
    if unit == "%":
        return number / 100 * reference if reference is not None else None
    if unit in ("em", "ex", "rem"):
        return number * 16 * (0.5 if unit == "ex" else 1.0)
    if unit in ("", *_UNITS):
        return number * _UNITS.get(unit, 1.0)
    return None


def canvas_size(root: Any, default: tuple[int, int]) -> tuple[int, int]:
    """The size the SVG asks for in px (width/height, else the viewBox's aspect at the default
    width), checked against the limits."""
    width = length_px(root.get("width"), default[0])
    height = length_px(root.get("height"), default[1])
    box = [float(v) for v in re.split(r"[\s,]+", root.get("viewBox", "").strip()) if v][:4]
    if len(box) == 4 and box[2] > 0 and box[3] > 0:
        if width is None and height is None:
            width, height = float(default[0]), default[0] * box[3] / box[2]
        elif width is None and height is not None:
            width = height * box[2] / box[3]
        elif height is None and width is not None:
            height = width * box[3] / box[2]
    w = round(width if width is not None else default[0])
    h = round(height if height is not None else default[1])
    check_canvas(w, h, "SVG canvas")
    return w, h


def check_canvas(width: float, height: float, what: str = "canvas") -> None:
    if width <= 0 or height <= 0:
        raise RenderError("error", f"the {what} is {width:g}x{height:g} px: nothing to draw")
    if width > MAX_SIDE_PX or height > MAX_SIDE_PX or width * height > MAX_PIXELS:
        raise RenderError(
            "limit",
            f"the {what} is {width:g}x{height:g} px; the limit is {MAX_SIDE_PX} px per side "
            f"and {MAX_PIXELS // 1_000_000} megapixels",
        )


class Resources:
    """The files a job may use, by name (the request's input files in `inputs/`)."""

    def __init__(self, inputs: Path | None) -> None:
        self.inputs = inputs.resolve() if inputs is not None and inputs.is_dir() else None

    def names(self) -> list[str]:
        if self.inputs is None:
            return []
        return sorted(p.name for p in self.inputs.iterdir() if p.is_file())

    def find(self, reference: str, by_name: bool = False) -> Path | None:
        """The input file a relative, absolute or file: reference names, if it is one.

        `by_name` looks absolute paths up by their last part: cairosvg makes relative references
        absolute against the working directory before fetching them."""
        if self.inputs is None:
            return None
        path = reference
        if path.lower().startswith("file:"):
            path = unquote(urlparse(path).path)
        path = path.split("#", 1)[0].split("?", 1)[0]
        if not path:
            return None
        candidate = Path(path)
        if candidate.is_absolute() and not by_name:
            try:
                resolved = candidate.resolve()
            except OSError:
                return None
            return resolved if resolved.parent == self.inputs and resolved.is_file() else None
        name = PurePosixPath(unquote(path)).name
        found = self.inputs / name
        return found if name and found.is_file() else None

    def read(self, reference: str) -> bytes:
        path = self.find(reference, by_name=True)
        if path is None:
            raise RenderError("refused", refusal(reference, self.names()))
        if path.stat().st_size > MAX_RESOURCE_BYTES:
            raise RenderError("limit", f"the input file {path.name} is too large")
        return path.read_bytes()


def refusal(reference: str, available: list[str], where: str = "") -> str:
    shown = reference if len(reference) <= 120 else reference[:117] + "..."
    have = f" (provided: {', '.join(available)})" if available else " (the request provided none)"
    kind = "a network resource" if _is_network(reference) else "a file outside the job"
    return (
        f"refused {kind} {shown!r}{where}: only data: URLs, fragments of the document and files "
        f"the request provides can be used{have}"
    )


def _is_network(reference: str) -> bool:
    match = _SCHEME.match(reference.strip())
    if reference.strip().startswith("//"):
        return True
    return match is not None and match.group(1).lower() not in ("file", "data")


def is_allowed(reference: str, resources: Resources) -> bool:
    value = reference.strip()
    if not value or value.startswith("#"):
        return True
    match = _SCHEME.match(value)
    scheme = match.group(1).lower() if match else ""
    if scheme == "data":
        return True
    if value.startswith("//") or (scheme and scheme != "file"):
        return False
    return resources.find(value) is not None


def references(root: Any, source: str) -> Iterator[tuple[str, str]]:
    """(reference, where) for every resource the document would load."""
    for element in root.iter():
        tag = local_name(element.tag)
        if not tag:
            continue
        for attr in _RESOURCE_ATTRS:
            value = element.get(attr)
            if value is not None and tag not in _LINK_TAGS:
                yield value, f"<{tag} {local_name(attr) if attr != XLINK_HREF else 'xlink:href'}>"
        if tag == "object" and element.get("data"):
            yield element.get("data"), "<object data>"
        if element.get("srcset"):
            for candidate in element.get("srcset").split(","):
                parts = candidate.split()
                if parts:
                    yield parts[0], f"<{tag} srcset>"
        for name, value in element.attrib.items():
            if "url(" in value.lower():
                for match in _URL_FUNCTION.finditer(value):
                    yield next(g for g in match.groups() if g is not None), f"{local_name(name)}"
        if tag == "style" and element.text:
            for pattern in (_URL_FUNCTION, _IMPORT):
                for match in pattern.finditer(element.text):
                    yield next(g for g in match.groups() if g is not None), "<style>"
    for match in _STYLESHEET_PI.finditer(source[:65536]):
        yield match.group(1), "<?xml-stylesheet?>"


def check_references(root: Any, source: str, resources: Resources) -> None:
    """Refuse the document when it refers to anything but data:, fragments and input files."""
    for reference, where in references(root, source):
        if not is_allowed(reference, resources):
            line = line_of(source, reference)
            at = f" in {where}" + (f" at line {line}" if line else "")
            raise RenderError("refused", refusal(reference, resources.names(), at))


def decode_data_url(url: str) -> bytes:
    header, _, payload = url.partition(",")
    if header.lower().endswith(";base64"):
        return base64.b64decode(re.sub(r"\s+", "", unquote(payload)), validate=False)
    return unquote(payload).encode("latin-1", "replace")


def fetcher(resources: Resources) -> Callable[[str, str], bytes]:
    """A cairosvg `url_fetcher` that serves data: URLs and input files, and refuses the rest."""

    def fetch(url: str, resource_type: str) -> bytes:
        if url.lower().startswith("data:"):
            return decode_data_url(url)
        if _is_network(url):
            raise RenderError("refused", refusal(url, resources.names()))
        return resources.read(url)

    return fetch
