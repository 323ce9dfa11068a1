"""Content keys: a row is identified by a hash of everything that decides its output.

A resume skips a row only when its recorded key equals the key computed now, so editing a row
(its prompt, program, data, canvas, seed, refine options, a reference image's bytes) or a batch
setting that changes the result (backend and attempts for planned rows, checker thresholds,
sandbox limits) makes exactly the affected rows run again.  Versions of cocogen and of the
drawing libraries are not part of the key: an upgrade does not redo a finished batch (`--force`
does).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cocogen.checking import CheckSettings
from cocogen.types import Program, Request
from sandbox.wire import Limits

KEY_VERSION = 1


def canonical(value: Any) -> str:
    """One JSON text per value: sorted keys, no spaces, non-ASCII kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def batch_settings(
    *,
    backend: str | None,
    max_attempts: int,
    check_settings: CheckSettings,
    limits: Limits | None,
) -> dict[str, Any]:
    """The batch-wide settings that change a row's output, as plain JSON."""
    return {
        "backend": backend,
        "max_attempts": max_attempts,
        "check": check_settings.model_dump(mode="json"),
        "limits": asdict(limits) if limits is not None else None,
    }


def content_key(request: Request, program: Program | None, settings: dict[str, Any]) -> str:
    """The hash of one request with its program and the settings that apply to it.

    The planner settings count only for rows that are planned; reference images count by their
    bytes, not their paths.
    """
    files = {
        name: sha256_file(Path(path)) if Path(path).is_file() else f"missing:{path}"
        for name, path in sorted(request.reference_images.items())
    }
    planned = program is None
    content = {
        "v": KEY_VERSION,
        "request": request.model_dump(mode="json", exclude={"reference_images"}),
        "files": files,
        "program": None
        if program is None
        else {"language": program.language, "source": program.source},
        "planner": {"backend": settings["backend"], "max_attempts": settings["max_attempts"]}
        if planned
        else None,
        "check": settings["check"],
        "limits": settings["limits"],
    }
    return sha256_text(canonical(content))


def row_key(content: str, name: str) -> str:
    """The row's key: its content and where its output goes."""
    return sha256_text(f"{content}\0{name}")
