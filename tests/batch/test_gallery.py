"""The gallery in a real headless Chromium: opened from disk, every thumbnail loads, the
findings show on hover and click, the links point at real files, the filter works."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from batch.batchkit import tiny_row

import cocogen as api
from cocogen.checking import CheckSettings

CHROMIUM = os.environ.get("COCOGEN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-sandbox",
]


def test_every_thumbnail_loads_from_disk(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    rows = [tiny_row(f"ok-{i}") for i in range(6)]
    rows.append(
        {
            "output": "cut-off",
            "program": (
                "import matplotlib.pyplot as plt\n"
                "fig = plt.figure(figsize=(1.6, 1.2), dpi=100)\n"
                "fig.text(0.6, 0.5, 'cut <b>&amp; off here', fontsize=12)\n"
            ),
            "language": "matplotlib",
            "canvas": "160x120",
        }
    )
    rows.append(
        {"output": "broken", "program": "raise RuntimeError('no')\n", "language": "matplotlib"}
    )
    out = tmp_path / "gallery out"  # a space: links must be URL-encoded
    settings = CheckSettings(ocr="off")
    summary = api.batch(rows, out, workers=2, check_settings=settings).run()
    assert summary.ok == 6 and summary.check_failed == 1 and summary.render_failed == 1
    # A thumbnail lost in a crash (they are not fsynced) is made again with the gallery.
    (out / "thumbs/ok-0.png").unlink()
    again = api.batch(rows, out, resume=True, check_settings=settings).run()
    assert again.resumed == len(rows) and (out / "thumbs/ok-0.png").exists()

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            context = browser.new_context(offline=True)  # self-contained: nothing from a network
            page = context.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto((out / "index.html").as_uri())
            loaded = page.evaluate(
                """async () => Promise.all([...document.querySelectorAll('.card img')].map(
                    async img => {
                        img.scrollIntoView();
                        try { await img.decode(); } catch (e) { return [img.alt, 0]; }
                        return [img.alt, img.complete ? img.naturalWidth : 0];
                    }))"""
            )
            assert len(loaded) == len(rows)
            assert all(width > 0 for _name, width in loaded), loaded
            assert all(u.startswith(("file://", "data:")) for u in requests), requests

            card = page.locator("#row-cut-off")
            assert card.get_attribute("data-status") == "check_failed"
            assert "text_clipped" in (card.get_attribute("title") or "")  # on hover
            assert not card.locator("details").evaluate("d => d.open")
            card.locator(".pic").click()  # on click: the findings and the files
            assert card.locator("details").evaluate("d => d.open")
            details = card.locator("details").inner_text()
            assert "text_clipped" in details and "cut <b>&amp; off here" in details  # escaped
            hrefs = card.locator("details a").evaluate_all("as => as.map(a => a.href)")
            assert len(hrefs) == 3
            for href in hrefs:
                path = Path(playwright_url_path(href))
                assert path.exists(), href

            page.locator("button[data-filter='render_failed']").click()
            visible = page.locator(".card:not(.hidden)").evaluate_all("cs => cs.map(c => c.id)")
            assert visible == ["row-broken"]
        finally:
            browser.close()


def playwright_url_path(url: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(url).path)
