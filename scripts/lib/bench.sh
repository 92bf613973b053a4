# Shared by the bench scripts (sourced, not run): tools, processes stopped by
# PID on exit, the test asset, a release weir on kernel-picked ports and a
# looping ffmpeg publisher. The caller sets BENCH_NAME, REPO, KEY,
# START_TIMEOUT and BENCH_PIDS (names of the variables holding the PIDs to
# stop on exit, in order) before calling these.

step() { printf '\n==> %s\n' "$*"; }
die() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
}

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi

# bench_install PACKAGE...: apt-get install them; no package may start a
# system service (nginx on :80) while it does.
bench_install() {
    [ $# -gt 0 ] || return 0
    echo "installing: $*"
    local policy_added=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${SUDO[@]}" chmod +x /usr/sbin/policy-rc.d
        policy_added=1
    fi
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" apt-get install -y --no-install-recommends "$@"
    if [ "$policy_added" -eq 1 ]; then
        "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
    fi
}

# stop_pid PID NAME: TERM, up to 5 s, then KILL.
stop_pid() {
    local pid=$1 name=$2
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "$BENCH_NAME: $name (pid $pid) ignored TERM, killing" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
}

# bench_workdir: WORK, and every BENCH_PIDS process stopped on exit (the
# work dir kept with KEEP_WORKDIR=1 or on failure).
bench_workdir() {
    WORK=$(mktemp -d "/tmp/weir-$BENCH_NAME.XXXXXX")
    local v
    for v in "${BENCH_PIDS[@]}"; do
        printf -v "$v" '%s' ""
    done
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

bench_cleanup() {
    local rc=$? v name
    trap - EXIT INT TERM
    for v in "${BENCH_PIDS[@]}"; do
        name=${v%_PID}
        stop_pid "${!v}" "${name,,}"
    done
    if [ "${KEEP_WORKDIR:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
        echo "$BENCH_NAME: work dir kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}

# bench_asset PATH DESCRIPTION SECONDS X264_ARGS...: a testsrc2 1280x720
# 30 fps H.264 High + AAC 48 kHz stereo FLV, encoded once and kept.
bench_asset() {
    local asset=$1 what=$2 secs=$3
    shift 3
    if [ ! -s "$asset" ]; then
        step "Encoding the $what asset ($asset)"
        mkdir -p "$(dirname "$asset")"
        timeout 300 ffmpeg -hide_banner -loglevel error -nostdin -y \
            -f lavfi -i "testsrc2=size=1280x720:rate=30" \
            -f lavfi -i "sine=frequency=440:sample_rate=48000" \
            -t "$secs" \
            -c:v libx264 -profile:v high -pix_fmt yuv420p "$@" \
            -c:a aac -b:a 128k -ar 48000 -ac 2 \
            -f flv "$asset.tmp"
        mv "$asset.tmp" "$asset"
    fi
    ffprobe -v error -show_entries \
        format=duration,bit_rate:stream=codec_name,profile,width,height,r_frame_rate,sample_rate,channels \
        -of compact "$asset"
}

# bench_weir ARGS...: builds weir --release and starts it with ARGS on
# kernel-picked loopback ports, with no WEIR_* from this environment; sets
# WEIR_PID, RTMP_ADDR, HTTP_ADDR and BASE (the stream's HTTP directory).
bench_weir() {
    step "Building weir (release)"
    cargo build --release --bin weir
    WEIR_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/weir
    [ -x "$WEIR_BIN" ] || die "no binary at $WEIR_BIN"

    step "Starting weir $*"
    local unset_weir=() v line=""
    for v in $(compgen -e); do
        case "$v" in WEIR_*) unset_weir+=(-u "$v") ;; esac
    done
    env "${unset_weir[@]}" RUST_LOG="${RUST_LOG:-warn}" "$WEIR_BIN" \
        --rtmp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 "$@" \
        >"$WORK/weir.out" 2>"$WORK/weir.err" &
    WEIR_PID=$!
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
}

# bench_publish ASSET: ffmpeg -re -stream_loop -1 -c copy to weir; sets
# FFMPEG_PID.
bench_publish() {
    step "Publishing $1 in a loop (ffmpeg -re -stream_loop -1 -c copy)"
    ffmpeg -hide_banner -loglevel error -nostdin -re -stream_loop -1 -i "$1" \
        -c copy -f flv "rtmp://$RTMP_ADDR/live/$KEY" \
        >"$WORK/ffmpeg.log" 2>&1 &
    FFMPEG_PID=$!
}

# bench_wait_playlist TIMEOUT WHAT TEST: polls video.m3u8 into
# $WORK/video.m3u8 until the shell function TEST succeeds on it.
bench_wait_playlist() {
    local timeout=$1 what=$2 test=$3 deadline=$((SECONDS + $1))
    echo "waiting for $what in $BASE/video.m3u8"
    while [ "$SECONDS" -lt "$deadline" ]; do
        kill -0 "$FFMPEG_PID" 2>/dev/null || {
            cat "$WORK/ffmpeg.log" >&2
            die "ffmpeg stopped publishing"
        }
        if curl -fsS --max-time 2 -o "$WORK/video.m3u8" "$BASE/video.m3u8" 2>/dev/null &&
            "$test"; then
            return 0
        fi
        sleep 0.5
    done
    die "video.m3u8 had no $what within ${timeout}s: $(cat "$WORK/video.m3u8" 2>/dev/null)"
}
