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
