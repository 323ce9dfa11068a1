"""The anthropic and openai backends end to end: the real SDKs against a local wire-format server.

Every case runs against both APIs (the `api` fixture is parametrised): the pipeline plans with
the real backend, renders in the real sandbox, checks, repairs, records; the assertions read the
run record and the requests the server received."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from cocogen.checking import CheckSettings
from cocogen.errors import BackendFailed, BackendRefused, BackendUnavailable
from cocogen.llm_cache import ReplyCache
from cocogen.pipeline import Pipeline
from cocogen.types import Request, RunRecord

PROMPT = "A bar chart of revenue for North 120 and South 95 titled Quarterly revenue"
GOOD = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(10.24, 7.68), dpi=100)
bars = ax.bar(["North", "South"], [120, 95], color="#4C72B0")
ax.bar_label(bars, labels=["120", "95"])
ax.set_title("Quarterly revenue")
fig.tight_layout()
"""
BROKEN = """import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([1, 2], [1, 2, 3])
"""
OVERLAPPING = GOOD + (
    "ax.text(0.5, 0.5, 'Overlapping words', transform=ax.transAxes, fontsize=20)\n"
    "ax.text(0.52, 0.51, 'Overlapping words', transform=ax.transAxes, fontsize=20)\n"
)
COMMITMENTS = {"texts": ["Quarterly revenue", "North", "South"], "numbers": ["120", "95"],
               "counts": [{"what": "bar", "count": 2}], "constraints": [], "unknowns": []}
NO_OCR = CheckSettings(ocr="off")


def fenced(source: str, tag: str = "python", commitments: dict[str, Any] | None = None) -> str:
    head = ""
    if commitments is not None:
        head = f"```commitments\n{json.dumps(commitments)}\n```\n\n"
    return f"{head}```{tag}\n{source}```\n"


def pipeline(backend: Any, **options: Any) -> Pipeline:
    options.setdefault("check_settings", NO_OCR)
    return Pipeline(backend=backend, **options)


def record_of(run_dir: str | Path) -> RunRecord:
    return RunRecord.model_validate_json((Path(run_dir) / "run.json").read_text())


def test_clean_reply(api: Any, make: Any) -> None:
    api.script(api.text(fenced(GOOD, commitments=COMMITMENTS), cache_write=900))
    result = pipeline(make(api)).generate(Request(prompt=PROMPT))
    assert result.status == "ok", result.findings
    assert result.attempts == 1 and len(api.requests) == 1
    sent = api.requests[0]
    assert sent.body["model"] == "test-model"
    # The system prompt is the per-language contract, marked for caching (Anthropic) or sent
    # first as the stable prefix (OpenAI caches those itself).
    system = api.system_of(0)
    assert "1024 x 768 pixels" in system and "matplotlib" in system and "No network" in system
    if api.kind == "anthropic":
        assert sent.path == "/v1/messages"
        assert sent.body["system"][0]["cache_control"] == {"type": "ephemeral"}
        key = sent.headers.get("x-api-key") or sent.headers.get("authorization", "")
        assert key.endswith("test-key") and "anthropic-version" in sent.headers
        assert "stream" not in sent.body or sent.body["stream"] is False
    else:
        assert sent.path == "/v1/chat/completions"
        assert sent.body["messages"][0]["role"] == "system"
        assert sent.headers["authorization"] == "Bearer test-key"
        assert sent.body["max_tokens"] == 8192  # a non-OpenAI base URL gets max_tokens
    first = api.text_of(api.messages_of(0)[0])
    assert PROMPT in first and "1024 x 768 px" in first
    record = record_of(result.run_dir)
    assert record.backend == api.kind
    assert record.usage.requests == 1 and record.usage.output_tokens == 80
    if api.kind == "anthropic":
        assert record.usage.cache_write_tokens == 900
    # The model's commitments were merged with the rules': its bar count is traced.
    entities = {c.value: c for c in record.commitments.entities}
    assert entities["bar"].source == "llm" and entities["bar"].status == "satisfied"
    assert record.language == "matplotlib" and "chart" in record.language_reason


def test_prose_and_two_fences(api: Any, make: Any) -> None:
    snippet = "ax.set_title('x')\n"
    reply = (
        "Here is a first idea:\n\n" + fenced(snippet) + "\nAnd the complete program:\n\n"
        + fenced(GOOD, tag="py") + "\nRun it with `python chart.py`. Enjoy!"
    )
    api.script(api.text(reply))
    result = pipeline(make(api)).generate(Request(prompt=PROMPT))
    assert result.status == "ok"
    program = (Path(result.run_dir) / "attempt-1/program.py").read_text()
    assert program == GOOD
    record = record_of(result.run_dir)
    assert "1 other block ignored" in record.attempts[0].program.notes


def test_truncated_reply_is_continued(api: Any, make: Any) -> None:
    cut = GOOD.index("ax.set_title")
    api.script(
        api.text("```python\n" + GOOD[:cut], stop="length"),
        api.text(GOOD[cut:] + "```\n"),
    )
    result = pipeline(make(api)).generate(Request(prompt=PROMPT))
    assert result.status == "ok"
    assert (Path(result.run_dir) / "attempt-1/program.py").read_text() == GOOD
    assert len(api.requests) == 2
    messages = api.messages_of(1)
    assert messages[-2]["role"] == "assistant"
    assert api.text_of(messages[-2]).startswith("```python\nimport matplotlib")
    assert "cut off" in api.text_of(messages[-1])
    assert record_of(result.run_dir).usage.requests == 2


def test_render_failure_then_fix(api: Any, make: Any) -> None:
    api.script(api.text(fenced(BROKEN)), api.text(fenced(GOOD)))
    result = pipeline(make(api)).generate(Request(prompt=PROMPT))
    assert result.status == "ok" and result.attempts == 2
    repair = api.messages_of(1)
    assert api.text_of(repair[1]) == f"```python\n{BROKEN.rstrip()}\n```"
    ask = api.text_of(repair[2])
    assert "The render failed" in ask and "same first dimension" in ask
    assert "Traceback" in ask and "complete corrected" in ask
    # The request turn stays first and identical, so the provider can cache the prefix.
    assert api.text_of(repair[0]) == api.text_of(api.messages_of(0)[0])
    if api.kind == "anthropic":
        assert repair[0]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert api.system_of(1) == api.system_of(0)
    record = record_of(result.run_dir)
    assert record.final_attempt == 2 and record.usage.requests == 2


def test_overlapping_labels_then_fix(api: Any, make: Any) -> None:
    api.script(api.text(fenced(OVERLAPPING)), api.text(fenced(GOOD)))
    result = pipeline(make(api)).generate(Request(prompt=PROMPT))
    assert result.status == "ok" and result.attempts == 2
    ask = api.text_of(api.messages_of(1)[-1])
    assert "error text_overlap" in ask
    assert "'Overlapping words' at (" in ask  # element texts and their pixel boxes
    first = record_of(result.run_dir).attempts[0]
    assert first.report is not None and not first.report.passed


def test_rate_limit_then_success(api: Any, make: Any) -> None:
    api.script(api.error(429, "slow down"), api.text(fenced(GOOD)))
    result = pipeline(make(api)).generate(Request(prompt=PROMPT))
    assert result.status == "ok"
    assert len(api.requests) == 2  # the SDK retried by itself
    assert api.requests[0].body == api.requests[1].body


def test_server_errors_three_times(api: Any, make: Any) -> None:
    api.script(*(api.error(500, "internal trouble") for _ in range(3)))
    with pytest.raises(BackendFailed) as caught:
        pipeline(make(api, max_retries=2)).generate(Request(prompt=PROMPT))
    message = str(caught.value)
    assert "HTTP 500 after 3 tries" in message and "internal trouble" in message
    assert len(api.requests) == 3
    assert caught.value.run_dir is not None
    record = record_of(caught.value.run_dir)
    assert record.status == "plan_failed" and record.attempts == []
    assert record.error is not None and "HTTP 500" in record.error
    assert {"North", "South"} <= {c.value for c in record.commitments.required_texts}


def test_timeout(api: Any, make: Any) -> None:
    api.script(api.slow(3.0), api.slow(3.0))
    backend = make(api, timeout=0.4, max_retries=1)
    with pytest.raises(BackendFailed, match=r"did not answer within 0.4 s \(2 tries\)") as caught:
        pipeline(backend).generate(Request(prompt=PROMPT))
    assert len(api.requests) == 2
    assert record_of(caught.value.run_dir or "").status == "plan_failed"


def test_refusal(api: Any, make: Any) -> None:
    if api.kind == "anthropic":
        api.script(api.text("I can't help with that request.", stop="refusal"))
    else:
        api.script(api.text("", refusal="I can't help with that request."))
    with pytest.raises(BackendRefused, match=r"declined the request.*can't help") as caught:
        pipeline(make(api)).generate(Request(prompt=PROMPT))
    assert len(api.requests) == 1  # a refusal is not asked again
    assert record_of(caught.value.run_dir or "").status == "plan_failed"


def test_reference_images_are_image_blocks(api: Any, make: Any, tmp_path: Path) -> None:
    from PIL import Image

    logo = tmp_path / "logo.png"
    Image.new("RGB", (8, 6), (200, 30, 30)).save(logo)
    api.script(api.text(fenced(GOOD)))
    request = Request(prompt=PROMPT, reference_images={"logo.png": str(logo)})
    result = pipeline(make(api)).generate(request)
    assert result.status == "ok"
    content = api.messages_of(0)[0]["content"]
    data = base64.b64encode(logo.read_bytes()).decode()
    if api.kind == "anthropic":
        assert content[0] == {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": data},
        }
    else:
        assert content[0] == {
            "type": "image_url",
            "image_url": {"url": f"data:image/png;base64,{data}"},
        }
    assert "logo.png" in api.text_of({"content": content})
    assert "logo.png" in api.system_of(0)


def test_wrong_language_is_rejected_before_rendering(api: Any, make: Any) -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>\n'
    api.script(api.text("Here it is:\n" + fenced(svg, tag="svg")), api.text(fenced(GOOD)))
    result = pipeline(make(api)).generate(Request(prompt=PROMPT))
    assert result.status == "ok" and result.attempts == 1  # the SVG never reached the sandbox
    retry = api.text_of(api.messages_of(1)[-1])
    assert "holds SVG, not the Python (matplotlib)" in retry
    notes = record_of(result.run_dir).attempts[0].program.notes
    assert "asked again" in notes


def test_reply_without_program_fails_clearly(api: Any, make: Any) -> None:
    api.script(api.text("Sorry, I have no idea."), api.text("Still no idea."))
    with pytest.raises(BackendFailed, match="reply could not be used: the reply holds no"):
        pipeline(make(api)).generate(Request(prompt=PROMPT))
    assert len(api.requests) == 2


def test_reply_cache_and_no_cache(api: Any, make: Any, tmp_path: Path) -> None:
    api.script(api.text(fenced(GOOD, commitments=COMMITMENTS)))
    cache = ReplyCache(tmp_path / "cache")
    first = pipeline(make(api, cache=cache)).generate(Request(prompt=PROMPT))
    second = pipeline(make(api, cache=cache)).generate(Request(prompt=PROMPT))
    assert len(api.requests) == 1  # the second run cost nothing
    assert Path(first.image or "").read_bytes() == Path(second.image or "").read_bytes()
    usage = record_of(second.run_dir).usage
    assert usage.cached_replies == 1 and usage.requests == 0 and usage.input_tokens == 0
    assert {c.value for c in record_of(second.run_dir).commitments.entities} == {"bar"}
    # Another model is another key; --no-cache (read=False) asks again and refreshes the entry.
    api.script(api.text(fenced(GOOD)), api.text(fenced(GOOD)))
    pipeline(make(api, cache=cache, model="other-model")).generate(Request(prompt=PROMPT))
    fresh = ReplyCache(tmp_path / "cache", read=False)
    pipeline(make(api, cache=fresh)).generate(Request(prompt=PROMPT))
    assert len(api.requests) == 3
    assert api.requests[1].body["model"] == "other-model"


def test_deterministic_fix_before_asking(api: Any, make: Any) -> None:
    misspelt = GOOD.replace('color="#4C72B0"', 'color="bleu"').replace(
        'ax.set_title("Quarterly revenue")',
        'ax.set_title("Quarterly revenue")\nax.legend(["r"], loc="upper centre")',
    )
    api.script(api.text(fenced(misspelt)))
    result = pipeline(make(api)).generate(Request(prompt=PROMPT))
    assert result.status == "ok" and result.attempts == 3
    assert len(api.requests) == 1  # both fixes were made without the model
    final = (Path(result.run_dir) / "attempt-3/program.py").read_text()
    assert 'color="blue"' in final and 'loc="upper center"' in final
    notes = " ".join(n for a in record_of(result.run_dir).attempts for n in a.notes)
    assert "'bleu' → 'blue'" in notes and "'upper centre' → 'upper center'" in notes


def test_model_chooses_the_language_when_rules_are_unsure(api: Any, make: Any) -> None:
    api.script(
        api.text('{"language": "matplotlib", "reason": "numbers read best as bars"}'),
        api.text(fenced(GOOD)),
    )
    result = pipeline(make(api)).generate(Request(prompt="Something about North and South"))
    assert result.language == "matplotlib"
    assert "Choose the layout language" in api.system_of(0)
    record = record_of(result.run_dir)
    assert record.language_reason == "the model chose it: numbers read best as bars"
    assert record.usage.requests == 2


def test_visual_critique_steers_repair(api: Any, make: Any) -> None:
    red = {**COMMITMENTS, "constraints": ["the title is red"]}
    api.script(
        api.text(fenced(GOOD, commitments=red)),
        api.text('{"verdicts": [{"constraint": "the title is red", "verdict": "violated", '
                 '"evidence": "the title is black"}]}'),
        api.text(fenced(GOOD.replace('revenue")', 'revenue", color="red")'))),
        api.text('{"verdicts": [{"constraint": "the title is red", "verdict": "satisfied", '
                 '"evidence": "red title at the top"}]}'),
    )
    result = pipeline(make(api), critique=True).generate(Request(prompt=PROMPT))
    assert result.status == "ok" and result.attempts == 2
    assert len(api.requests) == 4
    critique = api.messages_of(1)[0]["content"]
    kinds = [part["type"] for part in critique]
    assert kinds[0] in ("image", "image_url") and "the title is red" in api.text_of(
        {"content": critique}
    )
    assert "critique_violated" in api.text_of(api.messages_of(2)[-1])
    record = record_of(result.run_dir)
    first = record.attempts[0].report
    assert first is not None and any(f.code == "critique_violated" for f in first.findings)
    (constraint,) = record.commitments.constraints
    assert constraint.status == "satisfied"
    assert constraint.evidence.texts == ["red title at the top"]


def test_streaming_when_asked(api: Any, make: Any) -> None:
    api.script(api.streamed(fenced(GOOD)))
    result = pipeline(make(api, stream=True)).generate(Request(prompt=PROMPT))
    assert result.status == "ok"
    assert api.requests[0].body["stream"] is True
    assert (Path(result.run_dir) / "attempt-1/program.py").read_text() == GOOD
    assert record_of(result.run_dir).usage.output_tokens == 42


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from cocogen.registry import load_backend

    with pytest.raises(BackendUnavailable, match="set ANTHROPIC_API_KEY"):
        load_backend("anthropic")
    with pytest.raises(BackendUnavailable, match="set OPENAI_API_KEY"):
        load_backend("openai")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert load_backend("openai").api_key == "not-needed"  # a local server needs no key


def test_model_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from cocogen.planning.claude import DEFAULT_MODEL, AnthropicBackend

    assert AnthropicBackend(api_key="k").model == DEFAULT_MODEL
    monkeypatch.setenv("COCOGEN_MODEL", "claude-from-env")
    assert AnthropicBackend(api_key="k").model == "claude-from-env"
    assert AnthropicBackend(api_key="k", model="explicit").model == "explicit"
