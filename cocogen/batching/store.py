"""The batch's output directory, and the rule for when a row is done.

```
DIR/
  batch.json        what ran last (spec, options, summary), informational
  results.jsonl     one line per finished row (`RowResult`)
  index.html        the gallery
  runs/<name>/      the row's run dir (run.json, final.png, attempt-N/, ...)
  images/<name>.png the row's image
  thumbs/<name>.png its thumbnail
```

Crash safety: a run dir is built under a temp name and renamed whole (`cocogen.record.RunDir`);
images and thumbnails are written to a temp file and renamed; a row's line is appended to
`results.jsonl` only after all of them are in place, in one `write` of one line.  A row is done
when its line is there, its key is the row's key, and the files it names still hash to what the
line recorded.  A resume first drops the temp leftovers of a killed run, then rewrites
`results.jsonl` (atomically) with the lines of done rows only, one per row, so a torn last line,
a stale line or a line whose files went missing never counts.  A lock file keeps two batches
from writing one directory at the same time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from cocogen.batching.model import DONE_STATUSES, RowResult
from cocogen.errors import UsageError
from cocogen.record import atomic_write


def file_sha256(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def replace_file(path: Path, data: bytes) -> None:
    """Temp file + rename, without the fsync of `atomic_write`: for files that can be made
    again (thumbnails), where a crash may lose the file but never leaves half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Layout:
    """Where each output of a batch lives."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs = root / "runs"
        self.images = root / "images"
        self.thumbs = root / "thumbs"
        self.results = root / "results.jsonl"
        self.gallery = root / "index.html"
        self.state = root / "batch.json"
        self.lock_file = root / ".lock"

    def run_dir(self, name: str) -> Path:
        return self.runs / name

    def image(self, name: str) -> Path:
        return self.images / f"{name}.png"

    def thumb(self, name: str) -> Path:
        return self.thumbs / f"{name}.png"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def holds_batch(self) -> bool:
        return self.results.exists() or self.state.exists()

    def make(self) -> None:
        for folder in (self.root, self.runs, self.images, self.thumbs):
            folder.mkdir(parents=True, exist_ok=True)


class BatchLock:
    """An exclusive `flock` on `DIR/.lock`; the kernel drops it when the process dies."""

    def __init__(self, layout: Layout) -> None:
        self.path = layout.lock_file
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise UsageError(
                f"another batch is writing to {self.path.parent} (pid {holder}); "
                "wait for it to finish or stop it"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def clean_leftovers(layout: Layout) -> int:
    """Remove what a killed batch left half-done: temp run dirs, run dirs moved aside for
    replacement, temp images, thumbnails and results files.  Returns how many were removed."""
    removed = 0
    for folder in (layout.runs, layout.images, layout.thumbs, layout.root):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            name = entry.name
            if not name.startswith("."):
                continue
            if not (name.endswith(".tmp") or ".old-" in name):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
    return removed


def read_results(path: Path) -> tuple[list[RowResult], int]:
    """Every readable line of a results file, and the number of lines that were not (a line
    torn by a kill, or one written by something else)."""
    results: list[RowResult] = []
    unreadable = 0
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for raw in fh:
                if not raw.strip():
                    continue
                if not raw.endswith("\n"):
                    unreadable += 1  # the last line of a killed writer
                    continue
                try:
                    results.append(RowResult.model_validate_json(raw))
                except ValidationError:
                    unreadable += 1
    except FileNotFoundError:
        pass
    return results, unreadable


def iter_results(path: Path) -> Iterator[RowResult]:
    yield from read_results(path)[0]


def is_intact(layout: Layout, result: RowResult) -> bool:
    """The files a result line names are still the ones it recorded."""
    if result.run_dir != layout.relative(layout.run_dir(result.name)):
        return False
    run_json = layout.run_dir(result.name) / "run.json"
    if result.record_sha256 is None or file_sha256(run_json) != result.record_sha256:
        return False
    if result.image is not None:
        if result.image != layout.relative(layout.image(result.name)):
            return False
        if file_sha256(layout.image(result.name)) != result.image_sha256:
            return False
    return True


def done_rows(
    layout: Layout, keys: dict[str, str], retry_failed: bool = False
) -> tuple[dict[str, RowResult], int]:
    """name → result for each row of the spec (`keys`: name → key) that is done and intact,
    and the number of lines dropped (unreadable, stale, errors, files missing)."""
    results, dropped = read_results(layout.results)
    latest: dict[str, RowResult] = {}
    for result in results:
        latest[result.name] = result  # a later line for the same row wins
    dropped += len(results) - len(latest)
    done: dict[str, RowResult] = {}
    for name, result in latest.items():
        keep = (
            keys.get(name) == result.key
            and result.status in DONE_STATUSES
            and not (retry_failed and result.status != "ok")
            and is_intact(layout, result)
        )
        if keep:
            done[name] = result
        else:
            dropped += 1
    return done, dropped


class ResultsLog:
    """`results.jsonl`: rewritten whole at the start, then one appended line per row."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def rewrite(self, results: Iterable[RowResult]) -> None:
        text = "".join(r.model_dump_json(exclude={"resumed"}) + "\n" for r in results)
        atomic_write(self.path, text)

    def append(self, result: RowResult) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        line = (result.model_dump_json(exclude={"resumed"}) + "\n").encode("utf-8")
        written = os.write(self._fd, line)  # one write: a kill leaves a whole line or a torn one
        if written != len(line):
            os.write(self._fd, line[written:])
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def write_state(layout: Layout, state: dict[str, object]) -> None:
    atomic_write(layout.state, json.dumps(state, indent=2, sort_keys=True) + "\n")
