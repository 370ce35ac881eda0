#!/usr/bin/env bash
# Runs every test of baton: the binaries are built first because the end-to-end
# tests start the real `baton` and `batond`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
cargo test --workspace

# The VS Code extension: typecheck, unit tests, the .vsix, and the end-to-end test in
# code-server driven by headless Chromium. Its tools are installed once, cached
# outside the repository.
editor-extension/scripts/install-test-deps.sh
(cd editor-extension && npm ci --no-audit --no-fund && npm test)

# The Python client: `mypy --strict` on the package, then its tests against the real
# binaries (and the real Claude Code against the scripted model), in a virtual
# environment of its own, kept outside the repository.
VENV="${BATON_CACHE_DIR:-$HOME/.cache/baton}/python-venv"
if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV"; then
    # Debian leaves the venv module's pip out unless python3-venv is installed: make
    # the environment without it, then install pip into it with the system's pip.
    rm -rf "$VENV"
    python3 -m venv --without-pip "$VENV"
    SYSTEM_PIP="$(python3 -c 'import os, pip; print(os.path.dirname(os.path.dirname(pip.__file__)))')"
    PYTHONPATH="$SYSTEM_PIP" "$VENV/bin/python" -m pip install --quiet --ignore-installed pip
  fi
fi
"$VENV/bin/python" -m pip install --quiet pytest mypy
"$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps ./python
"$VENV/bin/python" -m mypy --strict python/src/orchestrator
(cd python && "$VENV/bin/python" -m pytest -q)
