"""A compact description of a request's attached data, for the model: never a whole big table.

Small data (up to `INLINE_LIMIT` characters of JSON) is given in full, since the program must
embed it.  Larger data is described: its shape, the columns with their types and ranges, and the
first rows; the program then reads the file itself (an input file) instead of a pasted copy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

INLINE_LIMIT = 4000
HEAD_ROWS = 5


def _column(values: Sequence[Any]) -> str:
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    finite = [float(v) for v in numbers if math.isfinite(float(v))]
    if finite and len(numbers) == len([v for v in values if v is not None]):
        return f"number, {min(finite):g} to {max(finite):g}"
    distinct = {str(v) for v in values if v is not None}
    sample = ", ".join(sorted(distinct)[:6])
    more = f", … ({len(distinct)} distinct)" if len(distinct) > 6 else ""
    return f"text: {sample}{more}"


def _records(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    described = "; ".join(f"{c} ({_column([r.get(c) for r in rows])})" for c in columns[:30])
    head = json.dumps(rows[:HEAD_ROWS], ensure_ascii=False)
    return f"a table of {len(rows)} rows; columns: {described}. First rows: {head}"


def summarize(data: Any) -> str | None:
    """None for no data; the data itself when small; otherwise a description (see above)."""
    if data is None:
        return None
    if isinstance(data, str):
        if len(data) <= INLINE_LIMIT:
            return f"data given as text:\n{data}"
        lines = data.splitlines()
        return (
            f"data given as text of {len(lines)} lines; the first {HEAD_ROWS + 1}:\n"
            + "\n".join(lines[: HEAD_ROWS + 1])
        )
    try:
        text = json.dumps(data, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError):
        text = repr(data)
    if len(text) <= INLINE_LIMIT:
        return f"data (JSON, complete):\n{text}"
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return _records(data)
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        lengths = {k: len(v) for k, v in data.items()}
        described = "; ".join(f"{k} ({_column(v)}, {lengths[k]} values)" for k, v in data.items())
        return f"columns of data: {described}"
    if isinstance(data, list):
        return f"a list of {len(data)} items; the first: {json.dumps(data[:HEAD_ROWS])[:800]}"
    return f"data (JSON, first {INLINE_LIMIT} characters): {text[:INLINE_LIMIT]}"
