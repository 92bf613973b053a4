// hls.js (Chromium, headless) plays a live Weir stream through the nginx
// caching edge of docker/edge/nginx.conf (the template rendered as
// tests/e2e_edge.rs does, Debian's /usr/sbin/nginx on an ephemeral port in
// front of this test's weir) for 30 s: the page loads
// http://EDGE/live/KEY/index.m3u8 (every player request goes to the edge,
// none to the origin), reaches `playing`, currentTime advances >= 25 s, no
// stall (harness definition: a `waiting` of >= STALL_MS after the first
// frame), no fatal hls.js error. Then Node fetches the newest segment of each
// media playlist the edge serves twice through the edge: the second answer
// is an `X-Cache-Status: HIT` with the origin's bytes.
//
// hls.js runs with its defaults but `lowLatencyMode: false`: whole segments
// and plain playlist reloads, which the edge caches (max-age=1), where LL-HLS
// blocking reloads (`?_HLS_msn=…`) are each a MISS passed to the origin. And
// in LL mode hls.js 1.7.4 now and then skips the short last part of a
// segment (Weir's audio parts end each segment with a ~0.04–0.06 s one) and
// then waits ~3.5 s before it loads anything more: a stall at a segment
// boundary, with or without the edge (hls.test.mjs hits it too).
//
// nginx missing: the test is skipped (scripts/test.sh installs nginx-light).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { before, test } from 'node:test';
import {
  NGINX_BIN,
  STALL_MS,
  dumpLogs,
  ensureAssets,
  fmt,
  fullState,
  newPage,
  playFor,
  report,
  setupCase,
  startEdge,
  waitPlaying,
} from './harness.mjs';

before(ensureAssets, { timeout: 300_000 });

const SECONDS = 30;
const MIN_ADVANCE = 25;

/** URIs of a playlist: non-comment lines and `URI="…"` attributes. */
function playlistUris(text) {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  return [...lines, ...[...text.matchAll(/URI="([^"]+)"/g)].map((m) => m[1])];
}

/** Media segment URIs of a media playlist (the line after each #EXTINF). */
function segmentUris(text) {
  const lines = text.split('\n').map((l) => l.trim());
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('#EXTINF:')) continue;
    const uri = lines.slice(i + 1).find((l) => l && !l.startsWith('#'));
    if (uri) out.push(uri);
  }
  return out;
}

async function get(url) {
  const res = await fetch(url, { cache: 'no-store' });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, cache: res.headers.get('x-cache-status') };
}

test('hls.js plays a live stream through the nginx caching edge for 30 s', { timeout: 150_000 }, async (t) => {
  if (!fs.existsSync(NGINX_BIN)) {
    t.skip(`${NGINX_BIN} is not installed (apt-get install nginx-light): no edge to test`);
    return;
  }
  const t0 = Date.now();
  let failed = true;
  const ctx = await setupCase(t);
  const edge = await startEdge(ctx.weir.http);
  t.after(() => edge.stop({ keepDir: failed }));
  const edgeLogs = () =>
    `--- nginx edge ${edge.addr} (pid ${edge.child.pid}, dir ${edge.dir}) stderr\n${edge.stderr.slice(-20).join('\n')}\n` +
    `--- edge access log (last 30)\n${edge.accessLog.slice(-30).join('\n')}`;

  const src = edge.url(`/live/${ctx.key}/index.m3u8`);
  const first = await get(src);
  assert.equal(first.status, 200, `${src} via edge: ${first.body}\n${edgeLogs()}`);
  assert.ok(first.cache, `${src}: no X-Cache-Status, not answered by the edge`);

  const { page: pg, console: con } = await newPage(ctx.browser);
  // Every request the page makes for the stream must go to the edge.
  const edgeHost = new URL(edge.origin).host;
  const originHost = new URL(ctx.weir.http).host;
  const seen = { edge: 0, origin: 0, other: [] };
  pg.on('request', (r) => {
    const u = new URL(r.url());
    if (u.host === edgeHost) seen.edge++;
    else if (u.host === originHost) seen.origin++;
    else if (u.origin !== ctx.pages.origin) seen.other.push(r.url());
  });
  // hls.js's defaults, but for lowLatencyMode (see the header): set on
  // Hls.DefaultConfig the moment hls.min.js defines window.Hls.
  await pg.addInitScript(() => {
    let hlsClass;
    Object.defineProperty(window, 'Hls', {
      configurable: true,
      get: () => hlsClass,
      set: (H) => {
        H.DefaultConfig = { ...H.DefaultConfig, lowLatencyMode: false };
        hlsClass = H;
      },
    });
  });
  await pg.goto(ctx.pages.playUrl('hls', src));
  try {
    await waitPlaying(pg, { timeoutMs: 30_000 });
  } catch (e) {
    throw new Error(`hls.js did not start playing ${src}: ${e.message}\n${dumpLogs(ctx, con)}\n${edgeLogs()}`);
  }
  const lowLatencyMode = await pg.evaluate(() => window.testPlayer && window.testPlayer.config.lowLatencyMode);
  assert.equal(lowLatencyMode, false, 'hls.js runs with lowLatencyMode off');
  const samples = await playFor(pg, SECONDS * 1000);
  const end = await fullState(pg);
  await pg.close();

  const advanced = end.snapshot.currentTime - end.firstPlayingCurrentTime;
  const stalls = end.stallLog.filter((s) => s.ms === null || s.ms >= STALL_MS);
  const latencies = samples.map((s) => s.latency).filter(Number.isFinite);
  const maxLatency = latencies.length ? Math.max(...latencies) : NaN;
  // What the edge served until now (the player, and the index.m3u8 check
  // above): media objects and playlists by cache status.
  const playerMedia = edge.requests.filter((r) => /\.(m4s|mp4)(\?|$)/.test(r.path));
  const playerPlaylists = edge.requests.filter((r) => /\.m3u8(\?|$)/.test(r.path));
  const byCache = (reqs) => {
    const n = {};
    for (const r of reqs) n[r.cache] = (n[r.cache] || 0) + 1;
    return Object.entries(n).map(([k, v]) => `${k}:${v}`).join(',') || 'none';
  };
  const mediaCache = byCache(playerMedia);
  const playlistCache = byCache(playerPlaylists);

  // Node, as a second viewer: the newest segment of every media playlist
  // the edge serves, twice through the edge.
  const mv = await get(src);
  assert.equal(mv.status, 200, `${src} via edge`);
  const checks = [];
  for (const uri of playlistUris(mv.body.toString())) {
    const plUrl = new URL(uri, src).href;
    const pl = await get(plUrl);
    assert.equal(pl.status, 200, `${plUrl} via edge`);
    const segs = segmentUris(pl.body.toString());
    assert.ok(segs.length > 0, `${plUrl} via edge lists no segment:\n${pl.body}`);
    const segUrl = new URL(segs.at(-1), plUrl).href;
    const r1 = await get(segUrl);
    const r2 = await get(segUrl);
    const direct = await get(segUrl.replace(edge.origin, ctx.weir.http));
    checks.push({ url: segUrl, statuses: [r1.status, r2.status], cache: [r1.cache, r2.cache], same: r2.body.equals(direct.body), bytes: r2.body.length });
  }
  const hits = checks.filter((c) => c.cache[1] === 'HIT' && c.statuses[1] === 200 && c.same).length;

  const line = report(t, {
    lib: 'hls.js via edge',
    ttff: `${end.ttffMs}ms`,
    latency: `${fmt(end.snapshot.latency)}s`,
    stalls: stalls.length,
    hits: `${hits}/${checks.length}`,
    maxLatency: `${fmt(maxLatency)}s`,
    blips: end.stallLog.length - stalls.length,
    advanced: `${fmt(advanced)}s`,
    played: `${fmt(samples.at(-1).elapsedMs / 1000)}s`,
    errors: end.errors.length,
    playerRequests: `edge:${seen.edge},origin:${seen.origin}`,
    edgeMedia: mediaCache,
    edgePlaylists: playlistCache,
    version: end.libVersion,
    total: `${fmt((Date.now() - t0) / 1000)}s`,
  });
  const detail = () =>
    `\n${line}\nchecks: ${JSON.stringify(checks)}\nerrors: ${JSON.stringify(end.errors, null, 1)}\nstalls: ${JSON.stringify(end.stallLog)}\n` +
    `${dumpLogs(ctx, con)}\n${edgeLogs()}`;

  assert.ok(edge.running, `nginx exited during the test${detail()}`);
  assert.deepEqual(end.errors.filter((e) => e.fatal), [], `hls.js via edge: fatal player error${detail()}`);
  assert.ok(advanced >= MIN_ADVANCE, `hls.js via edge: currentTime advanced ${fmt(advanced)} s < ${MIN_ADVANCE} s${detail()}`);
  assert.equal(stalls.length, 0, `hls.js via edge: stalls after the first frame${detail()}`);
  assert.equal(seen.origin, 0, `the page asked the origin directly ${seen.origin} times${detail()}`);
  assert.deepEqual(seen.other, [], `the page asked unexpected hosts${detail()}`);
  assert.ok(seen.edge > 0 && playerMedia.length > 0, `the edge served the player no media${detail()}`);
  assert.ok(checks.length > 0, `no media playlist in the edge's index.m3u8${detail()}`);
  for (const c of checks) {
    assert.deepEqual(c.statuses, [200, 200], `${c.url} via edge${detail()}`);
    assert.equal(c.cache[1], 'HIT', `second request of ${c.url} via edge: X-Cache-Status ${c.cache[1]}${detail()}`);
    assert.ok(c.same, `${c.url} via edge differs from the origin's bytes${detail()}`);
  }
  failed = false;
});
