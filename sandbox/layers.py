"""The isolation layers by name, what each renderer may relax, and how their status is reported.

Every layer is reported as active or not with the reason (`cocogen doctor`), never silently
dropped; `require` names layers a pool must have or refuse to start.

A renderer module may declare, beside its `render` function:

- `warm_up()`: called once in each worker (trusted code, never job code) before the first job
  of that renderer is forked, to import and exercise its library or to start a long-lived helper
  such as a browser that jobs then reach through inherited descriptors (it runs before any
  seccomp filter, which only ever applies to job children).  The worker calls `gc.freeze()`
  afterwards, so forked jobs do not copy the warm heap when the collector runs.
- `warm_spare()`: called in a *spare* child, one the worker forks for the renderer's next job
  while it runs the current one (when the pool asks for spares, see `WorkerPool(spares=...)`).
  It is our code, outside the jail: it should touch what a typical job touches, so the pages the
  job would have copied on write are copied before its clock starts.  It returns the descriptors
  it opened that the job may keep (read-only files the job could open anyway, such as fonts);
  the jail closes every other one.  A warm-up that raises leaves no spare.  The spare then
  makes 12 MiB of heap its own for the job's allocations (`sandbox.heap`) and its network
  namespace (the one layer no job decides), waits for its job and enters the rest of the jail,
  ending where a freshly forked child ends.  In a pool run as root, spares warm up at idle
  priority and are back at normal priority before they say they are ready (or as soon as a job
  waits for one).  Renderers without it get no spares.
- `refresh_spare()`: with `warm_spare`, a cheaper start for later spares.  The first spare of a
  worker that runs `warm_spare` lists the pages it wrote (`sandbox.heap.written_pages`); spares
  forked after that copy those pages in a few system calls and call `refresh_spare()` instead,
  for what else the drawing left ready (fonts, settings; the same descriptors returned).
- `SANDBOX`: a dict, e.g. `{"preload": ["matplotlib.pyplot"], "defer_warm_up": True,
  "seccomp_allow": ["fork", "exec"], "skip": ["netns"], "read_paths": ["/usr/lib/chromium"]}`.
  `preload` names modules the worker must import before forking any job (a job's uid may not be
  able to import them, or to write their caches); `defer_warm_up` says `warm_up` is only an
  optimisation: unless the pool is prewarmed, the worker then imports `preload` before the first
  job and calls `warm_up()` right after answering it, so a one-off render (one CLI run) does not
  wait for it; `seccomp_allow` lifts groups of `sandbox.seccomp` (`exec`, `fork`, `socket`);
  `skip` names layers of `JOB_LAYERS` not to apply; `read_paths` are extra read-only paths for
  Landlock.  A relaxation is shown in each result's notes, and a job whose renderer relaxes a
  required layer is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sandbox import seccomp

# Layers applied in each job's child, in this order (see sandbox.jail.enter).
JOB_LAYERS = ("uid", "netns", "scratch_quota", "landlock", "seccomp")

# Everything reported, in the order a person reads it.
DESCRIPTIONS: dict[str, str] = {
    "warm_workers": "workers import the renderer once, then fork one child per job",
    "process_group": "each job in its own session and process group, killed as a group",
    "scrubbed_env": "allow-listed environment: no keys, no proxies, private HOME",
    "private_workdir": "a fresh work dir per job (inputs read-only), removed afterwards",
    "rlimits": "CPU seconds, address space, open files, file size, processes, no core dumps",
    "uid": "a non-root uid per worker slot",
    "netns": "no network: a private (empty) network namespace",
    "scratch_quota": "outputs on a size-capped tmpfs private to the job",
    "landlock": "filesystem confinement: read-only system paths, writes only in the job's dir",
    "seccomp": "no exec, no new processes, no sockets, no ptrace, no mount, no bpf",
    "wall_timeout": "wall-clock limit; the job's process group is killed",
    "output_caps": "stdout/stderr and result size capped",
    "orphan_reaping": "workers are child subreapers and reap every orphan",
    "manifest_crosscheck": "every text box of the manifest must cover ink in the PNG",
    "bubblewrap": "the whole worker inside bubblewrap",
}

ALL_LAYERS = tuple(DESCRIPTIONS)


@dataclass(frozen=True)
class LayerStatus:
    active: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"active": self.active, "detail": self.detail}


class SandboxUnavailable(RuntimeError):
    """The pool cannot start with the layers it was asked to require (or cannot start at all)."""


def check_names(names: list[str] | tuple[str, ...] | frozenset[str]) -> None:
    unknown = sorted(set(names) - set(ALL_LAYERS))
    if unknown:
        raise ValueError(
            f"unknown sandbox layer(s) {', '.join(unknown)}; known: {', '.join(ALL_LAYERS)}"
        )


def missing_required(
    require: list[str] | tuple[str, ...], status: dict[str, LayerStatus]
) -> list[str]:
    return [name for name in require if not status.get(name, LayerStatus(False, "")).active]


def describe_missing(missing: list[str], status: dict[str, LayerStatus]) -> str:
    reasons = "; ".join(f"{name}: {status[name].detail}" for name in missing if name in status)
    return f"required sandbox layer(s) not available: {', '.join(missing)} ({reasons})"


@dataclass(frozen=True)
class Profile:
    """What one renderer relaxes (from its module's `SANDBOX` dict)."""

    seccomp_allow: frozenset[str] = frozenset()
    skip: frozenset[str] = frozenset()
    read_paths: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    defer_warm_up: bool = False

    @classmethod
    def of(cls, module: ModuleType) -> Profile:
        data = getattr(module, "SANDBOX", None) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{module.__name__}.SANDBOX must be a dict")
        allow = frozenset(data.get("seccomp_allow", ()))
        bad = allow - seccomp.LIFTABLE
        if bad:
            raise ValueError(
                f"{module.__name__}.SANDBOX: seccomp_allow {sorted(bad)} not among "
                f"{sorted(seccomp.LIFTABLE)}"
            )
        skip = frozenset(data.get("skip", ()))
        if skip - set(JOB_LAYERS):
            raise ValueError(
                f"{module.__name__}.SANDBOX: skip {sorted(skip - set(JOB_LAYERS))} not among "
                f"{list(JOB_LAYERS)}"
            )
        return cls(
            allow,
            skip,
            tuple(str(p) for p in data.get("read_paths", ())),
            tuple(str(m) for m in data.get("preload", ())),
            bool(data.get("defer_warm_up", False)),
        )

    def relaxed(self) -> list[str]:
        """Layer names this profile weakens (a lifted seccomp group weakens `seccomp`)."""
        names = set(self.skip)
        if self.seccomp_allow:
            names.add("seccomp")
        return sorted(names)

    def note(self) -> str:
        parts = [f"skips {name}" for name in sorted(self.skip)]
        parts += [f"allows {group}" for group in sorted(self.seccomp_allow)]
        return "renderer sandbox profile: " + ", ".join(parts) if parts else ""
