"""Frames between the pool and its workers: JSON with bytes beside it, over wide pipes."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest

from sandbox.protocol import (
    ATTACHMENT,
    PIPE_BYTES,
    ChannelClosed,
    read_frame,
    widen,
    write_frame,
)


def test_a_frame_and_its_attachment_arrive_whole_through_a_widened_pipe() -> None:
    read_end, write_end = os.pipe()
    widen(read_end)
    assert fcntl.fcntl(read_end, fcntl.F_GETPIPE_SZ) == PIPE_BYTES
    attachment = os.urandom(300_000)  # more than a default pipe (64 KiB) holds
    # One write fills the pipe without a reader: the writer is not held up part by part.
    write_frame(write_end, {"op": "result", "n": 1}, attachment)
    frame = read_frame(read_end, deadline=None)
    assert frame["op"] == "result" and frame["n"] == 1
    assert frame[ATTACHMENT] == attachment
    os.close(write_end)
    with pytest.raises(ChannelClosed, match="closed"):
        read_frame(read_end)
    os.close(read_end)


def test_a_frame_larger_than_the_pipe_still_arrives(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    widen(write_end)  # either end sizes the pipe
    attachment = os.urandom(3 * PIPE_BYTES)
    writer = threading.Thread(target=write_frame, args=(write_end, {}, attachment))
    writer.start()
    frame = read_frame(read_end, deadline=None)
    writer.join()
    assert frame[ATTACHMENT] == attachment
    os.close(read_end)
    os.close(write_end)


def test_widen_leaves_what_is_not_a_pipe_alone(tmp_path: Path) -> None:
    with open(tmp_path / "file", "wb") as fh:
        widen(fh.fileno())  # no error: best effort
