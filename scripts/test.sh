#!/usr/bin/env bash
# Runs every test of baton: the binaries are built first because the end-to-end
# tests start the real `baton` and `batond`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
cargo test --workspace

# The fuzz target for the daemon's framing and request decoding, for a bounded time
# from the seeds kept in fuzz/seeds/ (README says how to run it longer). cargo-fuzz,
# pinned, is installed once outside the repository; the stable toolchain builds the
# target with RUSTC_BOOTSTRAP and no sanitizer. A crash fails the test command and
# leaves its input in fuzz/artifacts/frames/.
CACHE="${BATON_CACHE_DIR:-$HOME/.cache/baton}"
CARGO_FUZZ_VERSION=0.13.2
if [ "$("$CACHE/cargo-fuzz/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  cargo install --quiet --locked --force --root "$CACHE/cargo-fuzz" --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi
FUZZ_CORPUS="$(mktemp -d)"
FUZZ_LOG="$FUZZ_CORPUS.log"
# libFuzzer reports every new input; its log is shown whole only when it fails.
if ! (cd fuzz && PATH="$CACHE/cargo-fuzz/bin:$PATH" RUSTC_BOOTSTRAP=1 cargo fuzz run \
  --sanitizer none --target-dir "$CACHE/target-fuzz" frames "$FUZZ_CORPUS" seeds/frames \
  -- -max_total_time="${BATON_FUZZ_SECONDS:-30}" -print_final_stats=1) >"$FUZZ_LOG" 2>&1; then
  cat "$FUZZ_LOG"
  exit 1
fi
grep '^stat::' "$FUZZ_LOG" || true
rm -rf "$FUZZ_CORPUS" "$FUZZ_LOG"

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
