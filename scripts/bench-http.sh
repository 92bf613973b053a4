#!/usr/bin/env bash
# HTTP serving throughput: Weir (axum, segments and playlists from memory)
# against nginx serving the same bytes as static files, measured with wrk.
#
# What it does, all on 127.0.0.1 and bounded in time:
#   1. installs wrk and nginx through apt-get when missing;
#   2. builds weir --release and starts it on ports picked by the kernel
#      (--rtmp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0), reading the
#      real addresses from its `weir listening rtmp=… http=…` stdout line;
#   3. publishes a pre-encoded 720p30 asset in a loop with ffmpeg -c copy
#      (made first when missing: 10 s testsrc2 1280x720 30 fps H.264 High,
#      2 s GOP, AAC 48 kHz stereo) and keeps publishing during the runs;
#   4. once video.m3u8 lists at least 3 segments, copies the newest segment
#      and the playlist into a temporary document root served by its own
#      nginx (temporary config, `daemon off`, another loopback port);
#   5. runs `wrk -t2 -c100 -d10s` against (a) the Weir segment, (b) the same
#      segment file on nginx, (c) Weir's video.m3u8, (d) the same playlist
#      file on nginx, and prints requests/s and the Weir/nginx ratios; then
#      (e) Weir's video.m3u8 with Accept-Encoding: gzip, as browsers send it.
# Every process it starts is stopped by PID on exit (trap).
#
# Usage: ./scripts/bench-http.sh          (from any directory; root or sudo)
# Env:   WRK_THREADS=2 WRK_CONNECTIONS=100 WRK_DURATION=10s
#        NGINX_WORKERS=auto               nginx worker_processes (auto = 1 per core)
#        NGINX_SENDFILE=on                nginx sendfile (on loopback `off` is faster)
#        WEIR_BENCH_ASSET=/tmp/weir-bench/asset-720p30-10s.flv   kept between runs
#        KEEP_WORKDIR=1                   keep the temp dir (logs, config, wrk output)
#
# wrk, weir (or nginx), ffmpeg and the packager share the machine's cores:
# compare the ratios of one run, not absolute numbers across machines.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
export DEBIAN_FRONTEND=noninteractive

WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-100}
WRK_DURATION=${WRK_DURATION:-10s}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
NGINX_SENDFILE=${NGINX_SENDFILE:-on}
ASSET=${WEIR_BENCH_ASSET:-/tmp/weir-bench/asset-720p30-10s.flv}
KEY=bench
START_TIMEOUT=60   # s: weir's listening line
SEGMENT_TIMEOUT=90 # s: 3 segments in video.m3u8

BENCH_NAME=bench-http
BENCH_PIDS=(FFMPEG_PID NGINX_PID WEIR_PID)
# shellcheck source=scripts/lib/bench.sh
. "$REPO/scripts/lib/bench.sh"

# --- Tools --------------------------------------------------------------------
step "Checking tools"
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v curl >/dev/null 2>&1 || missing+=(curl)
bench_install "${missing[@]}"
echo "wrk: $(wrk --version 2>&1 | head -n1)"
echo "nginx: $(nginx -v 2>&1)"
echo "ffmpeg: $(ffmpeg -version | head -n1)"

bench_workdir
bench_asset "$ASSET" "720p30" 10 -preset veryfast -g 60 -keyint_min 60 -sc_threshold 0 -b:v 3M -maxrate 3M -bufsize 3M
bench_weir
bench_publish "$ASSET"
three_segments() {
    segments=$(grep -c '\.m4s$' "$WORK/video.m3u8" || true)
    [ "$segments" -ge 3 ]
}
bench_wait_playlist "$SEGMENT_TIMEOUT" "3 segments" three_segments
# The newest segment stays listed for the whole window (6 x 2 s) and
# fetchable well after: it outlives run (a).
SEG_URI=$(grep '\.m4s$' "$WORK/video.m3u8" | tail -n1)
echo "video.m3u8 lists $segments segments; using $SEG_URI"

# --- nginx with the same bytes ------------------------------------------------
step "Starting nginx on a copy of the segment and the playlist"
WWW=$WORK/www
mkdir -p "$WWW/live/$KEY/video" "$WORK/nginx/logs" "$WORK/nginx/tmp"
# Segment URIs carry the stream instance (video/INSTANCE/seg-N.m4s).
mkdir -p "$(dirname "$WWW/live/$KEY/$SEG_URI")"
curl -fsS --max-time 5 -o "$WWW/live/$KEY/$SEG_URI" "$BASE/$SEG_URI"
curl -fsS --max-time 5 -o "$WWW/live/$KEY/video.m3u8" "$BASE/video.m3u8"
SEG_BYTES=$(stat -c %s "$WWW/live/$KEY/$SEG_URI")
PL_BYTES=$(stat -c %s "$WWW/live/$KEY/video.m3u8")
echo "segment $SEG_BYTES bytes, playlist $PL_BYTES bytes"

port_free() { # port: nothing accepts on 127.0.0.1:port
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
NGINX_PORT=""
for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if port_free "$p"; then
        NGINX_PORT=$p
        break
    fi
done
[ -n "$NGINX_PORT" ] || die "no free loopback port for nginx"

USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;" # workers must read the 0700 temp dir
NCONF=$WORK/nginx/nginx.conf
cat >"$NCONF" <<EOF
# Static files with the headers Weir sends; keep-alive without a request cap
# (hyper has none), no access log.
$USER_LINE
daemon off;
worker_processes $NGINX_WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile $NGINX_SENDFILE;
    tcp_nopush on;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path       $WORK/nginx/tmp/proxy;
    fastcgi_temp_path     $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path       $WORK/nginx/tmp/uwsgi;
    scgi_temp_path        $WORK/nginx/tmp/scgi;
    types {
        application/vnd.apple.mpegurl m3u8;
        video/mp4                     m4s mp4;
    }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WWW;
        location ~ \.m3u8\$ { add_header Cache-Control "public, max-age=1"; }
        location /          { add_header Cache-Control "public, max-age=31536000, immutable"; }
    }
}
EOF
nginx -t -q -p "$WORK/nginx" -c "$NCONF" -e "$WORK/nginx/logs/error.log"
nginx -p "$WORK/nginx" -c "$NCONF" -e "$WORK/nginx/logs/error.log" \
    >"$WORK/nginx/logs/stdout.log" 2>&1 &
NGINX_PID=$!
NBASE="http://127.0.0.1:$NGINX_PORT/live/$KEY"
ok=0
for _ in $(seq 1 100); do
    kill -0 "$NGINX_PID" 2>/dev/null || break
    if curl -fsS --max-time 1 -o /dev/null "$NBASE/video.m3u8" 2>/dev/null; then
        ok=1
        break
    fi
    sleep 0.1
done
[ "$ok" -eq 1 ] || {
    cat "$WORK/nginx/logs/error.log" >&2
    die "nginx did not serve on 127.0.0.1:$NGINX_PORT"
}
echo "nginx pid $NGINX_PID on 127.0.0.1:$NGINX_PORT (worker_processes $NGINX_WORKERS, sendfile $NGINX_SENDFILE)"
# Same bytes from both.
cmp -s <(curl -fsS --max-time 5 "$NBASE/$SEG_URI") <(curl -fsS --max-time 5 "$BASE/$SEG_URI") ||
    die "nginx and weir serve different segment bytes"

# --- wrk ------------------------------------------------------------------------
secs=${WRK_DURATION%s}
declare -A RPS NON2XX XFER LAT
run_wrk() { # label url [wrk args...]
    local label=$1 url=$2 out="$WORK/wrk-$1.txt"
    shift 2
    step "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION $* $url"
    timeout $((secs + 30)) wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$WRK_DURATION" \
        --latency "$@" "$url" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"
    cat "$out"
    RPS[$label]=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    XFER[$label]=$(awk '/^Transfer\/sec:/ {print $2}' "$out")
    LAT[$label]=$(awk '/^ +50%/ {print $2}' "$out")
    NON2XX[$label]=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    NON2XX[$label]=${NON2XX[$label]:-0}
    [ -n "${RPS[$label]}" ] || die "no Requests/sec in wrk output"
}
run_wrk weir-segment "$BASE/$SEG_URI"
run_wrk nginx-segment "$NBASE/$SEG_URI"
run_wrk weir-playlist "$BASE/video.m3u8"
run_wrk nginx-playlist "$NBASE/video.m3u8"
# What browsers send: Weir gzips playlists (CompressionLayer) on every request.
run_wrk weir-playlist-gz "$BASE/video.m3u8" -H "Accept-Encoding: gzip"

# --- Summary --------------------------------------------------------------------
step "Summary"
echo "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION on 127.0.0.1; $(nproc) cores shared by wrk, the server, ffmpeg (publishing) and weir's packager"
echo "nginx: worker_processes $NGINX_WORKERS, sendfile $NGINX_SENDFILE; weir: tokio multi-thread runtime (1 worker per core)"
echo "segment: $SEG_URI, $SEG_BYTES bytes; playlist: video.m3u8, $PL_BYTES bytes (a-d send no Accept-Encoding: not gzipped)"
printf '%-16s %12s %12s %10s %8s\n' target req/s transfer/s p50 non-2xx
LABELS=(weir-segment nginx-segment weir-playlist nginx-playlist weir-playlist-gz)
for l in "${LABELS[@]}"; do
    printf '%-16s %12s %12s %10s %8s\n' "$l" "${RPS[$l]}" "${XFER[$l]}" "${LAT[$l]}" "${NON2XX[$l]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "weir-playlist-gz: Accept-Encoding: gzip (pre-compressed once per playlist update), no nginx counterpart; gz/plain $(ratio "${RPS[weir-playlist-gz]}" "${RPS[weir-playlist]}")"
echo "weir/nginx requests/s: segments $(ratio "${RPS[weir-segment]}" "${RPS[nginx-segment]}"), playlists $(ratio "${RPS[weir-playlist]}" "${RPS[nginx-playlist]}")"
for l in "${LABELS[@]}"; do
    if [ "${NON2XX[$l]}" != 0 ]; then
        echo "bench-http: WARNING: $l had ${NON2XX[$l]} non-2xx/3xx responses" >&2
    fi
done
