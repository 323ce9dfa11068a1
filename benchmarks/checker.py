"""Defect benchmark of the checker on real charts: recall per planted defect, false positives on
the untouched charts, OCR confirmation, and crop-based OCR against a full-image pass.

Two renderers, so that a result is not an accident of one renderer's manifest or fonts:
matplotlib's own gallery (`../shared/corpora/get-matplotlib-gallery`) and Vega-Lite specs from
nvBench (`../shared/corpora/nvbench/cases.jsonl`), both rendered through the real sandbox.  Each
chart is rendered untouched and with one planted defect at a time.  In a gallery program defects
are planted by appending code that edits the artists at draw time:

  overlap      two labels placed on top of each other in the first axes
  off_canvas   a note that starts at 98% of the figure width (cut off at the right edge)
  tiny_font    the chart's main text set to 5 px
  no_title     the title the request quotes, removed
  wrong_number a quoted text with a number, drawn with one digit changed
  tofu         a character no installed font has (Linear B / private use) inserted in a text
  light_grey   the main text drawn in #d9d9d9 on its white background

A Vega-Lite spec (nvBench specs have no title) gets a title and a subtitle with a digit (its case
number and row count), drawn at 800x600; defects are planted by editing the JSON: overlap and
off_canvas add a text-mark layer (off_canvas also pins the view to the untouched chart's box and
padding, because Vega's `fit` autosize would otherwise shrink the plot to make room for the
note), tiny_font / light_grey / tofu edit the title's fontSize / color / text, no_title blanks the
title (the subtitle stays), wrong_number changes a digit of the subtitle.  A defect that cannot
apply to a chart (no qualifying text, no view box for off_canvas) is skipped.

The request for every chart quotes its own title and one of its texts with a digit, so the
untouched chart must keep both.  A defect counts as found when the finding of its code names the
planted element (or the commitment it breaks is `violated`).  Renders are cached in a temp dir
(or `--cache DIR`) keyed by the program's hash.

The OCR confirmation and timing study runs on the gallery charts only.

Run: .venv/bin/python benchmarks/checker.py [--charts 80] [--vegalite 20] [--gallery DIR]
     [--nvbench FILE] [--cache DIR]
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cocogen.checking import CheckSettings, check  # noqa: E402
from cocogen.checking.ocr import (  # noqa: E402
    Detection,
    confirms,
    full_pass,
    ocr_unavailable,
    read_texts,
    recognize,
)
from cocogen.checking.raster import decode, upright_crop, with_margin  # noqa: E402
from cocogen.checking.trace import normalize_text, ocr_contains  # noqa: E402
from cocogen.planning.commitments import extract_commitments  # noqa: E402
from cocogen.types import Element, LayoutManifest  # noqa: E402
from sandbox import Job, Limits, SubprocessRunner  # noqa: E402

GET_GALLERY = ROOT.parent / "shared" / "corpora" / "get-matplotlib-gallery"
NVBENCH = ROOT.parent / "shared" / "corpora" / "nvbench" / "cases.jsonl"
FOLDERS = (
    "lines_bars_and_markers",
    "statistics",
    "pie_and_polar_charts",
    "images_contours_and_fields",
    "subplots_axes_and_figures",
    "scales",
    "ticks",
    "text_labels_and_annotations",
    "showcase",
    "specialty_plots",
    "color",
    "shapes_and_collections",
    "style_sheets",
    "spines",
    "misc",
)
"""Gallery folders with ordinary 2-D charts.  Left out: axisartist and mplot3d (the renderer's
manifest boxes do not hold those texts' pixels), plot_types (200 px thumbnails cropped on
purpose), animation, widgets and GUI folders."""
DEFECTS = (
    "overlap",
    "off_canvas",
    "tiny_font",
    "no_title",
    "wrong_number",
    "tofu",
    "light_grey",
)
CODE = {
    "overlap": "text_overlap",
    "off_canvas": "text_clipped",
    "tiny_font": "text_too_small",
    "no_title": "commitment_violated",
    "wrong_number": "commitment_violated",
    "tofu": "missing_glyph",
    "light_grey": "low_contrast",
}
PLANTED_A, PLANTED_B = "Planted label one", "Planted label two"
PLANTED_NOTE = "Planted note pushed off the edge"
MISSING_CHARS = ("\U00010000", "\ue000", "\U00010023", "\ue0ff")
GREY = "#d9d9d9"
VL_WIDTH, VL_HEIGHT = 800, 600
RENDERERS: dict[str, tuple[str, dict[str, Any]]] = {
    "matplotlib": ("renderers.matplotlib:render", {}),
    "vega-lite": (
        "renderers.vegalite:render",
        {"language": "vegalite", "width": VL_WIDTH, "height": VL_HEIGHT},
    ),
}
"""Renderer label -> (entry point, extra Job fields)."""


# --------------------------------------------------------------------------- rendering


def render_all(
    sources: list[str], cache: Path, jobs: int, kind: str = "matplotlib"
) -> list[dict[str, Any]]:
    """Render each program (cached by its hash); returns {'png': bytes|None, 'manifest', ...}."""
    runner = SubprocessRunner()
    renderer, job_fields = RENDERERS[kind]
    # Gallery renders keep their old cache keys; other renderers' keys name the renderer.
    salt = "" if kind == "matplotlib" else f"{renderer} {json.dumps(job_fields, sort_keys=True)}\n"

    def one(source: str) -> dict[str, Any]:
        key = hashlib.sha256((salt + source).encode("utf-8")).hexdigest()[:24]
        meta, png = cache / f"{key}.json", cache / f"{key}.png"
        if meta.exists():
            data: dict[str, Any] = json.loads(meta.read_text(encoding="utf-8"))
            data["png"] = png.read_bytes() if png.exists() else None
            return data
        result = runner.run(
            Job(
                renderer=renderer,
                source=source,
                limits=Limits(wall_s=40, cpu_s=30),
                **job_fields,
            )
        )
        data = {
            "manifest": result.manifest if result.ok else None,
            "failure": result.failure,
            "notes": result.notes,
            "render_s": result.timings.get("sandbox_total_s", 0.0),
        }
        if result.ok and result.png is not None:
            png.write_bytes(result.png)
        meta.write_text(json.dumps(data), encoding="utf-8")
        data["png"] = result.png if result.ok else None
        return data

    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(one, sources))


# --------------------------------------------------------------------------- planting defects

PATCH = """

# --- planted by benchmarks/checker.py -------------------------------------------------------
import matplotlib.pyplot as _cg_plt
import matplotlib.text as _cg_text

_cg_fig = _cg_plt.gcf()
_CG_TARGET = {target!r}
_cg_original_draw = _cg_text.Text.draw


def _cg_draw(self, renderer, *args, **kwargs):
    if _CG_TARGET is not None and self.get_text() == _CG_TARGET:
        _cg_edit(self)
    return _cg_original_draw(self, renderer, *args, **kwargs)


_cg_text.Text.draw = _cg_draw
"""


def planted_source(source: str, defect: str, plan: Plan) -> str:
    """The program with `defect` appended (see the module docstring)."""
    target: str | None = None
    edit = "def _cg_edit(text):\n    pass\n"
    extra = ""
    if defect == "overlap":
        extra = (
            "_cg_ax = _cg_fig.axes[0] if _cg_fig.axes else None\n"
            "_cg_where = dict(transform=_cg_ax.transAxes) if _cg_ax else {}\n"
            "_cg_put = _cg_ax.text if _cg_ax else _cg_fig.text\n"
            f"_cg_put(0.5, 0.5, {PLANTED_A!r}, ha='center', va='center', fontsize=12, "
            "zorder=20, **_cg_where)\n"
            "from matplotlib.transforms import offset_copy as _cg_offset\n"
            "_cg_base = _cg_ax.transAxes if _cg_ax else _cg_fig.transFigure\n"
            f"_cg_put(0.5, 0.5, {PLANTED_B!r}, ha='center', va='center', fontsize=12, zorder=20, "
            "transform=_cg_offset(_cg_base, fig=_cg_fig, x=18, y=5, units='points'))\n"
        )
    elif defect == "off_canvas":
        extra = f"_cg_fig.text(0.98, 0.5, {PLANTED_NOTE!r}, ha='left', va='center', fontsize=12)\n"
    elif defect == "tiny_font":
        target = plan.main
        edit = "def _cg_edit(text):\n    text.set_fontsize(5 * 72 / text.figure.dpi)\n"
    elif defect == "light_grey":
        target = plan.main
        edit = f"def _cg_edit(text):\n    text.set_color({GREY!r})\n    text.set_alpha(None)\n"
    elif defect == "tofu":
        target = plan.main
        edit = f"def _cg_edit(text):\n    text.set_text({plan.tofu_text!r})\n"
    elif defect == "no_title":
        target = plan.title
        edit = "def _cg_edit(text):\n    text.set_text('')\n"
    elif defect == "wrong_number":
        target = plan.number
        edit = f"def _cg_edit(text):\n    text.set_text({plan.wrong_number!r})\n"
    return source + PATCH.format(target=target) + "\n\n" + edit + extra


@dataclass
class Plan:
    """What to plant in one chart, chosen from its untouched manifest."""

    main: str | None = None
    title: str | None = None
    number: str | None = None
    wrong_number: str | None = None
    tofu_text: str | None = None

    def prompt(self) -> str:
        parts = []
        if self.title:
            parts.append(f'A chart titled "{self.title}".')
        if self.number:
            parts.append(f'It must show the label "{self.number}".')
        return " ".join(parts)

    def applies(self, defect: str) -> bool:
        need = {
            "tiny_font": self.main,
            "light_grey": self.main,
            "tofu": self.main,
            "no_title": self.title,
            "wrong_number": self.number,
        }
        return defect not in need or need[defect] is not None


def _plain(element: Element, counts: Counter[str]) -> bool:
    text = element.text or ""
    return (
        counts[text] == 1
        and "$" not in text
        and "\n" not in text
        and sum(ch.isalnum() for ch in text) >= 3
        and (element.font_size_px or 0) >= 10
        and text.isascii()
    )


def _inside(element: Element, manifest: LayoutManifest) -> bool:
    x0, y0, x1, y1 = element.box
    return x0 >= 2 and y0 >= 2 and x1 <= manifest.width - 2 and y1 <= manifest.height - 2


def _white_around(element: Element, raster: Any) -> bool:
    from cocogen.checking.raster import clamp_box, ring_color

    box = clamp_box(element.box, raster.width, raster.height)
    return box is not None and bool((ring_color(raster, box) >= 240).all())


def make_plan(manifest: LayoutManifest, png: bytes, index: int) -> Plan:
    raster = decode(png)
    counts = Counter(e.text or "" for e in manifest.texts())
    texts = [e for e in manifest.texts() if _plain(e, counts) and _inside(e, manifest)]
    plan = Plan()
    titles = [e for e in texts if e.role == "title"] or [
        e for e in texts if e.role == "axis_label" and any(c.isalpha() for c in e.text or "")
    ]
    if titles:
        plan.title = titles[0].text
    main = [e for e in texts if e.role != "tick" and _white_around(e, raster)]
    main.sort(key=lambda e: (e.role != "title", -len(e.text or ""), e.id))
    if main:
        plan.main = main[0].text
        text = main[0].text or ""
        cut = len(text) // 2
        plan.tofu_text = text[:cut] + MISSING_CHARS[index % len(MISSING_CHARS)] + text[cut:]
    values = Counter(normalize_text(e.text or "") for e in manifest.texts())
    numbered = [
        e
        for e in texts
        if any(c.isdigit() for c in e.text or "")
        and e.text != plan.title
        and values[normalize_text(e.text or "")] == 1
    ]
    numbered = [e for e in numbered if e.text != plan.main] or numbered
    numbered.sort(key=lambda e: (e.role == "tick", e.id))
    if numbered:
        plan.number = numbered[0].text
        number = plan.number or ""
        last = max(i for i, c in enumerate(number) if c.isdigit())
        digit = str((int(number[last]) + 3) % 10)
        plan.wrong_number = number[:last] + digit + number[last + 1 :]
    return plan


# --------------------------------------------------------------------------- Vega-Lite charts

Box = tuple[float, float, float, float]


@dataclass
class Chart:
    """One untouched chart: its name, program, render and plan (and, for Vega-Lite, the spec
    and the view's box that off_canvas pins)."""

    name: str
    source: str
    data: dict[str, Any]
    plan: Plan
    spec: dict[str, Any] | None = None
    view: Box | None = None


def nvbench_order(total: int, n: int) -> list[int]:
    """Line numbers: n spread evenly over the file first, then each one's next line, and so on
    (the fallbacks when an earlier pick does not qualify)."""
    if n <= 0 or total <= 0:
        return []
    firsts = [k * total // n for k in range(min(n, total))]
    order, seen = [], set()
    for offset in range(max(1, total // n)):
        for first in firsts:
            line = first + offset
            if line < total and line not in seen:
                seen.add(line)
                order.append(line)
    return order


def titled_spec(case: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    """The case's spec with a title and a subtitle that holds a number; returns the spec, the
    title and the subtitle."""
    spec = copy.deepcopy(case["vegalite_spec"])
    existing = spec.get("title")
    title_block: dict[str, Any] = {}
    if isinstance(existing, str) and existing.strip():
        title = existing
    elif isinstance(existing, dict) and isinstance(existing.get("text"), str):
        title_block = dict(existing)
        title = existing["text"]
    else:
        table = str(case.get("main_table") or "the data").replace("_", " ")
        title = f"{case.get('chart') or 'Vega-Lite'} chart of {table}"
    number = "".join(c for c in str(case.get("id", "")) if c.isdigit()) or "0"
    rows = case.get("n_data_points") or len(spec.get("data", {}).get("values") or [])
    subtitle = f"Source: nvBench case {number}, {rows} rows"
    title_block.update(text=title, subtitle=subtitle)
    spec["title"] = title_block
    return spec, title, subtitle


def vegalite_plan(
    manifest: LayoutManifest, png: bytes, index: int, title: str, subtitle: str
) -> Plan:
    """What to plant: the title (main text and commitment) and the subtitle (the number), each
    only when the untouched render drew it as a plain, unique text inside the canvas."""
    raster = decode(png)
    counts = Counter(e.text or "" for e in manifest.texts())
    plain = {e.text for e in manifest.texts() if _plain(e, counts) and _inside(e, manifest)}
    white = {e.text for e in manifest.texts() if e.text in plain and _white_around(e, raster)}
    plan = Plan()
    if title in plain:
        plan.title = title
    if title in white:
        plan.main = title
        cut = len(title) // 2
        plan.tofu_text = title[:cut] + MISSING_CHARS[index % len(MISSING_CHARS)] + title[cut:]
    values = Counter(normalize_text(e.text or "") for e in manifest.texts())
    if subtitle in plain and values[normalize_text(subtitle)] == 1:
        plan.number = subtitle
        last = max(i for i, c in enumerate(subtitle) if c.isdigit())
        digit = str((int(subtitle[last]) + 3) % 10)
        plan.wrong_number = subtitle[:last] + digit + subtitle[last + 1 :]
    return plan


def view_box(manifest: LayoutManifest) -> Box | None:
    """The box of a single view's plot area (None for a pie, which draws no view background)."""
    views = [e for e in manifest.elements if e.role == "axes"]
    return tuple(views[0].box) if len(views) == 1 else None  # type: ignore[return-value]


def _text_layer(text: str, **mark: Any) -> dict[str, Any]:
    return {"data": {"values": [{}]}, "mark": {"type": "text", "text": text, **mark}}


def _with_layers(spec: dict[str, Any], layers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The spec with text layers added over its view (None for a spec that is not one view)."""
    if "layer" in spec:
        spec["layer"] = list(spec["layer"]) + layers
        return spec
    if "mark" not in spec:
        return None
    # The view's own mark and encoding move into the first layer so that the text layers, with
    # their own one-row data, do not inherit its encoding.
    view = {k: spec.pop(k) for k in ("mark", "encoding", "params") if k in spec}
    spec["layer"] = [view, *layers]
    return spec


def planted_spec(chart: Chart, defect: str) -> str | None:
    """The Vega-Lite spec (JSON) with `defect` planted, or None where it cannot apply."""
    assert chart.spec is not None
    plan = chart.plan
    if not plan.applies(defect):
        return None
    spec = copy.deepcopy(chart.spec)
    title = spec["title"]
    if defect == "overlap":
        centre = {"x": {"expr": "width / 2"}, "y": {"expr": "height / 2"}, "fontSize": 12}
        # The second label 18 x 5 pt off, as in the gallery (25 x 7 px at 100 dpi).
        planted = _with_layers(
            spec,
            [
                _text_layer(PLANTED_A, **centre),
                _text_layer(PLANTED_B, **centre, dx=25, dy=-7),
            ],
        )
        return json.dumps(planted) if planted is not None else None
    if defect == "off_canvas":
        if chart.view is None:
            return None
        x0, y0, x1, y1 = (round(v) for v in chart.view)
        spec.update(
            width=x1 - x0,
            height=y1 - y0,
            autosize="none",
            padding={"left": x0, "top": y0, "right": VL_WIDTH - x1, "bottom": VL_HEIGHT - y1},
        )
        note = _text_layer(
            PLANTED_NOTE,
            x=round(0.98 * VL_WIDTH) - x0,
            y={"expr": "height / 2"},
            align="left",
            baseline="middle",
            fontSize=12,
        )
        planted = _with_layers(spec, [note])
        return json.dumps(planted) if planted is not None else None
    if defect == "tiny_font":
        title["fontSize"] = 5
    elif defect == "light_grey":
        title["color"] = GREY
    elif defect == "tofu":
        title["text"] = plan.tofu_text
    elif defect == "no_title":
        # A blank title: Vega draws no title text but keeps the subtitle (the quoted number).
        title["text"] = " "
    elif defect == "wrong_number":
        title["subtitle"] = plan.wrong_number
    return json.dumps(spec)


def vegalite_charts(path: Path, n: int, cache: Path, jobs: int) -> list[Chart]:
    """n nvBench specs spread evenly over the file that render and have a plannable title."""
    lines = path.read_text(encoding="utf-8").splitlines()
    order = nvbench_order(len(lines), n)
    charts: list[Chart] = []
    tried = 0
    for first in range(0, len(order), max(n, 1)):
        picked = order[first : first + n]
        cases = [json.loads(lines[i]) for i in picked]
        built = [titled_spec(case) for case in cases]
        untouched = render_all([json.dumps(b[0]) for b in built], cache, jobs, "vega-lite")
        tried += len(picked)
        for case, (spec, title, subtitle), data in zip(cases, built, untouched, strict=True):
            if len(charts) == n:
                break
            manifest = data.get("manifest")
            if not manifest or data.get("notes") or data["png"] is None:
                continue
            m = LayoutManifest.model_validate(manifest)
            plan = vegalite_plan(m, data["png"], len(charts), title, subtitle)
            if plan.title is None:
                continue
            name = f"nvbench/{case.get('id')} ({case.get('chart')})"
            charts.append(Chart(name, json.dumps(spec), data, plan, spec, view_box(m)))
        if len(charts) == n:
            break
    print(f"{len(charts)} Vega-Lite charts from {tried} nvBench specs", file=sys.stderr)
    return charts


# --------------------------------------------------------------------------- judging


def detected(defect: str, manifest: LayoutManifest, report: Any, plan: Plan) -> bool:
    """Whether the report flags the planted defect (its code, on the planted element)."""
    code = CODE[defect]
    if defect in ("no_title", "wrong_number"):
        value = plan.title if defect == "no_title" else plan.number
        return any(c.value == value and c.status == "violated" for c in report.commitments.all())
    planted: dict[str, set[str | None]] = {
        "overlap": {PLANTED_A, PLANTED_B},
        "off_canvas": {PLANTED_NOTE},
        "tiny_font": {plan.main},
        "light_grey": {plan.main},
        "tofu": {plan.tofu_text},
    }
    ids = {e.id for e in manifest.texts() if e.text in planted[defect]}
    return any(f.code == code and ids & set(f.element_ids) for f in report.findings)


def planted_present(defect: str, manifest: LayoutManifest, plan: Plan) -> bool:
    """Whether planting worked (the renderer drew the planted or edited text)."""
    texts = {e.text for e in manifest.texts()}
    return {
        "overlap": PLANTED_A in texts and PLANTED_B in texts,
        "off_canvas": PLANTED_NOTE in texts,
        "tiny_font": plan.main in texts,
        "light_grey": plan.main in texts,
        "tofu": plan.tofu_text in texts,
        "no_title": plan.title not in texts,
        "wrong_number": plan.wrong_number in texts,
    }[defect]


# --------------------------------------------------------------------------- OCR timing


@functools.cache
def _narrow_engine() -> Any:
    from rapidocr import RapidOCR

    from cocogen.checking import ocr

    params = {
        "Global.log_level": "error",
        "EngineConfig.onnxruntime.intra_op_num_threads": 1,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        "Det.limit_side_len": ocr.DET_LIMIT_SIDE,
        "Det.box_thresh": ocr.DET_BOX_THRESH,
        "Rec.rec_img_shape": [3, 48, ocr.CROP_REC_WIDTH],
        "Rec.rec_batch_num": ocr.CROP_BATCH,
    }
    return RapidOCR(params=params)


def narrow_full_pass(raster: Any) -> list[Detection]:
    """The full pass with the crops' recogniser settings (a second, fairer baseline)."""
    import numpy as np

    out = _narrow_engine()(
        np.ascontiguousarray(raster.rgb[..., ::-1]), use_det=True, use_cls=True, use_rec=True
    )
    if getattr(out, "boxes", None) is None or getattr(out, "txts", None) is None:
        return []
    found = []
    for quad, text, score in zip(out.boxes, out.txts, out.scores, strict=True):
        p = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
        box = (p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max())
        found.append(Detection(str(text), float(score), tuple(map(float, box))))  # type: ignore[arg-type]
    return found


def full_pass_confirms(expected: str, element: Element, detections: list[Detection]) -> bool:
    from cocogen.checking.geometry import intersection

    near = [d for d in detections if intersection(d.box, element.box) > 0]
    if not near:
        return False
    joined = " ".join(d.text for d in sorted(near, key=lambda d: (d.box[1], d.box[0])))
    return confirms(expected, joined, 0.8) or ocr_contains(joined, expected)


@dataclass
class OcrStats:
    texts: int = 0
    confirmed: int = 0
    exact: int = 0
    full_confirmed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    crop_s: list[float] = field(default_factory=list)
    percall_s: list[float] = field(default_factory=list)
    full_s: list[float] = field(default_factory=list)
    full_narrow_s: list[float] = field(default_factory=list)
    full_narrow_confirmed: int = 0
    misses: list[str] = field(default_factory=list)


def ocr_study(manifest: LayoutManifest, png: bytes, stats: OcrStats, name: str) -> None:
    """Crop confirmation vs the full-image pass on one untouched chart."""
    settings = CheckSettings()
    raster = decode(png)
    t0 = time.perf_counter()
    readings, skipped = read_texts(manifest, raster, settings)
    stats.crop_s.append(time.perf_counter() - t0)
    for reason in skipped.values():
        stats.skipped[reason] += 1
    # The same crops recognised one public call at a time (the unbatched baseline).
    images = []
    for reading in readings:
        element = manifest.by_id(reading.element_id)
        cut = upright_crop(raster, element) if element else None
        if cut is not None:
            images.append(with_margin(cut[0], cut[1], 0.5))
    t1 = time.perf_counter()
    for image in images:
        recognize([image])
    stats.percall_s.append(time.perf_counter() - t1)
    t2 = time.perf_counter()
    detections = full_pass(raster)
    stats.full_s.append(time.perf_counter() - t2)
    t3 = time.perf_counter()
    narrow = narrow_full_pass(raster)
    stats.full_narrow_s.append(time.perf_counter() - t3)
    for reading in readings:
        element = manifest.by_id(reading.element_id)
        assert element is not None
        stats.texts += 1
        stats.confirmed += reading.confirmed
        stats.exact += reading.similarity == 1.0
        stats.full_confirmed += full_pass_confirms(reading.expected, element, detections)
        stats.full_narrow_confirmed += full_pass_confirms(reading.expected, element, narrow)
        if not reading.confirmed:
            stats.misses.append(f"{name} {element.id}: {reading.expected!r} read {reading.text!r}")


def warm_up() -> None:
    """Create the OCR engine and load its models before anything is timed."""
    import numpy as np

    blank = np.full((48, 160, 3), 255, dtype=np.uint8)
    blank[20:28, 20:140] = 0
    recognize([blank])
    full_pass(decode_array(blank))
    narrow_full_pass(decode_array(blank))


def decode_array(rgb: Any) -> Any:
    from cocogen.checking.raster import Raster

    return Raster(rgb=rgb)


# --------------------------------------------------------------------------- main


def gallery_dir(given: Path | None, temp: Path) -> Path:
    if given is not None:
        return given
    if not GET_GALLERY.exists():
        sys.exit(f"error: {GET_GALLERY} not found; pass --gallery DIR")
    dest = temp / "gallery"
    subprocess.run([str(GET_GALLERY), str(dest)], check=True, capture_output=True)
    return dest


def candidates(gallery: Path) -> list[Path]:
    scripts = []
    for folder in FOLDERS:
        for path in sorted((gallery / "examples" / folder).glob("*.py")):
            if "sgskip" not in path.name:
                scripts.append(path)
    # A stable order that mixes the folders.
    return sorted(scripts, key=lambda p: hashlib.sha256(p.name.encode()).hexdigest())


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(n: int, d: int) -> str:
    return f"{n / d:.3f} ({n}/{d})" if d else "n/a"


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=int, default=80, help="matplotlib gallery charts")
    parser.add_argument("--vegalite", type=int, default=20, help="Vega-Lite (nvBench) charts")
    parser.add_argument("--gallery", type=Path, default=None)
    parser.add_argument("--nvbench", type=Path, default=NVBENCH, help="nvBench cases.jsonl")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="write the raw figures here")
    args = parser.parse_args()
    if ocr_unavailable():
        sys.exit(f"error: OCR unavailable: {ocr_unavailable()}")
    if args.vegalite > 0 and not args.nvbench.exists():
        sys.exit(f"error: {args.nvbench} not found; pass --nvbench FILE or --vegalite 0")
    with tempfile.TemporaryDirectory(prefix="cocogen-bench-") as tmp:
        cache = args.cache or Path(tmp) / "renders"
        cache.mkdir(parents=True, exist_ok=True)
        gallery = gallery_dir(args.gallery, Path(tmp)) if args.charts > 0 else None
        run(args, gallery, cache)


def gallery_charts(gallery: Path, n: int, cache: Path, jobs: int) -> list[Chart]:
    """The first n gallery charts (in `candidates` order) that render and qualify."""
    paths = candidates(gallery)
    sources = [p.read_text(encoding="utf-8") for p in paths]
    charts: list[Chart] = []
    chunk = 40  # render candidates a chunk at a time, until enough charts qualify
    for first in range(0, len(sources), chunk):
        untouched = render_all(sources[first : first + chunk], cache, jobs)
        for path, source, data in zip(
            paths[first : first + chunk], sources[first : first + chunk], untouched, strict=True
        ):
            manifest = data.get("manifest")
            if not manifest or data.get("notes") or data["png"] is None:
                continue
            m = LayoutManifest.model_validate(manifest)
            if len(m.texts()) < 5 or min(m.width, m.height) < 300:
                continue
            plan = make_plan(m, data["png"], len(charts))
            charts.append(Chart(f"{path.parent.name}/{path.name}", source, data, plan))
            if len(charts) == n:
                break
        if len(charts) == n:
            break
    print(f"{len(charts)} charts from {len(paths)} gallery scripts", file=sys.stderr)
    return charts


@dataclass
class Results:
    """What the checker made of one renderer's charts."""

    charts: int = 0
    found: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    failed_plant: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    """Defects that could not apply to a chart (not rendered at all)."""
    ocr_only_found: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    ocr_only_fp: int = 0
    untouched_errors: Counter[str] = field(default_factory=Counter)
    flagged: list[str] = field(default_factory=list)
    untouched_warned: int = 0
    check_s: list[float] = field(default_factory=list)


def run(args: argparse.Namespace, gallery: Path | None, cache: Path) -> None:
    started = time.perf_counter()
    sets: dict[str, tuple[list[Chart], list[tuple[int, str, str]]]] = {}
    if gallery is not None:
        charts = gallery_charts(gallery, args.charts, cache, args.jobs)
        variants = [
            (i, d, planted_source(c.source, d, c.plan))
            for i, c in enumerate(charts)
            for d in DEFECTS
            if c.plan.applies(d)
        ]
        sets["matplotlib"] = (charts, variants)
    if args.vegalite > 0:
        charts = vegalite_charts(args.nvbench, args.vegalite, cache, args.jobs)
        variants = []
        for i, chart in enumerate(charts):
            for d in DEFECTS:
                spec = planted_spec(chart, d)
                if spec is not None:
                    variants.append((i, d, spec))
        sets["vega-lite"] = (charts, variants)
    rendered = {
        kind: render_all([v[2] for v in variants], cache, args.jobs, kind)
        for kind, (_, variants) in sets.items()
    }
    print(f"rendered in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    stats = OcrStats()
    warm_up()
    results = {
        kind: evaluate(charts, variants, rendered[kind], stats if kind == "matplotlib" else None)
        for kind, (charts, variants) in sets.items()
    }
    report_tables(results, stats, args.json)


def evaluate(
    charts: list[Chart],
    variants: list[tuple[int, str, str]],
    rendered: list[dict[str, Any]],
    stats: OcrStats | None,
) -> Results:
    """Check the untouched charts and every planted variant; `stats` gets the OCR study."""
    settings = CheckSettings()
    r = Results(charts=len(charts))
    planted = Counter((i, d) for i, d, _ in variants)
    for i in range(len(charts)):
        for d in DEFECTS:
            r.skipped[d] += (i, d) not in planted
    for index, chart in enumerate(charts):
        name, data, plan = chart.name, chart.data, chart.plan
        manifest = LayoutManifest.model_validate(data["manifest"])
        commitments = extract_commitments(plan.prompt())
        report, seconds = timed(
            functools.partial(check, manifest, data["png"], commitments, settings)
        )
        r.check_s.append(seconds)
        errors = {f.code for f in report.findings if f.severity == "error"}
        r.untouched_warned += any(f.severity == "warning" for f in report.findings)
        if errors:
            r.flagged.append(f"{name}: {', '.join(sorted(errors))}")
        for code in errors:
            r.untouched_errors[code] += 1
        bare = LayoutManifest(width=manifest.width, height=manifest.height)
        ocr_report = check(bare, data["png"], commitments, settings)
        r.ocr_only_fp += any(c.status == "violated" for c in ocr_report.commitments.all())
        if stats is not None:
            ocr_study(manifest, data["png"], stats, name)
        print(f"checked {index + 1}/{len(charts)} {name}", file=sys.stderr)
    for (index, defect, _), data in zip(variants, rendered, strict=True):
        name, plan = charts[index].name, charts[index].plan
        if data.get("manifest") is None or data["png"] is None:
            r.failed_plant[defect] += 1
            continue
        manifest = LayoutManifest.model_validate(data["manifest"])
        if not planted_present(defect, manifest, plan):
            r.failed_plant[defect] += 1
            continue
        commitments = extract_commitments(plan.prompt())
        report = check(manifest, data["png"], commitments, settings)
        hit = detected(defect, manifest, report, plan)
        r.found[defect].append(hit)
        if not hit:
            print(f"MISSED {defect} in {name}", file=sys.stderr)
        if defect in ("no_title", "wrong_number"):
            bare = LayoutManifest(width=manifest.width, height=manifest.height)
            ocr_report = check(bare, data["png"], commitments, settings)
            r.ocr_only_found[defect].append(detected(defect, manifest, ocr_report, plan))
    return r


def report_tables(results: dict[str, Results], s: OcrStats, json_path: Path | None) -> None:
    kinds = list(results)
    print("\n### Recall per planted defect (manifest + pixels + OCR)\n")
    rows = []
    for defect in DEFECTS:
        row: list[Any] = [defect, CODE[defect]]
        for kind in kinds:
            r = results[kind]
            hits = r.found[defect]
            row += [pct(sum(hits), len(hits)), f"{r.failed_plant[defect]} / {r.skipped[defect]}"]
        rows.append(row)
    headers = ["defect", "finding"]
    for kind in kinds:
        headers += [f"{kind} recall", f"{kind} not planted / n/a"]
    print(table(headers, rows))
    print("\n### Commitment defects with OCR only (no manifest: `cocogen check IMAGE --prompt`)\n")
    rows = [
        [d]
        + [pct(sum(results[k].ocr_only_found[d]), len(results[k].ocr_only_found[d])) for k in kinds]
        for d in ("no_title", "wrong_number")
    ]
    rows.append(
        ["untouched, a commitment violated (false positive)"]
        + [pct(results[k].ocr_only_fp, results[k].charts) for k in kinds]
    )
    print(table(["defect", *(f"{k} recall" for k in kinds)], rows))
    print("\n### Untouched charts\n")
    rows = [
        ["charts"] + [results[k].charts for k in kinds],
        ["charts flagged with an error (false positive)"]
        + [pct(len(results[k].flagged), results[k].charts) for k in kinds],
        ["charts with a warning"]
        + [pct(results[k].untouched_warned, results[k].charts) for k in kinds],
        ["mean check time (s, crops OCR)"]
        + [
            f"{statistics.mean(results[k].check_s):.3f}" if results[k].check_s else "n/a"
            for k in kinds
        ],
    ]
    codes = Counter[str]()
    for k in kinds:
        codes.update(results[k].untouched_errors)
    rows += [
        [f"error code: {c}"] + [results[k].untouched_errors[c] for k in kinds]
        for c, _ in codes.most_common()
    ]
    print(table(["measure", *kinds], rows))
    for k in kinds:
        if results[k].flagged:
            print(f"\nflagged ({k}): " + "; ".join(results[k].flagged))
    if s.texts:
        ocr_tables(s)
    if json_path:
        data: dict[str, Any] = {}
        for k in kinds:
            figures = {key: value for key, value in vars(results[k]).items()}
            if k == "matplotlib":
                data.update(figures)  # the gallery figures stay at the top level, as before
            else:
                data[k] = figures
        data["stats"] = {k: v for k, v in vars(s).items()}
        json_path.write_text(json.dumps(data, default=str, indent=1), encoding="utf-8")


def ocr_tables(s: OcrStats) -> None:
    print("\n### OCR confirmation on untouched matplotlib charts (texts >= 9 px)\n")
    rows: list[list[Any]] = [
        ["confirmed (crop at the manifest box)", pct(s.confirmed, s.texts)],
        ["exact (same letters and digits)", pct(s.exact, s.texts)],
        ["found by the full-image pass", pct(s.full_confirmed, s.texts)],
    ]
    rows += [[f"not read: {k}", v] for k, v in s.skipped.most_common()]
    print(table(["measure", "value"], rows))
    crop, percall, full, narrow = (
        statistics.mean(x) for x in (s.crop_s, s.percall_s, s.full_s, s.full_narrow_s)
    )
    print("\n### Time per chart: crop confirmation vs a full-image OCR pass\n")
    rows = [
        ["crops, batched (default)", f"{crop * 1000:.0f}", "1.0x", pct(s.confirmed, s.texts)],
        ["crops, one call each", f"{percall * 1000:.0f}", f"{percall / crop:.2f}x", "same"],
        [
            "full-image pass (det + cls + rec)",
            f"{full * 1000:.0f}",
            f"{full / crop:.2f}x",
            pct(s.full_confirmed, s.texts),
        ],
        [
            "full-image pass, crops' recogniser settings",
            f"{narrow * 1000:.0f}",
            f"{narrow / crop:.2f}x",
            pct(s.full_narrow_confirmed, s.texts),
        ],
    ]
    print(table(["method", "ms / chart", "vs batched crops", "recall"], rows))
    print(
        f"\nfull pass / batched crops: {full / crop:.1f}x slower; "
        f"median {statistics.median(s.full_s) / statistics.median(s.crop_s):.1f}x"
    )
    if s.misses:
        print("\nOCR misses (first 25): " + "; ".join(s.misses[:25]))


if __name__ == "__main__":
    main()
