"""Tracing the request's commitments to the elements that keep them.

A request promises things — a title, certain numbers, five bars.  The manifest says which texts
and marks were actually drawn, so each promise can be marked `satisfied`, `violated` or
`unverified` together with its evidence (element ids, texts, boxes).  Matching is normalised
(case, whitespace, dashes and minus signs, thousands separators, a trailing '.0', spacing around
'%' and currency signs) because the model writing the program and the request rarely agree on
typography.  Numbers that are absent from the text are only `unverified`: a value may be encoded
as geometry (a bar's height), which is for a later values check to decide.

When OCR ran, what it read is evidence too: a text the manifest lacks but OCR reads (drawn as
paths, inside a picture) is satisfied; a text the manifest has but whose every crop reads as
something else is only `unverified`.  OCR text is matched with `ocr_contains`, which forgives
dropped spaces and punctuation and small misreadings but never a different digit.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from cocogen.types import Box, Commitment, Commitments, Element, Evidence, LayoutManifest

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


_OCR_FOLD = str.maketrans({"°": "0", "º": "0"})
"""OCR reads a superscript 0 (10⁰) as a degree sign; folding both ways keeps '30°' == '30°'."""


def ocr_key(text: str) -> str:
    """What OCR output is compared by: letters and digits only, case-folded, digits as written.

    OCR drops spaces and punctuation, and misreads decimal points, so only the letters and
    digits count ('1.00' → '100', never folded to '1' as `normalize_text` would).
    """
    folded = unicodedata.normalize("NFKC", text.translate(_OCR_FOLD)).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def digits(key: str) -> str:
    return "".join(ch for ch in key if ch.isdigit())


def similarity(expected: str, read: str) -> float:
    """0-1 likeness of two texts' OCR keys (1.0: the same letters and digits)."""
    a, b = ocr_key(expected), ocr_key(read)
    if a == b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _digit_bounded(hay: str, start: int, end: int) -> bool:
    """True when hay[start:end] does not cut a run of digits at either end ('1' in '10')."""
    cut_left = start > 0 and hay[start].isdigit() and hay[start - 1].isdigit()
    cut_right = end < len(hay) and hay[end - 1].isdigit() and hay[end].isdigit()
    return not cut_left and not cut_right


FUZZY_MIN_KEY = 10
"""Needles shorter than this (letters and digits) must match OCR text exactly, not fuzzily:
one misread letter in a short word is another word ('axhspan' vs 'axvspan')."""


def ocr_contains(haystack: str, needle: str, threshold: float = 0.85) -> bool:
    """True when OCR text `haystack` holds `needle`: as a phrase, or up to OCR noise.

    In order: a normalised phrase; the same phrase with spaces dropped (OCR loses them: 'S&P500');
    the letters and digits alone, for needles of 6 or more that are mostly letters and digits;
    and, for needles of `FUZZY_MIN_KEY` or more, a near match.  A number is never cut ('10' does
    not hold '1') and a near match needs the same digits ('2025' is not '2024').
    """
    hay, need = normalize_text(haystack), normalize_text(needle)
    if contains_phrase(hay, need):
        return True
    if contains_phrase(hay.replace(" ", ""), need.replace(" ", "")):
        return True
    hay_key, key = ocr_key(haystack), ocr_key(needle)
    visible = [ch for ch in need if not ch.isspace()]
    if len(key) < 6 or len(key) < 0.8 * len(visible):
        return False  # short, or its punctuation is what tells it apart ("marker='>'")
    start = hay_key.find(key)
    while start >= 0:
        if _digit_bounded(hay_key, start, start + len(key)):
            return True
        start = hay_key.find(key, start + 1)
    if len(key) < FUZZY_MIN_KEY:
        return False
    want = digits(key)
    for size in range(len(key) - 2, len(key) + 3):
        for i in range(0, len(hay_key) - size + 1):
            window = hay_key[i : i + size]
            if digits(window) != want or not _digit_bounded(hay_key, i, i + size):
                continue
            matcher = difflib.SequenceMatcher(None, key, window, autojunk=False)
            if matcher.quick_ratio() >= threshold and matcher.ratio() >= threshold:
                return True
    return False


def matching_texts(value: str, manifest: LayoutManifest) -> list[Element]:
    """Text elements that equal `value` or contain it as a whole word/phrase, normalised.

    A text wrapped over several lines (each line its own element, as HTML and SVG layouts
    record them) matches as the shortest run of consecutive lines of one paragraph that holds
    it; see `paragraphs`.
    """
    needle = normalize_text(value)
    if not needle:
        return []
    texts = manifest.texts()
    found = [e for e in texts if contains_phrase(normalize_text(e.text or ""), needle)]
    if found:
        return found
    for block in paragraphs(texts):
        for first in range(len(block) - 1):
            for last in range(first + 1, len(block)):
                if contains_phrase(normalize_text(joined_lines(block[first : last + 1])), needle):
                    found.extend(block[first : last + 1])
                    break
            if found:
                return found
    return found


_LINE_GAP = 0.6
"""Most space between two lines of one paragraph, as a fraction of the upper line's height."""


def paragraphs(texts: Sequence[Element]) -> list[list[Element]]:
    """Text elements grouped into wrapped paragraphs: consecutive in the manifest, the same font
    size and parent, upright, each line starting right under the one before."""
    groups: list[list[Element]] = []
    for element in texts:
        last = groups[-1][-1] if groups else None
        if (
            last is not None
            and last.font_size_px == element.font_size_px
            and last.parent == element.parent
            and last.rotation == element.rotation == 0
            and 0 <= element.box[1] - last.box[3] <= _LINE_GAP * (last.box[3] - last.box[1])
        ):
            groups[-1].append(element)
        else:
            groups.append([element])
    return [g for g in groups if len(g) > 1]


def joined_lines(lines: Sequence[Element]) -> str:
    """The lines of a paragraph as one text (no space where a line starts with a CJK character)."""
    out = ""
    for element in lines:
        text = (element.text or "").strip()
        wide = bool(out) and bool(text) and unicodedata.east_asian_width(text[0]) in "WF"
        out += ("" if not out or wide else " ") + text
    return out


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


@dataclass(frozen=True)
class OcrText:
    """A text OCR read: in a manifest text's crop (`element_id` set, `confirmed` says whether it
    reads as the manifest says), or on the full-image pass (`confirmed` None)."""

    text: str
    box: Box
    element_id: str | None = None
    confirmed: bool | None = None


def _trace_text(
    commitment: Commitment, manifest: LayoutManifest, ocr: Sequence[OcrText] | None
) -> Commitment:
    """Text and number commitments: satisfied when drawn (manifest) and not contradicted by OCR,
    or when OCR reads them where the manifest knows no text (e.g. text drawn as paths)."""
    found = matching_texts(commitment.value, manifest)
    missing = "violated" if commitment.kind == "text" else "unverified"
    if ocr is None:
        status = "satisfied" if found else missing
        return commitment.model_copy(update={"status": status, "evidence": _evidence(found)})
    hits = [o for o in ocr if o.text and ocr_contains(o.text, commitment.value)]
    ids = {e.id for e in found}
    reads = [o for o in ocr if o.element_id in ids and o.confirmed is not None]
    if found:
        # Drawn, but every crop of it reads as something else: the manifest alone is not proof.
        contradicted = bool(reads) and not any(o.confirmed for o in reads) and not hits
        evidence = _evidence(found).model_copy(
            update={"ocr_text": " | ".join(o.text for o in (hits or reads)) or None}
        )
        status = "unverified" if contradicted else "satisfied"
        return commitment.model_copy(update={"status": status, "evidence": evidence})
    if hits:
        evidence = Evidence(
            element_ids=[o.element_id for o in hits if o.element_id],
            texts=[o.text for o in hits],
            boxes=[o.box for o in hits],
            ocr_text=" | ".join(o.text for o in hits),
        )
        return commitment.model_copy(update={"status": "satisfied", "evidence": evidence})
    return commitment.model_copy(update={"status": missing, "evidence": Evidence()})


def trace_commitment(
    commitment: Commitment, manifest: LayoutManifest, ocr: Sequence[OcrText] | None = None
) -> Commitment:
    """A copy of one commitment with its status and evidence set from the manifest (and OCR)."""
    if commitment.kind in ("text", "number"):
        return _trace_text(commitment, manifest, ocr)
    if commitment.kind == "entity":
        return _trace_entity(commitment, manifest)
    return commitment.model_copy(update={"status": "unverified", "evidence": Evidence()})


def trace_commitments(
    commitments: Commitments, manifest: LayoutManifest, ocr: Sequence[OcrText] | None = None
) -> Commitments:
    """A copy of `commitments` with every commitment's status and evidence traced.

    `ocr`: what OCR read (None: OCR did not run; matching is against the manifest alone).
    """

    def each(items: list[Commitment]) -> list[Commitment]:
        return [trace_commitment(c, manifest, ocr) for c in items]

    return commitments.model_copy(
        update={
            "required_texts": each(commitments.required_texts),
            "numbers": each(commitments.numbers),
            "entities": each(commitments.entities),
            "constraints": each(commitments.constraints),
        }
    )
