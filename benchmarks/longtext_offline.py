"""LongText-Bench through the offline planner: is every required text drawn and OCR-confirmed?

For each prompt of `../shared/corpora/longtext_bench/text_prompts.jsonl` (English; `--zh` for the
Chinese file) the offline planner lays out the quoted texts (HTML by default, `--language svg`),
the real sandbox renders the page, and each of the prompt's required texts is looked for:

* **in manifest**: the text (case, spacing, quote style and a final full stop folded) is inside
  one text block of the manifest — a block being the lines of one wrapped paragraph, joined in
  reading order (consecutive elements of the same size stacked under each other);
* **OCR-confirmed**: in manifest, and OCR (rapidocr on each line's own crop) confirms every line
  the text spans.

A prompt counts when all its texts pass.  For comparison the table also shows the pipeline's own
verdict in the same run (the checker's commitment tracing, which also joins the wrapped lines of a
paragraph) and the share of prompts whose run passed.

Run: .venv/bin/python benchmarks/longtext_offline.py [--limit N] [--language html|svg] [--zh]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cocogen.checking import CheckSettings  # noqa: E402
from cocogen.checking.ocr import ocr_unavailable, run_ocr  # noqa: E402
from cocogen.checking.raster import decode  # noqa: E402
from cocogen.errors import CocogenError  # noqa: E402
from cocogen.pipeline import Pipeline  # noqa: E402
from cocogen.planning.offline import OfflineBackend  # noqa: E402
from cocogen.types import Element, LayoutManifest, Request, RunRecord  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "longtext_bench"
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "\u00a0": " "})


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return " ".join(text.casefold().split()).rstrip(".").strip()


def blocks(manifest: LayoutManifest) -> list[list[Element]]:
    """Text elements grouped into paragraphs: same font size, each line right under the last."""
    groups: list[list[Element]] = []
    for element in manifest.texts():
        last = groups[-1][-1] if groups else None
        if (
            last is not None
            and last.font_size_px == element.font_size_px
            and last.parent == element.parent
            and 0 <= element.box[1] - last.box[3] <= 0.6 * (last.box[3] - last.box[1])
        ):
            groups[-1].append(element)
        else:
            groups.append([element])
    return groups


def joined(group: list[Element]) -> str:
    out = ""
    for element in group:
        text = element.text or ""
        wide = out and text and unicodedata.east_asian_width(text[0]) in "WF"
        out += ("" if not out or wide else " ") + text
    return out


@dataclass
class Outcome:
    category: str
    required: int
    in_manifest: int
    confirmed: int
    checker_satisfied: int
    passed: bool
    seconds: float
    error: str = ""


def measure(row: dict[str, object], pipeline: Pipeline, language: str) -> Outcome:
    texts = [str(t) for t in row["text"]]  # type: ignore[attr-defined]
    category = str(row["category"])
    started = time.perf_counter()
    try:
        result = pipeline.generate(Request(prompt=str(row["prompt"]), language=language))  # type: ignore[arg-type]
    except CocogenError as exc:
        return Outcome(
            category, len(texts), 0, 0, 0, False, time.perf_counter() - started, str(exc)[:120]
        )
    seconds = time.perf_counter() - started
    run_dir = Path(result.run_dir)
    record = RunRecord.model_validate_json((run_dir / "run.json").read_text())
    attempt = record.attempts[-1]
    if attempt.manifest_file is None or attempt.draft_file is None:
        return Outcome(category, len(texts), 0, 0, 0, False, seconds, record.error or "no image")
    manifest = LayoutManifest.model_validate_json((run_dir / attempt.manifest_file).read_text())
    raster = decode((run_dir / attempt.draft_file).read_bytes())
    readings = run_ocr(manifest, raster, CheckSettings(ocr="on"), full=False).by_element()
    groups = [(fold(joined(g)), g) for g in blocks(manifest)]
    in_manifest = confirmed = 0
    for text in texts:
        needle = fold(text)
        hit = next((g for hay, g in groups if needle and needle in hay), None)
        if hit is None:
            continue
        in_manifest += 1
        if all(e.id in readings and readings[e.id].confirmed for e in hit):
            confirmed += 1
    traced = {fold(c.value): c.status for c in record.commitments.required_texts}
    checker = sum(1 for t in texts if traced.get(fold(t)) == "satisfied")
    return Outcome(category, len(texts), in_manifest, confirmed, checker, result.ok, seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N prompts")
    parser.add_argument("--language", default="html", choices=("html", "svg"))
    parser.add_argument("--zh", action="store_true", help="the Chinese prompts")
    parser.add_argument("--json", type=Path, default=None, help="write per-prompt outcomes here")
    args = parser.parse_args()
    source = CORPUS / ("text_prompts_zh.jsonl" if args.zh else "text_prompts.jsonl")
    if not source.exists():
        print(f"skipped: {source} is absent (see /work/shared/corpora/README.md)")
        return 0
    if (reason := ocr_unavailable()) is not None:
        print(f"skipped: OCR is unavailable ({reason})")
        return 0
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line]
    if args.limit:
        rows = rows[: args.limit]
    with tempfile.TemporaryDirectory(prefix="longtext-") as tmp:
        pipeline = Pipeline(
            backend=OfflineBackend(), runs_root=Path(tmp), check_settings=CheckSettings(ocr="on")
        )
        outcomes = []
        for k, row in enumerate(rows, start=1):
            outcomes.append(measure(row, pipeline, args.language))
            if k % 20 == 0:
                print(f"  {k}/{len(rows)} prompts", file=sys.stderr)
    by_category: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_category[outcome.category].append(outcome)

    def share(items: list[Outcome], key: str) -> str:
        if key == "passed":
            good = sum(1 for o in items if o.passed)
        else:
            good = sum(1 for o in items if getattr(o, key) == o.required)
        return f"{good / len(items):.3f}"

    header = (
        f"{'category':<10} {'prompts':>7} {'in manifest':>12} {'+ OCR-confirmed':>16} "
        f"{'checker trace':>14} {'run passed':>11} {'s/prompt':>9}"
    )
    print(f"LongText-Bench ({source.name}), offline planner, {args.language}")
    print(header)
    print("-" * len(header))
    for name, items in [*sorted(by_category.items()), ("all", outcomes)]:
        seconds = sum(o.seconds for o in items) / len(items)
        print(
            f"{name:<10} {len(items):>7} {share(items, 'in_manifest'):>12} "
            f"{share(items, 'confirmed'):>16} {share(items, 'checker_satisfied'):>14} "
            f"{share(items, 'passed'):>11} {seconds:>9.2f}"
        )
    errors = [o for o in outcomes if o.error]
    for outcome in errors[:5]:
        print(f"error ({outcome.category}): {outcome.error}")
    if args.json:
        args.json.write_text(json.dumps([o.__dict__ for o in outcomes], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
