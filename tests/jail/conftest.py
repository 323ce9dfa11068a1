"""Runners for the jail tests: one warm pool for the whole session, and the one-shot runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import SubprocessRunner
from sandbox.pool import WorkerPool
from sandbox.runner import Runner


@pytest.fixture(scope="session")
def pool(cache_dir: Path) -> Iterator[WorkerPool]:
    # Spares on: after each worker's first job (a fresh fork), the hostile programs run in spare
    # children, the path a pool with fewer workers than cores takes.  tests/jail/test_spare.py
    # covers pools without them.
    with WorkerPool(2, cache_dir=cache_dir, spares="on") as warm:
        yield warm


@pytest.fixture(params=["subprocess", "pool"])
def runner(request: pytest.FixtureRequest, cache_dir: Path) -> Runner:
    if request.param == "pool":
        pool: WorkerPool = request.getfixturevalue("pool")
        return pool
    return SubprocessRunner(cache_dir=cache_dir)
