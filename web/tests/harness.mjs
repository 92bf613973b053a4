// Harness of the headless-browser playback tests (`node --test web/tests/`).
//
// Each test starts its own `weir` (ephemeral ports), publishes a pre-encoded
// FLV with the real ffmpeg (`-re -stream_loop -1 -c copy`, so no encoding in
// the test path), serves a tiny test page from a Node HTTP server on another
// origin that plays Weir's URL with hls.js, dash.js or Shaka (from
// web/node_modules), and drives Debian's Chromium through playwright-core.
//
// Env: WEIR_BIN          weir binary (default target/release/weir)
//      CHROMIUM_BIN      browser (default /usr/bin/chromium; never downloaded)
//      WEIR_TEST_VERBOSE echo weir/ffmpeg/browser console output live
//
// `node web/tests/harness.mjs --make-assets` only makes the test assets.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const TESTS_DIR = path.dirname(fileURLToPath(import.meta.url));
export const WEB_DIR = path.resolve(TESTS_DIR, '..');
export const REPO = path.resolve(WEB_DIR, '..');
export const ASSET_DIR = path.join(REPO, 'target/test-assets/browser');
export const SCREEN_DIR = path.join(REPO, 'target/test-screens');
export const VERBOSE = !!process.env.WEIR_TEST_VERBOSE;

export const ASSETS = {
  /** 20 s, 1280x720 30 fps H.264 (GOP 2 s) + AAC-LC 48 kHz stereo. */
  av: path.join(ASSET_DIR, 'av-720p30-20s.flv'),
  /** 20 s, AAC-LC 48 kHz stereo, no video. */
  audio: path.join(ASSET_DIR, 'audio-48k-20s.flv'),
  /** The video track of `av` alone (stream-copied from it, no audio). */
  video: path.join(ASSET_DIR, 'video-720p30-20s.flv'),
  /** Low latency: 20 s, 1280x720 30 fps H.264 with a 1 s GOP (-g 30) + AAC-LC. */
  ll: path.join(ASSET_DIR, 'av-720p30-20s-gop1s.flv'),
};

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Child processes: every one is tracked and killed by PID on exit/signals.
// ---------------------------------------------------------------------------

const children = new Set();

function track(child, name) {
  child.testName = name;
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killAllChildren() {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}

process.once('exit', killAllChildren);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killAllChildren();
    process.exit(128 + (os.constants.signals[sig] || 1));
  });
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/** Kill a child by PID (SIGTERM, then SIGKILL after `graceMs`) and wait for it. */
export async function killChild(child, { signal = 'SIGTERM', graceMs = 5000 } = {}) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  try {
    process.kill(child.pid, signal);
  } catch {
    return;
  }
  if (signal !== 'SIGKILL') {
    const t = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, graceMs);
    await done;
    clearTimeout(t);
  } else {
    await done;
  }
}

/** Keeps the last `max` lines of a stream (and echoes them when verbose). */
function tail(stream, prefix, max = 200) {
  const lines = [];
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    for (const l of parts) {
      lines.push(l);
      if (lines.length > max) lines.shift();
      if (VERBOSE) process.stderr.write(`[${prefix}] ${l}\n`);
    }
  });
  return lines;
}

function runToEnd(cmd, args, { timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] }), cmd);
    const err = tail(child.stderr, cmd, 40);
    const t = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(t);
      reject(new Error(`${cmd}: ${e.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal || code}):\n${err.join('\n')}`));
    });
  });
}

/** Poll `fn` until it returns a truthy value (returned) or time runs out. */
export async function poll(fn, { timeoutMs, intervalMs = 200, what = 'condition' }) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------
// Test assets (encoded once, outside the tests' timed path)
// ---------------------------------------------------------------------------

const ENCODE_VIDEO = [
  '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'high',
  '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
];
const ENCODE_AUDIO = ['-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000'];

function assetArgs(name, out) {
  const src = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'];
  const video = ['-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30'];
  const audio = ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'];
  if (name === 'av') {
    return [...src, ...video, ...audio, '-t', '20', ...ENCODE_VIDEO, ...ENCODE_AUDIO, '-f', 'flv', out];
  }
  if (name === 'video') return [...src, '-i', ASSETS.av, '-an', '-c', 'copy', '-f', 'flv', out];
  if (name === 'll') {
    const gop1s = ENCODE_VIDEO.map((a, i, all) => (all[i - 1] === '-g' || all[i - 1] === '-keyint_min' ? '30' : a));
    return [...src, ...video, ...audio, '-t', '20', ...gop1s, ...ENCODE_AUDIO, '-f', 'flv', out];
  }
  return [...src, ...audio, '-t', '20', '-vn', ...ENCODE_AUDIO, '-f', 'flv', out];
}

/**
 * Makes the assets once into target/test-assets/browser/. Test files run in
 * parallel processes, so a lock directory makes one of them encode while
 * the others wait; files appear atomically (rename).
 */
export async function ensureAssets() {
  const missing = () => Object.values(ASSETS).some((f) => !fs.existsSync(f));
  if (!missing()) return;
  await fsp.mkdir(ASSET_DIR, { recursive: true });
  const lock = path.join(ASSET_DIR, '.lock');
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      if (!missing()) return;
      // A lock left by a killed run is stale after 3 minutes.
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 180_000) fs.rmSync(lock, { recursive: true, force: true });
      } catch {
        // raced with its owner
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await sleep(250);
    }
  }
  try {
    for (const [name, file] of Object.entries(ASSETS)) {
      if (fs.existsSync(file)) continue;
      const tmp = `${file}.${process.pid}.tmp.flv`;
      const t0 = Date.now();
      await runToEnd('ffmpeg', assetArgs(name, tmp));
      fs.renameSync(tmp, file);
      process.stderr.write(`made test asset ${path.relative(REPO, file)} in ${Date.now() - t0} ms\n`);
    }
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Weir and the publisher
// ---------------------------------------------------------------------------

export function weirBin() {
  const bin = path.resolve(process.env.WEIR_BIN || path.join(REPO, 'target/release/weir'));
  if (!fs.existsSync(bin)) {
    throw new Error(`weir binary not found at ${bin}: run \`cargo build --release\` or set WEIR_BIN`);
  }
  return bin;
}

/**
 * Starts weir on ephemeral ports and resolves once it printed its
 * `weir listening rtmp=… http=…` line.
 */
export async function startWeir({ args = [] } = {}) {
  const bin = weirBin();
  // Weir reads WEIR_* defaults from the environment; the tests want its own.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WEIR_')));
  env.RUST_LOG = process.env.RUST_LOG || 'info';
  const child = track(
    spawn(bin, ['--rtmp-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    }),
    'weir',
  );
  const log = tail(child.stderr, 'weir', 400);
  const addrs = await new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`weir did not print its listening line within 15 s:\n${log.join('\n')}`)), 15_000);
    child.once('error', (e) => {
      clearTimeout(t);
      reject(new Error(`cannot start ${bin}: ${e.message}`));
    });
    child.once('exit', (code, sig) => {
      clearTimeout(t);
      reject(new Error(`weir exited (${sig || code}) before listening:\n${log.join('\n')}`));
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      out += d;
      const m = /weir listening rtmp=(\S+) http=(\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ rtmp: m[1], http: m[2] });
      }
    });
  });
  child.stdout.resume();
  return {
    child,
    log,
    rtmpBase: `rtmp://${addrs.rtmp}`,
    http: `http://${addrs.http}`,
    rtmpUrl: (key, app = 'live') => `rtmp://${addrs.rtmp}/${app}/${key}`,
    url: (key, file, app = 'live') => `http://${addrs.http}/${app}/${key}/${file}`,
    stop: () => killChild(child, { signal: 'SIGTERM', graceMs: 5000 }),
  };
}

/**
 * Publishes `asset` in a loop, in real time, stream-copied (no encoding),
 * with Debian's ffmpeg or `bin` (ffmpeg 9 for Enhanced RTMP codecs).
 */
export function publish(rtmpUrl, asset = ASSETS.av, { bin = 'ffmpeg' } = {}) {
  const child = track(
    spawn(
      bin,
      ['-hide_banner', '-nostdin', '-loglevel', 'warning', '-re', '-stream_loop', '-1', '-i', asset, '-c', 'copy', '-f', 'flv', rtmpUrl],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
    'ffmpeg',
  );
  const log = tail(child.stderr, 'ffmpeg', 100);
  child.once('error', (e) => log.push(`spawn error: ${e.message}`));
  return {
    child,
    log,
    pid: child.pid,
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    kill: (signal = 'SIGKILL') => killChild(child, { signal, graceMs: 3000 }),
  };
}

async function fetchText(url) {
  const res = await fetch(url, { cache: 'no-store' });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

/**
 * Waits until the stream's HLS multivariant playlist and its first media
 * playlist answer 200 with at least `minSegments` segments, and its DASH MPD
 * answers 200 (a viewer joining a running stream, not its first second).
 */
export async function waitForStream(weir, key, { minSegments = 3, timeoutMs = 30_000, publisher } = {}) {
  const multivariantUrl = weir.url(key, 'index.m3u8');
  return poll(
    async () => {
      if (publisher && !publisher.running) throw new Error(`publisher exited:\n${publisher.log.join('\n')}`);
      const mv = await fetchText(multivariantUrl);
      if (mv.status !== 200) return null;
      const uris = mv.text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      const mediaUris = [...mv.text.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]);
      const all = [...uris, ...mediaUris];
      if (all.length === 0) return null;
      const media = [];
      for (const u of all) {
        const pl = await fetchText(new URL(u, multivariantUrl).href);
        if (pl.status !== 200) return null;
        const segments = (pl.text.match(/^#EXTINF:/gm) || []).length;
        if (segments < minSegments) return null;
        media.push({ uri: u, text: pl.text, segments });
      }
      const mpd = await fetchText(weir.url(key, 'index.mpd'));
      if (mpd.status !== 200) return null;
      return { multivariant: mv.text, media, mpd: mpd.text };
    },
    { timeoutMs, intervalMs: 250, what: `${multivariantUrl} with ${minSegments} segments and index.mpd` },
  );
}

// ---------------------------------------------------------------------------
// The test page (another origin) and the browser
// ---------------------------------------------------------------------------

const LIBS = {
  hls: { file: 'hls.js/dist/hls.min.js', name: 'hls.js' },
  dash: { file: 'dashjs/dist/modern/umd/dash.all.min.js', name: 'dash.js' },
  shaka: { file: 'shaka-player/dist/shaka-player.compiled.js', name: 'Shaka' },
};
export const LIB_NAMES = Object.fromEntries(Object.entries(LIBS).map(([k, v]) => [k, v.name]));

function page(lib) {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>weir playback test (${lib})</title>
<style>html,body{margin:0;background:#000}video{width:100%;height:auto;display:block}</style>
</head><body>
<video id="video" muted autoplay playsinline></video>
<script src="/lib/${lib}.js"></script>
<script src="/page-driver.js"></script>
</body></html>`;
}

/**
 * Serves /play.html?lib=…&src=…[&config=JSON] plus the player libraries from
 * web/node_modules. `config` (optional) is handed to the player by
 * page-driver.js: `new Hls(config)`, dash.js `updateSettings(config)`.
 */
export async function startPageServer() {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const send = (status, type, body) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    try {
      if (url.pathname === '/play.html') {
        const lib = url.searchParams.get('lib');
        if (!LIBS[lib]) return send(400, 'text/plain', 'unknown lib');
        return send(200, 'text/html; charset=utf-8', page(lib));
      }
      if (url.pathname === '/page-driver.js') {
        return send(200, 'text/javascript', fs.readFileSync(path.join(TESTS_DIR, 'page-driver.js')));
      }
      const m = /^\/lib\/(\w+)\.js$/.exec(url.pathname);
      if (m && LIBS[m[1]]) {
        return send(200, 'text/javascript', fs.readFileSync(path.join(WEB_DIR, 'node_modules', LIBS[m[1]].file)));
      }
      if (url.pathname === '/favicon.ico') return send(204, 'image/x-icon', '');
      return send(404, 'text/plain', 'not found');
    } catch (e) {
      return send(500, 'text/plain', String(e));
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    playUrl: (lib, src, config) =>
      `${origin}/play.html?lib=${lib}&src=${encodeURIComponent(src)}` +
      (config ? `&config=${encodeURIComponent(JSON.stringify(config))}` : ''),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}

export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  const executablePath = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    throw new Error(`${executablePath} not found: install Debian's chromium (apt-get install chromium)`);
  }
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** A new page whose console messages and page errors are kept in `lines`. */
export async function newPage(browser, { width = 1280, height = 800, ...contextOptions } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, ...contextOptions });
  const pg = await context.newPage();
  const lines = [];
  pg.on('console', (msg) => {
    const line = `${msg.type()}: ${msg.text()}`;
    lines.push(line);
    if (VERBOSE) process.stderr.write(`[browser] ${line}\n`);
  });
  pg.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
  pg.on('response', (r) => {
    if (r.status() >= 400) lines.push(`http ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  pg.on('requestfailed', (r) => lines.push(`request failed: ${r.url()} (${r.failure() ? r.failure().errorText : '?'})`));
  pg.on('crash', () => lines.push('page crashed'));
  return { page: pg, context, console: lines };
}

// ---------------------------------------------------------------------------
// A whole playback case
// ---------------------------------------------------------------------------

/**
 * One test's world: weir + publisher + page server + browser, all torn down
 * by `close()` (registered with `t.after` when a test context is given, so
 * it also runs on failure; otherwise the caller's `after` hook calls it).
 */
export async function setupCase(t, { key = 'cam1', asset = ASSETS.av, weirArgs = [], minSegments = 3, bin = 'ffmpeg' } = {}) {
  const ctx = { key, asset, publishers: [] };
  const cleanups = [];
  ctx.close = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        process.stderr.write(`cleanup: ${e.message}\n`);
      }
    }
    cleanups.length = 0;
  };
  if (t) t.after(ctx.close);
  ctx.weir = await startWeir({ args: weirArgs });
  cleanups.push(() => ctx.weir.stop());
  ctx.publish = () => {
    const p = publish(ctx.weir.rtmpUrl(key), asset, { bin });
    ctx.publishers.push(p);
    cleanups.push(() => p.kill('SIGKILL'));
    return p;
  };
  ctx.publisher = ctx.publish();
  // The browser starts while the first segments are being made.
  const browser = launchBrowser().then((b) => {
    cleanups.push(() => b.close());
    return b;
  });
  const pages = startPageServer().then((p) => {
    cleanups.push(() => p.close());
    return p;
  });
  // allSettled: a failure must not leave a browser launching behind close().
  const [stream, b, p] = await Promise.allSettled([
    waitForStream(ctx.weir, key, { minSegments, publisher: ctx.publisher }),
    browser,
    pages,
  ]);
  for (const r of [stream, b, p]) if (r.status === 'rejected') throw r.reason;
  ctx.stream = stream.value;
  ctx.browser = b.value;
  ctx.pages = p.value;
  return ctx;
}

export const state = (pg) => pg.evaluate(() => window.testState.snapshot());
export const fullState = (pg) =>
  pg.evaluate(() => {
    const s = window.testState;
    return { ...s, snapshot: s.snapshot() };
  });

/** Waits for the first `playing`; fails early on a fatal player error. */
export async function waitPlaying(pg, { timeoutMs = 30_000 } = {}) {
  return poll(
    async () => {
      const s = await pg.evaluate(() => window.testState && window.testState.snapshot());
      if (s && s.fatal) throw Object.assign(new Error(`fatal player error before playing: ${JSON.stringify(s.fatal)}`), { fatal: true });
      return s && s.started ? s : null;
    },
    { timeoutMs, intervalMs: 200, what: 'the first playing event' },
  ).catch(async (e) => {
    const s = await fullState(pg).catch(() => null);
    throw new Error(`${e.message}\nstate: ${JSON.stringify(s)}`);
  });
}

/**
 * Lets the page play for `ms` of wall time, sampling every `intervalMs`;
 * `onTick(elapsedMs, snapshot)` may act midway (e.g. restart the publisher).
 * Stops early on a fatal player error. Returns the samples.
 */
export async function playFor(pg, ms, { intervalMs = 500, onTick, stopOnFatal = true, until, maxMs = ms } = {}) {
  const t0 = Date.now();
  const samples = [];
  for (;;) {
    const elapsed = Date.now() - t0;
    const s = await state(pg);
    s.elapsedMs = elapsed;
    samples.push(s);
    if (stopOnFatal && s.fatal) break;
    if (onTick) await onTick(elapsed, s);
    if (elapsed >= ms && (!until || until(s))) break;
    if (elapsed >= maxMs) break;
    const left = (elapsed >= ms ? maxMs : ms) - elapsed;
    await sleep(Math.min(intervalMs, Math.max(0, left)));
  }
  return samples;
}

export function fmt(n, digits = 1) {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/** Prints a `REPORT …` line to the test output (diagnostic) and stdout. */
export function report(t, fields) {
  const line = `REPORT ${Object.entries(fields)
    .map(([k, v], i) => (i === 0 ? String(v) : `${k}=${v}`))
    .join(' ')}`;
  t.diagnostic(line);
  return line;
}

/** Console lines, weir and ffmpeg logs, to attach to a failing assertion. */
export function dumpLogs(ctx, pgConsole = []) {
  const parts = [];
  if (pgConsole.length) parts.push(`--- browser console (last 40)\n${pgConsole.slice(-40).join('\n')}`);
  if (ctx.weir) parts.push(`--- weir (last 30)\n${ctx.weir.log.slice(-30).join('\n')}`);
  for (const [i, p] of (ctx.publishers || []).entries()) {
    if (p.log.length) parts.push(`--- ffmpeg #${i + 1}\n${p.log.slice(-10).join('\n')}`);
  }
  return parts.join('\n');
}

export async function screenshot(pg, name) {
  await fsp.mkdir(SCREEN_DIR, { recursive: true });
  const file = path.join(SCREEN_DIR, name);
  await pg.screenshot({ path: file });
  return file;
}

/** `waiting` shorter than this (ms) is a blip, not a stall. */
export const STALL_MS = 250;

/**
 * The standard case: `lib` plays `manifest` of a fresh stream for `seconds`
 * of wall time after the first `playing`. Asserts that currentTime advanced
 * by at least `minAdvance` s, no stall (>= STALL_MS; unless `allowStalls`) and no player
 * error (only no *fatal* one with `allowNonFatal`). `onTick(elapsedMs,
 * snapshot, ctx)` runs at every sample;
 * `until` extends the run (up to `maxSeconds`) until it holds.
 */
export async function playbackCase(
  t,
  { lib, manifest, asset = ASSETS.av, bin = 'ffmpeg', label = '', seconds = 30, minAdvance = 25, allowStalls = false, allowNonFatal = false, onTick, until, maxSeconds, reportExtra = () => ({}) },
) {
  const ctx = await setupCase(t, { asset, bin });
  const src = ctx.weir.url(ctx.key, manifest);
  const { page: pg, console: con } = await newPage(ctx.browser);
  ctx.page = pg;
  ctx.console = con;
  await pg.goto(ctx.pages.playUrl(lib, src));
  try {
    await waitPlaying(pg, { timeoutMs: 30_000 });
  } catch (e) {
    throw new Error(`${LIB_NAMES[lib]} did not start playing ${src}: ${e.message}\n${dumpLogs(ctx, con)}`);
  }
  const startCt = await pg.evaluate(() => window.testState.firstPlayingCurrentTime);
  ctx.samples = await playFor(pg, seconds * 1000, {
    onTick: onTick && ((elapsed, s) => onTick(elapsed, s, ctx)),
    until: until && ((s) => until(s, s.currentTime - startCt)),
    maxMs: (maxSeconds || seconds) * 1000,
  });
  const end = await fullState(pg);
  ctx.end = end;
  const advanced = end.snapshot.currentTime - end.firstPlayingCurrentTime;
  // Wall time during which the playhead did not move (sampling intervals in
  // which currentTime advanced by < 10 % of the wall time), stall or not.
  let frozenMs = 0;
  for (let i = 1; i < ctx.samples.length; i++) {
    const dWall = ctx.samples[i].elapsedMs - ctx.samples[i - 1].elapsedMs;
    const dCt = (ctx.samples[i].currentTime - ctx.samples[i - 1].currentTime) * 1000;
    if (dCt < 0.1 * dWall) frozenMs += dWall;
  }
  // A stall is a `waiting` after the first `playing` that lasted >= STALL_MS
  // (or never ended). Shorter ones (a decoder hiccup of a few ms right after
  // start on a loaded 2-core machine) are reported as blips, not failed on.
  const stalls = end.stallLog.filter((s) => s.ms === null || s.ms >= STALL_MS);
  ctx.stalls = stalls;
  const latencies = ctx.samples.map((s) => s.latency).filter(Number.isFinite);
  const maxLatency = latencies.length ? Math.max(...latencies) : NaN;
  ctx.reportLine = report(t, {
    lib: LIB_NAMES[lib] + (label ? ` (${label})` : ''),
    ttff: `${end.ttffMs}ms`,
    latency: `${fmt(end.snapshot.latency)}s`,
    maxLatency: `${fmt(maxLatency)}s`,
    stalls: stalls.length,
    blips: end.stallLog.length - stalls.length,
    stalledMs: end.stallLog.reduce((a, s) => a + (s.ms || 0), 0),
    advanced: `${fmt(advanced)}s`,
    played: `${fmt(ctx.samples.at(-1).elapsedMs / 1000)}s`,
    frozenMs,
    dropped: `${end.snapshot.droppedFrames}/${end.snapshot.totalFrames}`,
    errors: end.errors.length,
    version: end.libVersion,
    ...reportExtra(ctx, end),
  });
  const detail = () =>
    `\n${ctx.reportLine}\nerrors: ${JSON.stringify(end.errors, null, 1)}\nstalls: ${JSON.stringify(end.stallLog)}\n${dumpLogs(ctx, con)}`;
  const fatal = end.errors.filter((e) => e.fatal);
  assert.deepEqual(fatal, [], `${LIB_NAMES[lib]}: fatal player error${detail()}`);
  if (!allowNonFatal) assert.deepEqual(end.errors, [], `${LIB_NAMES[lib]}: player errors${detail()}`);
  assert.ok(advanced >= minAdvance, `${LIB_NAMES[lib]}: currentTime advanced ${fmt(advanced)} s < ${minAdvance} s${detail()}`);
  if (!allowStalls) assert.equal(stalls.length, 0, `${LIB_NAMES[lib]}: stalls after the first frame${detail()}`);
  return ctx;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv.includes('--make-assets')) {
  await ensureAssets();
}

// ---------------------------------------------------------------------------
// The CDN edge: Debian's nginx running docker/edge/nginx.conf (as
// tests/e2e_edge.rs does), on an ephemeral port in front of one weir.
// ---------------------------------------------------------------------------

export const NGINX_BIN = '/usr/sbin/nginx';
export const EDGE_TEMPLATE = path.join(REPO, 'docker/edge/nginx.conf');
const EDGE_PLACEHOLDERS = { origin: '${EDGE_ORIGIN}', listen: '${EDGE_LISTEN}', cacheDir: '${EDGE_CACHE_DIR}' };

/**
 * The edge template with its three placeholders replaced. Throws if one is
 * missing or if any other dollar-brace text is left outside comments (nginx
 * would choke on it, as on the image's envsubst output).
 */
export function renderEdgeConfig(template, { origin, listen, cacheDir }) {
  const values = { origin, listen, cacheDir };
  let out = template;
  for (const [k, p] of Object.entries(EDGE_PLACEHOLDERS)) {
    if (!template.includes(p)) throw new Error(`${EDGE_TEMPLATE} lacks the placeholder ${p}`);
    out = out.split(p).join(String(values[k]));
  }
  for (const line of out.split('\n')) {
    if (line.split('#')[0].includes('${')) throw new Error(`unsubstituted placeholder in ${EDGE_TEMPLATE}: ${line}`);
  }
  return out;
}

/** An ephemeral loopback port: bind port 0, read it, let it go. */
export async function freePort() {
  const { createServer: createTcpServer } = await import('node:net');
  const srv = createTcpServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  await new Promise((r) => srv.close(() => r()));
  return port;
}

/** PIDs of the live processes in process group `pgid` whose command is nginx. */
function nginxInGroup(pgid) {
  const out = [];
  let entries = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      // "pid (comm) state ppid pgrp …": comm may hold spaces.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) !== pgid) continue;
      if (!fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').startsWith('nginx')) continue;
      out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function isNginx(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('nginx');
  } catch {
    return false;
  }
}

const liveEdges = new Set();

/**
 * SIGKILL an edge's master and workers, synchronously (usable in an `exit`
 * handler): its process group (nginx runs as a group leader), the PID in its
 * pid file, and any nginx left in that group.
 */
function killEdgeNow(edge) {
  const { child, pidFile } = edge;
  const pids = new Set();
  try {
    const p = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (p > 0 && isNginx(p)) pids.add(p);
  } catch {
    // no pid file (yet, or any more)
  }
  if (child.exitCode === null && child.signalCode === null) {
    try {
      // The master is alive, so its group id is still its own.
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const p of nginxInGroup(child.pid)) pids.add(p);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

// SIGINT/SIGTERM/SIGHUP: the handlers at the top call process.exit(), which
// runs this too. An edge still running here was interrupted: its directory
// goes with it.
process.once('exit', () => {
  for (const e of liveEdges) {
    killEdgeNow(e);
    try {
      fs.rmSync(e.dir, { recursive: true, force: true });
    } catch {
      // a worker still writing: left for the next `cargo clean`
    }
  }
  liveEdges.clear();
});

/**
 * Starts nginx on docker/edge/nginx.conf with origin `origin` (weir's
 * `http://host:port` or `host:port`), listening on an ephemeral 127.0.0.1
 * port, config, cache, pid file and error log in a fresh directory under
 * target/tmp/. Resolves once `/healthz` answers through it (retrying on a
 * new port if the free one was taken meanwhile). nginx runs in its own
 * process group; `stop()` (and process exit) kills master and workers.
 *
 * `accessLog` (lines) and `requests` (parsed: [{ method, path, status,
 * bytes, cache }]) read the access log written so far.
 */
export async function startEdge(origin, { nginx = NGINX_BIN, attempts = 3 } = {}) {
  if (!fs.existsSync(nginx)) throw new Error(`${nginx} not found (apt-get install nginx-light)`);
  const originAddr = String(origin).replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  const template = fs.readFileSync(EDGE_TEMPLATE, 'utf8');
  const tmpRoot = path.join(REPO, 'target/tmp');
  await fsp.mkdir(tmpRoot, { recursive: true });
  const dir = await fsp.mkdtemp(path.join(tmpRoot, `web-edge-${process.pid}-`));
  const conf = path.join(dir, 'nginx.conf');
  const errorLog = path.join(dir, 'error.log');
  const pidFile = path.join(dir, 'nginx.pid');
  let globals = `daemon off; pid ${pidFile}; error_log ${errorLog} info;`;
  // The workers would otherwise run as the build's default user, which may
  // lack access to target/.
  if (process.getuid && process.getuid() === 0) globals += ' user root;';
  let lastErr = '';
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = await freePort();
    const listen = `127.0.0.1:${port}`;
    fs.writeFileSync(conf, renderEdgeConfig(template, { origin: originAddr, listen, cacheDir: dir }));
    // nginx opens /dev/stdout for its access log, which fails on Node's
    // stdio pipes (sockets: ENXIO): stdout goes to a file in `dir` instead.
    const accessLog = path.join(dir, 'access.log');
    const out = fs.openSync(accessLog, 'a');
    let child;
    try {
      child = spawn(nginx, ['-p', `${dir}/`, '-e', errorLog, '-c', conf, '-g', globals], {
        stdio: ['ignore', out, 'pipe'],
        // Its own process group: master and workers can be killed as one,
        // and a terminal's Ctrl-C reaches only Node (which then kills it).
        detached: true,
      });
    } finally {
      fs.closeSync(out);
    }
    const readLog = () => {
      try {
        return fs.readFileSync(accessLog, 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    const edge = {
      child,
      dir,
      pidFile,
      errorLog,
      addr: listen,
      origin: `http://${listen}`,
      url: (p) => `http://${listen}${p.startsWith('/') ? '' : '/'}${p}`,
      get running() {
        return child.exitCode === null && child.signalCode === null;
      },
      /** The access log's lines so far. */
      get accessLog() {
        return readLog();
      },
      /**
       * The access log parsed (`log_format edge`: ADDR "METHOD PATH PROTO"
       * STATUS BYTES cache=STATUS …): [{ method, path, status, bytes, cache }].
       */
      get requests() {
        const reqs = [];
        for (const l of readLog()) {
          const m = /^\S+ "(\S+) (\S+)[^"]*" (\d{3}) (\d+) cache=(\S+)/.exec(l);
          if (m) reqs.push({ method: m[1], path: m[2], status: Number(m[3]), bytes: Number(m[4]), cache: m[5] });
        }
        return reqs;
      },
    };
    liveEdges.add(edge);
    edge.stderr = tail(child.stderr, 'nginx', 200);
    const exitedP = exited(child);
    child.once('error', (e) => edge.stderr.push(`spawn error: ${e.message}`));
    edge.stop = async ({ keepDir = false } = {}) => {
      if (edge.running) {
        // Fast shutdown: the master stops its workers and exits.
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          // gone
        }
        await Promise.race([exitedP, sleep(5000)]);
      }
      killEdgeNow(edge);
      await Promise.race([exitedP, sleep(2000)]);
      liveEdges.delete(edge);
      if (!keepDir) await fsp.rm(dir, { recursive: true, force: true });
    };
    const up = await poll(
      async () => {
        if (!edge.running) return 'exited';
        const res = await fetch(edge.url('/healthz'), { cache: 'no-store', signal: AbortSignal.timeout(2000) });
        const body = await res.text();
        return res.status === 200 && /^nginx/.test(res.headers.get('server') || '') && body === 'ok' ? 'up' : null;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: `nginx edge on ${listen}` },
    ).catch((e) => e.message);
    if (up === 'up') return edge;
    lastErr = `nginx on ${listen} not up (${up}):\n${edge.stderr.join('\n')}`;
    await edge.stop({ keepDir: true });
  }
  await fsp.rm(dir, { recursive: true, force: true });
  throw new Error(`could not start the edge: ${lastErr}`);
}
