"""Hostile SVG is refused with a clear error, and nothing leaves the job.

XXE reading /etc/passwd, billion laughs, images from file:// and from a local HTTP server (which
counts requests: none may arrive), stylesheets and `<use>` of outside files, a 100000 px canvas.
Files the request provides stay usable.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from support import CountingServer, in_ci, pixels, run_renderer

from renderers._browser import chromium_path

SVG_NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
needs_chromium = pytest.mark.skipif(
    chromium_path() is None and not in_ci(), reason="no Chromium here (Debian package chromium)"
)

XXE = f"""<?xml version="1.0"?>
<!DOCTYPE svg [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<svg {SVG_NS} width="200" height="100"><text x="5" y="50">&xxe;</text></svg>"""

LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE svg [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + f']>\n<svg {SVG_NS} width="100" height="100"><text y="50">&lol9;</text></svg>'
)


def refused(result: object, *words: str) -> str:
    failure = result.failure  # type: ignore[attr-defined]
    assert failure is not None, "the hostile document rendered"
    assert failure["kind"] in ("refused", "limit"), failure
    message = str(failure["message"])
    assert "\n" not in message and "root:" not in message
    for word in words:
        assert word in message, message
    return message


def test_external_entity_reading_etc_passwd_is_refused() -> None:
    refused(run_renderer("svg", XXE), "entity", "xxe")


def test_billion_laughs_is_refused_quickly() -> None:
    started = time.perf_counter()
    result = run_renderer("svg", LAUGHS)
    refused(result, "entity")
    assert time.perf_counter() - started < 20


@pytest.mark.parametrize(
    "href", ["file:///etc/passwd", "/etc/passwd", "../../../../etc/passwd", "//example.com/x.png"]
)
def test_image_outside_the_job_is_refused(href: str) -> None:
    image = f'<image href="{href}" width="50" height="50"/>'
    svg = f'<svg {SVG_NS} width="100" height="100">{image}</svg>'
    refused(run_renderer("svg", svg), repr(href)[1:-1], "line 1")


@pytest.mark.parametrize("engine", ["cairo", pytest.param("chromium", marks=needs_chromium)])
def test_image_from_a_local_server_is_refused_and_no_request_arrives(engine: str) -> None:
    with CountingServer() as server:
        svg = (
            f'<svg {SVG_NS} width="200" height="100">\n'
            f'<image xlink:href="{server.url}/pixel.png" width="50" height="50"/>\n'
            f'<rect width="10" height="10" style="fill: url({server.url}/p.svg#g)"/>\n</svg>'
        )
        result = run_renderer("svg", svg, options={"engine": engine})
        time.sleep(0.3)
        assert server.paths == []
    refused(result, server.url, "network", "line 2")


def test_stylesheet_and_use_of_outside_files_are_refused() -> None:
    with CountingServer() as server:
        for body in (
            f'<style>@import "{server.url}/evil.css";</style>',
            '<use href="other.svg#shape"/>',
        ):
            svg = (
                f'<?xml-stylesheet href="x.css"?>\n<svg {SVG_NS} width="50" height="5">{body}</svg>'
            )
            refused(run_renderer("svg", svg))
        assert server.paths == []


def test_a_huge_canvas_is_refused() -> None:
    svg = f'<svg {SVG_NS} width="100000" height="100000"><rect width="10" height="10"/></svg>'
    message = refused(run_renderer("svg", svg), "100000x100000")
    assert "limit" in message


@pytest.mark.parametrize("engine", ["cairo", pytest.param("chromium", marks=needs_chromium)])
def test_files_the_request_provides_can_be_used(tmp_path: Path, engine: str) -> None:
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGNkaPjPwMDAxMDAwMDAAAARHwGDXcgNqQAAAABJRU5ErkJggg=="
    )
    (tmp_path / "logo.png").write_bytes(png)
    svg = (
        f'<svg {SVG_NS} width="100" height="100">'
        '<image href="logo.png" x="10" y="10" width="40" height="40"/>'
        '<a href="https://example.com/"><text x="10" y="90">link</text></a></svg>'
    )
    files = {"logo.png": str(tmp_path / "logo.png")}
    result = run_renderer("svg", svg, files=files, options={"engine": engine})
    assert result.ok, result.failure
    assert result.manifest is not None
    images = [e for e in result.manifest["elements"] if e["role"] == "image"]
    assert [e["box"] for e in images] == [[10.0, 10.0, 50.0, 50.0]]
    assert result.png is not None
    assert tuple(pixels(result.png)[30, 30]) == (0, 128, 255)  # the input image was drawn
    assert any(e.get("text") == "link" for e in result.manifest["elements"])
