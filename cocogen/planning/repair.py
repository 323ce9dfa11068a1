"""The compact repair message: what went wrong with the last program, in few tokens.

A model repairs best from exact, short evidence: the finding code, what to do (the checker's
`llm_message`), the texts involved and their boxes, and for a failed render the one-line error
plus the traceback's tail.  Errors come first, then a few warnings; info findings are left out.
"""

from __future__ import annotations

from cocogen.planning.base import PreviousAttempt
from cocogen.types import Box, Finding

MAX_ERRORS = 20
MAX_WARNINGS = 6
MAX_MESSAGE = 300
MAX_TRACEBACK = 1200


def _box(box: Box) -> str:
    return "(" + ", ".join(str(round(v)) for v in box) + ")"


def _finding_line(finding: Finding, texts: dict[str, str]) -> str:
    message = (finding.llm_message or finding.message).strip()
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    where: list[str] = []
    for k, element_id in enumerate(finding.element_ids[:4]):
        text = texts.get(element_id)
        label = f"{element_id} {text[:60]!r}" if text else element_id
        if k < len(finding.boxes):
            label += f" at {_box(finding.boxes[k])}"
        where.append(label)
    if not where and finding.boxes:
        where = [_box(b) for b in finding.boxes[:4]]
    suffix = f" [{'; '.join(where)}]" if where else ""
    return f"- {finding.severity} {finding.code}: {message}{suffix}"


def problems(previous: PreviousAttempt, canvas: tuple[int, int] | None = None) -> str:
    """The problems of one attempt as a short list (boxes are x0, y0, x1, y1 in pixels)."""
    lines: list[str] = []
    if previous.failure:
        head, _, tail = previous.failure.partition("\n")
        lines.append(f"The render failed: {head.strip()}")
        if tail.strip():
            lines.append("Traceback (last lines):")
            lines.append(tail.strip()[-MAX_TRACEBACK:])
    errors = [f for f in previous.findings if f.severity == "error"]
    warnings = [f for f in previous.findings if f.severity == "warning"]
    if errors or warnings:
        size = f" on the {canvas[0]}x{canvas[1]} px canvas" if canvas else ""
        lines.append(f"Problems found{size} (boxes are x0, y0, x1, y1 in pixels, origin top-left):")
        lines += [_finding_line(f, previous.texts) for f in errors[:MAX_ERRORS]]
        if len(errors) > MAX_ERRORS:
            lines.append(f"- … and {len(errors) - MAX_ERRORS} more errors of the same kinds")
        lines += [_finding_line(f, previous.texts) for f in warnings[:MAX_WARNINGS]]
    if not lines:
        lines.append("No problems were found, but the result can still be improved.")
    return "\n".join(lines)
