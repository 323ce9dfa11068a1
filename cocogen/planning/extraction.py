"""Pulling a program out of a model's reply, and refusing the wrong language before any render.

Real replies are untidy: prose before and after the code, several fenced blocks (a snippet, the
program, a shell command), a fence with no language tag or the wrong one, no fence at all, a
reply cut off by the token limit.  `extract_program` finds every fenced block (closed or not),
gives each a language from its tag and, more reliably, from its content, and takes the longest
block in the target language.  Without fences it cuts the program out of the prose by the
language's own delimiters (`<svg>…</svg>`, `<html>…</html>`, the outer `{…}` of a JSON spec or a
DOT graph, the code-looking lines of Python).  A reply whose only program is in another language
raises `WrongLanguage`, one with no program at all `NoProgram`: the backend asks again with that
message instead of sending the sandbox something it cannot render.

`join_continuation` stitches a truncated reply to its continuation (dropping a repeated fence
opening and any overlap), and `commitments_block` reads the JSON block of promises the first
reply carries.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from cocogen.errors import BackendFailed

_FENCE_OPEN = re.compile(
    r"^(?P<indent>[ \t]{0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<tag>[^\s`]*)[^\n`]*$"
)

TAG_LANGUAGES: dict[str, str] = {
    "python": "matplotlib",
    "python3": "matplotlib",
    "py": "matplotlib",
    "matplotlib": "matplotlib",
    "svg": "svg",
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "json": "vegalite",
    "vega-lite": "vegalite",
    "vegalite": "vegalite",
    "vega": "vegalite",
    "vl": "vegalite",
    "dot": "graphviz",
    "graphviz": "graphviz",
    "gv": "graphviz",
}
"""Fence tags and the language they usually mean; content sniffing has the last word."""

LANGUAGE_NAMES: dict[str, str] = {
    "matplotlib": "Python (matplotlib)",
    "svg": "SVG",
    "html": "HTML",
    "vegalite": "Vega-Lite JSON",
    "graphviz": "Graphviz DOT",
}
FENCE_TAGS: dict[str, str] = {
    "matplotlib": "python",
    "svg": "svg",
    "html": "html",
    "vegalite": "json",
    "graphviz": "dot",
}
COMMITMENTS_TAG = "commitments"

_SVG_START = re.compile(
    r"^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg\b", re.I
)
_HTML_START = re.compile(r"^\s*(<!--[\s\S]*?-->\s*)*(<!DOCTYPE html|<html\b|<head\b|<body\b)", re.I)
_HTML_FRAGMENT = re.compile(r"^\s*<(div|section|main|article|style|table|h[1-6]|p|header)\b", re.I)
_DOT_START = re.compile(
    r"^\s*(/\*[\s\S]*?\*/\s*|//[^\n]*\n\s*|#[^\n]*\n\s*)*(strict\s+)?(di)?graph\b"
    r"[^{]*\{",
    re.I,
)
_PY_HINT = re.compile(
    r"^\s*(import|from)\s+[\w.]+|\bplt\.|\bmatplotlib\b|\bfig(?:ure)?\b\s*[,=]", re.M
)
_PY_LINE = re.compile(
    r"^(?:\s*$|\s*#|\s+\S|(?:import|from|def|class|for|while|if|elif|else|try|except|finally|with"
    r"|return|raise|assert|pass|break|continue|global|lambda|print|async|await|del)\b"
    r"|[A-Za-z_][\w.]*\s*(?:\[[^\]]*\]\s*)?(?:[-+*/%|&^]?=|\()|[A-Za-z_][\w.]*\s*,[\w\s,]*=|[)\]}])"
)


class ExtractionError(BackendFailed):
    """The reply holds no usable program; the message says what was wrong (sent back to the
    model when it is asked again)."""


class WrongLanguage(ExtractionError):
    def __init__(self, found: str, expected: str) -> None:
        self.found, self.expected = found, expected
        super().__init__(
            f"the reply holds {LANGUAGE_NAMES.get(found, found)}, not the "
            f"{LANGUAGE_NAMES.get(expected, expected)} that was asked for"
        )


class NoProgram(ExtractionError):
    pass


@dataclass(frozen=True)
class Block:
    """One fenced block: its tag, its body, and whether its closing fence was there."""

    tag: str
    body: str
    closed: bool
    start: int


@dataclass(frozen=True)
class Extracted:
    source: str
    note: str
    """How the program was found (for the attempt's notes)."""


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced block of a Markdown reply, in order; a final unclosed one included."""
    lines = text.split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE_OPEN.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence = opening["fence"]
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                closed = True
                break
            body.append(lines[j])
            j += 1
        blocks.append(Block(opening["tag"].lower(), "\n".join(body), closed, i))
        i = j + 1
    return blocks


def _is_json_spec(source: str) -> bool:
    try:
        value = json.loads(source)
    except ValueError:
        return False
    return isinstance(value, dict) and not _is_commitments(value)


def _is_commitments(value: Any) -> bool:
    keys = {"texts", "numbers", "counts", "constraints", "unknowns"}
    return isinstance(value, dict) and bool(value) and set(value) <= keys


def sniff(source: str) -> str | None:
    """The language a program's text is written in, from its content alone, or None."""
    head = source.lstrip()[:4000]
    if not head:
        return None
    if _SVG_START.match(head):
        return "svg"
    if _HTML_START.match(head) or _HTML_FRAGMENT.match(head):
        return "html"
    if _DOT_START.match(head):
        return "graphviz"
    if head.startswith("{"):
        return "vegalite" if _is_json_spec(source) or '"mark"' in source else None
    if _PY_HINT.search(head):
        return "matplotlib"
    return None


_NOT_PROGRAMS = frozenset(
    {"bash", "sh", "shell", "console", "zsh", "powershell", "cmd", "text", "txt", "plaintext"}
    | {"output", "css", "js", "javascript", "yaml"}
)


def _language_of(block: Block) -> str | None:
    if block.tag == COMMITMENTS_TAG or block.tag in _NOT_PROGRAMS:
        return None
    sniffed = sniff(block.body)
    if sniffed is not None:
        return sniffed
    if block.body.lstrip().startswith("{"):
        try:
            value = json.loads(block.body)
        except ValueError:
            value = None
        if _is_commitments(value):
            return None
    return TAG_LANGUAGES.get(block.tag)


def _between(text: str, start: re.Pattern[str], end: str) -> str | None:
    match = start.search(text)
    if match is None:
        return None
    stop = text.lower().rfind(end)
    if stop < match.start():
        return text[match.start() :].strip()
    return text[match.start() : stop + len(end)].strip()


def _outer_braces(text: str, start: int) -> str:
    depth = 0
    in_string = False
    escaped = False
    for k in range(start, len(text)):
        ch = text[k]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : k + 1]
    return text[start:]


def _python_lines(text: str) -> str | None:
    """The longest run of code-looking lines that parses (prose around it dropped)."""
    lines = text.split("\n")
    best: str | None = None
    i = 0
    while i < len(lines):
        if not _PY_LINE.match(lines[i]) or not lines[i].strip():
            i += 1
            continue
        j = i
        while j < len(lines) and _PY_LINE.match(lines[j]):
            j += 1
        chunk = "\n".join(lines[i:j]).strip()
        if _PY_HINT.search(chunk) and (best is None or len(chunk) > len(best)):
            try:
                ast.parse(chunk)
                best = chunk
            except SyntaxError:
                if best is None:
                    best = chunk
        i = j
    return best


def unfenced_program(text: str, language: str) -> str | None:
    """A program cut out of an unfenced reply by the language's own delimiters."""
    if language == "svg":
        return _between(text, re.compile(r"(<\?xml[^>]*>\s*)?<svg\b", re.I), "</svg>")
    if language == "html":
        return _between(text, re.compile(r"<!DOCTYPE html|<html\b", re.I), "</html>")
    if language == "graphviz":
        match = re.search(r"(?m)^[ \t]*(strict\s+)?(di)?graph\b[^{\n]*\{", text, re.I) or (
            re.search(r"\b(strict\s+)?(di)?graph\s+(\w+\s*)?\{", text)
        )
        return _outer_braces(text, match.start()).strip() if match else None
    if language == "vegalite":
        for match in re.finditer(r"\{", text):
            candidate = _outer_braces(text, match.start())
            if _is_json_spec(candidate):
                return candidate.strip()
        return None
    return _python_lines(text)


def extract_program(text: str, language: str) -> Extracted:
    """The program in `language` inside a reply (see the module docstring), else raise
    `WrongLanguage` / `NoProgram`."""
    blocks = [b for b in fenced_blocks(text) if b.body.strip()]
    found: dict[str, list[Block]] = {}
    for block in blocks:
        lang = _language_of(block)
        if lang is not None:
            found.setdefault(lang, []).append(block)
    if language in found:
        chosen = max(found[language], key=lambda b: len(b.body))
        others = len(blocks) - 1
        note = f"program from a fenced block ({chosen.tag or 'no tag'})" + (
            f"; {others} other block{'s' if others != 1 else ''} ignored" if others else ""
        )
        return Extracted(chosen.body.strip("\n") + "\n", note)
    if found:
        other_language = max(found, key=lambda k: max(len(b.body) for b in found[k]))
        raise WrongLanguage(other_language, language)
    candidate = unfenced_program(text, language)
    if candidate and sniff(candidate) in (language, None):
        if language != "matplotlib" or sniff(candidate) == "matplotlib":
            return Extracted(candidate.rstrip("\n") + "\n", "program cut out of an unfenced reply")
    other = sniff(text)
    if other is not None and other != language:
        raise WrongLanguage(other, language)
    for lang in ("svg", "html", "graphviz", "vegalite"):
        if lang != language and unfenced_program(text, lang):
            raise WrongLanguage(lang, language)
    preview = " ".join(text.split())[:160]
    raise NoProgram(
        f"the reply holds no {LANGUAGE_NAMES.get(language, language)} program"
        + (f": {preview!r}" if preview else " (it was empty)")
    )


def open_fence(text: str) -> bool:
    """True when the reply ends inside a fenced block (a sign it was cut off)."""
    blocks = fenced_blocks(text)
    return bool(blocks) and not blocks[-1].closed


def join_continuation(partial: str, more: str) -> str:
    """`partial` followed by `more`, without a repeated fence opening or repeated text."""
    if open_fence(partial):
        lines = more.split("\n", 1)
        if _FENCE_OPEN.match(lines[0]) and _FENCE_OPEN.match(lines[0])["tag"]:  # type: ignore[index]
            more = lines[1] if len(lines) > 1 else ""
    limit = min(len(partial), len(more), 400)
    for size in range(limit, 7, -1):
        if partial.endswith(more[:size]):
            more = more[size:]
            break
    return partial + more


def commitments_block(text: str) -> dict[str, Any] | None:
    """The JSON object of promises in a reply (a ```commitments block, or a JSON block whose
    keys are only texts/numbers/counts/constraints/unknowns), else None."""
    for block in fenced_blocks(text):
        if block.tag not in (COMMITMENTS_TAG, "json", ""):
            continue
        try:
            value = json.loads(block.body)
        except ValueError:
            continue
        if isinstance(value, dict) and (block.tag == COMMITMENTS_TAG or _is_commitments(value)):
            return value
    return None
