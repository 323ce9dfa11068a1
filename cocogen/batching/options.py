"""The options of one batch run, as the library call and the CLI both pass them on."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from cocogen.checking import CheckSettings
from cocogen.errors import UsageError
from sandbox.runner import Runner
from sandbox.wire import Limits

EXECUTORS = ("local", "ray")
OVERLAYS = ("findings", "always")


@dataclass
class BatchOptions:
    workers: int = 0
    """Concurrent renders (0: one per CPU core).  With Ray: rows in flight per CPU of the cluster
    is fixed by Ray; this bounds the driver's queue instead."""
    executor: str = "local"
    backend: Any = None
    """Planner for rows without a program: a registered name, a `Backend` instance, or None (an
    LLM whose key is set, else offline)."""
    llm_concurrency: int = 8
    """Planning (LLM) calls in flight at once, across rows."""
    max_attempts: int = 3
    check_settings: CheckSettings = field(default_factory=CheckSettings)
    limits: Limits | None = None
    runner: Runner | None = None
    """A runner to render with (the caller keeps ownership); None: the pool, else subprocesses."""
    refiners: dict[str, Any] = field(default_factory=dict)
    """Refiner instances by registered name (`none`, `diffusers`) to use instead of loading them."""
    overlays: str = "findings"
    """Which checked attempts get an `overlay.png` in their run dir: only those with `findings`
    (a clean chart's overlay shows nothing its draft does not, and costs ~3 ms a row), or
    `always`."""
    ray_address: str | None = None
    """Ray cluster address (None: `RAY_ADDRESS`, else a local Ray started for this batch)."""
    ray_refine_gpus: float | None = None
    """GPUs per refiner actor (None: 1 when the cluster has GPUs, else 0)."""
    ray_refine_actors: int | None = None
    """Refiner actors (None: one per GPU of the cluster, at least one)."""

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise UsageError("workers must be at least 1 (or 0 for one per CPU core)")
        if self.workers == 0:
            self.workers = os.cpu_count() or 1
        if self.executor not in EXECUTORS:
            raise UsageError(f"unknown executor {self.executor!r} (choose from local, ray)")
        if self.overlays not in OVERLAYS:
            raise UsageError(
                f"overlays must be one of {', '.join(OVERLAYS)}, not {self.overlays!r}"
            )
        if self.llm_concurrency < 1:
            raise UsageError("llm_concurrency must be at least 1")
        if self.max_attempts < 1:
            raise UsageError("max_attempts must be at least 1")
        if self.backend is not None and not isinstance(self.backend, str):
            if not callable(getattr(self.backend, "generate", None)):
                raise UsageError("backend must be a backend name or an object with generate()")

    @property
    def backend_name(self) -> str:
        from cocogen.registry import default_backend_name

        if self.backend is None:
            return default_backend_name()
        if isinstance(self.backend, str):
            return self.backend
        return str(getattr(self.backend, "name", type(self.backend).__name__))

    def load_backend(self) -> Any:
        from cocogen.registry import load_backend

        if self.backend is None or isinstance(self.backend, str):
            return load_backend(self.backend)
        return self.backend
