"""Running a Python program inside the jail and turning its faults into one-line errors.

Used by the renderers whose language is, or may be written as, Python (matplotlib; SVG through
`svgwrite`): the program runs in the job's working directory, and a failure names the program's
own line.
"""

from __future__ import annotations

import random
import traceback
from pathlib import Path
from typing import Any

from sandbox.wire import RenderError

PROGRAM_NAME = "program.py"


def _program_traceback(exc: BaseException) -> str:
    """The traceback limited to the program's own frames (what the author can fix)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == PROGRAM_NAME]
    lines = traceback.format_list(frames) + traceback.format_exception_only(exc)
    return "".join(lines)[-3000:]


def run_python(source: str, seed: int = 0) -> dict[str, Any]:
    """Seed `random`, exec `source` as `__main__` in the current directory; return its namespace."""
    random.seed(seed)
    return exec_program(source)


def exec_program(source: str) -> dict[str, Any]:
    """Exec `source` as `__main__` in the current directory; return its namespace.

    Every failure of the program becomes a one-line `RenderError` naming its own lines.
    """
    Path(PROGRAM_NAME).write_text(source, encoding="utf-8")
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": PROGRAM_NAME}
    try:
        code = compile(source, PROGRAM_NAME, "exec")
        exec(code, namespace)  # noqa: S102 - this is the jailed child; running it is the point
    except SyntaxError as exc:
        raise RenderError(
            "error",
            f"syntax error in the program at line {exc.lineno}: {exc.msg}",
            "".join(traceback.format_exception_only(exc)),
        ) from None
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise RenderError("error", f"the program called exit({exc.code!r})") from None
    except RenderError:
        raise
    except BaseException as exc:  # noqa: BLE001 - everything the program raises is its failure
        raise RenderError(
            "error", f"{type(exc).__name__}: {exc}"[:500], _program_traceback(exc)
        ) from None
    return namespace
