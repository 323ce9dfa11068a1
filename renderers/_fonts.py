"""One font fallback chain for every renderer, and the per-text fallback that cairo lacks.

matplotlib and Chromium fall back glyph by glyph; cairo's text API (which cairosvg uses) draws a
whole string with the one face fontconfig matched for the requested family, so CJK text in a
`sans-serif` `<text>` comes out as missing-glyph boxes.  `CairoFallback` picks, per text, the
first family of the chain that has every glyph of the string, the same chain matplotlib uses.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from renderers.matplotlib import FONT_CHAIN

GENERIC_FAMILIES = frozenset(
    {"serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "sans", "mono"}
)

__all__ = ["FONT_CHAIN", "GENERIC_FAMILIES", "CairoFallback", "css_font_stack", "first_family"]


def first_family(value: str | None) -> str:
    """The first family of a CSS `font-family` list, unquoted ('sans-serif' when empty)."""
    for part in (value or "").split(","):
        name = part.strip().strip("\"'").strip()
        if name:
            return name
    return "sans-serif"


def css_font_stack() -> str:
    """The chain as a CSS `font-family` value (for the browser's default fonts)."""
    return ", ".join(f'"{name}"' for name in FONT_CHAIN) + ", sans-serif"


class CairoFallback:
    """Chooses a family whose face has every glyph of a text, with a cairo context for probing."""

    def __init__(self) -> None:
        import cairocffi as cairo

        self._cairo = cairo
        surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, 1, 1)
        self._context = cairo.Context(surface)
        self._cache: dict[tuple[str, str, str], str | None] = {}

    def _missing(self, family: str, text: str) -> int:
        """How many visible characters of `text` have no glyph in `family`'s matched face."""
        context = self._context
        context.select_font_face(family)
        context.set_font_size(12)
        glyphs = context.get_scaled_font().text_to_glyphs(0, 0, text, with_clusters=False)
        return sum(1 for index, *_ in glyphs if index == 0)

    def family_for(self, requested: str, text: str) -> str | None:
        """A replacement family when `requested` lacks glyphs of `text`, else None."""
        visible = "".join(sorted({ch for ch in text if not ch.isspace()}))
        if not visible:
            return None
        key = (requested, visible, "")
        if key in self._cache:
            return self._cache[key]
        choice: str | None = None
        if self._missing(requested, visible):
            best = (self._missing(requested, visible), requested)
            for family in _installed_chain():
                missing = self._missing(family, visible)
                if missing < best[0]:
                    best = (missing, family)
                if missing == 0:
                    break
            choice = best[1] if best[1] != requested else None
        self._cache[key] = choice
        return choice


@lru_cache(maxsize=1)
def _installed_chain() -> tuple[str, ...]:
    """The chain's families that fontconfig really has (a missing one would match DejaVu)."""
    names = _fontconfig_families()
    if not names:
        return tuple(FONT_CHAIN)
    return tuple(name for name in FONT_CHAIN if name in names)


def _fontconfig_families() -> set[str]:
    """Family names fontconfig knows, read through libfontconfig (no subprocess: the jail has no
    exec).  Empty when the library cannot be loaded."""
    import ctypes
    import ctypes.util

    try:  # the soname first: find_library runs gcc/ld, and a jailed job may not start programs
        fc: Any = ctypes.CDLL("libfontconfig.so.1")
    except OSError:
        try:
            fc = ctypes.CDLL(ctypes.util.find_library("fontconfig") or "libfontconfig.so")
        except OSError:
            return set()
    fc.FcPatternCreate.restype = ctypes.c_void_p
    fc.FcObjectSetBuild.restype = ctypes.c_void_p
    fc.FcFontList.restype = ctypes.c_void_p
    fc.FcFontList.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    fc.FcPatternGetString.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_char_p),
    ]
    fc.FcPatternDestroy.argtypes = [ctypes.c_void_p]
    fc.FcObjectSetDestroy.argtypes = [ctypes.c_void_p]
    fc.FcFontSetDestroy.argtypes = [ctypes.c_void_p]

    class FcFontSet(ctypes.Structure):
        _fields_ = [
            ("nfont", ctypes.c_int),
            ("sfont", ctypes.c_int),
            ("fonts", ctypes.POINTER(ctypes.c_void_p)),
        ]

    pattern = fc.FcPatternCreate()
    objects = fc.FcObjectSetBuild(b"family", None)
    found = fc.FcFontList(None, pattern, objects)
    names: set[str] = set()
    if found:
        font_set = ctypes.cast(found, ctypes.POINTER(FcFontSet)).contents
        for i in range(font_set.nfont):
            n = 0
            value = ctypes.c_char_p()
            while fc.FcPatternGetString(font_set.fonts[i], b"family", n, ctypes.byref(value)) == 0:
                if value.value:
                    names.add(value.value.decode("utf-8", "replace"))
                n += 1
        fc.FcFontSetDestroy(found)
    fc.FcObjectSetDestroy(objects)
    fc.FcPatternDestroy(pattern)
    return names
