"""A content-addressed cache of LLM replies, so that re-running a request or a batch costs nothing.

The key is the SHA-256 of (backend, model, prompt version, the exact request payload sent — system
prompt, messages, images, limits), so any change to what would be asked — a new prompt version,
another model, a repair message with other findings — is a different key.  A reply is stored as
one JSON file `<root>/<key[:2]>/<key>.json`, written to a temporary name and renamed, so readers
never see half a file and concurrent writers of the same key are harmless.  Failed calls are never
stored.  Root: `$COCOGEN_CACHE_DIR/llm-replies` (default `~/.cache/cocogen/llm-replies`).

`read=False` (the CLI's `--no-cache`) bypasses the cache for reading; fresh replies are still
written, so the next run without the flag uses them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_FORMAT = 1


def default_root() -> Path:
    from sandbox.runner import default_cache_dir

    return default_cache_dir() / "llm-replies"


def cache_key(backend: str, model: str, prompt_version: str, payload: Any) -> str:
    """The content address of one call (stable across runs and machines)."""
    blob = json.dumps(
        {
            "format": CACHE_FORMAT,
            "backend": backend,
            "model": model,
            "prompt_version": prompt_version,
            "payload": payload,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ReplyCache:
    def __init__(self, root: Path | None = None, *, read: bool = True, write: bool = True) -> None:
        self._root = root
        self.read = read
        self.write = write
        self.hits = 0
        self.misses = 0

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else default_root()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        if not self.read:
            return None
        try:
            value = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.misses += 1
            return None
        if not isinstance(value, dict) or value.get("key") != key:
            self.misses += 1
            return None
        self.hits += 1
        reply = value.get("reply")
        return reply if isinstance(reply, dict) else None

    def put(self, key: str, reply: dict[str, Any]) -> None:
        if not self.write:
            return
        path = self.path(key)
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".reply.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"key": key, "reply": reply}, fh, ensure_ascii=False)
            os.replace(tmp, path)
        except OSError:
            # A cache that cannot be written is a slower run, not a failed one.
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
