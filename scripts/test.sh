#!/usr/bin/env bash
# Weir's whole check suite: installs the tools the tests need when they are
# missing, then runs rustfmt, clippy and every test of the workspace
# (unit, property, integration and the end-to-end tests that drive the real
# `weir` binary with ffmpeg).
#
# Usage: ./scripts/test.sh            (from any directory)
# Env:   WEIR_TEST_VERBOSE=1          echo weir/ffmpeg output live in e2e tests
#        CARGO_TEST_ARGS="..."        extra args after `cargo test ... --`
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

step() { printf '\n==> %s\n' "$*"; }
run() {
    printf '+ %s\n' "$*"
    "$@"
}

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi

APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        run "${SUDO[@]}" apt-get update
        APT_UPDATED=1
    fi
    run "${SUDO[@]}" apt-get install -y --no-install-recommends "$@"
}

# ---------------------------------------------------------------------------
step "Checking tools"
# ---------------------------------------------------------------------------
if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then
    echo "ffmpeg/ffprobe present: $(ffmpeg -version | head -n1)"
else
    echo "ffmpeg/ffprobe missing: installing"
    apt_install ffmpeg
fi

# --- Browser and JavaScript tooling (hls.js / dash.js playback tests) -------
# Later work adds headless player tests. Install their tools here, the same
# way: only when missing, e.g.
#   command -v chromium >/dev/null 2>&1 || apt_install chromium chromium-driver
#   (cd web && npm ci)
# ---------------------------------------------------------------------------

for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        echo "cargo $component missing: trying rustup"
        run rustup component add "$component"
    fi
done
echo "$(cargo --version); $(rustc --version)"

# ---------------------------------------------------------------------------
step "Formatting (cargo fmt --check)"
# ---------------------------------------------------------------------------
run cargo fmt --all -- --check

# ---------------------------------------------------------------------------
step "Lints (cargo clippy, warnings are errors)"
# ---------------------------------------------------------------------------
run cargo clippy --workspace --all-targets -- -D warnings

# ---------------------------------------------------------------------------
step "Tests (cargo test)"
# ---------------------------------------------------------------------------
# shellcheck disable=SC2086 # CARGO_TEST_ARGS is split on purpose
run cargo test --workspace --all-targets --no-fail-fast -- ${CARGO_TEST_ARGS:-}
# --all-targets leaves out doctests.
run cargo test --workspace --doc --no-fail-fast

step "All checks passed"
