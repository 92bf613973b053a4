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

# ffmpeg 9 (static, from PyPI's imageio-ffmpeg) for Enhanced RTMP and the
# codecs Debian's 5.1 cannot publish (HEVC, AV1, VP9, Opus, FLAC, AC-3 over
# RTMP). Installed into a virtual environment in the user's cache, never
# into the repository; the tests find it through WEIR_FFMPEG9.
FFMPEG9_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/weir/ffmpeg9-venv"
find_ffmpeg9() {
    local f
    for f in "$FFMPEG9_VENV"/lib/python3*/site-packages/imageio_ffmpeg/binaries/ffmpeg-linux-*; do
        if [ -x "$f" ]; then
            echo "$f"
            return 0
        fi
    done
}
if [ -z "${WEIR_FFMPEG9:-}" ]; then
    WEIR_FFMPEG9="$(find_ffmpeg9)"
    if [ -z "$WEIR_FFMPEG9" ]; then
        echo "ffmpeg 9 missing: installing imageio-ffmpeg into $FFMPEG9_VENV"
        if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
            apt_install python3-venv
        fi
        run python3 -m venv "$FFMPEG9_VENV"
        run "$FFMPEG9_VENV/bin/pip" install --quiet imageio-ffmpeg
        WEIR_FFMPEG9="$(find_ffmpeg9)"
    fi
    export WEIR_FFMPEG9
fi
echo "ffmpeg 9: $WEIR_FFMPEG9 ($("$WEIR_FFMPEG9" -hide_banner -version | head -n1))"

# nginx: the caching-edge test (tests/e2e_edge.rs) runs Debian's nginx.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "nginx missing: installing"
    apt_install nginx-light
fi

# Node and npm: build.rs embeds the player libraries from web/node_modules
# (installed from web/package-lock.json), so they come before any cargo build.
if ! command -v npm >/dev/null 2>&1; then
    echo "npm missing: installing nodejs npm"
    apt_install nodejs npm
fi
if [ ! -d web/node_modules/playwright-core ] || [ ! -d web/node_modules/hls.js ]; then
    echo "web/node_modules incomplete: npm ci"
    run npm ci --prefix web --no-audit --no-fund
fi

# Debian's Chromium for the browser playback tests (never a downloaded one).
if [ ! -x /usr/bin/chromium ]; then
    echo "chromium missing: installing"
    apt_install chromium chromium-driver
fi

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

# ---------------------------------------------------------------------------
step "Browser playback tests (Chromium + hls.js / dash.js / Shaka, web/tests)"
# ---------------------------------------------------------------------------
# Debian's Chromium driven by playwright-core (installed above).
echo "node $(node --version); $(/usr/bin/chromium --version 2>/dev/null)"
run cargo build --release
# The FLV test assets are encoded once, outside the tests' timed path.
run node web/tests/harness.mjs --make-assets
# Two at a time: every test runs its own weir, ffmpeg and Chromium.
run env WEIR_BIN=target/release/weir node --test --test-concurrency=2 web/tests/*.test.mjs

step "All checks passed"
