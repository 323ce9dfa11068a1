"""The HTML renderer: DOM boxes match the pixels, wrapped lines, roles, CJK, JavaScript off by
default, bad markup named by line.

Most tests drive the renderer in this process with one browser for the module (as a warm worker
does); one goes through the sandbox runner, where the child starts and closes its own browser.
Text is drawn in #ff0000 and nothing else is red, so red pixels are exactly the text.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import check_text_boxes, in_ci, pixels, run_renderer

from renderers import html
from renderers._browser import HOST, ORIGIN, chromium_path
from sandbox.wire import Job, RenderError

pytestmark = pytest.mark.skipif(
    chromium_path() is None and not in_ci(), reason="no Chromium here (Debian package chromium)"
)

PAGE = """<!DOCTYPE html>
<html><head><style>
  body { margin: 0; padding: 24px; background: #f4f4f8; color: #ff0000; font-size: 18px; }
  .card { background: #dde4ff; border: 2px solid #3050a0; padding: 12px; width: 220px; }
  .rot { position: absolute; left: 520px; top: 200px; transform: rotate(-90deg); }
</style></head>
<body>
  <h1>Quarterly report</h1>
  <div class="card"><p>This paragraph is long enough to wrap over several lines.</p></div>
  <figure><figcaption>Figure 1: counts</figcaption></figure>
  <div class="rot">Sideways</div>
  <span style="display:none">hidden text</span>
</body></html>
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[None]:
    HOST.start("worker")
    yield
    HOST.close()


def render(source: str, workdir: Path, **fields: Any) -> Any:
    (workdir / "out").mkdir(parents=True, exist_ok=True)
    job = Job(renderer="renderers.html:render", source=source, language="html", **fields)
    return html.render(job, workdir)


def test_boxes_match_pixels_and_roles(browser: None, tmp_path: Path) -> None:
    output = render(PAGE, tmp_path, width=640, height=420)
    png = Path(output.png_path).read_bytes()
    manifest = output.manifest
    assert (manifest["width"], manifest["height"]) == (640, 420)
    check_text_boxes(png, manifest)
    texts = [e for e in manifest["elements"] if e.get("text")]
    by_text = {e["text"]: e for e in texts}
    assert by_text["Quarterly report"]["role"] == "title"
    assert by_text["Quarterly report"]["kind"] == "h1"
    assert by_text["Figure 1: counts"]["role"] == "annotation"
    assert by_text["Sideways"]["rotation"] == pytest.approx(90.0)
    assert "hidden text" not in by_text
    # The wrapped paragraph is one element per line, top to bottom, and they add up to the text.
    lines = [e for e in texts if e["kind"] == "p"]
    assert len(lines) >= 3
    assert " ".join(e["text"] for e in lines) == (
        "This paragraph is long enough to wrap over several lines."
    )
    assert all(a["box"][3] <= b["box"][1] + 1 for a, b in itertools.pairwise(lines))
    card = next(e for e in manifest["elements"] if e["role"] == "shape")
    assert card["color"] == "#dde4ff"
    assert all(e["parent"] == card["id"] for e in lines)
    assert all(e["background"] == "#dde4ff" for e in lines)
    assert by_text["Quarterly report"]["background"] == "#f4f4f8"
    assert by_text["Quarterly report"]["color"] == "#ff0000"
    assert by_text["Quarterly report"]["font_size_px"] == pytest.approx(36.0)


def test_same_page_same_bytes(browser: None, tmp_path: Path) -> None:
    first = Path(render(PAGE, tmp_path / "a", width=400, height=300).png_path).read_bytes()
    second = Path(render(PAGE, tmp_path / "b", width=400, height=300).png_path).read_bytes()
    assert first == second


def test_cjk_text_renders_with_real_glyphs(browser: None, tmp_path: Path) -> None:
    cells = "".join(
        f'<span style="position:absolute;left:{20 + i * 70}px;top:20px;font-size:40px">{c}</span>'
        for i, c in enumerate(["北", "京", "東", "語"])
    )
    output = render(f"<html><body>{cells}</body></html>", tmp_path, width=320, height=100)
    rgb = pixels(Path(output.png_path).read_bytes())
    crops = []
    for element in output.manifest["elements"]:
        x0, y0, x1, y1 = (round(v) for v in element["box"])
        crop = rgb[y0:y1, x0:x1].mean(axis=2) < 128
        assert crop.sum() > 20
        crops.append(crop)
    assert len(crops) == 4
    for i in range(4):
        for j in range(i + 1, 4):
            assert crops[i].shape != crops[j].shape or not np.array_equal(crops[i], crops[j])


def test_javascript_is_off_unless_asked_for(browser: None, tmp_path: Path) -> None:
    page = (
        '<html><body><p id="t">static</p><script>t.textContent = "scripted"</script></body></html>'
    )
    off = render(page, tmp_path / "off", width=300, height=100)
    on = render(page, tmp_path / "on", width=300, height=100, options={"javascript": True})
    assert [e["text"] for e in off.manifest["elements"] if e.get("text")] == ["static"]
    assert [e["text"] for e in on.manifest["elements"] if e.get("text")] == ["scripted"]


def test_input_images_are_served_and_recorded(browser: None, tmp_path: Path) -> None:
    (tmp_path / "inputs").mkdir()
    source = Path(__file__).parent.parent.parent / "examples" / "programs" / "release_flow.svg"
    shutil.copyfile(source, tmp_path / "inputs" / "diagram.svg")
    image = '<img src="diagram.svg" width="512" height="200">'
    page = f'<html><body style="margin:0">{image}</body></html>'
    output = render(page, tmp_path, width=600, height=300)
    images = [e for e in output.manifest["elements"] if e["role"] == "image"]
    assert [e["box"] for e in images] == [[0.0, 0.0, 512.0, 200.0]]
    rgb = pixels(Path(output.png_path).read_bytes())
    assert (rgb[:200, :512] != 255).any(axis=2).mean() > 0.05, "the image was not drawn"
    assert output.notes == []


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("<html><body>\n<div>\n<p>text</span>\n</div></body></html>", "line 3: </span>"),
        ("<html><body>\n<section>\n<div>never closed\n</body></html>", "line 3"),
    ],
)
def test_bad_markup_names_the_line(page: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(RenderError) as caught:
        render(page, tmp_path, width=200, height=100)
    assert caught.value.kind == "error"
    assert "malformed HTML" in caught.value.message and expected in caught.value.message


def test_through_the_sandbox_the_child_owns_its_browser() -> None:
    result = run_renderer("html", PAGE, width=640, height=420)
    assert result.ok, result.failure
    assert result.png is not None and result.manifest is not None
    assert result.engine == "chromium"
    check_text_boxes(result.png, result.manifest)


def test_a_job_forked_from_a_warm_worker_uses_its_browser_under_seccomp(
    browser: None, tmp_path: Path
) -> None:
    """What the pool does: the worker warms up, a forked child keeps only the browser's pipe open,
    loses the right to start processes or open sockets, and still draws."""
    import json
    import os

    from sandbox import seccomp

    html.warm_up()
    keep = html.keep_fds()
    assert keep and min(keep) > 3
    try:
        program: bytes | None = seccomp.compile_filter(frozenset())
    except (OSError, ValueError):
        program = None  # no libseccomp here: the fork and the closed descriptors still count
    (tmp_path / "out").mkdir()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the forked job
        message = b"no result"
        try:
            os.dup2(write_end, 3)
            start = 4
            for fd in sorted(keep):
                os.closerange(start, fd)
                start = fd + 1
            os.closerange(start, 1 << 16)
            if program is not None:
                seccomp.load(program)
            job = Job(renderer="", source="<html><body><h1>Forked</h1></body></html>")
            output = html.render(job, tmp_path)
            message = json.dumps([e.get("text") for e in output.manifest["elements"]]).encode()
        except BaseException as exc:
            message = repr(exc).encode()
        finally:
            os.write(3, message)
            os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 65536):
        data += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    assert json.loads(data) == ["Forked"], data


def test_a_reused_page_shows_only_the_current_job(browser: None, tmp_path: Path) -> None:
    """Pages are reused without a reset navigation when scripts are off: each job must still
    get its own document, also after a job that left the page in the middle of a load."""
    html.warm_up()
    for n in range(3):
        output = render(f"<html><body><h1>Job {n}</h1></body></html>", tmp_path)
        texts = [e.get("text") for e in output.manifest["elements"] if e.get("text")]
        assert texts == [f"Job {n}"]
    # A job killed mid-load: its navigation was started and never waited for.
    session = HOST._slots[False][1]
    assert HOST.pipe is not None
    HOST._served = {"/index.html": (b"<h1>Killed job</h1>", "text/html")}
    HOST.pipe.post("Page.navigate", {"url": ORIGIN + "index.html"}, session)
    output = render("<html><body><h1>Next job</h1></body></html>", tmp_path)
    texts = [e.get("text") for e in output.manifest["elements"] if e.get("text")]
    assert texts == ["Next job"]
