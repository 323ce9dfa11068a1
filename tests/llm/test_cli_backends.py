"""`cocogen generate` with an LLM backend, as users run it: a subprocess, env keys, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from batch.batchkit import cocogen

PROMPT = "A bar chart of visitors for Lisbon 320 and Porto 210 titled Visitors by city (cli test)"
GOOD = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(10.24, 7.68), dpi=100)
bars = ax.bar(["Lisbon", "Porto"], [320, 210])
ax.bar_label(bars, labels=["320", "210"])
ax.set_title("Visitors by city (cli test)")
fig.tight_layout()
"""


def test_generate_with_anthropic_model_and_cache(anthropic_api: Any) -> None:
    api = anthropic_api
    api.script(api.text(f"```python\n{GOOD}```\n"))
    env = {"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": api.url}
    args = ("generate", PROMPT, "--backend", "anthropic", "--model", "claude-x", "--json")
    proc = cocogen(*args, "--no-cache", env=env)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["status"] == "ok" and payload["backend"] == "anthropic"
    assert api.requests[0].body["model"] == "claude-x"
    # The same request again is served from the reply cache: no call at all.
    again = cocogen(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert len(api.requests) == 1
    run = json.loads((Path(json.loads(again.stdout)["run_dir"]) / "run.json").read_text())
    assert run["usage"]["cached_replies"] == 1


def test_generate_picks_the_keyed_backend_and_env_model(openai_api: Any) -> None:
    api = openai_api
    api.script(api.text(f"```python\n{GOOD}```\n"))
    env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": api.url, "COCOGEN_MODEL": "local-llm"}
    proc = cocogen("generate", PROMPT, "--no-cache", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["backend"] == "openai"
    assert api.requests[0].body["model"] == "local-llm"


def test_api_failure_exits_1_and_leaves_a_run_record(anthropic_api: Any) -> None:
    api = anthropic_api
    api.script(*(api.error(503, "overloaded") for _ in range(4)))
    env = {"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": api.url}
    proc = cocogen("generate", PROMPT, "--no-cache", "--json", env=env)
    assert proc.returncode == 1
    error_line = proc.stderr.strip().splitlines()[-1]
    assert error_line.startswith("error: ") and "HTTP 503 after 4 tries" in error_line
    payload = json.loads(proc.stdout)
    assert payload["status"] == "error" and payload["run_dir"]
    run = json.loads((Path(payload["run_dir"]) / "run.json").read_text())
    assert run["status"] == "plan_failed" and "503" in run["error"]


def test_without_a_key_explicit_requests_work_and_others_say_what_to_set() -> None:
    vague = cocogen("generate", "A poster for a summer jazz night by the river")
    assert vague.returncode == 2
    message = vague.stderr.strip()
    assert "ANTHROPIC_API_KEY" in message and "--backend anthropic" in message
    assert "OPENAI_API_KEY" in message
    no_key = cocogen("generate", PROMPT, "--backend", "anthropic")
    assert no_key.returncode == 2
    assert "set ANTHROPIC_API_KEY" in no_key.stderr
