"""Which runner to use, from the environment (the host's settings end up here as variables).

- `COCOGEN_SANDBOX` = `auto` (default: the warm pool, or the one-shot runner when no pool can
  start here), `pool`, or `subprocess`.
- `COCOGEN_SANDBOX_WORKERS` = number of pool workers (default: the number of cores).
- `COCOGEN_SANDBOX_SPARES` = `auto` (default), `on` or `off`: whether a pool worker forks the next
  job's child ahead of time (`sandbox.pool.WorkerPool`'s `spares`).
- `COCOGEN_SANDBOX_DIR` = where job work dirs are made (`sandbox.jobroot`; default `/dev/shm`
  when it is a roomy tmpfs, else the temp dir).
- `COCOGEN_SANDBOX_REQUIRE` = layers that must be active, e.g. `seccomp,landlock,netns`: without
  them no runner starts (`SandboxUnavailable`, one line naming the missing layers and why).

Each job's resource limits (`sandbox.wire.Limits`; unset variables keep its defaults):

- `COCOGEN_SANDBOX_WALL_S` = wall-clock seconds per job (`wall_s`, may be fractional).
- `COCOGEN_SANDBOX_CPU_S` = CPU seconds per job (`cpu_s`).
- `COCOGEN_SANDBOX_MEMORY_MB` = address space in MiB (`address_space_mb`).
- `COCOGEN_SANDBOX_FILES` = open files (`open_files`).
- `COCOGEN_SANDBOX_OUTPUT_MB` = size of any file written, and of the printed output, in MiB
  (`file_size_mb`).

A value that is not a positive number (a whole one, except for `WALL_S`) raises
`SandboxUnavailable` with one line naming the variable and the value: a typo must not silently
run jobs under the defaults.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sandbox.layers import SandboxUnavailable, check_names
from sandbox.runner import SUBPROCESS_LAYERS, Runner, SubprocessRunner
from sandbox.wire import Limits

KINDS = ("auto", "pool", "subprocess")
SPARE_MODES = ("auto", "on", "off")
LIMIT_VARIABLES: dict[str, str] = {
    "COCOGEN_SANDBOX_WALL_S": "wall_s",
    "COCOGEN_SANDBOX_CPU_S": "cpu_s",
    "COCOGEN_SANDBOX_MEMORY_MB": "address_space_mb",
    "COCOGEN_SANDBOX_FILES": "open_files",
    "COCOGEN_SANDBOX_OUTPUT_MB": "file_size_mb",
}
"""Environment variable -> the `Limits` field it sets."""


def limits_from_environment(environ: Mapping[str, str] | None = None) -> Limits:
    """`Limits()` with the fields named by the `COCOGEN_SANDBOX_*` limit variables replaced."""
    environ = os.environ if environ is None else environ
    changes: dict[str, Any] = {}
    for variable, name in LIMIT_VARIABLES.items():
        text = environ.get(variable, "").strip()
        if not text:
            continue
        whole = Limits.__dataclass_fields__[name].type in (int, "int")
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0 and (not whole or value.is_integer())):
            kind = "a positive whole number" if whole else "a positive number"
            raise SandboxUnavailable(f"{variable}={text!r}: expected {kind}")
        changes[name] = int(value) if whole else value
    return replace(Limits(), **changes)


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
    spares = environ.get("COCOGEN_SANDBOX_SPARES", "auto").strip().lower() or "auto"
    if spares not in SPARE_MODES:
        raise SandboxUnavailable(
            f"COCOGEN_SANDBOX_SPARES={spares!r}: expected one of {', '.join(SPARE_MODES)}"
        )
    if kind in ("auto", "pool") and sys.platform.startswith("linux"):
        from sandbox.pool import WorkerPool

        try:
            return WorkerPool(workers, require=require, preload=preload, spares=spares)
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
