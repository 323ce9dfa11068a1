"""Planning: turning a request into a program.

`base` holds the backend protocol; `commitments` reads a prompt deterministically (quoted texts,
numbers, label ranges, counts); `offline` is the no-LLM backend that draws bar, line, pie and
scatter charts from requests that spell out their data.
"""
