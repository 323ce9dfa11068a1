"""Core data types shared by every stage of cocogen.

Everything that crosses a stage boundary (plan → render → check → repair → record) is one of
these frozen pydantic models, so that a run can be written to JSON and read back exactly
(`model_dump_json` / `model_validate_json`).  PNG bytes travel base64-encoded in JSON.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Language = Literal["auto", "matplotlib", "svg", "html", "vegalite", "graphviz"]
LANGUAGES: tuple[str, ...] = ("auto", "matplotlib", "svg", "html", "vegalite", "graphviz")
PROGRAM_SUFFIX: dict[str, str] = {
    "matplotlib": ".py",
    "svg": ".svg",
    "html": ".html",
    "vegalite": ".vl.json",
    "graphviz": ".dot",
}

Role = Literal[
    "title", "axis_label", "tick", "legend", "annotation", "text", "shape", "image", "axes"
]
TEXT_ROLES: frozenset[str] = frozenset(
    {"title", "axis_label", "tick", "legend", "annotation", "text"}
)
Severity = Literal["error", "warning", "info"]
CommitmentStatus = Literal["satisfied", "violated", "unverified"]
FailureKind = Literal[
    "error", "timeout", "no_output", "crash", "invalid_output", "limit", "refused"
]

Box = tuple[float, float, float, float]
"""(x0, y0, x1, y1) in the PNG's own pixels, origin top-left, x0 <= x1, y0 <= y1."""


class Model(BaseModel):
    """Base: frozen, no unknown fields, bytes as base64 in JSON."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )


class Canvas(Model):
    width: int = Field(1024, ge=16, le=8192, description="output width in pixels")
    height: int = Field(768, ge=16, le=8192, description="output height in pixels")
    dpi: int = Field(100, ge=10, le=1200)


class RefineOptions(Model):
    """How to refine a draft (see refiners/): the defaults change little and protect a lot."""

    model: str | None = None
    prompt: str | None = None
    strength: float = Field(0.3, ge=0.0, le=1.0)
    steps: int = Field(20, ge=1, le=200)
    guidance: float = 6.0
    margin_px: int = Field(4, ge=0)
    negative_prompt: str | None = None
    seed: int | None = None
    """None: the request's seed."""
    lock: bool = True
    """Structure lock: paste the draft's text boxes and thin strokes back exactly."""
    feather_px: int = Field(3, ge=0)
    regions: dict[str, str] = Field(default_factory=dict)
    """Element id (or 'background' for the whole canvas) -> its own prompt."""
    controlnet: str | None = None
    """A ControlNet directory or cached model id; its control image is made from the draft."""
    control: Literal["canny", "lineart"] = "canny"
    min_edge_f1: float = Field(0.6, ge=0.0, le=1.0)
    """Verification: the least edge F1 (draft vs refined, outside the mask) that is accepted."""
    edge_tolerance_px: int = Field(2, ge=0, le=16)


class Request(Model):
    prompt: str = ""
    language: Language = "auto"
    canvas: Canvas = Canvas()
    data: dict[str, Any] | list[Any] | str | None = None
    reference_images: dict[str, str] = Field(default_factory=dict)
    refine: RefineOptions | None = None
    seed: int = 0


class Evidence(Model):
    element_ids: list[str] = Field(default_factory=list)
    texts: list[str] = Field(default_factory=list)
    boxes: list[Box] = Field(default_factory=list)
    ocr_text: str | None = None


class Commitment(Model):
    """One checkable promise of the request: a text, a number, an entity count, a constraint."""

    kind: Literal["text", "number", "entity", "constraint"]
    value: str
    count: int | None = None
    source: Literal["request", "llm"] = "request"
    status: CommitmentStatus = "unverified"
    evidence: Evidence = Evidence()


class Commitments(Model):
    required_texts: list[Commitment] = Field(default_factory=list)
    numbers: list[Commitment] = Field(default_factory=list)
    entities: list[Commitment] = Field(default_factory=list)
    constraints: list[Commitment] = Field(default_factory=list)
    unknowns: list[str] = Field(default_factory=list)

    def all(self) -> list[Commitment]:
        return [*self.required_texts, *self.numbers, *self.entities, *self.constraints]


class TokenUsage(Model):
    """What planning cost: `input_tokens` are uncached input tokens, `cache_read_tokens` /
    `cache_write_tokens` the provider's prompt cache, `requests` the API calls made and
    `cached_replies` the replies served from cocogen's own reply cache (no call, no tokens)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    requests: int = 0
    cached_replies: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            **{name: getattr(self, name) + getattr(other, name) for name in TokenUsage.model_fields}
        )


class Program(Model):
    language: str
    source: str
    backend: str = "user"
    attempt: int = 1
    usage: TokenUsage | None = None
    notes: str = ""
    commitments: Commitments | None = None
    """Promises an LLM backend read from the request (merged with the deterministic ones)."""

    @property
    def suffix(self) -> str:
        return PROGRAM_SUFFIX.get(self.language, ".txt")


class Element(Model):
    id: str
    role: Role
    box: Box
    text: str | None = None
    kind: str | None = None
    """Finer sub-kind, e.g. 'suptitle', 'xtick', 'bar', 'wedge', 'line', 'legend_box'."""
    parent: str | None = None
    """Id of the containing element (the axes a tick belongs to), when known."""
    rotation: float = 0.0
    font_family: str | None = None
    font_size_px: float | None = None
    color: str | None = None
    background: str | None = None

    @field_validator("box")
    @classmethod
    def _ordered(cls, box: Box) -> Box:
        x0, y0, x1, y1 = box
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    @property
    def is_text(self) -> bool:
        return self.role in TEXT_ROLES and bool(self.text)


class LayoutManifest(Model):
    width: int
    height: int
    engine: str = ""
    elements: list[Element] = Field(default_factory=list)

    def texts(self) -> list[Element]:
        return [e for e in self.elements if e.is_text]

    def by_id(self, element_id: str) -> Element | None:
        return next((e for e in self.elements if e.id == element_id), None)


class RenderFailure(Model):
    kind: FailureKind
    message: str
    traceback_tail: str = ""

    def one_line(self) -> str:
        return f"{self.kind}: {self.message}"


class Draft(Model):
    png: bytes | None = None
    manifest: LayoutManifest | None = None
    engine: str = ""
    stdout_tail: str = ""
    stderr_tail: str = ""
    timings: dict[str, float] = Field(default_factory=dict)
    failure: RenderFailure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and self.png is not None and self.manifest is not None


class Finding(Model):
    code: str
    severity: Severity
    message: str
    llm_message: str = ""
    element_ids: list[str] = Field(default_factory=list)
    boxes: list[Box] = Field(default_factory=list)


class CheckReport(Model):
    findings: list[Finding] = Field(default_factory=list)
    commitments: Commitments = Commitments()
    scores: dict[str, float] = Field(default_factory=dict)
    passed: bool = True

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)


class AttemptRecord(Model):
    number: int
    program: Program
    program_file: str
    draft_file: str | None = None
    manifest_file: str | None = None
    check_file: str | None = None
    overlay_file: str | None = None
    failure: RenderFailure | None = None
    report: CheckReport | None = None
    engine: str = ""
    stdout_tail: str = ""
    stderr_tail: str = ""
    notes: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)


RunStatus = Literal["ok", "check_failed", "render_failed", "plan_failed"]
"""ok: rendered and passed; check_failed: an image with error findings; render_failed: no image;
plan_failed: the backend gave no program (API errors, a refusal): no attempt was rendered."""


class RunRecord(Model):
    """Everything needed to understand and replay a run; written as run.json."""

    id: str
    status: RunStatus
    request: Request
    commitments: Commitments = Commitments()
    backend: str = ""
    language: str = ""
    language_reason: str = ""
    """Why this language was chosen (asked for, a rule on the request's words, or the model)."""
    attempts: list[AttemptRecord] = Field(default_factory=list)
    final_attempt: int | None = None
    final_image: str | None = None
    error: str | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    seed: int = 0
    cache_keys: dict[str, str] = Field(default_factory=dict)
    usage: TokenUsage = TokenUsage()
    """Planning cost summed over every backend call of the run (repairs and critiques too)."""
    refine: dict[str, Any] | None = None
    """The refine step, when one ran: options, verdict (accepted or why not), files, timings."""
