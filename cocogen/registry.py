"""Plugins by entry point: backends, renderers and refiners, built-ins registered the same way.

Groups: `cocogen.backends` (a class implementing `Backend`), `cocogen.renderers` (a
`module:function` run *inside the sandbox*, so the host only reads its name and never imports it),
`cocogen.refiners` (a class implementing `Refiner`).
"""

from __future__ import annotations

import functools
import os
import sys
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from cocogen.errors import BackendUnavailable, PluginError, UsageError

BACKENDS = "cocogen.backends"
RENDERERS = "cocogen.renderers"
REFINERS = "cocogen.refiners"

# LLM backends in order of preference and the variable that holds each one's key.
KEYED_BACKENDS: tuple[tuple[str, str], ...] = (
    ("anthropic", "ANTHROPIC_API_KEY"),
    ("openai", "OPENAI_API_KEY"),
)


def plugins(group: str) -> dict[str, EntryPoint]:
    return dict(_plugins(group, tuple(sys.path)))


@functools.lru_cache(maxsize=64)
def _plugins(group: str, _path: tuple[str, ...]) -> tuple[tuple[str, EntryPoint], ...]:
    """Reading the installed distributions' metadata costs milliseconds: once per search path
    (a plugin installed on a new path is seen; one added to a seen path needs a new process)."""
    return tuple((ep.name, ep) for ep in entry_points(group=group))


def renderer_entry(language: str) -> str:
    """The `module:function` that renders `language` inside the sandbox."""
    found = plugins(RENDERERS)
    if language not in found:
        names = ", ".join(sorted(found)) or "none"
        raise UsageError(f"no renderer for language {language!r} is installed (available: {names})")
    return found[language].value


def _load(group: str, name: str) -> Any:
    found = plugins(group)
    if name not in found:
        names = ", ".join(sorted(found)) or "none"
        raise PluginError(f"unknown {group.rsplit('.', 1)[-1][:-1]} {name!r} (available: {names})")
    try:
        return found[name].load()
    except ImportError as exc:
        raise PluginError(
            f"{name!r} is registered but cannot be imported ({exc}); "
            f"install its extra: pip install 'cocogen[{name}]'"
        ) from exc


def default_backend_name() -> str:
    """An LLM backend whose key is set, else the offline planner."""
    found = plugins(BACKENDS)
    for name, variable in KEYED_BACKENDS:
        if name in found and os.environ.get(variable):
            return name
    return "offline"


def load_backend(name: str | None = None, **options: Any) -> Any:
    name = name or default_backend_name()
    if name in dict(KEYED_BACKENDS) and name not in plugins(BACKENDS):
        raise BackendUnavailable(
            f"the {name!r} backend is not available in this install; "
            f"use --backend offline for requests that spell out their data"
        )
    return _load(BACKENDS, name)(**options)


def load_refiner(name: str = "none", **options: Any) -> Any:
    return _load(REFINERS, name)(**options)
