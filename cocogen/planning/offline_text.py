"""Offline text layouts: signs, posters, slides, labels, captions — every quoted text, placed.

A request whose texts are quoted ('a poster that reads "SUMMER SALE" with "50% off" below') needs
no model: the texts are given, only their arrangement is not.  `parse_text_request` collects the
quoted texts in order (an explicit title first), `text_layout` fits them on the canvas — a
headline, then one block per text — by estimating wrapped line counts with DejaVu Sans metrics
and shrinking the type until everything fits with a safety margin, and `html_source` /
`svg_source` write the page.  Each text sits in its own painted block, so the lines of a wrapped
text share a parent in the manifest.  Nothing is invented: no text that was not quoted appears.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass

from cocogen.errors import NotUnderstood
from cocogen.planning.commitments import is_wide, read_request
from cocogen.planning.offline import LLM_HINT
from cocogen.types import Canvas

NEEDS_TEXT = (
    "the offline planner lays out texts given in quotes (e.g. 'a sign that reads \"OPEN\"') and "
    "draws charts from spelled-out data (e.g. 'a bar chart of A, B, C with values 1, 2, 3'); "
    "this request has neither; " + LLM_HINT
)
FONT_STACK = '"DejaVu Sans", "Noto Sans CJK SC", "Noto Sans CJK JP", sans-serif'
LINE_HEIGHT = 1.3
MIN_BODY_PX = 14.0
FILL = 0.86
"""Share of the canvas height the estimated layout may take (Chromium's wrapping may differ)."""

# Accent colours by kind of request (deterministic, high contrast with the dark text).
_ACCENTS: tuple[tuple[str, str], ...] = (
    (r"\bsigns?\b|\bbillboards?\b|\bstreet\b", "#2a9d8f"),
    (r"\bposters?\b|\bflyers?\b|\bbanners?\b", "#e76f51"),
    (r"\bslides?\b|\bpresentations?\b", "#264653"),
    (r"\blabels?\b|\bpackag\w+|\bbottles?\b|\bjars?\b", "#6a4c93"),
    (r"\bweb\s?pages?\b|\bwebsites?\b|\blanding\b", "#1d4ed8"),
    (r"\bcaptions?\b|\bsubtitles?\b|\bscreenshots?\b", "#374151"),
    (r"\bdialogues?\b|\bcomics?\b|\bspeech\b|\bbubbles?\b", "#b45309"),
    (r"\bmenus?\b|\bcaf[eé]\b|\brestaurant\b|\bbakery\b", "#9a3412"),
    (r"\btickets?\b|\binvitations?\b|\bcertificates?\b|\bcards?\b", "#7c2d12"),
)
_DEFAULT_ACCENT = "#3b6ea5"


def _em(ch: str) -> float:
    """Approximate advance of a character in DejaVu Sans, in em."""
    if is_wide(ch):
        return 1.0
    if ch == " ":
        return 0.318
    if ch in ".,:;'|!iIlj()[]":
        return 0.34
    if ch.isdigit():
        return 0.636
    if ch in "mwMW%@":
        return 0.9
    if ch.isupper() or ch in "$€£&#":
        return 0.72
    return 0.6


def text_width(text: str, font_px: float, bold: bool = False) -> float:
    return sum(_em(ch) for ch in text) * font_px * (1.08 if bold else 1.0)


def _words(text: str) -> list[str]:
    """Wrap units: words, and each wide (CJK) character on its own."""
    out: list[str] = []
    for word in text.split(" "):
        if any(is_wide(ch) for ch in word):
            out.extend(ch for ch in word)
        elif word:
            out.append(word)
    return out


def wrap(text: str, font_px: float, width: float, bold: bool = False) -> list[str]:
    """Greedy word wrap of `text` into lines no wider than `width` (by the estimate)."""
    lines: list[str] = []
    current = ""
    for word in _words(" ".join(text.split())):
        joiner = "" if (current and is_wide(word[0]) and is_wide(current[-1])) else " "
        candidate = f"{current}{joiner}{word}" if current else word
        if current and text_width(candidate, font_px, bold) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines or [""]


@dataclass(frozen=True)
class TextRequest:
    """What a text-layout request asks for: an optional headline, the other texts in order."""

    headline: str | None
    texts: tuple[str, ...]
    accent: str
    kind: str


def parse_text_request(prompt: str) -> TextRequest:
    """The quoted texts of a prompt (an explicit title first); `NotUnderstood` when none."""
    reading = read_request(prompt)
    quotes: list[str] = []
    for quote in reading.quotes:
        text = " ".join(quote.split())
        if text and text not in quotes:
            quotes.append(text)
    title = " ".join((reading.title or "").split()) or None
    if title and title in quotes:
        quotes.remove(title)
    if not quotes and not title:
        raise NotUnderstood(NEEDS_TEXT)
    if (
        title is None
        and quotes
        and len(quotes[0]) <= 80
        and (len(quotes) > 1 or len(quotes[0]) <= 40)
    ):
        title = quotes.pop(0)
    accent, kind = _DEFAULT_ACCENT, "layout"
    for pattern, colour in _ACCENTS:
        match = re.search(pattern, prompt, re.I)
        if match:
            accent, kind = colour, match.group(0).lower()
            break
    return TextRequest(title, tuple(quotes), accent, kind)


@dataclass(frozen=True)
class Block:
    text: str
    lines: tuple[str, ...]
    font_px: float
    top: float
    height: float
    headline: bool


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    pad: float
    gap: float
    inner_pad_x: float
    inner_pad_y: float
    blocks: tuple[Block, ...]


def _block_size(text: str, size: float, width: float, bold: bool) -> float:
    """`size`, or a little smaller when that keeps the text on one line (a wrapped text is
    several manifest elements, and a line never splits a required phrase)."""
    one_line = width / max(text_width(text, 1.0, bold), 1e-6)
    if one_line >= size:
        return size
    if one_line >= max(MIN_BODY_PX, size * 0.6):
        return math.floor(one_line * 10) / 10
    return size


def text_layout(request: TextRequest, canvas: Canvas) -> Layout:
    """Font sizes and line breaks that fit every text on the canvas (see the module docstring)."""
    width, height = canvas.width, canvas.height
    pad = round(max(16.0, min(width, height) * 0.05))
    gap = round(max(8.0, height * 0.018))
    inner_x, inner_y = round(max(10.0, width * 0.014)), round(max(6.0, height * 0.01))
    text_width_px = width - 2 * pad - 2 * inner_x - 6  # 6: the accent border
    title_px = min(height * 0.11, width * 0.08, 84.0)
    body_px = min(height * 0.055, width * 0.04, 40.0)
    entries = ([(request.headline, True)] if request.headline else []) + [
        (t, False) for t in request.texts
    ]
    scale = 1.0
    for _ in range(60):
        t_px, b_px = max(title_px * scale, MIN_BODY_PX * 1.3), max(body_px * scale, MIN_BODY_PX)
        blocks: list[Block] = []
        top = float(pad)
        too_wide = False
        for text, headline in entries:
            size = _block_size(text, t_px if headline else b_px, text_width_px, headline)
            longest = max((text_width(w, size, headline) for w in _words(text)), default=0.0)
            too_wide = too_wide or longest > text_width_px
            lines = wrap(text, size, text_width_px, headline)
            block_height = len(lines) * size * LINE_HEIGHT + 2 * inner_y
            blocks.append(Block(text, tuple(lines), round(size, 1), top, block_height, headline))
            top += block_height + gap
        used = top - gap + pad
        if (used <= height * FILL and not too_wide) or (
            t_px <= MIN_BODY_PX * 1.3 and b_px <= MIN_BODY_PX
        ):
            break
        scale *= 0.93
    # Centre the stack vertically.
    used = sum(b.height for b in blocks) + gap * (len(blocks) - 1)
    shift = max(0.0, (height - used) / 2 - pad)
    blocks = [
        Block(b.text, b.lines, b.font_px, round(b.top + shift, 1), b.height, b.headline)
        for b in blocks
    ]
    return Layout(width, height, pad, gap, inner_x, inner_y, tuple(blocks))


def html_source(request: TextRequest, canvas: Canvas) -> str:
    """An HTML page placing every text; the browser wraps, with sizes from `text_layout`."""
    layout = text_layout(request, canvas)
    title = next((b for b in layout.blocks if b.headline), None)
    body_px = max((b.font_px for b in layout.blocks if not b.headline), default=16.0)
    w, h = canvas.width, canvas.height
    css = f"""html, body {{ margin: 0; width: {w}px; height: {h}px; overflow: hidden; }}
body {{ background: #f7f5f0; color: #1b1b1f; font-family: {FONT_STACK}; }}
main {{ box-sizing: border-box; width: {w}px; height: {h}px; padding: {layout.pad}px;
  display: flex; flex-direction: column; justify-content: center; gap: {layout.gap}px; }}
.title {{ margin: 0; padding: {layout.inner_pad_y}px {layout.inner_pad_x}px;
  font-size: {title.font_px if title else body_px}px; line-height: {LINE_HEIGHT};
  font-weight: bold; text-align: center; color: #ffffff; background: {request.accent};
  overflow-wrap: break-word; }}
.text {{ margin: 0; padding: {layout.inner_pad_y}px {layout.inner_pad_x}px;
  font-size: {body_px}px; line-height: {LINE_HEIGHT}; background: #ffffff;
  border-left: 6px solid {request.accent}; overflow-wrap: break-word; }}"""
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{request.kind}</title>',
        f"<style>\n{css}\n</style></head>",
        "<body><main>",
    ]
    for block in layout.blocks:
        text = html.escape(block.text)
        base = title.font_px if block.headline and title else body_px
        style = f' style="font-size: {block.font_px}px"' if block.font_px != base else ""
        if block.headline:
            parts.append(f'<h1 class="title"{style}>{text}</h1>')
        else:
            parts.append(f'<p class="text"{style}>{text}</p>')
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def svg_source(request: TextRequest, canvas: Canvas) -> str:
    """An SVG placing every text, line by line as `text_layout` broke them."""
    layout = text_layout(request, canvas)
    w, h = canvas.width, canvas.height
    used = sum(b.height for b in layout.blocks) + layout.gap * (len(layout.blocks) - 1)
    top = (h - used) / 2
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
        f'<rect width="{w}" height="{h}" fill="#f7f5f0"/>',
    ]
    x0, x1 = layout.pad, w - layout.pad
    for k, block in enumerate(layout.blocks):
        fill = request.accent if block.headline else "#ffffff"
        colour = "#ffffff" if block.headline else "#1b1b1f"
        out.append(
            f'<g id="block-{k}" class="{"title" if block.headline else "text"}">'
            f'<rect x="{x0}" y="{top:.1f}" width="{x1 - x0}" height="{block.height:.1f}" '
            f'fill="{fill}"/>'
        )
        if not block.headline:
            out.append(
                f'<rect x="{x0}" y="{top:.1f}" width="6" height="{block.height:.1f}" '
                f'fill="{request.accent}"/>'
            )
        line_px = block.font_px * LINE_HEIGHT
        for n, line in enumerate(block.lines):
            baseline = top + layout.inner_pad_y + n * line_px + (line_px + block.font_px * 0.72) / 2
            if block.headline:
                x, anchor, weight = w / 2, "middle", ' font-weight="bold"'
            else:
                x, anchor, weight = x0 + 6 + layout.inner_pad_x, "start", ""
            out.append(
                f'<text x="{x:.1f}" y="{baseline:.1f}" font-family="DejaVu Sans" '
                f'font-size="{block.font_px}"{weight} fill="{colour}" text-anchor="{anchor}">'
                f"{html.escape(line)}</text>"
            )
        out.append("</g>")
        top += block.height + layout.gap
    out.append("</svg>")
    return "\n".join(out) + "\n"
