"""Which runner to use, from the environment (the host's settings end up here as variables).

- `COCOGEN_SANDBOX` = `auto` (default: the warm pool, or the one-shot runner when no pool can
  start here), `pool`, or `subprocess`.
- `COCOGEN_SANDBOX_WORKERS` = number of pool workers (default: the number of cores).
- `COCOGEN_SANDBOX_REQUIRE` = layers that must be active, e.g. `seccomp,landlock,netns`: without
  them no runner starts (`SandboxUnavailable`, one line naming the missing layers and why).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from sandbox.layers import SandboxUnavailable, check_names
from sandbox.runner import SUBPROCESS_LAYERS, Runner, SubprocessRunner

KINDS = ("auto", "pool", "subprocess")


def required_layers(environ: Mapping[str, str]) -> list[str]:
    raw = environ.get("COCOGEN_SANDBOX_REQUIRE", "")
    names = [n.strip() for n in raw.replace(" ", ",").split(",") if n.strip()]
    try:
        check_names(names)
    except ValueError as exc:
        raise SandboxUnavailable(f"COCOGEN_SANDBOX_REQUIRE: {exc}") from None
    return names


def runner_from_environment(
    environ: Mapping[str, str] | None = None, preload: tuple[str, ...] = ()
) -> Runner:
    environ = os.environ if environ is None else environ
    kind = environ.get("COCOGEN_SANDBOX", "auto").strip().lower() or "auto"
    if kind not in KINDS:
        raise SandboxUnavailable(f"COCOGEN_SANDBOX={kind!r}: expected one of {', '.join(KINDS)}")
    require = required_layers(environ)
    workers_text = environ.get("COCOGEN_SANDBOX_WORKERS", "").strip()
    try:
        workers = int(workers_text) if workers_text else None
    except ValueError:
        raise SandboxUnavailable(
            f"COCOGEN_SANDBOX_WORKERS={workers_text!r}: expected a whole number"
        ) from None
    if kind in ("auto", "pool") and sys.platform.startswith("linux"):
        from sandbox.pool import WorkerPool

        try:
            return WorkerPool(workers, require=require, preload=preload)
        except SandboxUnavailable as exc:
            if kind == "pool" or require:
                raise
            fallback_reason = str(exc)
    elif kind == "pool":
        raise SandboxUnavailable(f"the sandbox pool needs Linux (this is {sys.platform})")
    else:
        fallback_reason = (
            "COCOGEN_SANDBOX=subprocess"
            if kind == "subprocess"
            else f"the pool needs Linux (this is {sys.platform})"
        )
    missing = [n for n in require if not SUBPROCESS_LAYERS.get(n, (False, ""))[0]]
    if missing:
        raise SandboxUnavailable(
            f"the subprocess runner cannot provide the required layer(s) {', '.join(missing)}"
        )
    runner = SubprocessRunner()
    runner.fallback_reason = fallback_reason
    return runner
