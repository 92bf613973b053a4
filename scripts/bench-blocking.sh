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

step() { printf '\n==> %s\n' "$*"; }
die() {
    echo "bench-blocking: $*" >&2
    exit 1
}

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi

# --- Tools --------------------------------------------------------------------
step "Checking tools"
missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
echo "ffmpeg: $(ffmpeg -version | head -n1)"
echo "node: $(node --version)"

# 2,000 client sockets here, 2,000 accepted ones in weir (inherits it).
ulimit -n "$NOFILE" 2>/dev/null || die "cannot raise the open-files limit to $NOFILE (hard limit $(ulimit -Hn))"
echo "open files limit: $(ulimit -n)"
CLK_TCK=$(getconf CLK_TCK)
export CLK_TCK

# --- Work dir and cleanup -----------------------------------------------------
WORK=$(mktemp -d /tmp/weir-bench-blocking.XXXXXX)
WEIR_PID=""
FFMPEG_PID=""
LOAD_PID=""

stop_pid() { # pid name
    local pid=$1 name=$2
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "bench-blocking: $name (pid $pid) ignored TERM, killing" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$LOAD_PID" bench-blocking.mjs
    stop_pid "$FFMPEG_PID" ffmpeg
    stop_pid "$WEIR_PID" weir
    if [ "${KEEP_WORKDIR:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
        echo "bench-blocking: work dir kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Asset --------------------------------------------------------------------
if [ ! -s "$ASSET" ]; then
    step "Encoding the 1 s-GOP 720p30 asset ($ASSET)"
    mkdir -p "$(dirname "$ASSET")"
    timeout 300 ffmpeg -hide_banner -loglevel error -nostdin -y \
        -f lavfi -i "testsrc2=size=1280x720:rate=30" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000" \
        -t 20 \
        -c:v libx264 -preset ultrafast -profile:v high -pix_fmt yuv420p \
        -g 30 -keyint_min 30 -sc_threshold 0 \
        -c:a aac -b:a 128k -ar 48000 -ac 2 \
        -f flv "$ASSET.tmp"
    mv "$ASSET.tmp" "$ASSET"
fi
ffprobe -v error -show_entries \
    format=duration,bit_rate:stream=codec_name,width,height,r_frame_rate,sample_rate,channels \
    -of compact "$ASSET"

# --- Weir ---------------------------------------------------------------------
step "Building weir (cargo build --release)"
cargo build --release
WEIR_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/weir
[ -x "$WEIR_BIN" ] || die "no binary at $WEIR_BIN"

step "Starting weir --low-latency true --segment-duration 1${PART_DURATION:+ --part-duration $PART_DURATION}"
# Weir reads WEIR_* defaults from the environment: run it with its own.
unset_weir=()
for v in $(compgen -e); do
    case "$v" in WEIR_*) unset_weir+=(-u "$v") ;; esac
done
env "${unset_weir[@]}" RUST_LOG="${RUST_LOG:-warn}" "$WEIR_BIN" \
    --rtmp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --low-latency true --segment-duration 1 \
    ${PART_DURATION:+--part-duration "$PART_DURATION"} \
    >"$WORK/weir.out" 2>"$WORK/weir.err" &
WEIR_PID=$!
line=""
for _ in $(seq 1 $((START_TIMEOUT * 10))); do
    line=$(grep -m1 '^weir listening ' "$WORK/weir.out" 2>/dev/null || true)
    [ -n "$line" ] && break
    kill -0 "$WEIR_PID" 2>/dev/null || {
        cat "$WORK/weir.err" >&2
        die "weir exited before listening"
    }
    sleep 0.1
done
[ -n "$line" ] || die "no listening line from weir within ${START_TIMEOUT}s"
RTMP_ADDR=$(sed -n 's/.*rtmp=\([^ ]*\).*/\1/p' <<<"$line")
HTTP_ADDR=$(sed -n 's/.*http=\([^ ]*\).*/\1/p' <<<"$line")
case "$RTMP_ADDR:$HTTP_ADDR" in
127.0.0.1:*:127.0.0.1:*) ;;
*) die "unexpected listening line: $line" ;;
esac
echo "weir pid $WEIR_PID: rtmp=$RTMP_ADDR http=$HTTP_ADDR (open files $(awk '/Max open files/ {print $4}' "/proc/$WEIR_PID/limits"))"
BASE="http://$HTTP_ADDR/live/$KEY"

step "Publishing $ASSET in a loop (ffmpeg -re -stream_loop -1 -c copy)"
ffmpeg -hide_banner -loglevel error -nostdin -re -stream_loop -1 -i "$ASSET" \
    -c copy -f flv "rtmp://$RTMP_ADDR/live/$KEY" \
    >"$WORK/ffmpeg.log" 2>&1 &
FFMPEG_PID=$!

echo "waiting for parts and a PRELOAD-HINT in $BASE/video.m3u8 (3 segments listed)"
ready=0
deadline=$((SECONDS + PARTS_TIMEOUT))
while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$FFMPEG_PID" 2>/dev/null || {
        cat "$WORK/ffmpeg.log" >&2
        die "ffmpeg stopped publishing"
    }
    if curl -fsS --max-time 2 -o "$WORK/video.m3u8" "$BASE/video.m3u8" 2>/dev/null; then
        if grep -q '^#EXT-X-PART:' "$WORK/video.m3u8" &&
            grep -q '^#EXT-X-PRELOAD-HINT:TYPE=PART' "$WORK/video.m3u8" &&
            [ "$(grep -c '^#EXTINF:' "$WORK/video.m3u8")" -ge 3 ]; then
            ready=1
            break
        fi
    fi
    sleep 0.5
done
[ "$ready" -eq 1 ] || die "video.m3u8 had no parts/preload hint within ${PARTS_TIMEOUT}s: $(cat "$WORK/video.m3u8" 2>/dev/null)"
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
