#!/usr/bin/env bash
# Set up the development environment, then run the linters and the whole test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k manifest`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/pytest -q "$@"
