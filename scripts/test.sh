#!/usr/bin/env bash
# Runs every test of baton: the binaries are built first because the end-to-end
# tests start the real `baton` and `batond`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
cargo test --workspace
