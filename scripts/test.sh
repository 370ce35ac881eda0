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
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || {
    # Debian leaves the venv module's pip out unless python3-venv is installed.
    python3 -m pip install --quiet --user virtualenv && python3 -m virtualenv "$VENV"
  }
fi
"$VENV/bin/python" -m pip install --quiet pytest mypy
"$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps ./python
"$VENV/bin/python" -m mypy --strict python/src/orchestrator
(cd python && "$VENV/bin/python" -m pytest -q)
