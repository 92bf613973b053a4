#!/usr/bin/env bash
# LL-HLS blocking playlist reloads: 2,000 concurrent
# `video.m3u8?_HLS_msn=M&_HLS_part=P` requests held by one weir, and what
# holding and releasing them costs (CPU, RSS, release time).
#
# What it does, all on 127.0.0.1 and bounded in time:
#   1. installs ffmpeg, curl and node through apt-get when missing;
#   2. builds weir --release and starts it with --low-latency true (LL-HLS
#      is off by default) and --segment-duration 1 on
#      ports picked by the kernel (--rtmp-listen 127.0.0.1:0 --http-listen
#      127.0.0.1:0), reading the real addresses from its
#      `weir listening rtmp=… http=…` stdout line;
#   3. publishes a pre-encoded asset with a 1 s GOP in a loop with
#      ffmpeg -re -stream_loop -1 -c copy (made first when missing: 20 s
#      testsrc2 1280x720 30 fps H.264, -g 30, AAC 48 kHz stereo);
#   4. once video.m3u8 lists parts and a PRELOAD-HINT, runs
#      scripts/bench-blocking.mjs: a warm-up round, then ROUNDS rounds of
#      CLIENTS blocked requests on the hinted part (details in that file),
#      and prints a table per round and the medians.
# The open-files limit is raised to 8192 for the load tool (2,000 sockets)
# and for weir (2,000 accepted connections). Every process it starts is
# stopped by PID on exit (trap).
#
# Usage: ./scripts/bench-blocking.sh     (from any directory)
# Env:   CLIENTS=2000 ROUNDS=5 THREADS=2  load tool: requests, rounds, client threads
#        PART_DURATION=                    weir --part-duration (default: weir's, 0.5 s)
#        WEIR_BENCH_LL_ASSET=/tmp/weir-bench/asset-720p30-20s-gop1s.flv   kept between runs
#        KEEP_WORKDIR=1                    keep the temp dir (logs, JSON of the rounds)
#
# The load tool, weir, ffmpeg and the packager share the machine's cores:
# compare within one run, not absolute numbers across machines.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
export DEBIAN_FRONTEND=noninteractive

CLIENTS=${CLIENTS:-2000}
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-2}
PART_DURATION=${PART_DURATION:-}
ASSET=${WEIR_BENCH_LL_ASSET:-/tmp/weir-bench/asset-720p30-20s-gop1s.flv}
KEY=bench
START_TIMEOUT=60 # s: weir's listening line
PARTS_TIMEOUT=60 # s: parts and a preload hint in video.m3u8
NOFILE=8192

BENCH_NAME=bench-blocking
BENCH_PIDS=(LOAD_PID FFMPEG_PID WEIR_PID)
# shellcheck source=scripts/lib/bench.sh
. "$REPO/scripts/lib/bench.sh"

# --- Tools --------------------------------------------------------------------
step "Checking tools"
missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
bench_install "${missing[@]}"
echo "ffmpeg: $(ffmpeg -version | head -n1)"
echo "node: $(node --version)"

# 2,000 client sockets here, 2,000 accepted ones in weir (inherits it).
ulimit -n "$NOFILE" 2>/dev/null || die "cannot raise the open-files limit to $NOFILE (hard limit $(ulimit -Hn))"
echo "open files limit: $(ulimit -n)"
CLK_TCK=$(getconf CLK_TCK)
export CLK_TCK

bench_workdir
bench_asset "$ASSET" "1 s-GOP 720p30" 20 -preset ultrafast -g 30 -keyint_min 30 -sc_threshold 0
bench_weir --low-latency true --segment-duration 1 ${PART_DURATION:+--part-duration "$PART_DURATION"}
bench_publish "$ASSET"
parts_listed() {
    grep -q '^#EXT-X-PART:' "$WORK/video.m3u8" &&
        grep -q '^#EXT-X-PRELOAD-HINT:TYPE=PART' "$WORK/video.m3u8" &&
        [ "$(grep -c '^#EXTINF:' "$WORK/video.m3u8")" -ge 3 ]
}
bench_wait_playlist "$PARTS_TIMEOUT" "parts and a PRELOAD-HINT (3 segments listed)" parts_listed
grep -E '^#EXT-X-(SERVER-CONTROL|PART-INF|PRELOAD-HINT)' "$WORK/video.m3u8"

# --- Load ---------------------------------------------------------------------
step "bench-blocking.mjs: $CLIENTS blocked requests x (1 warm-up + $ROUNDS rounds), $THREADS client threads"
timeout $((ROUNDS * 40 + 60)) node "$REPO/scripts/bench-blocking.mjs" \
    --base "$BASE" --pid "$WEIR_PID" --clients "$CLIENTS" --rounds "$ROUNDS" --threads "$THREADS" \
    --json "$WORK/rounds.json" &
LOAD_PID=$!
rc=0
wait "$LOAD_PID" || rc=$?
LOAD_PID=""
kill -0 "$WEIR_PID" 2>/dev/null || {
    tail -n 20 "$WORK/weir.err" >&2
    die "weir died during the run"
}
[ "$rc" -eq 0 ] || die "the load tool failed (exit $rc)"
echo
echo "$(nproc) cores shared by the load tool ($THREADS client threads + a poller), weir, ffmpeg (publishing) and the packager; load average $(cut -d' ' -f1-3 /proc/loadavg)"
