"""Which layout language a program is written in, from its file name or its first lines."""

from __future__ import annotations

import re
from pathlib import Path

from cocogen.errors import UsageError

SUFFIXES: tuple[tuple[str, str], ...] = (
    (".vl.json", "vegalite"),
    (".py", "matplotlib"),
    (".svg", "svg"),
    (".html", "html"),
    (".htm", "html"),
    (".dot", "graphviz"),
    (".gv", "graphviz"),
)

_SNIFF: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^\s*(<\?xml[^>]*>\s*)?(<!DOCTYPE svg[^>]*>\s*)?<svg\b", re.I), "svg"),
    (re.compile(r"^\s*(<!DOCTYPE html|<html\b)", re.I), "html"),
    (re.compile(r"^\s*\{[\s\S]*\"(\$schema|mark)\"\s*:"), "vegalite"),
    (re.compile(r"^\s*(strict\s+)?(di)?graph\b", re.I), "graphviz"),
    (re.compile(r"^\s*(import|from)\s+\w+|\bplt\.|\bmatplotlib\b", re.M), "matplotlib"),
)


def detect(source: str, filename: str | None = None) -> str:
    """The language of `source`; the file name's suffix wins when it names one."""
    if filename:
        name = Path(filename).name.lower()
        for suffix, language in SUFFIXES:
            if name.endswith(suffix):
                return language
    for pattern, language in _SNIFF:
        if pattern.search(source[:4000]):
            return language
    raise UsageError(
        "cannot tell the program's language; pass --language "
        "(matplotlib, svg, html, vegalite or graphviz)"
    )
