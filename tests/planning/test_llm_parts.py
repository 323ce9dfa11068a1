"""The provider-neutral parts of LLM planning: language rules, the model's commitments, cheap
fixes, the repair message, data summaries, prompt files, the reply cache and critique merging."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cocogen.llm_cache import ReplyCache, cache_key
from cocogen.planning import prompts
from cocogen.planning.base import (
    CONCRETE_LANGUAGES,
    ConstraintVerdict,
    CritiqueResult,
    PreviousAttempt,
)
from cocogen.planning.commitments import extract_commitments, llm_commitments, merge_commitments
from cocogen.planning.critique import CRITIQUE_VIOLATED, apply_critique
from cocogen.planning.data import INLINE_LIMIT, summarize
from cocogen.planning.fixes import closest_colour, quick_fix
from cocogen.planning.language import choose_language, decide_language
from cocogen.planning.repair import problems
from cocogen.types import (
    CheckReport,
    Commitment,
    Commitments,
    Finding,
    Program,
    RenderFailure,
    Request,
)

# --------------------------------------------------------------------------------------------
# Language rules
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "language", "why"),
    [
        ("A bar chart of A 1, B 2, C 3", "matplotlib", "chart"),
        ("Draw it in Vega-Lite: sales 1, 2, 3", "vegalite", "names it"),
        ("an SVG icon of a rocket", "svg", "names it"),
        ("A Graphviz diagram of our services", "graphviz", "names it"),
        ("A flowchart of onboarding", "graphviz", "diagram"),
        ("Start -> Middle -> End", "graphviz", "arrows"),
        ("An org chart of the team", "graphviz", "diagram"),
        ('A poster that reads "SALE"', "html", "text layout"),
        ("A slide about our roadmap", "html", "text layout"),
        ("A landing page for a bakery", "html", "text layout"),
        ('Three notes: "alpha one", "beta two", "gamma three", "delta four"', "html", "quoted"),
        ("A minimal logo of a fox", "svg", "vector"),
        ("A line chart of users 10, 20, 30 over Jan-Mar", "matplotlib", "chart"),
    ],
)
def test_rules_choose(prompt: str, language: str, why: str) -> None:
    choice = choose_language(Request(prompt=prompt))
    assert choice.language == language and why in choice.reason


def test_records_pick_vegalite_and_an_asked_language_wins() -> None:
    rows = [{"city": "A", "n": 1}, {"city": "B", "n": 2}]
    assert choose_language(Request(prompt="bar chart of n by city", data=rows)).language == (
        "vegalite"
    )
    asked = choose_language(Request(prompt="a poster", language="svg"))
    assert asked.language == "svg" and asked.reason == "asked for svg"


def test_unsure_goes_to_the_backend() -> None:
    request = Request(prompt="something nice about the sea")
    assert not choose_language(request).sure

    class Chooser:
        name = "chooser"

        def choose_language(self, req: Request, suggestion: str) -> tuple[str, str]:
            assert "settles" in suggestion
            return "svg", "the model chose it"

    class Plain:
        name = "plain"
        default_language = "html"

    assert decide_language(request, Chooser()) == ("svg", "the model chose it")
    language, reason = decide_language(request, Plain())
    assert language == "html" and "plain backend's default" in reason


# --------------------------------------------------------------------------------------------
# Commitments from a model
# --------------------------------------------------------------------------------------------


def test_llm_commitments_are_grounded_in_the_request() -> None:
    prompt = "A poster with the headline Summer Sale, prices from $9.99, and five stars"
    block = {
        "texts": ["Summer Sale", "Best deals ever"],
        "numbers": ["$9.99", "42"],
        "counts": [{"what": "star", "count": 5}, {"what": "x", "count": 0}, "junk"],
        "constraints": ["the stars are gold"],
        "unknowns": ["the colour of the background"],
    }
    found = llm_commitments(block, prompt)
    assert [c.value for c in found.required_texts] == ["Summer Sale"]
    assert all(c.source == "llm" for c in found.all())
    assert [c.value for c in found.numbers] == ["$9.99"]  # 42 is not in the request
    assert [(c.value, c.count) for c in found.entities] == [("star", 5)]
    assert [c.value for c in found.constraints] == [
        'the image shows the text "Best deals ever"',
        "the stars are gold",
    ]
    assert found.unknowns == ["the colour of the background"]


def test_merge_keeps_the_rules_and_adds_what_is_new() -> None:
    rules = extract_commitments('Bar chart titled "Sales" with 3 bars: A 1, B 2, C 3')
    model = llm_commitments(
        {"texts": ["sales", "A"], "numbers": ["2"], "counts": [{"what": "bar", "count": 4}],
         "constraints": ["bars are blue"]},
        'Bar chart titled "Sales" with 3 bars: A 1, B 2, C 3 (bars are blue)',
    )
    merged = merge_commitments(rules, model)
    texts = [c.value for c in merged.required_texts]
    assert texts.count("Sales") == 1 and "sales" not in texts
    assert [(c.value, c.count) for c in merged.entities] == [("bar", 3)]  # the rules' count
    assert [c.value for c in merged.constraints] == ["bars are blue"]
    assert len(merged.numbers) == len(rules.numbers)


# --------------------------------------------------------------------------------------------
# Cheap fixes
# --------------------------------------------------------------------------------------------


def failure(message: str, kind: str = "error") -> RenderFailure:
    return RenderFailure(kind=kind, message=message)  # type: ignore[arg-type]


def test_colour_fix_touches_only_the_bad_literals() -> None:
    source = (
        "import matplotlib.pyplot as plt\n"
        "COLORS = ['steelblue', 'grean']\n"
        "fig, ax = plt.subplots()\n"
        "ax.bar([1, 2], [3, 4], color=COLORS, edgecolor='blakc')  # 'grean' stays in comments\n"
        "ax.set_title('grean')\n"
    )
    program = Program(language="matplotlib", source=source, backend="x")
    fixed = quick_fix(program, failure("ValueError: Invalid RGBA argument: 'grean'"))
    assert fixed is not None
    new, note = fixed
    assert "['steelblue', 'green']" in new.source and "edgecolor='black'" in new.source
    assert "ax.set_title('grean')" in new.source and "# 'grean' stays" in new.source
    assert "'grean' → 'green'" in note and new.usage is None


def test_legend_and_closed_figure_fixes() -> None:
    legend = Program(language="matplotlib", source="ax.legend(loc='upper centre')\n")
    fixed = quick_fix(
        legend, failure("ValueError: 'upper centre' is not a valid value for loc. Did you mean")
    )
    assert fixed is not None and fixed[0].source == "ax.legend(loc='upper center')\n"
    closed = Program(
        language="matplotlib",
        source="import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.close()\n",
    )
    fixed = quick_fix(closed, failure("the program produced no figure", "no_output"))
    assert fixed is not None and "plt.close()" not in fixed[0].source
    assert quick_fix(closed, failure("ZeroDivisionError: division by zero")) is None
    assert quick_fix(closed, None) is None
    svg = Program(language="svg", source="<svg/>")
    assert quick_fix(svg, failure("Invalid RGBA argument: 'x'")) is None


def test_closest_colour() -> None:
    assert closest_colour("bleu") == "blue"
    assert closest_colour("Dark Orange") == "darkorange"
    assert closest_colour("zzzzzz") == "gray"


# --------------------------------------------------------------------------------------------
# The repair message
# --------------------------------------------------------------------------------------------


def test_repair_message_is_compact_and_exact() -> None:
    overlap = Finding(
        code="text_overlap",
        severity="error",
        message="long message for people",
        llm_message="move the texts apart",
        element_ids=["e1", "e2"],
        boxes=[(10.2, 20.0, 80.7, 40.0), (12.0, 22.0, 82.0, 41.0)],
    )
    small = Finding(code="text_too_small", severity="warning", message="tiny", element_ids=["e9"])
    info = Finding(code="ocr_skipped", severity="info", message="skipped")
    previous = PreviousAttempt(
        program=Program(language="matplotlib", source="x"),
        findings=[small, overlap, info],
        failure=None,
        texts={"e1": "Q1 sales", "e2": "Q2 sales"},
    )
    text = problems(previous, (1024, 768))
    lines = text.splitlines()
    assert "1024x768 px" in lines[0]
    assert lines[1] == (
        "- error text_overlap: move the texts apart [e1 'Q1 sales' at (10, 20, 81, 40); "
        "e2 'Q2 sales' at (12, 22, 82, 41)]"
    )
    assert lines[2] == "- warning text_too_small: tiny [e9]" and "ocr_skipped" not in text
    crashed = PreviousAttempt(
        program=Program(language="matplotlib", source="x"),
        failure="error: ValueError: bad\nTraceback ...\n  line 3\nValueError: bad",
    )
    assert problems(crashed).startswith("The render failed: error: ValueError: bad\nTraceback")


# --------------------------------------------------------------------------------------------
# Data summaries, prompts
# --------------------------------------------------------------------------------------------


def test_data_summary_never_pastes_a_big_table() -> None:
    assert summarize(None) is None
    small = summarize({"labels": ["a", "b"], "values": [1, 2]})
    assert small is not None and '"labels": ["a", "b"]' in small
    rows = [{"city": f"C{k}", "n": k} for k in range(5000)]
    big = summarize(rows)
    assert big is not None and len(big) < INLINE_LIMIT
    assert "5000 rows" in big and "n (number, 0 to 4999)" in big and "C0" in big


def test_prompt_files_are_versioned_and_filled() -> None:
    for language in CONCRETE_LANGUAGES:
        system = prompts.system_prompt(language, 800, 600, 100, ["logo.png"])
        assert "800 x 600" in system.text and "logo.png" in system.text
        assert "$" not in system.text.replace("$4", "")  # every placeholder filled
        assert f"{language}-v1-" in system.version and system.version.startswith("common-v1-")
    assert prompts.system_prompt("svg", 800, 600, 100).text != prompts.system_prompt(
        "svg", 801, 600, 100
    ).text
    for name in ("repair", "retry", "continue", "choose", "critique"):
        assert prompts.load(name).version == 1


def test_prompts_ship_with_the_package() -> None:
    found = subprocess.run(
        [sys.executable, "-c",
         "from importlib.resources import files; "
         "print(sorted(p.name for p in (files('cocogen') / 'prompts').iterdir()))"],
        capture_output=True, text=True, check=True,
    )
    names = json.loads(found.stdout.replace("'", '"'))
    assert {f"{lang}.md" for lang in CONCRETE_LANGUAGES} <= set(names)
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    assert '"prompts/*.md"' in pyproject.read_text()


# --------------------------------------------------------------------------------------------
# Reply cache
# --------------------------------------------------------------------------------------------


def test_cache_keys_and_files(tmp_path: Path) -> None:
    payload = {"messages": [{"role": "user", "content": "hi"}]}
    key = cache_key("anthropic", "m", "v1", payload)
    assert key == cache_key("anthropic", "m", "v1", json.loads(json.dumps(payload)))
    assert len({key, cache_key("openai", "m", "v1", payload), cache_key("anthropic", "m2", "v1",
                payload), cache_key("anthropic", "m", "v2", payload)}) == 4
    cache = ReplyCache(tmp_path)
    assert cache.get(key) is None
    cache.put(key, {"text": "hello"})
    assert cache.get(key) == {"text": "hello"} and cache.hits == 1
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [f"{key}.json"]
    assert ReplyCache(tmp_path, read=False).get(key) is None
    cache.path(key).write_text("{broken")
    assert cache.get(key) is None


# --------------------------------------------------------------------------------------------
# Critique
# --------------------------------------------------------------------------------------------


def test_critique_judges_only_open_constraints() -> None:
    report = CheckReport(
        findings=[],
        commitments=Commitments(
            required_texts=[Commitment(kind="text", value="Title", status="violated")],
            constraints=[
                Commitment(kind="constraint", value="the arrow points from A to B"),
                Commitment(kind="constraint", value="the title is red"),
                Commitment(kind="constraint", value="calm colours"),
            ],
        ),
        passed=True,
    )
    result = CritiqueResult(
        verdicts=[
            ConstraintVerdict(constraint="the arrow points from A to B", verdict="violated",
                              evidence="it points from B to A"),
            ConstraintVerdict(constraint="the title is red", verdict="satisfied",
                              evidence="red"),
            ConstraintVerdict(constraint="calm colours", verdict="unsure"),
            ConstraintVerdict(constraint="Title", verdict="satisfied"),
        ]
    )
    judged = apply_critique(report, result)
    statuses = {c.value: c.status for c in judged.commitments.all()}
    assert statuses == {
        "Title": "violated",  # never overridden by the model
        "the arrow points from A to B": "violated",
        "the title is red": "satisfied",
        "calm colours": "unverified",
    }
    (violation,) = [f for f in judged.findings if f.code == CRITIQUE_VIOLATED]
    assert violation.severity == "error" and "B to A" in violation.llm_message
    assert not judged.passed and judged.scores["critique_satisfied"] == 0.5
    assert apply_critique(report, result, severity="warning").passed
