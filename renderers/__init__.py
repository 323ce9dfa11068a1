"""One module per layout language; each runs inside the sandbox and returns PNG + manifest."""
