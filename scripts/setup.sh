#!/usr/bin/env bash
# Set up cocogen on a Debian/Ubuntu machine: system packages (fonts) when run as root or with
# passwordless sudo (printed instructions otherwise), a virtualenv in .venv, and the package with
# the extras named in $1 (e.g. "dev" or "dev,svg"). Safe to run again: finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${1:-}"
VENV="${COCOGEN_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
# Fonts: DejaVu for Latin, Noto CJK so that Chinese/Japanese/Korean text renders as glyphs.
# chromium draws HTML (and SVG that cairo cannot); graphviz lays out DOT (libgvc).
# libseccomp2: the sandbox pool's seccomp filter (loaded through ctypes, no Python binding).
SYSTEM_PACKAGES=(fonts-dejavu-core fonts-noto-cjk chromium graphviz libseccomp2)

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ! "$PYTHON" -c 'import ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    echo "setup: installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  else
    echo "setup: please install these system packages (CJK text renders as boxes without them):" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
  fi
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: cocogen needs Python >= 3.11; set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"

stamp="$VENV/.cocogen-installed"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)-[$EXTRAS]"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing cocogen${EXTRAS:+[$EXTRAS]} into $VENV"
  # The refine extra (also pulled in by dev) needs torch. Install a pinned one first, unless some
  # torch is already there (e.g. a CUDA build): a bare "torch" requirement can pull a multi-GB
  # build. Override with COCOGEN_TORCH, e.g. COCOGEN_TORCH="torch==2.13.0+cu128".
  case ",$EXTRAS," in
    *,dev,*|*,refine,*)
      if ! "$VENV/bin/python" -c 'import torch' >/dev/null 2>&1; then
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
          "${COCOGEN_TORCH:-torch==2.13.0}"
      fi ;;
  esac
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".${EXTRAS:+[$EXTRAS]}"
  echo "$want" > "$stamp"
fi
# Build matplotlib's font cache once, so that the first render is not slowed by it.
"$VENV/bin/python" - <<'PY'
import os
from sandbox.runner import default_cache_dir
d = default_cache_dir() / "matplotlib"
d.mkdir(parents=True, exist_ok=True)
os.environ["MPLCONFIGDIR"] = str(d)
import matplotlib.font_manager  # noqa: F401  (builds the cache on first import)
PY
