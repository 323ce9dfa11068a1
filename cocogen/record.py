"""The run directory: every artifact of a run, written so that nothing half-written looks done.

Layout (ARCHITECTURE.md "Record"): `request.json`, `commitments.json`, `attempt-N/`
(`program.*`, `draft.png`, `manifest.json`, `check.json`, `overlay.png`), `final.png`, `run.json`.
The whole directory is assembled under a temporary name beside its destination and renamed into
place at the end, so a run dir either exists complete or not at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from pydantic import BaseModel


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write to a temp file in the same directory, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dump(model: BaseModel) -> str:
    return model.model_dump_json(indent=2) + "\n"


class RunDir:
    """Builds a run dir under a temp name; `commit()` renames it to its final path."""

    def __init__(self, final: Path) -> None:
        self.final = final
        final.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(
            tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        )
        self.path.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a run dir is not

    def write(self, relative: str, data: bytes | str) -> str:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return relative

    def commit(self) -> Path:
        for root, _dirs, files in os.walk(self.path):
            for name in files:
                with open(os.path.join(root, name), "rb") as fh:
                    os.fsync(fh.fileno())
        old: Path | None = None
        if self.final.exists():
            # Replace an earlier run dir of the same name: move it aside first, drop it after.
            old = self.final.with_name(f".{self.final.name}.old-{uuid.uuid4().hex[:8]}")
            os.rename(self.final, old)
        os.rename(self.path, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def abandon(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
