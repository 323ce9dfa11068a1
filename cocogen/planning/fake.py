"""A scripted backend for tests and demos: `FakeBackend().enqueue(source)` then generate.

It records every `GenerationRequest` it receives, so tests can assert what the repair loop sent.
"""

from __future__ import annotations

from collections import deque

from cocogen.errors import PlanningError
from cocogen.planning.base import GenerationRequest
from cocogen.types import Program


class FakeBackend:
    name = "fake"
    can_repair = True
    default_language = "matplotlib"

    def __init__(self, *sources: str) -> None:
        self.queue: deque[str] = deque(sources)
        self.requests: list[GenerationRequest] = []

    def enqueue(self, *sources: str) -> FakeBackend:
        self.queue.extend(sources)
        return self

    def generate(self, request: GenerationRequest) -> Program:
        self.requests.append(request)
        if not self.queue:
            raise PlanningError("the fake backend has no more programs queued")
        return Program(
            language=request.language,
            source=self.queue.popleft(),
            backend=self.name,
            attempt=request.attempt,
        )
