"""Helpers shared by tests: running jobs, decoding PNGs, masks of coloured pixels."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from sandbox import Job, JobResult, Limits, SubprocessRunner

MPL = "renderers.matplotlib:render"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def run_matplotlib(source: str, **job_fields: object) -> JobResult:
    limits = job_fields.pop("limits", None) or Limits(wall_s=30)
    job = Job(renderer=MPL, source=source, limits=limits, **job_fields)  # type: ignore[arg-type]
    return SubprocessRunner().run(job)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def red_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels that are clearly red (text drawn in #ff0000, antialiased edges included)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r - np.maximum(g, b)) > 60


def box_mask(shape: tuple[int, ...], boxes: list[list[float]], pad: float = 1.0) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=bool)
    height, width = shape[:2]
    for x0, y0, x1, y1 in boxes:
        c0, r0 = max(0, int(np.floor(x0 - pad))), max(0, int(np.floor(y0 - pad)))
        c1, r1 = min(width, int(np.ceil(x1 + pad))), min(height, int(np.ceil(y1 + pad)))
        mask[r0:r1, c0:c1] = True
    return mask


def run_renderer(language: str, source: str, **job_fields: object) -> JobResult:
    """One job of `renderers.<language>:render` through the real sandbox runner."""
    limits = job_fields.pop("limits", None) or Limits(wall_s=60)
    job = Job(
        renderer=f"renderers.{language}:render",
        source=source,
        language=language,
        limits=limits,  # type: ignore[arg-type]
        **job_fields,  # type: ignore[arg-type]
    )
    return SubprocessRunner().run(job)


def check_text_boxes(png: bytes, manifest: dict, pad: float = 1.5) -> None:
    """Every text box holds red pixels and no red pixel lies outside all text boxes (programs
    draw their text, and only their text, in #ff0000)."""
    rgb = pixels(png)
    assert (manifest["width"], manifest["height"]) == rgb.shape[1::-1]
    texts = [e for e in manifest["elements"] if e.get("text")]
    assert texts, "no text elements in the manifest"
    red = red_mask(rgb)
    for element in texts:
        inside = box_mask(rgb.shape, [element["box"]], pad=0)
        assert red[inside].sum() >= 5, f"box of {element['text']!r} holds no text pixels"
    outside = red & ~box_mask(rgb.shape, [e["box"] for e in texts], pad=pad)
    assert outside.sum() == 0, f"{outside.sum()} text pixels outside every box"


class CountingServer:
    """An HTTP server on 127.0.0.1 that counts every request (and WebSocket upgrade) it gets."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.paths: list[str] = []
        paths = self.paths

        class Handler(http.server.BaseHTTPRequestHandler):
            def _count(self) -> None:
                paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"root:x:0:0:leaked")

            do_GET = do_POST = do_HEAD = do_OPTIONS = _count

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CountingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
