"""Cheap deterministic fixes, tried before a model is asked to repair.

Some failures have one obvious cure and cost a model call (and a minute) to fix otherwise:

* an unknown colour name (`'bleu' is not a valid value for color`, `Invalid RGBA argument`, or
  a colour argument matplotlib rejects without naming it): every string literal given to a
  colour argument that matplotlib cannot read is replaced by the closest named colour;
* an invalid legend location (`'upper centre' is not a valid value for loc`): the closest valid
  location;
* a matplotlib program that never delivers a figure (`no_output`: it closed what it drew): its
  `close()` calls are removed.

`quick_fix` returns the fixed program and a note saying what changed, or None when no fix
applies (or the fix would change nothing).  Only the source text is edited, at the positions
`ast` gives, so the rest of the program stays byte-identical.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterator

from cocogen.types import Program, RenderFailure

_COLOR_ARGS = re.compile(r"(^|_)(c|colou?rs?|fc|ec|mfc|mec|\w*colou?rs?|cmap_bad)$", re.I)
_COLOR_METHODS = frozenset(
    {
        "set_color",
        "set_facecolor",
        "set_edgecolor",
        "set_fc",
        "set_ec",
        "set_markerfacecolor",
        "set_markeredgecolor",
        "set_backgroundcolor",
    }
)
_LOC_ERROR = re.compile(r"'([^']+)' is not a valid value for loc")
_COLOR_ERROR = re.compile(
    r"'([^']*)' is not a valid value for colou?r|Invalid RGBA argument: '([^']*)'"
    r"|valid colou?r|not a valid colou?r|colou?r.*must be",
    re.I,
)
LEGEND_LOCATIONS = (
    "best",
    "upper right",
    "upper left",
    "lower left",
    "lower right",
    "right",
    "center left",
    "center right",
    "lower center",
    "upper center",
    "center",
)


def _colour_names() -> list[str]:
    from matplotlib import colors

    return sorted(set(colors.CSS4_COLORS) | set(colors.BASE_COLORS))


def _is_colour(value: str) -> bool:
    from matplotlib import colors

    return bool(colors.is_color_like(value))


def closest_colour(name: str) -> str:
    """The nearest named colour to a misspelt one ('bleu' → 'blue'), else 'gray'."""
    plain = re.sub(r"[\s_-]+", "", name.lower())
    names = _colour_names()
    if plain in names:
        return plain
    match = difflib.get_close_matches(plain, names, n=1, cutoff=0.6)
    if match:
        return match[0]
    for word in re.findall(r"[a-z]+", name.lower())[::-1]:
        if word in names:
            return word
    return "gray"


def _string_nodes(node: ast.AST) -> Iterator[ast.Constant]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node
    elif isinstance(node, ast.List | ast.Tuple):
        for item in node.elts:
            yield from _string_nodes(item)
    elif isinstance(node, ast.Dict):
        for value in node.values:
            if value is not None:
                yield from _string_nodes(value)


def _colour_literals(tree: ast.AST) -> Iterator[ast.Constant]:
    """String literals given to colour arguments, colour setters, or *colo(u)r* variables."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg and _COLOR_ARGS.search(keyword.arg):
                    yield from _string_nodes(keyword.value)
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in _COLOR_METHODS and node.args:
                yield from _string_nodes(node.args[0])
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if any(re.search(r"colou?r|palette", n, re.I) for n in names):
                yield from _string_nodes(node.value)


def _replace(source: str, edits: list[tuple[ast.Constant, str]]) -> str:
    """Replace each literal (by its exact position) with the repr of a new string."""
    lines = source.splitlines(keepends=True)
    for node, value in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        if node.end_lineno != node.lineno or node.end_col_offset is None:
            continue
        raw = lines[node.lineno - 1].encode("utf-8")
        start, end = node.col_offset, node.end_col_offset
        quote = raw[start : start + 1].decode("utf-8", "replace")
        quote = quote if quote in ("'", '"') else '"'
        new = (quote + value + quote).encode("utf-8")
        lines[node.lineno - 1] = (raw[:start] + new + raw[end:]).decode("utf-8")
    return "".join(lines)


def fix_colours(source: str) -> tuple[str, list[str]]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source, []
    edits: list[tuple[ast.Constant, str]] = []
    changes: list[str] = []
    seen: set[int] = set()
    for node in _colour_literals(tree):
        if id(node) in seen or not isinstance(node.value, str) or _is_colour(node.value):
            continue
        seen.add(id(node))
        if not re.fullmatch(r"[A-Za-z][A-Za-z _-]{1,40}", node.value):
            continue  # a colormap name, a format string, …: not a misspelt colour
        if node.value.lower() in ("none", "auto", "face", "inherit"):
            continue
        new = closest_colour(node.value)
        edits.append((node, new))
        changes.append(f"{node.value!r} → {new!r}")
    return (_replace(source, edits), changes) if edits else (source, [])


def fix_legend(source: str, bad: str) -> tuple[str, str] | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    match = difflib.get_close_matches(bad.lower(), LEGEND_LOCATIONS, n=1, cutoff=0.0)
    new = match[0] if match else "best"
    edits = [
        (node, new)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value == bad
    ]
    if not edits:
        return None
    return _replace(source, edits), f"legend location {bad!r} → {new!r}"


def fix_closed_figures(source: str) -> tuple[str, str] | None:
    """Drop `plt.close(...)` / `fig.clf()` statements (the renderer delivers open figures)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    lines = source.splitlines(keepends=True)
    removed = 0
    for node in sorted(ast.walk(tree), key=lambda n: getattr(n, "lineno", 0), reverse=True):
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
            continue
        func = node.value.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("close", "clf")
            and (node.lineno == node.end_lineno)
        ):
            line = lines[node.lineno - 1]
            indent = line[: len(line) - len(line.lstrip())]
            lines[node.lineno - 1] = f"{indent}pass  # cocogen: the figure must stay open\n"
            removed += 1
    if not removed:
        return None
    return "".join(lines), f"removed {removed} close() call(s) that discarded the figure"


def quick_fix(program: Program, failure: RenderFailure | None) -> tuple[Program, str] | None:
    """A deterministically fixed program and what was done, or None (see the module docstring)."""
    if failure is None or program.language != "matplotlib":
        return None
    message = f"{failure.message}\n{failure.traceback_tail}"
    source = program.source
    note: str | None = None
    legend = _LOC_ERROR.search(message)
    if legend:
        fixed = fix_legend(source, legend.group(1))
        if fixed:
            source, note = fixed
    elif failure.kind == "no_output":
        fixed = fix_closed_figures(source)
        if fixed:
            source, note = fixed
    elif _COLOR_ERROR.search(message):
        source, changes = fix_colours(source)
        if changes:
            note = "unknown colour names replaced: " + ", ".join(changes)
    if note is None or source == program.source:
        return None
    fixed_program = program.model_copy(
        update={
            "source": source,
            "notes": f"deterministic fix: {note}",
            "usage": None,
            "commitments": None,
        }
    )
    return fixed_program, note
