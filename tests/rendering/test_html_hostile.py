"""Hostile HTML gets nothing out: fetches, beacons, prefetches, WebSockets, outside images and
stylesheets never reach a local server (which counts every request), `file:///` iframes stay
empty, and a 100000 px canvas is refused.  Every page runs through the sandbox runner, with
JavaScript on where the attack needs it.
"""

from __future__ import annotations

import time

import pytest
from support import CountingServer, in_ci, pixels, run_renderer

from renderers._browser import chromium_path
from sandbox.wire import Limits

pytestmark = pytest.mark.skipif(
    chromium_path() is None and not in_ci(), reason="no Chromium here (Debian package chromium)"
)

SCRIPTED = {
    "fetch": "fetch('{url}/fetch').catch(() => {{}}); new Image().src = '{url}/img-js';",
    "xhr": "const x = new XMLHttpRequest(); x.open('GET', '{url}/xhr'); x.send();",
    "beacon": "navigator.sendBeacon('{url}/beacon', 'data');",
    "websocket": "try {{ new WebSocket('{url}/ws'.replace('http', 'ws')); }} catch (e) {{}}",
    "eventsource": "try {{ new EventSource('{url}/events'); }} catch (e) {{}}",
    "navigation": "setTimeout(() => location.href = '{url}/away', 10);",
}
MARKUP = {
    "prefetch": '<link rel="prefetch" href="{url}/prefetch"><link rel="preload" as="image" '
    'href="{url}/preload"><link rel="dns-prefetch" href="{url}">'
    '<link rel="preconnect" href="{url}">',
    "stylesheet": '<link rel="stylesheet" href="{url}/style.css"><style>@import "{url}/imp.css";'
    "body {{ background: url({url}/bg.png); }}"
    "@font-face {{ font-family: X; src: url({url}/f.woff); }}"
    "p {{ font-family: X; }}</style>",
    "media": '<img src="{url}/img"><video poster="{url}/poster" src="{url}/video"></video>'
    '<iframe src="{url}/frame"></iframe><object data="{url}/object"></object>',
    "ping": '<a href="{url}/link" ping="{url}/ping" id="a">link</a>',
}


def page(body: str) -> str:
    return f"<!DOCTYPE html><html><head></head><body><p>visible</p>{body}</body></html>"


@pytest.mark.parametrize("name", sorted(SCRIPTED))
def test_scripted_requests_never_arrive(name: str) -> None:
    with CountingServer() as server:
        script = SCRIPTED[name].format(url=server.url)
        result = run_renderer(
            "html",
            page(f"<script>{script}</script>"),
            width=300,
            height=200,
            options={"javascript": True, "settle_ms": 300},
        )
        time.sleep(0.3)
        assert server.paths == []
    if name == "navigation":  # leaving the page is refused, not drawn as an error page
        assert result.failure is not None and result.failure["kind"] == "refused"
        assert "navigated away" in result.failure["message"]
        return
    assert result.ok, result.failure
    assert result.manifest is not None
    assert [e["text"] for e in result.manifest["elements"] if e.get("text")] == ["visible"]


@pytest.mark.parametrize("name", sorted(MARKUP))
def test_markup_requests_never_arrive_and_are_noted(name: str) -> None:
    with CountingServer() as server:
        result = run_renderer(
            "html", page(MARKUP[name].format(url=server.url)), width=300, height=200
        )
        time.sleep(0.3)
        assert server.paths == []
    assert result.ok, result.failure
    if name != "ping":
        assert any(server.url in note for note in result.notes), result.notes


def test_iframe_of_a_local_file_stays_empty() -> None:
    body = (
        '<iframe src="file:///etc/passwd" style="position:absolute;left:0;top:40px;'
        'width:400px;height:200px;border:0"></iframe>'
    )
    result = run_renderer("html", page(body), width=400, height=260)
    assert result.ok, result.failure
    assert result.png is not None and result.manifest is not None
    frame = pixels(result.png)[40:240, 0:400]
    assert (frame == frame[0, 0]).all(), "something was drawn inside the file:// iframe"
    assert not any("root:" in (e.get("text") or "") for e in result.manifest["elements"])


def test_a_huge_canvas_is_refused() -> None:
    result = run_renderer("html", page(""), width=100_000, height=100_000)
    assert result.failure is not None
    assert result.failure["kind"] == "limit"
    assert "100000x100000" in result.failure["message"]


def test_a_huge_page_is_clipped_to_the_canvas() -> None:
    body = '<div style="width:100000px;height:100000px;background:#3050a0"></div>'
    result = run_renderer("html", page(body), width=320, height=240)
    assert result.ok, result.failure
    assert result.manifest is not None
    assert (result.manifest["width"], result.manifest["height"]) == (320, 240)


def test_a_script_that_never_ends_times_out_cleanly() -> None:
    started = time.perf_counter()
    result = run_renderer(
        "html",
        page("<script>while (true) {}</script>"),
        width=200,
        height=100,
        options={"javascript": True},
        limits=Limits(wall_s=10),
    )
    assert result.failure is not None
    assert result.failure["kind"] == "timeout"
    assert "did not finish loading" in result.failure["message"]
    assert time.perf_counter() - started < 12
