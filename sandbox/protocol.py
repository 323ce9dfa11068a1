"""Frames between the pool (host) and its workers: a 4-byte big-endian length, then UTF-8 JSON.

A frame may carry bytes beside its JSON (a job's result: `JobResult.to_packed`, its PNG as is):
the JSON then says how many (`ATTACHMENT`) and they follow it as they are, instead of being
escaped into the JSON on one side and unescaped on the other.  Reads take a deadline, so a hung
or dead worker is noticed instead of waited on forever.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import time
from typing import Any

MAX_FRAME = 512 * 1024 * 1024
ATTACHMENT = "attachment"
"""The key under which a frame's bytes arrive (in the JSON: their length)."""


PIPE_BYTES = 1 << 20
"""What `widen` asks a pipe to hold: Linux's limit for unprivileged processes."""


def widen(fd: int) -> None:
    """Let the pipe behind `fd` hold a whole typical result (PNG + manifest, ~0.1-0.3 MiB):
    its writer then hands it over at once instead of 64 KiB at a time, each part waiting for
    the reader to be scheduled.  Best effort: a refusal (a user over its pipe quota) keeps the
    default size."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        pass


class ChannelClosed(Exception):
    """The other end went away (or sent garbage, or missed the deadline)."""


def write_frame(fd: int, payload: dict[str, Any], attachment: bytes | None = None) -> None:
    if attachment is not None:
        payload = {**payload, ATTACHMENT: len(attachment)}
    data = json.dumps(payload).encode("utf-8")
    try:
        for part in (len(data).to_bytes(4, "big") + data, attachment or b""):
            view = memoryview(part)
            while view:
                written = os.write(fd, view)
                view = view[written:]
    except (BrokenPipeError, OSError) as exc:
        raise ChannelClosed(f"write failed: {exc}") from exc


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        if deadline is not None:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                raise ChannelClosed("no answer before the deadline")
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                raise ChannelClosed("no answer before the deadline")
        try:
            chunk = os.read(fd, min(remaining, 1 << 20))
        except OSError as exc:
            raise ChannelClosed(f"read failed: {exc}") from exc
        if not chunk:
            raise ChannelClosed("the other end closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None) -> dict[str, Any]:
    size = int.from_bytes(_read_exact(fd, 4, deadline), "big")
    if size > MAX_FRAME:
        raise ChannelClosed(f"frame of {size} bytes is too large")
    try:
        payload = json.loads(_read_exact(fd, size, deadline))
    except ValueError as exc:
        raise ChannelClosed(f"unreadable frame: {exc}") from exc
    if not isinstance(payload, dict):
        raise ChannelClosed("frame is not a JSON object")
    if ATTACHMENT in payload:
        length = payload[ATTACHMENT]
        if not isinstance(length, int) or not 0 <= length <= MAX_FRAME:
            raise ChannelClosed(f"attachment of {length!r} bytes")
        payload[ATTACHMENT] = _read_exact(fd, length, deadline)
    return payload
