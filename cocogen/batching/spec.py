"""Reading a batch spec: JSONL or CSV rows (or Python objects) into validated `BatchRow`s.

A row has any of these fields (JSONL keys or CSV columns; empty CSV cells count as absent):

| field | meaning |
|---|---|
| `prompt` | what to draw (planned by the backend) or, with a program, what the image must say |
| `program` | the program's source text; in JSONL a Vega-Lite spec may be given as an object |
| `program_file` | a file holding the program, relative to the spec file |
| `language` | `auto` (default), `matplotlib`, `svg`, `html`, `vegalite`, `graphviz` |
| `data` | the data (JSON; in CSV a JSON text) |
| `canvas` | `{"width":…, "height":…, "dpi":…}` or `"WxH"` / `"WxH@DPI"` |
| `width`, `height`, `dpi` | the canvas, one number each (override `canvas`) |
| `seed` | integer seed (default 0) |
| `refine` | refine options (an object; `true` for the defaults) |
| `reference_images` | `{"name": "path"}`, paths relative to the spec file |
| `output` | the row's name: `runs/<output>/`, `images/<output>.png` (default: from the content) |

A line that cannot be read becomes a `BadLine` naming its line number and what was wrong; the
other lines still run.  Two identical rows run once (the second is reported as a duplicate); two
different rows may not share an output name.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cocogen.batching.keys import content_key, row_key
from cocogen.batching.model import BadLine, BatchRow
from cocogen.errors import UsageError
from cocogen.languages import detect
from cocogen.types import LANGUAGES, Program, RefineOptions, Request

FIELDS: tuple[str, ...] = (
    "output",
    "prompt",
    "program",
    "program_file",
    "language",
    "data",
    "canvas",
    "width",
    "height",
    "dpi",
    "seed",
    "refine",
    "reference_images",
)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_CANVAS_TEXT = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*(?:@\s*(\d+))?\s*$")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off", "null", "none"}


class RowError(Exception):
    """What is wrong with one row, in one line."""


@dataclass
class SpecReading:
    """The rows of a spec, in order, and what could not be used."""

    source: str
    rows: list[BatchRow] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    duplicates: list[BadLine] = field(default_factory=list)


def _validation_message(exc: ValidationError) -> str:
    problem = exc.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "row"
    return f"bad {where}: {problem['msg']}"


def _json_cell(value: str, what: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise RowError(f"{what} is not valid JSON ({exc.msg} at column {exc.colno})") from None


def _csv_value(name: str, text: str) -> Any:
    """A CSV cell as the JSON value the same JSONL field would hold."""
    stripped = text.strip()
    if name in ("data", "reference_images", "canvas") and stripped[:1] in ("{", "["):
        return _json_cell(stripped, name)
    if name in ("width", "height", "dpi", "seed"):
        try:
            return int(stripped)
        except ValueError:
            raise RowError(f"{name} must be an integer, not {stripped!r}") from None
    if name == "refine":
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return None
        return _json_cell(stripped, "refine")
    if name == "program":
        return text  # program text is taken verbatim (indentation matters)
    return stripped


def _canvas(fields: dict[str, Any]) -> dict[str, Any]:
    canvas = fields.get("canvas")
    values: dict[str, Any]
    if canvas is None:
        values = {}
    elif isinstance(canvas, dict):
        values = dict(canvas)
    elif isinstance(canvas, str) and (match := _CANVAS_TEXT.match(canvas)):
        values = {"width": int(match[1]), "height": int(match[2])}
        if match[3]:
            values["dpi"] = int(match[3])
    else:
        raise RowError(f'canvas must be an object or "WxH" / "WxH@DPI", not {canvas!r}')
    for name in ("width", "height", "dpi"):
        if fields.get(name) is not None:
            values[name] = fields[name]
    return values


def _refine(value: Any) -> RefineOptions | None:
    if value is None or value is False:
        return None
    if value is True:
        return RefineOptions()
    if not isinstance(value, dict):
        raise RowError(f"refine must be an object of refine options or true, not {value!r}")
    try:
        return RefineOptions.model_validate(value)
    except ValidationError as exc:
        raise RowError(_validation_message(exc).replace("bad ", "bad refine.", 1)) from None


def _resolve(path: str, base: Path, what: str) -> Path:
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = base / candidate
    if not candidate.is_file():
        raise RowError(f"{what} {path!r} not found (looked at {candidate})")
    return candidate


def _program(fields: dict[str, Any], language: str, base: Path) -> Program | None:
    source: Any = fields.get("program")
    path = fields.get("program_file")
    if source is not None and path is not None:
        raise RowError("give either program or program_file, not both")
    filename: str | None = None
    if path is not None:
        if not isinstance(path, str):
            raise RowError("program_file must be a path")
        found = _resolve(path, base, "program_file")
        try:
            source = found.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RowError(f"cannot read program_file {path!r}: {exc}") from None
        filename = found.name
    if source is None:
        return None
    if isinstance(source, dict):
        if language not in ("auto", "vegalite"):
            raise RowError(f"a program given as an object is a Vega-Lite spec, not {language}")
        source, language = json.dumps(source, ensure_ascii=False, indent=1), "vegalite"
    if not isinstance(source, str):
        raise RowError("program must be source text (or, for Vega-Lite, an object)")
    if not source.strip():
        raise RowError("program is empty")
    if language == "auto":
        try:
            language = detect(source, filename)
        except UsageError:
            raise RowError(
                "cannot tell the program's language: add a language field "
                "(matplotlib, svg, html, vegalite or graphviz)"
            ) from None
    return Program(language=language, source=source, backend="user")


def parse_fields(fields: dict[str, Any], base: Path) -> tuple[Request, Program | None, str | None]:
    """One row's fields → (request, program or None, output name or None); raises `RowError`."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise RowError(f"unknown field {unknown[0]!r} (known: {', '.join(FIELDS)})")
    language = fields.get("language") or "auto"
    if language not in LANGUAGES:
        raise RowError(f"unknown language {language!r} (choose from {', '.join(LANGUAGES)})")
    prompt = fields.get("prompt") or ""
    if not isinstance(prompt, str):
        raise RowError("prompt must be text")
    program = _program(fields, language, base)
    if program is None and not prompt.strip():
        raise RowError("the row needs a prompt or a program (program or program_file)")
    references = fields.get("reference_images") or {}
    if not isinstance(references, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in references.items()
    ):
        raise RowError('reference_images must be an object {"name": "path"}')
    resolved = {name: str(_resolve(p, base, "reference image")) for name, p in references.items()}
    try:
        request = Request(
            prompt=prompt,
            language=program.language if program is not None else language,
            canvas=_canvas(fields),
            data=fields.get("data"),
            seed=fields.get("seed") or 0,
            refine=_refine(fields.get("refine")),
            reference_images=resolved,
        )
    except ValidationError as exc:
        raise RowError(_validation_message(exc)) from None
    output = fields.get("output")
    if output is not None:
        if not isinstance(output, str):
            raise RowError("output must be a name")
        output = output[:-4] if output.lower().endswith(".png") else output
        if not NAME_PATTERN.match(output):
            raise RowError(
                f"output {output!r} is not a plain file name (letters, digits, '.', '_', '-'; "
                "no '/', not starting with '.')"
            )
    return request, program, output


class _Collector:
    """Builds rows, keyed and deduplicated, from already-parsed fields."""

    def __init__(self, source: str, settings: dict[str, Any]) -> None:
        self.reading = SpecReading(source=source)
        self.settings = settings
        self._keys: dict[str, int] = {}
        self._names: dict[str, int] = {}

    def bad(self, line: int, error: str) -> None:
        self.reading.bad.append(BadLine(line=line, error=error))

    def add(self, line: int, request: Request, program: Program | None, name: str | None) -> None:
        content = content_key(request, program, self.settings)
        name = name or f"row-{content[:12]}"
        key = row_key(content, name)
        if key in self._keys:
            self.reading.duplicates.append(
                BadLine(line=line, error=f"same request and output as line {self._keys[key]}")
            )
            return
        if name in self._names:
            self.bad(line, f"output name {name!r} is already used by line {self._names[name]}")
            return
        self._keys[key], self._names[name] = line, line
        self.reading.rows.append(
            BatchRow(line=line, name=name, request=request, program=program, key=key)
        )

    def add_fields(self, line: int, fields: dict[str, Any], base: Path) -> None:
        try:
            request, program, name = parse_fields(fields, base)
        except RowError as exc:
            self.bad(line, str(exc))
            return
        self.add(line, request, program, name)


def _read_jsonl(text: str, base: Path, collector: _Collector) -> None:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            fields = json.loads(raw)
        except json.JSONDecodeError as exc:
            collector.bad(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(fields, dict):
            collector.bad(number, "a row must be a JSON object")
            continue
        collector.add_fields(number, fields, base)


def _read_csv(text: str, base: Path, collector: _Collector) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise UsageError(f"{collector.reading.source}:1: bad CSV header ({exc})") from None
    unknown = [name for name in header if name not in FIELDS]
    if unknown:
        raise UsageError(
            f"{collector.reading.source}:1: unknown column {unknown[0]!r} "
            f"(known: {', '.join(FIELDS)})"
        )
    while True:
        line = reader.line_num + 1  # a record may span lines; this is where it starts
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            collector.bad(line, f"bad CSV ({exc})")
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            collector.bad(line, f"{len(cells)} cells for {len(header)} columns")
            continue
        try:
            fields = {n: _csv_value(n, c) for n, c in zip(header, cells, strict=True) if c.strip()}
        except RowError as exc:
            collector.bad(line, str(exc))
            continue
        collector.add_fields(line, fields, base)


def read_spec(path: Path, settings: dict[str, Any]) -> SpecReading:
    """Read a JSONL (`.jsonl`, `.ndjson`, `.json`) or CSV (`.csv`) spec file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"spec file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read spec {path}: {exc}") from None
    collector = _Collector(str(path), settings)
    suffix = path.suffix.lower()
    is_csv = suffix == ".csv" or (
        suffix not in (".jsonl", ".ndjson", ".json") and not text.lstrip().startswith("{")
    )
    (_read_csv if is_csv else _read_jsonl)(text, path.parent.resolve(), collector)
    return collector.reading


def read_requests(items: Iterable[Any], settings: dict[str, Any]) -> SpecReading:
    """Rows from Python objects: `Request`s (planned), `Program`s (rendered) or dicts of the
    spec's fields; relative paths in dicts are taken from the current directory."""
    collector = _Collector("<requests>", settings)
    base = Path.cwd()
    for number, item in enumerate(items, start=1):
        if isinstance(item, Request):
            if not item.prompt.strip():
                collector.bad(number, "the request has no prompt (give a program to render)")
                continue
            collector.add(number, item, None, None)
        elif isinstance(item, Program):
            request = Request(language=item.language)
            collector.add(number, request, item, None)
        elif isinstance(item, dict):
            collector.add_fields(number, item, base)
        else:
            collector.bad(number, f"expected a Request, a Program or a dict, not {type(item)}")
    return collector.reading


def load(requests: Any, settings: dict[str, Any]) -> SpecReading:
    """A spec path (str or Path) or an iterable of requests."""
    if isinstance(requests, str | Path):
        return read_spec(Path(requests), settings)
    try:
        items = iter(requests)
    except TypeError:
        raise UsageError(
            f"requests must be a spec file path or an iterable, not {type(requests).__name__}"
        ) from None
    return read_requests(items, settings)
