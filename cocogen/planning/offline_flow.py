"""Offline flowcharts: steps written as `A -> B -> C` become a Graphviz graph.

Grammar (arrows: `->`, `-->`, `=>`, `→`, `⟶`, `⇒`):

* chains are separated by `;`, `,`, new lines or ". ": `Start -> Check -> End; Check -> Retry`;
* a node is a quoted string or the words between arrows; before the first arrow, only the words
  after a colon (`Login flow: Open app -> Sign in`) or after an introducing word ("flowchart of
  Open app -> …" → "Open app");
* an edge label sits inside the arrow: `A -[yes]-> B`, `A -(no)-> C`, `A --yes--> B`;
* a node named like a question ("Valid?") is a diamond; start/end/begin/stop/finish/done are
  ovals; "left to right" / "horizontal" lays the chart out sideways (so do chains over 6 steps);
* `titled "X"` puts X above the chart.

Nodes are identified by their name (case and spacing folded), so `A -> B; B -> C` is one path.
Every node name becomes a required text; nothing else is drawn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cocogen.errors import NotUnderstood
from cocogen.planning.commitments import read_request
from cocogen.planning.offline import LLM_HINT
from cocogen.types import Canvas, Commitment, Commitments

NEEDS_ARROWS = (
    'the offline planner draws flowcharts written as steps with arrows (e.g. "Start -> Check '
    'input -> Save -> End"); ' + LLM_HINT
)
_ARROW = re.compile(
    r"\s*(?:-+\s*\[(?P<l1>[^\]\n]{1,40})\]\s*-*>|-+\s*\((?P<l2>[^)\n]{1,40})\)\s*-*>"
    r"|-{2,}\s*(?P<l3>[^-<>\n]{1,30}?)\s*-{2,}>|-+>|=+>|→|⟶|⇒)\s*"
)
_QUOTED = re.compile(r'"([^"\n]+)"|“([^”\n]+)”|\'([^\'\n]+)\'')
_SPLIT = re.compile(r"\s*(?:;|\n|,|\.\s+(?=[A-Z\"“]))\s*")
_INTRO = re.compile(
    r"^.*\b(?:of|from|showing|shows|where|with|steps?|process|flow|flowchart|flow chart|diagram"
    r"|graph|chart|is|are|goes|like|this|these|follows?|following)\s*:?\s+",
    re.I,
)
_TAIL = re.compile(
    r"\s+(?:in|as|with|using|on|for|drawn|laid)\s+(?:a|an|the)?\s*(?:simple\s+)?"
    r"(?:flow\s?charts?|diagrams?|graphs?|charts?|boxes|left[- ]to[- ]right|top[- ]to[- ]bottom"
    r"|horizontal(?:ly)?|vertical(?:ly)?|layout|style|direction|order)\b.*$",
    re.I,
)
_TITLE_TAIL = re.compile(
    r"\s+(?:titled|entitled|called|named|with\s+(?:the|a)\s+title|labell?ed)\b.*$", re.I
)
_LEAD = re.compile(
    r"^(?:please\s+)?(?:draw|make|create|show|render|generate|build|plot|give\s+me|i\s+want"
    r"|i\s+need)\s+(?:me\s+)?(?:a|an|the)?\s*",
    re.I,
)
_TERMINALS = frozenset({"start", "end", "begin", "stop", "finish", "done", "exit"})
MAX_NODES = 60


@dataclass(frozen=True)
class Flow:
    nodes: tuple[str, ...]
    edges: tuple[tuple[int, int, str], ...]
    title: str | None
    sideways: bool


def _fold(name: str) -> str:
    return " ".join(name.casefold().split())


def _node_name(piece: str, quotes: list[str], first: bool, last: bool) -> str:
    text = piece.strip()
    if last:
        text = _TITLE_TAIL.sub("", _TAIL.sub("", text))
    quoted = re.findall(r"\x00(\d+)\x00", text)
    if quoted:  # a quoted name is the whole name ('Draw "Idea" -> ...')
        return " ".join(quotes[int(quoted[-1 if first else 0])].split())
    if first:
        if ":" in text:
            text = text.rsplit(":", 1)[1]
        elif len(text.split()) > 3:
            text = _INTRO.sub("", text)
        text = _LEAD.sub("", text)
    text = text.strip().strip(".").strip()
    text = re.sub(r"\x00(\d+)\x00", lambda m: quotes[int(m.group(1))], text)
    return " ".join(text.split())


def parse_flow(prompt: str) -> Flow:
    """The nodes and edges of a flowchart request; `NotUnderstood` when it has no arrows."""
    quotes: list[str] = []

    def mask(match: re.Match[str]) -> str:
        quotes.append(next(g for g in match.groups() if g is not None).strip())
        return f"\x00{len(quotes) - 1}\x00"

    masked = _QUOTED.sub(mask, prompt)
    title = read_request(prompt).title
    nodes: list[str] = []
    index: dict[str, int] = {}
    edges: list[tuple[int, int, str]] = []
    longest = 0
    for statement in _SPLIT.split(masked):
        parts = _ARROW.split(statement)
        # re.split with groups: [node, l1, l2, l3, node, l1, l2, l3, node, ...]
        names = parts[::4]
        labels = [
            next((g for g in parts[k + 1 : k + 4] if g), "") for k in range(0, len(parts) - 1, 4)
        ]
        if len(names) < 2:
            continue
        ids: list[int] = []
        for k, piece in enumerate(names):
            name = _node_name(piece, quotes, first=k == 0, last=k == len(names) - 1)
            if not name or name == title:
                ids = []
                break
            key = _fold(name)
            if key not in index:
                index[key] = len(nodes)
                nodes.append(name)
            ids.append(index[key])
        if len(ids) < 2:
            continue
        longest = max(longest, len(ids))
        for k in range(len(ids) - 1):
            edge = (ids[k], ids[k + 1], " ".join(labels[k].split()))
            if edge not in edges:
                edges.append(edge)
    if not edges:
        raise NotUnderstood(NEEDS_ARROWS)
    if len(nodes) > MAX_NODES:
        raise NotUnderstood(
            f"the flowchart has {len(nodes)} steps; the offline planner draws at most {MAX_NODES}"
        )
    sideways = bool(re.search(r"left[- ]to[- ]right|horizontal", prompt, re.I)) or (
        longest > 6 and not re.search(r"top[- ]to[- ]bottom|vertical", prompt, re.I)
    )
    return Flow(tuple(nodes), tuple(edges), title, sideways)


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape(name: str) -> str:
    if name.rstrip().endswith("?"):
        return 'shape=diamond, style="filled", fillcolor="#fff4d6", color="#b7791f"'
    if _fold(name) in _TERMINALS:
        return 'shape=ellipse, style="filled", fillcolor="#dcfce7", color="#2f855a"'
    return ""


def dot_source(flow: Flow, canvas: Canvas) -> str:
    """The DOT program for a flow (same flow and canvas → byte-identical text)."""
    # Graphviz sizes are in inches; the renderer reads them at 96 px per inch.  "!" with
    # ratio=fill spreads the nodes over the whole canvas without scaling the type.
    inches_w, inches_h = round(canvas.width / 96, 4), round(canvas.height / 96, 4)
    lines = [
        "// Flowchart written by cocogen's offline planner from the request's arrows.",
        "digraph flow {",
        f'  graph [rankdir={"LR" if flow.sideways else "TB"}, fontname="DejaVu Sans", '
        f'fontsize=24, pad=0.3, nodesep=0.45, ranksep=0.55, bgcolor="white", '
        f'size="{inches_w:g},{inches_h:g}!", ratio=fill];',
        '  node [fontname="DejaVu Sans", fontsize=18, shape=box, style="rounded,filled", '
        'fillcolor="#e8f0fe", color="#3b6ea5", penwidth=1.5, margin="0.25,0.12"];',
        '  edge [fontname="DejaVu Sans", fontsize=15, color="#444444", penwidth=1.4, '
        "arrowsize=0.9];",
    ]
    if flow.title:
        lines.append(f"  label={_dot_string(flow.title)}; labelloc=t;")
    for k, name in enumerate(flow.nodes):
        extra = _shape(name)
        lines.append(f"  n{k} [label={_dot_string(name)}{', ' + extra if extra else ''}];")
    for a, b, label in flow.edges:
        attrs = f" [label={_dot_string(label)}]" if label else ""
        lines.append(f"  n{a} -> n{b}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def flow_commitments(flow: Flow) -> Commitments:
    """Every node name (and edge label) must be drawn; the title too."""
    texts = [*flow.nodes, *(label for _, _, label in flow.edges if label)]
    if flow.title:
        texts.append(flow.title)
    unique = list(dict.fromkeys(texts))
    return Commitments(required_texts=[Commitment(kind="text", value=t) for t in unique])
