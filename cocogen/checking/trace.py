"""Tracing the request's commitments to the elements that keep them.

A request promises things — a title, certain numbers, five bars.  The manifest says which texts
and marks were actually drawn, so each promise can be marked `satisfied`, `violated` or
`unverified` together with its evidence (element ids, texts, boxes).  Matching is normalised
(case, whitespace, dashes and minus signs, thousands separators, a trailing '.0', spacing around
'%' and currency signs) because the model writing the program and the request rarely agree on
typography.  Numbers that are absent from the text are only `unverified`: a value may be encoded
as geometry (a bar's height), which is for a later values/OCR check to decide.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

from cocogen.types import Commitment, Commitments, Element, Evidence, LayoutManifest

_DASHES = dict.fromkeys(map(ord, "\u2212\u2010\u2011\u2012\u2013\u2014\u2015\ufe63\uff0d"), "-")
_QUOTES = {ord("\u2018"): "'", ord("\u2019"): "'", ord("\u201c"): '"', ord("\u201d"): '"'}
_SPACED_THOUSANDS = re.compile(r"(?<=\d)[\u00a0\u202f\u2009](?=\d{3}(?!\d))")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TRAILING_ZERO = re.compile(r"(?<=\d)\.0+(?!\.?\d)")
_SPACE_BEFORE_PERCENT = re.compile(r"(?<=\d) (?=[%‰])")
_CURRENCY = "$€£¥₹"
_SPACE_AFTER_CURRENCY = re.compile(rf"(?<=[{_CURRENCY}]) (?=[-\d])")
_SPACE_BEFORE_CURRENCY = re.compile(rf"(?<=\d) (?=[{_CURRENCY}])")

_ENTITY_KINDS: dict[str, tuple[str, ...]] = {
    "bar": ("bar",),
    "column": ("bar",),
    "slice": ("wedge",),
    "wedge": ("wedge",),
    "sector": ("wedge",),
    "point": ("point",),
    "marker": ("point",),
    "dot": ("point",),
    "line": ("line",),
    "curve": ("line",),
}
"""Noun of an entity commitment → shape kinds in the manifest that count as one of it."""

_UNCOUNTABLE_KINDS: dict[str, tuple[str, ...]] = {"point": ("collection", "points")}
"""Kinds that hold many entities in one element (a scatter collection): present, not countable."""


def normalize_text(text: str) -> str:
    """The comparable form of a text: see the module docstring for what is folded."""
    text = _SPACED_THOUSANDS.sub("", text)
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_QUOTES)
    text = " ".join(text.casefold().split())
    text = _THOUSANDS.sub("", text)
    text = _TRAILING_ZERO.sub("", text)
    text = _SPACE_BEFORE_PERCENT.sub("", text)
    text = _SPACE_AFTER_CURRENCY.sub("", text)
    return _SPACE_BEFORE_CURRENCY.sub("", text)


def _left_ok(hay: str, i: int, needle: str) -> bool:
    if i == 0:
        return True
    prev = hay[i - 1]
    first = needle[0]
    if first.isalnum() and prev.isalnum():
        return False
    if first.isdigit():
        if prev == "." or (prev == "," and i >= 2 and hay[i - 2].isdigit()):
            return False  # the needle would be the decimal part of a longer number
        if prev in "-+" and (i < 2 or not hay[i - 2].isalnum()):
            return False  # a sign: "5" is not "-5"
    return True


def _right_ok(hay: str, j: int, needle: str) -> bool:
    if j == len(hay):
        return True
    nxt = hay[j]
    last = needle[-1]
    if last.isalnum() and nxt.isalnum():
        return False
    return not (last.isdigit() and nxt in ".," and j + 1 < len(hay) and hay[j + 1].isdigit())


def contains_phrase(haystack: str, needle: str) -> bool:
    """True when `needle` occurs in `haystack` as a whole word or phrase (both normalised).

    "q1" is in "q1 sales" but not in "q10"; the number "5" is not in "4.5", "15" or "-5".
    """
    if not needle:
        return False
    start = 0
    while (i := haystack.find(needle, start)) >= 0:
        if _left_ok(haystack, i, needle) and _right_ok(haystack, i + len(needle), needle):
            return True
        start = i + 1
    return False


def matching_texts(value: str, manifest: LayoutManifest) -> list[Element]:
    """Text elements that equal `value` or contain it as a whole word/phrase, normalised."""
    needle = normalize_text(value)
    if not needle:
        return []
    return [e for e in manifest.texts() if contains_phrase(normalize_text(e.text or ""), needle)]


def closest_text(value: str, manifest: LayoutManifest, cutoff: float = 0.6) -> Element | None:
    """The text element most similar to `value` (for 'did you mean' hints), if any is close."""
    needle = normalize_text(value)
    best: tuple[float, Element] | None = None
    for element in manifest.texts():
        ratio = difflib.SequenceMatcher(None, needle, normalize_text(element.text or "")).ratio()
        if ratio >= cutoff and (best is None or ratio > best[0]):
            best = (ratio, element)
    return best[1] if best else None


def singular(noun: str) -> str:
    """A rough singular of an English noun, enough for chart entities ('bars' → 'bar')."""
    word = noun.strip().casefold()
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        return word[:-1]
    return word


def entity_kinds(value: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(noun, countable kinds, uncountable kinds) for an entity value like 'bars' or 'pie slice'.

    The last word names the entity; unknown nouns map to the shape kind of the same name.
    """
    words = normalize_text(value).split()
    noun = singular(words[-1]) if words else ""
    return noun, _ENTITY_KINDS.get(noun, (noun,)), _UNCOUNTABLE_KINDS.get(noun, ())


def _evidence(elements: list[Element]) -> Evidence:
    return Evidence(
        element_ids=[e.id for e in elements],
        texts=[e.text for e in elements if e.text],
        boxes=[e.box for e in elements],
    )


def _trace_entity(commitment: Commitment, manifest: LayoutManifest) -> Commitment:
    _, kinds, uncountable = entity_kinds(commitment.value)
    shapes = [e for e in manifest.elements if e.role == "shape"]
    counted = [e for e in shapes if (e.kind or "").casefold() in kinds]
    if counted:
        satisfied = commitment.count is None or len(counted) == commitment.count
        status = "satisfied" if satisfied else "violated"
        return commitment.model_copy(update={"status": status, "evidence": _evidence(counted)})
    grouped = [e for e in shapes if (e.kind or "").casefold() in uncountable]
    return commitment.model_copy(update={"status": "unverified", "evidence": _evidence(grouped)})


def trace_commitment(commitment: Commitment, manifest: LayoutManifest) -> Commitment:
    """A copy of one commitment with its status and evidence set from the manifest."""
    if commitment.kind in ("text", "number"):
        found = matching_texts(commitment.value, manifest)
        if found:
            status = "satisfied"
        else:
            status = "violated" if commitment.kind == "text" else "unverified"
        return commitment.model_copy(update={"status": status, "evidence": _evidence(found)})
    if commitment.kind == "entity":
        return _trace_entity(commitment, manifest)
    return commitment.model_copy(update={"status": "unverified", "evidence": Evidence()})


def trace_commitments(commitments: Commitments, manifest: LayoutManifest) -> Commitments:
    """A copy of `commitments` with every commitment's status and evidence traced."""
    return commitments.model_copy(
        update={
            "required_texts": [trace_commitment(c, manifest) for c in commitments.required_texts],
            "numbers": [trace_commitment(c, manifest) for c in commitments.numbers],
            "entities": [trace_commitment(c, manifest) for c in commitments.entities],
            "constraints": [trace_commitment(c, manifest) for c in commitments.constraints],
        }
    )
