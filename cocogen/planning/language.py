"""Choosing the layout language for `--language auto`, with the reason written down.

Rules, from the words of the request (the first that applies wins):

1. a language named outright ("as SVG", "in Vega-Lite", "a Graphviz diagram", "HTML page");
2. diagrams and graphs of things (flowcharts, `A -> B` arrows, trees, org charts, state
   machines, networks, dependency graphs) → Graphviz;
3. posters, slides, signs, flyers, menus, cards, tickets, web pages, captions, dialogues and any
   request with long or many quoted texts → HTML;
4. icons, logos, badges, emblems, simple illustrations and geometric drawings → SVG;
5. charts with data → matplotlib, or Vega-Lite when the attached data is a list of records
   (Vega-Lite's own input shape);
6. nothing decisive, or signals that disagree equally: unsure.  An LLM backend is then asked to
   choose (`Backend.choose_language`), the offline planner picks what it can draw, and any other
   backend gets its default.

The result is a `LanguageChoice` whose `reason` goes into the run record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cocogen.types import Request

_NAMED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bvega[- ]?lite\b|\bvegalite\b", re.I), "vegalite"),
    (re.compile(r"\bgraphviz\b|\bdot (?:language|graph|file)\b", re.I), "graphviz"),
    (re.compile(r"\bmatplotlib\b|\bpyplot\b", re.I), "matplotlib"),
    (
        re.compile(
            r"\b(?:as|in|an?|with|using|inline)\s+svg\b|\bsvg\s+(?:image|file|graphic|icon)", re.I
        ),
        "svg",
    ),
    (
        re.compile(r"\b(?:as|in|an?|with|using)\s+html\b|\bhtml(?:/css|\s+page)\b|\bcss\b", re.I),
        "html",
    ),
)

_DIAGRAM = re.compile(
    r"\b(?:flow\s?charts?|flow\s+diagrams?|diagrams?|org(?:anization(?:al)?)?[- ]charts?"
    r"|state\s+machines?|decision\s+trees?|family\s+trees?|trees?\s+of|mind\s?maps?"
    r"|dependency\s+graphs?|call\s+graphs?|directed\s+graphs?|networks?\s+of|pipelines?"
    r"|workflows?|process(?:es)?\s+(?:map|flow)|nodes?|edges?|hierarch(?:y|ies)|uml"
    r"|sequence\s+of\s+steps|architecture)\b",
    re.I,
)
_ARROWS = re.compile(r"\S\s*(?:->|→|=>|⟶)\s*\S")
_LAYOUT = re.compile(
    r"\b(?:posters?|slides?|signs?|signboards?|billboards?|banners?|flyers?|leaflets?|brochures?"
    r"|menus?|business\s+cards?|cards?|tickets?|certificates?|invitations?|web\s?pages?"
    r"|websites?|landing\s+pages?|newsletters?|infographics?|résumés?|resumes?|receipts?"
    r"|labels?|stickers?|captions?|subtitles?|dialogues?|comics?|speech\s+bubbles?|postcards?"
    r"|book\s+covers?|covers?|magazines?|newspapers?|headlines?|screenshots?|ui|dashboards?"
    r"|forms?|letters?|notices?|announcements?|placards?|packaging|chalkboards?)\b",
    re.I,
)
_VECTOR = re.compile(
    r"\b(?:icons?|logos?|badges?|emblems?|illustrations?|pictograms?|glyphs?|geometric"
    r"|shapes?|circles?|triangles?|hexagons?|patterns?|silhouettes?|mandalas?|maps?|flags?)\b",
    re.I,
)
_CHART = re.compile(
    r"\b(?:charts?|plots?|graphs?|histograms?|scatter\w*|bars?|pies?|donuts?|doughnuts?"
    r"|lines?\s+chart|trends?|time\s+series|heat\s?maps?|box\s?plots?|tables?|axes|axis)\b",
    re.I,
)
_NUMBER = re.compile(r"(?<![\w.])[-+]?\$?\d+(?:[.,]\d+)*%?")
_QUOTED = re.compile(r'"([^"\n]+)"|“([^”\n]+)”|「([^」\n]+)」')


@dataclass(frozen=True)
class LanguageChoice:
    """`language` is None when the rules are unsure; `reason` says why either way."""

    language: str | None
    reason: str

    @property
    def sure(self) -> bool:
        return self.language is not None


def _records(data: Any) -> bool:
    return isinstance(data, list) and len(data) >= 1 and all(isinstance(r, dict) for r in data)


def _has_data(request: Request) -> bool:
    if request.data is not None:
        return True
    return len(_NUMBER.findall(request.prompt)) >= 2


def choose_language(request: Request) -> LanguageChoice:
    """The language for a request (rules in the module docstring); `request.language` wins."""
    if request.language != "auto":
        return LanguageChoice(request.language, f"asked for {request.language}")
    prompt = request.prompt
    for pattern, language in _NAMED:
        match = pattern.search(prompt)
        if match:
            return LanguageChoice(language, f"the request names it ({match.group(0).strip()!r})")

    quotes = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(prompt)]
    long_text = sum(len(q) for q in quotes) >= 120 or len(quotes) >= 4
    chart = _CHART.search(prompt)
    data = _has_data(request)
    diagram = _DIAGRAM.search(prompt)
    arrows = _ARROWS.search(prompt)
    layout = _LAYOUT.search(prompt)
    vector = _VECTOR.search(prompt)

    scores: dict[str, tuple[int, str]] = {}

    def vote(language: str, weight: int, why: str) -> None:
        if weight > scores.get(language, (0, ""))[0]:
            scores[language] = (weight, why)

    if arrows:
        vote("graphviz", 3, f"arrows between steps ({arrows.group(0).strip()!r}): a graph")
    if diagram and not (chart and data):
        vote("graphviz", 2, f"a diagram of things ({diagram.group(0)!r})")
    if layout:
        vote("html", 2, f"a text layout ({layout.group(0)!r}): HTML/CSS lays out text best")
    if long_text:
        vote(
            "html",
            3 if not (chart and data) else 1,
            f"{len(quotes)} quoted texts ({sum(len(q) for q in quotes)} characters): HTML "
            "wraps and fits long text",
        )
    if vector and not layout:
        vote("svg", 2, f"a vector drawing ({vector.group(0)!r})")
    if chart and data:
        if _records(request.data):
            vote("vegalite", 3, "a chart of attached records (Vega-Lite's input shape)")
        else:
            vote("matplotlib", 3, f"a chart ({chart.group(0)!r}) with its data")
    elif chart and not (layout or vector):
        vote("matplotlib", 1, f"a chart ({chart.group(0)!r}), data to be found")
    if not scores:
        return LanguageChoice(None, "no word of the request settles the language")
    ranked = sorted(scores.items(), key=lambda item: -item[1][0])
    best, (weight, why) = ranked[0]
    if len(ranked) > 1 and ranked[1][1][0] == weight:
        other = ranked[1][0]
        return LanguageChoice(None, f"signals disagree: {why} vs {ranked[1][1][1]} ({other})")
    return LanguageChoice(best, why)


def decide_language(request: Request, backend: object) -> tuple[str, str]:
    """(language, why) for a request and the backend that will write it.

    The rules first; when they are unsure, a backend that can choose (`choose_language`) is
    asked, and any other backend gets its `default_language`.
    """
    choice = choose_language(request)
    if choice.language is not None:
        return choice.language, choice.reason
    chooser = getattr(backend, "choose_language", None)
    if callable(chooser):
        language, reason = chooser(request, choice.reason)
        return str(language), str(reason)
    default = str(getattr(backend, "default_language", "matplotlib"))
    name = getattr(backend, "name", "backend")
    return default, f"{choice.reason}; the {name} backend's default"
