"""The sandbox's wire format: a JSON job goes into the jail, a JSON result comes out.

Stdlib only, and no import of `cocogen`: the jailed child must not load settings, SDKs or keys.
The host converts these plain dataclasses to and from `cocogen.types` at one place
(`cocogen.rendering`).  Any runner (the one-shot subprocess runner here, the warm pool later)
speaks exactly this format, so callers never change when the runner does.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Resource limits for one job. Defaults are sane for a 1024x768 chart."""

    wall_s: float = 20.0
    cpu_s: int = 10
    address_space_mb: int = 2048
    open_files: int = 64
    file_size_mb: int = 32
    output_tail_bytes: int = 4096

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Job:
    """One render: the program, which renderer runs it, and the canvas it must fill."""

    renderer: str
    """Entry point value `module:function` of the renderer, e.g. `renderers.matplotlib:render`."""
    source: str
    language: str = "matplotlib"
    width: int = 1024
    height: int = 768
    dpi: int = 100
    seed: int = 0
    files: dict[str, str] = field(default_factory=dict)
    """name -> host path of input files; copied read-only into the job's `inputs/` dir."""
    options: dict[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Job:
        data = json.loads(text)
        data["limits"] = Limits.from_dict(data.get("limits", {}))
        return cls(**data)


@dataclass
class JobResult:
    """What came out: PNG + manifest on success, a failure dict otherwise (never both missing)."""

    png: bytes | None = None
    manifest: dict[str, Any] | None = None
    engine: str = ""
    failure: dict[str, str] | None = None
    """{"kind": ..., "message": ..., "traceback_tail": ...}"""
    stdout_tail: str = ""
    stderr_tail: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None and self.png is not None and self.manifest is not None

    def to_json(self) -> str:
        # Field by field rather than `asdict`, which deep-copies the manifest first.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["png"] = base64.b64encode(self.png).decode("ascii") if self.png is not None else None
        return json.dumps(data, sort_keys=True)

    def to_packed(self) -> bytes:
        """What a pool's child sends: `to_json`'s JSON without the PNG, a NUL byte (JSON text has
        none), then the PNG's bytes as they are.  Base64 inside the JSON cost the child and the
        host ~0.4 ms a chart between them."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        png = data.pop("png")
        data["png_bytes"] = None if png is None else len(png)
        return json.dumps(data, sort_keys=True).encode("utf-8") + b"\0" + (png or b"")

    @classmethod
    def from_json(cls, text: str | bytes) -> JobResult:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_packed(cls, data: bytes) -> JobResult:
        """From `to_packed`'s bytes; ValueError when they are not shaped like them."""
        head, nul, png = data.partition(b"\0")
        if not nul:
            raise ValueError("no end to the result's header")
        fields_ = json.loads(head)
        if not isinstance(fields_, dict):
            raise ValueError("the result's header is not an object")
        size = fields_.pop("png_bytes", None)
        if size is None and png:
            raise ValueError("image bytes after a header that announces none")
        if size is not None and size != len(png):
            raise ValueError(f"the header announces {size} image bytes, {len(png)} came")
        fields_["png"] = None if size is None else png
        return cls.from_dict(fields_)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobResult:
        """From `to_json`'s fields (`data` is taken over, not copied); a PNG already in bytes
        (`from_packed`) is kept as it is."""
        if isinstance(data.get("png"), str):
            data["png"] = base64.b64decode(data["png"], validate=True)
        return cls(**data)

    @classmethod
    def failed(cls, kind: str, message: str, traceback_tail: str = "") -> JobResult:
        return cls(failure={"kind": kind, "message": message, "traceback_tail": traceback_tail})


class RenderError(Exception):
    """Raised by a renderer inside the child for a failure of the program (not of the host)."""

    def __init__(self, kind: str, message: str, traceback_tail: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.traceback_tail = traceback_tail


@dataclass
class RenderOutput:
    """What a renderer function returns inside the child."""

    png_path: str
    manifest: dict[str, Any]
    engine: str
    notes: list[str] = field(default_factory=list)


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or None when `data` is not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
