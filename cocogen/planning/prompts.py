"""The prompts LLM backends send, read from versioned files in `cocogen/prompts/`.

Each file starts with `<!-- cocogen prompt: NAME, version N -->` and holds `$name` placeholders
(`string.Template`).  `version` of a prompt is `NAME-vN-<8 hex of its text>`: bumping N says the
contract changed, and the hash catches an edit that forgot to — both go into the reply cache's
key, so a changed prompt never serves a stale reply.

The system prompt for a language is `common.md` (the contract every program meets: canvas,
no network, fonts, only the given data) + `<language>.md` + `reply.md` (the reply format);
it is identical for every request in that language and canvas, which is what makes the
provider's prompt cache hit.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from string import Template

from cocogen.errors import PlanningError
from cocogen.planning.extraction import FENCE_TAGS, LANGUAGE_NAMES

_HEADER = re.compile(r"^<!--\s*cocogen prompt:\s*(?P<name>[\w-]+),\s*version\s+(?P<v>\d+)\s*-->\n")


@dataclass(frozen=True)
class PromptFile:
    name: str
    version: int
    template: str

    @property
    def tag(self) -> str:
        digest = hashlib.sha256(self.template.encode("utf-8")).hexdigest()[:8]
        return f"{self.name}-v{self.version}-{digest}"

    def fill(self, **values: object) -> str:
        return Template(self.template).safe_substitute({k: str(v) for k, v in values.items()})


@functools.cache
def load(name: str) -> PromptFile:
    """The prompt file `cocogen/prompts/<name>.md`, header checked."""
    resource = files("cocogen") / "prompts" / f"{name}.md"
    try:
        text = resource.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise PlanningError(f"the prompt file prompts/{name}.md is missing ({exc})") from None
    match = _HEADER.match(text)
    if match is None or match["name"] != name:
        raise PlanningError(
            f"prompts/{name}.md must start with '<!-- cocogen prompt: {name}, version N -->'"
        )
    return PromptFile(name, int(match["v"]), text[match.end() :].strip() + "\n")


@dataclass(frozen=True)
class Prompt:
    text: str
    version: str


def _files_line(names: list[str]) -> str:
    if not names:
        return "none."
    listed = ", ".join(names)
    return (
        f"{listed} (Python: open them as inputs/NAME; SVG, HTML, Vega-Lite and DOT: refer to "
        "them by bare NAME). Images among them are also attached to the request."
    )


def system_prompt(
    language: str, width: int, height: int, dpi: int, file_names: list[str] | None = None
) -> Prompt:
    """The cached system prompt for one language and canvas."""
    if language not in FENCE_TAGS:
        raise PlanningError(f"no prompt for language {language!r}")
    parts = [load("common"), load(language), load("reply")]
    values = {
        "width": width,
        "height": height,
        "dpi": dpi,
        "files": _files_line(sorted(file_names or [])),
        "fence": FENCE_TAGS[language],
        "language_name": LANGUAGE_NAMES[language],
    }
    text = "\n".join(part.fill(**values) for part in parts)
    return Prompt(text, "+".join(part.tag for part in parts))


def fill(name: str, language: str | None = None, **values: object) -> str:
    """Another prompt file filled in (`repair`, `retry`, `continue`, `choose`, `critique`)."""
    if language is not None:
        values.setdefault("fence", FENCE_TAGS.get(language, language))
        values.setdefault("language_name", LANGUAGE_NAMES.get(language, language))
    return load(name).fill(**values)


def version(*names: str) -> str:
    return "+".join(load(name).tag for name in names)
