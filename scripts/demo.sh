#!/usr/bin/env bash
# Set everything up, then render the examples offline (no API key) into demo-out/ (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh svg,html,vegalite,ocr
OUT="${1:-demo-out}"
mkdir -p "$OUT"
BIN=.venv/bin/cocogen
"$BIN" doctor
count=0
n=0
while IFS= read -r prompt; do
  case "$prompt" in ""|"#"*) continue ;; esac
  n=$((n + 1))
  "$BIN" generate "$prompt" -o "$OUT/prompt-$n.png" --run-dir "$OUT/runs/prompt-$n"
  count=$((count + 1))
done < examples/prompts.txt
for program in examples/programs/*.py examples/programs/*.svg examples/programs/*.html \
    examples/programs/*.vl.json examples/programs/*.dot; do
  name="$(basename "$program")"
  name="${name%%.*}"
  "$BIN" render "$program" -o "$OUT/$name.png" --run-dir "$OUT/runs/$name"
  count=$((count + 1))
done
echo "demo: $count images in $OUT/ (each run's artifacts under $OUT/runs/)"
