"""One request of each offline kind through the whole pipeline: the real sandbox and renderer,
the checker, the run record.  Every text the request gave must be in the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from cocogen.checking import CheckSettings
from cocogen.pipeline import Pipeline
from cocogen.planning.offline import OfflineBackend
from cocogen.types import LayoutManifest, Request, RunRecord

NO_OCR = CheckSettings(ocr="off")


def run(prompt: str, language: str = "auto", settings: CheckSettings = NO_OCR) -> RunRecord:
    pipeline = Pipeline(backend=OfflineBackend(), check_settings=settings)
    result = pipeline.generate(Request(prompt=prompt, language=language))  # type: ignore[arg-type]
    return RunRecord.model_validate_json((Path(result.run_dir) / "run.json").read_text())


def manifest_texts(record: RunRecord, run_dir: Path) -> list[str]:
    attempt = record.attempts[-1]
    assert attempt.manifest_file is not None
    manifest = LayoutManifest.model_validate_json((run_dir / attempt.manifest_file).read_text())
    return [e.text or "" for e in manifest.texts()]


@pytest.mark.parametrize(
    ("prompt", "language", "texts"),
    [
        ("Grouped bar chart of sales for Q1-Q4: 2022 10, 12, 14, 16; 2023 11, 13, 15, 17",
         "matplotlib", ["Q1", "Q4", "2022", "2023", "Sales"]),
        ("histogram of ages 23, 25, 31, 35, 41, 44, 52, 58 with 4 bins", "matplotlib",
         ["Distribution of ages", "Count"]),
        ("a table with columns Name, Age, City; rows: Alice, 30, Paris; Bob, 25, Rome",
         "matplotlib", ["Name", "Alice", "30", "Rome"]),
        ("Flowchart: Start -> Check input -> Valid? -[yes]-> Save -> End; "
         "Valid? -[no]-> Check input", "graphviz", ["Start", "Valid?", "yes", "no", "End"]),
    ],
)
def test_each_kind_renders_and_passes(prompt: str, language: str, texts: list[str]) -> None:
    record = run(prompt)
    assert record.status == "ok", record.attempts[-1].report
    assert record.language == language and record.backend == "offline"
    drawn = manifest_texts(record, _dir(record))
    for text in texts:
        assert text in drawn, (text, drawn)
    assert all(c.status == "satisfied" for c in record.commitments.required_texts)


def _dir(record: RunRecord) -> Path:
    return Path("runs") / record.id


def test_svg_text_layout_places_every_quoted_text() -> None:
    quotes = ["OPEN 24 HOURS", "Fresh coffee and pastries all day long, every day of the week",
              "Cash only"]
    prompt = "A shop sign: " + ", ".join(f'"{q}"' for q in quotes)
    record = run(prompt, language="svg")
    assert record.status == "ok", record.attempts[-1].report
    drawn = " ".join(manifest_texts(record, _dir(record)))
    for quote in quotes:
        assert all(word in drawn for word in quote.split())


def test_html_text_layout_is_ocr_confirmed() -> None:
    quotes = ["SUMMER SALE", "Everything 50% off until Sunday", "Visit us at Market Street 12"]
    prompt = "A poster: " + " and ".join(f'"{q}"' for q in quotes)
    record = run(prompt, settings=CheckSettings(ocr="on"))
    assert record.language == "html"
    assert record.status == "ok", record.attempts[-1].report
    statuses = {c.value: c.status for c in record.commitments.required_texts}
    assert statuses == dict.fromkeys(quotes, "satisfied")
    report = record.attempts[-1].report
    assert report is not None and report.scores.get("text_confirmed") == 1.0


def test_a_pie_whose_labels_do_not_fit_beside_it_gets_a_legend() -> None:
    labels = [
        "The Case of the Mystery Weekend",
        "The Case of the Smart Dummy",
        "The Case: Off the Record",
        "The Case of the Bermuda Triangle",
    ]
    request = Request(
        prompt='pie chart titled "Price by title"',
        data={"labels": labels, "values": [15.99, 12.99, 8.99, 9.99]},
        canvas={"width": 640, "height": 480, "dpi": 100},  # type: ignore[arg-type]
    )
    pipeline = Pipeline(backend=OfflineBackend(), check_settings=NO_OCR)
    result = pipeline.generate(request)
    record = RunRecord.model_validate_json((Path(result.run_dir) / "run.json").read_text())
    assert record.status == "ok", record.attempts[-1].report
    attempt = record.attempts[-1]
    assert attempt.manifest_file is not None
    manifest = LayoutManifest.model_validate_json(
        (Path(result.run_dir) / attempt.manifest_file).read_text()
    )
    legend = [e.text for e in manifest.texts() if e.role == "legend"]
    assert legend == labels
    assert all(0 <= e.box[0] and e.box[2] <= 640 for e in manifest.texts())
