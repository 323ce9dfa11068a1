"""A worker's private mount view: the paths jobs need stay reachable after the uid drop.

When the pool runs as root, each job runs under a non-root uid.  If Python lives under a
directory others cannot enter (pyenv in /root, mode 700, is the common case), that uid could no
longer import a module the worker had not imported yet.  Instead of changing any host directory,
the worker (still root) moves into its own mount namespace, marks every mount private (nothing
propagates back to the host) and covers each such directory with a small tmpfs in which only the
needed paths are bind-mounted back.  Side effect: everything else in, say, /root is invisible to
the worker and its jobs.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from sandbox import linux

MAX_ROUNDS = 16


def _enterable(path: str) -> bool:
    try:
        return bool(os.stat(path).st_mode & stat.S_IXOTH)
    except OSError:
        return True  # a missing ancestor is not ours to fix


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def blocked_dir(paths: Iterable[str]) -> str | None:
    """The shortest directory that some path lies under and that others cannot enter."""
    found: str | None = None
    for path in paths:
        for ancestor in _ancestors(path):
            if not _enterable(ancestor):
                if found is None or len(ancestor) < len(found):
                    found = ancestor
                break
    return found


def build(needed: Iterable[str]) -> list[str]:
    """Make every path in `needed` reachable by any uid in a new private mount namespace.

    Returns the directories that were covered (empty: nothing needed doing, and no namespace was
    created).  Raises OSError when a namespace or mount is refused.
    """
    paths = sorted({os.path.realpath(p) for p in needed if p and os.path.exists(p)})
    if blocked_dir(paths) is None:
        return []
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount("none", "/", None, linux.MS_REC | linux.MS_PRIVATE, None)
    covered: list[str] = []
    for _round in range(MAX_ROUNDS):
        blocked = blocked_dir(paths)
        if blocked is None:
            return covered
        under = [p for p in paths if p.startswith(blocked + "/")]
        # Keep only the outermost needed paths: binding one brings everything below it along.
        outer = [p for p in under if not any(p.startswith(q + "/") for q in under if q != p)]
        fds = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in outer}
        try:
            linux.mount(
                "tmpfs", blocked, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "mode=0755,size=64k"
            )
            for path, fd in fds.items():
                is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
                parent = os.path.dirname(path)
                os.makedirs(parent, mode=0o755, exist_ok=True)
                if is_dir:
                    os.makedirs(path, mode=0o755, exist_ok=True)
                else:
                    with open(path, "ab"):
                        pass
                linux.mount(f"/proc/self/fd/{fd}", path, None, linux.MS_BIND | linux.MS_REC, None)
        finally:
            for fd in fds.values():
                os.close(fd)
        covered.append(blocked)
    raise OSError(0, f"mount view: gave up after {MAX_ROUNDS} rounds")
