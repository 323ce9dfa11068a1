"""The host's memory of recent decodes: bounded by count and by size, oldest out first."""

from __future__ import annotations

from sandbox.recent import Recent


def test_the_oldest_goes_first_and_a_read_counts_as_use() -> None:
    recent: Recent[str] = Recent(count=2, max_bytes=100)
    recent.put(b"a", "A", 1)
    recent.put(b"b", "B", 1)
    assert recent.get(b"a") == "A"  # now the newest
    recent.put(b"c", "C", 1)
    assert recent.get(b"b") is None
    assert (recent.get(b"a"), recent.get(b"c")) == ("A", "C")


def test_size_bounds_what_is_kept() -> None:
    recent: Recent[str] = Recent(count=10, max_bytes=100)
    recent.put(b"a", "A", 60)
    recent.put(b"b", "B", 60)  # 120 > 100: "a" goes
    assert recent.get(b"a") is None and recent.get(b"b") == "B"
    recent.put(b"huge", "H", 101)  # larger than the whole budget: not kept at all
    assert recent.get(b"huge") is None and recent.get(b"b") == "B"
    recent.put(b"b", "B2", 10)  # replacing frees the old size
    recent.put(b"c", "C", 90)
    assert (recent.get(b"b"), recent.get(b"c")) == ("B2", "C")


def test_keys_are_compared_by_content() -> None:
    recent: Recent[int] = Recent(count=2, max_bytes=10)
    key = b"\x89PNG" + bytes(1000)
    recent.put(key, 1, 1)
    assert recent.get(bytes(bytearray(key))) == 1
