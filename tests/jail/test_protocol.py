"""Frames between the pool and its workers: JSON with bytes beside it, over wide pipes."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest

from sandbox import outcome
from sandbox.protocol import (
    ATTACHMENT,
    PIPE_BYTES,
    ChannelClosed,
    read_frame,
    widen,
    write_frame,
)
from sandbox.wire import JobResult


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


def test_a_packed_result_carries_its_png_as_bytes_and_reads_back_equal() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # NUL bytes inside the image too
    result = JobResult(png=png, manifest={"width": 1, "elements": []}, engine="e", notes=["n"])
    result.timings["child_total_s"] = 0.5
    packed = result.to_packed()
    assert b'"png_bytes": %d' % len(png) in packed and png in packed
    assert len(packed) < len(result.to_json())  # no base64
    back = outcome.parse(packed)
    assert back == result
    failed = JobResult.failed("error", "boom")
    assert outcome.parse(failed.to_packed()) == failed
    # The JSON form still parses (the one-shot runner writes it, as bytes or text).
    assert outcome.parse(result.to_json().encode()) == result == outcome.parse(result.to_json())


@pytest.mark.parametrize(
    "packed",
    [
        b'{"png_bytes": 5, "engine": ""}\x00abc',  # fewer bytes than announced
        b'{"png_bytes": null, "engine": ""}\x00abc',  # bytes nobody announced
        b'["not", "an", "object"]\x00',
        b'{"png_bytes": 1\x00x',  # a broken header
        b'{"png_bytes": 1, "extra": 2}\x00x',  # a field a result does not have
    ],
)
def test_a_malformed_packed_result_is_invalid_output(packed: bytes) -> None:
    result = outcome.parse(packed)
    assert result.failure is not None and result.failure["kind"] == "invalid_output"
