"""The layer probe: in a throw-away child, apply each job layer and check that it really holds.

A layer is reported active only when its effect was observed (the uid changed and imports still
work, only a loopback device is visible, the output dir is a tmpfs of the right size, a file
outside the allowed paths cannot be opened, a socket cannot be created), never because a call
returned without error.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from sandbox import jail, landlock, layers, linux, seccomp
from sandbox.jail import Plan
from sandbox.wire import Limits


def probe_layers(plan: Plan, out_dir: str, inputs_dir: str) -> dict[str, tuple[bool, str]]:
    """In a throw-away child: apply each layer of `plan` and check that it holds."""
    report: dict[str, tuple[bool, str]] = {}

    def attempt(name: str, action: Any, check: Any) -> bool:
        try:
            action()
            report[name] = (True, check())
            return True
        except Exception as exc:  # noqa: BLE001 - every failure is part of the report
            report[name] = (False, f"{type(exc).__name__}: {exc}")
            return False

    os.setsid()
    attempt(
        "rlimits",
        lambda: jail.apply_limits(Limits(), jail.NPROC if plan.uid is not None else None),
        lambda: layers.DESCRIPTIONS["rlimits"],
    )
    if plan.uid is not None:
        uid = plan.uid

        def drop() -> None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            linux.prctl(linux.PR_SET_DUMPABLE, 1)

        def check_uid() -> str:
            if os.getuid() != uid or os.geteuid() != uid:
                raise RuntimeError("the uid did not change")
            import json as _json  # noqa: F401 - imports must still work under the new uid

            return f"jobs run as uid {uid}"

        attempt("uid", drop, check_uid)
    if plan.namespaces:
        ok = attempt(
            "netns",
            lambda: _namespaces(out_dir, plan.scratch_mb),
            lambda: _check_network(),
        )
        if plan.scratch_mb:
            if ok:
                report["scratch_quota"] = _check_scratch(out_dir, plan.scratch_mb)
            else:
                report["scratch_quota"] = (False, "needs the user + mount namespace")
        if ok:
            attempt("caps", linux.drop_capabilities, lambda: "dropped")
            if not report["caps"][0]:
                report["netns"] = (False, f"capabilities not dropped: {report['caps'][1]}")
            del report["caps"]
    os.chdir(out_dir)
    if plan.landlock_abi:
        covers: list[str] = []

        def restrict() -> None:
            covers.extend(
                landlock.restrict(
                    (*plan.read_paths, inputs_dir), (out_dir, *jail.WRITE_PATHS), plan.landlock_abi
                )
            )

        attempt("landlock", restrict, lambda: _check_landlock(plan.landlock_abi, covers))
    if plan.seccomp_program:
        attempt(
            "seccomp",
            lambda: seccomp.load(plan.seccomp_program or b""),
            _check_seccomp,
        )
    return report


def _namespaces(out_dir: str, scratch_mb: int) -> None:
    jail._unshare()
    if scratch_mb:
        jail._mount_scratch(out_dir, scratch_mb)


def _check_network() -> str:
    names = [name for _, name in socket.if_nameindex()]
    if names != ["lo"]:
        raise RuntimeError(f"network interfaces still visible: {names}")
    return "private user + network namespace: only a loopback device that is down"


def _check_scratch(out_dir: str, size_mb: int) -> tuple[bool, str]:
    stats = os.statvfs(out_dir)
    total_mb = stats.f_blocks * stats.f_frsize / (1024 * 1024)
    if abs(total_mb - size_mb) > 1:
        return False, f"the output dir is not a {size_mb} MiB tmpfs"
    return True, f"outputs on a private {size_mb} MiB tmpfs (files vanish with the job)"


def _check_landlock(abi: int, covers: list[str]) -> str:
    for path in ("/etc/hostname", "/etc/passwd"):
        if os.path.exists(path):
            try:
                with open(path, "rb"):
                    pass
            except PermissionError:
                return f"ABI {abi}: {', '.join(covers)} confined (reading {path} is refused)"
            raise RuntimeError(f"{path} is still readable")
    return f"ABI {abi}: {', '.join(covers)} confined"


def _check_seccomp() -> str:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    except PermissionError:
        return layers.DESCRIPTIONS["seccomp"] + " (libseccomp filter, loaded per job)"
    raise RuntimeError("a socket could still be created")
