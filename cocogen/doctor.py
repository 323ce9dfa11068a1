"""`cocogen doctor`: what is installed and working here, checked for real, never assumed."""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import time
from typing import Any

from cocogen.registry import BACKENDS, KEYED_BACKENDS, REFINERS, RENDERERS, plugins

PROBE_PROGRAM = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["a", "b"], [1, 2])
ax.set_title("doctor 中文")
"""


def _sandbox() -> dict[str, Any]:
    """The runner renders use here and each of its layers, as that runner itself reports them."""
    from cocogen.errors import SandboxError
    from cocogen.rendering import default_runner

    try:
        runner = default_runner()
    except SandboxError as exc:
        return {"runner": "none", "error": str(exc), "layers": {}}
    layers = getattr(runner, "layers", None)
    return {
        "runner": str(getattr(runner, "name", type(runner).__name__)),
        "layers": layers() if callable(layers) else {},
    }


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _renderers() -> dict[str, Any]:
    from cocogen.rendering import render_program
    from cocogen.types import Canvas, Program, Request

    found: dict[str, Any] = {}
    for name, ep in sorted(plugins(RENDERERS).items()):
        entry: dict[str, Any] = {"entry_point": ep.value}
        if name == "matplotlib":
            started = time.perf_counter()
            draft, _notes = render_program(
                Program(language="matplotlib", source=PROBE_PROGRAM),
                Request(canvas=Canvas(width=320, height=240, dpi=80)),
            )
            entry["ok"] = draft.ok
            entry["seconds"] = round(time.perf_counter() - started, 3)
            if not draft.ok:
                entry["error"] = draft.failure.one_line() if draft.failure else "no image"
        found[name] = entry
    return found


def _fonts() -> dict[str, Any]:
    from renderers.matplotlib import FONT_CHAIN, font_chain

    chain = font_chain()
    return {
        "chain": chain,
        "cjk": any("CJK" in name for name in chain),
        "missing": [name for name in FONT_CHAIN if name not in chain],
    }


def collect() -> dict[str, Any]:
    """Everything doctor reports, as one JSON-able dict; `ok` is whether the core path works."""
    sandbox = _sandbox()
    renderers = _renderers() if "error" not in sandbox else {}
    backends: dict[str, Any] = {}
    registered = plugins(BACKENDS)
    for name in sorted(registered):
        backends[name] = {"installed": True, "ready": True}
    for name, variable in KEYED_BACKENDS:
        backends[name] = {
            "installed": name in registered and _has(name),
            "key_variable": variable,
            "key_set": bool(os.environ.get(variable)),
            "ready": name in registered and _has(name) and bool(os.environ.get(variable)),
        }
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "renderers": renderers,
        "fonts": _fonts(),
        "ocr": {"rapidocr": _has("rapidocr"), "tesserocr": _has("tesserocr")},
        "browser": {"chromium": chromium, "playwright": _has("playwright")},
        "sandbox": sandbox,
        "backends": backends,
        "refiners": sorted(plugins(REFINERS)),
    }
    report["ok"] = bool(renderers.get("matplotlib", {}).get("ok"))
    return report


def format_report(report: dict[str, Any]) -> str:
    def mark(flag: Any) -> str:
        return "ok " if flag else "-- "

    lines = [f"cocogen doctor (Python {report['python']})", "renderers:"]
    for name, entry in report["renderers"].items():
        detail = f"{entry.get('seconds', '')} s" if entry.get("ok") else entry.get("error", "")
        lines.append(f"  {mark(entry.get('ok', True))}{name:<12} {detail}")
    fonts = report["fonts"]
    lines.append(f"fonts: {', '.join(fonts['chain'])}")
    lines.append(
        f"  {mark(fonts['cjk'])}CJK glyphs"
        + ("" if fonts["cjk"] else " (install Debian fonts-noto-cjk)")
    )
    lines.append("ocr:")
    for name, present in report["ocr"].items():
        lines.append(f"  {mark(present)}{name}")
    browser = report["browser"]
    lines.append("browser:")
    lines.append(f"  {mark(browser['chromium'])}chromium {browser['chromium'] or ''}".rstrip())
    lines.append(f"  {mark(browser['playwright'])}playwright")
    lines.append(f"sandbox ({report['sandbox']['runner']} runner):")
    if "error" in report["sandbox"]:
        lines.append(f"  -- {report['sandbox']['error']}")
    for name, layer in report["sandbox"]["layers"].items():
        lines.append(f"  {mark(layer['active'])}{name:<18} {layer['detail']}")
    lines.append("backends:")
    for name, entry in report["backends"].items():
        if "key_variable" in entry:
            state = (
                "ready"
                if entry["ready"]
                else (
                    f"not installed (pip install 'cocogen[{name}]')"
                    if not entry["installed"]
                    else f"set {entry['key_variable']}"
                )
            )
        else:
            state = "ready"
        lines.append(f"  {mark(entry['ready'])}{name:<12} {state}")
    lines.append(f"refiners: {', '.join(report['refiners'])}")
    return "\n".join(lines)
