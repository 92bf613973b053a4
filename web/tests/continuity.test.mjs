// Stream continuity across publisher gaps (issue 12), in headless Chromium:
// hls.js (index.m3u8), dash.js and Shaka (index.mpd), one test each, play a
// Weir stream (defaults: --grace-period 10 s, LL off, players in their normal
// modes) for ~40 s of wall time after the first `playing`, across
//   1. a graceful stop: ffmpeg gets SIGINT (the harness's publisher has no
//      stdin for `q`), finishes its output and closes the RTMP session
//      cleanly (FCUnpublish + deleteStream; the test checks that ffmpeg
//      exited on its own and that weir logged `unpublished
//      reason=FcUnpublish|DeleteStream|CloseStream` for that connection),
//      then a new publisher of the same key 2 s later;
//   2. a kill -9 of the publisher (weir logs `reason=ConnectionClosed`),
//      then a new publisher 2 s later.
// Timeline (s after the first `playing`): play BEFORE_S, stop gracefully,
// republish GAP_S later, play BETWEEN_S, kill -9, republish GAP_S later, play
// AFTER_S. The publishers stream-copy the pre-encoded asset (`-re -c copy`,
// as the harness does), so each case costs little CPU beside the browser;
// the three tests run one after the other within this file (node:test runs a
// file's tests in sequence; `--test-concurrency=2` runs this file beside
// another one), CONTINUITY_CONCURRENCY=2 runs two at once.
//
// Asserted for each player:
//   - currentTime advanced >= 85 % of (wall time - the two gaps), where wall
//     time runs from the first `playing` to the end (page clock) and a gap
//     from the stop/kill signal to the new publisher's spawn;
//   - at most one stall (harness definition: a `waiting` after the first
//     `playing` lasting >= STALL_MS, or never ending);
//   - no fatal player error (page-driver.js: any dash.js ERROR event counts
//     as fatal, hls.js/Shaka their own fatal flag, <video> errors);
//   - the live latency (the player's own figure, page-driver.js
//     testState.latency()) 10 s after the second republish (median of the
//     samples 9-11 s after it) within 2 s of what it was before the first gap
//     (median of the samples in the 3 s before the graceful stop).
// The figures go to a diagnostic line
//   REPORT continuity-hls.js advanced=…s wall=…s stalls=… latency_before=…s latency_after=…s …
// plus a DETAIL line about what Weir served around the gaps (ENDLIST, MPD
// type, /api/streams state, media sequence, discontinuities, instance ids,
// Periods); `played`/`jumped` split `advanced` into playback and seeks
// (informational: a player that stalls and then seeks forward advances
// currentTime too). Every playlist/MPD/API answer that changed (sampled once
// a second), the player's samples and events and weir's log are written to
// target/test-continuity/<player>.txt.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import {
  LIB_NAMES,
  REPO,
  STALL_MS,
  dumpLogs,
  ensureAssets,
  fmt,
  fullState,
  newPage,
  playFor,
  report,
  setupCase,
  sleep,
  waitPlaying,
} from './harness.mjs';

const BEFORE_S = 12;
const GAP_S = 2;
const BETWEEN_S = 12;
const AFTER_S = 12;
const LATENCY_AT_S = 10;
const MIN_ADVANCE_RATIO = 0.85;
const MAX_STALLS = 1;
const MAX_LATENCY_DELTA = 2;
const SNAPSHOT_EVERY_MS = 1000;
const SNAP_DIR = path.join(REPO, 'target/test-continuity');
const CONCURRENCY = Number(process.env.CONTINUITY_CONCURRENCY || 1);

const GRACEFUL_REASONS = ['FcUnpublish', 'DeleteStream', 'CloseStream'];

function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = (v.length - 1) / 2;
  return (v[Math.floor(mid)] + v[Math.ceil(mid)]) / 2;
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');

/** The RTMP connection id of the newest `publishing` line in weir's log. */
function publishingConn(log) {
  let conn = null;
  for (const l of log.map(stripAnsi)) {
    const m = /\bconn=(\d+)\b.*\bweir::ingest: publishing\b/.exec(l);
    if (m) conn = m[1];
  }
  return conn;
}

/** `unpublished reason=…` of connection `conn` in weir's log, or null. */
function unpublishReason(log, conn) {
  for (const l of log.map(stripAnsi)) {
    const m = /\bconn=(\d+)\b.*\bunpublished reason=(\w+)/.exec(l);
    if (m && m[1] === conn) return m[2];
  }
  return null;
}

/**
 * The publisher timeline, run beside the sampling loop (which must not block
 * for the gaps). Times are ms after `t0` (the first `playing`, Node clock).
 */
function startSchedule(ctx, t0) {
  const s = { done: false, aborted: false, error: null };
  const now = () => Date.now() - t0;
  const waitUntil = async (ms) => {
    while (!s.aborted && now() < ms) await sleep(Math.min(100, ms - now()));
    return !s.aborted;
  };
  const exitOf = (p, since) => ({ ms: now() - since, code: p.child.exitCode, signal: p.child.signalCode });
  s.promise = (async () => {
    if (!(await waitUntil(BEFORE_S * 1000))) return;
    // 1. Graceful stop: SIGINT makes ffmpeg end its output and close the
    // RTMP session (FCUnpublish, deleteStream); killChild sends SIGKILL only
    // if it has not exited 3 s later (then exit1.signal says so).
    const p1 = ctx.publisher;
    s.conn1 = publishingConn(ctx.weir.log);
    s.stop1 = now();
    await p1.kill('SIGINT');
    s.exit1 = exitOf(p1, s.stop1);
    if (!(await waitUntil(s.stop1 + GAP_S * 1000))) return;
    ctx.publisher = ctx.publish();
    s.republish1 = now();
    if (!(await waitUntil(s.republish1 + BETWEEN_S * 1000))) return;
    // 2. kill -9: no RTMP goodbye, the kernel closes the TCP connection.
    const p2 = ctx.publisher;
    s.conn2 = publishingConn(ctx.weir.log);
    s.stop2 = now();
    await p2.kill('SIGKILL');
    s.exit2 = exitOf(p2, s.stop2);
    if (!(await waitUntil(s.stop2 + GAP_S * 1000))) return;
    ctx.publisher = ctx.publish();
    s.republish2 = now();
  })()
    .catch((e) => {
      s.error = e;
    })
    .finally(() => {
      s.done = true;
    });
  return s;
}

/**
 * Fetches the media playlists, the MPD and /api/streams once a second until
 * stopped; keeps each answer that differs from the previous one of its URL.
 */
function startSnapshots(ctx, t0) {
  const mv = ctx.weir.url(ctx.key, 'index.m3u8');
  const targets = [
    ...ctx.stream.media.map((m) => ({ name: m.uri, url: new URL(m.uri, mv).href })),
    { name: 'index.mpd', url: ctx.weir.url(ctx.key, 'index.mpd') },
    { name: '/api/streams', url: `${ctx.weir.http}/api/streams` },
  ];
  const snaps = { list: [], stopped: false, last: new Map() };
  snaps.promise = (async () => {
    while (!snaps.stopped) {
      const t = Date.now() - t0;
      await Promise.all(
        targets.map(async ({ name, url }) => {
          let status;
          let text;
          try {
            const res = await fetch(url, { cache: 'no-store', signal: AbortSignal.timeout(3000) });
            status = res.status;
            text = await res.text();
          } catch (e) {
            status = 'error';
            text = String(e.message || e);
          }
          const key = `${status}\n${text}`;
          const changed = snaps.last.get(name) !== key;
          snaps.last.set(name, key);
          snaps.list.push({ t, name, status, text, changed });
        }),
      );
      const wait = t + SNAPSHOT_EVERY_MS - (Date.now() - t0);
      if (wait > 0) await sleep(wait);
    }
  })();
  snaps.stop = async () => {
    snaps.stopped = true;
    await snaps.promise;
  };
  return snaps;
}

/** What Weir served around the gaps, from the snapshots (informational). */
function analyse(snaps, sched) {
  const inGap = (t, stop, re) => Number.isFinite(stop) && t >= stop && t <= (Number.isFinite(re) ? re : Infinity) + 1000;
  const gap = (t) => inGap(t, sched.stop1, sched.republish1) || inGap(t, sched.stop2, sched.republish2);
  const out = {};
  const media = snaps.list.filter((s) => s.name.endsWith('.m3u8'));
  const endlist = media.find((s) => /^#EXT-X-ENDLIST/m.test(s.text));
  out.endlist = endlist ? `${fmt(endlist.t / 1000)}s` : 'never';
  const bad = snaps.list.filter((s) => s.status !== 200).map((s) => `${s.name}:${s.status}@${fmt(s.t / 1000)}s`);
  out.non200 = bad.length ? bad.slice(0, 4).join(',') + (bad.length > 4 ? `,+${bad.length - 4}` : '') : 'none';
  const states = new Set();
  for (const s of snaps.list.filter((x) => x.name === '/api/streams' && gap(x.t))) {
    try {
      for (const st of JSON.parse(s.text).streams || []) states.add(st.state);
    } catch {
      states.add('?');
    }
  }
  out.api_in_gaps = [...states].join('/') || 'n/a';
  // EXT-X-MEDIA-SEQUENCE per playlist: never decreasing.
  const byName = new Map();
  let seqDrop = null;
  for (const s of media.filter((x) => x.status === 200)) {
    const m = /^#EXT-X-MEDIA-SEQUENCE:(\d+)/m.exec(s.text);
    if (!m) continue;
    const seq = Number(m[1]);
    const prev = byName.get(s.name);
    if (prev !== undefined && seq < prev && !seqDrop) seqDrop = `${s.name} ${prev}->${seq}@${fmt(s.t / 1000)}s`;
    byName.set(s.name, seq);
  }
  out.msn = seqDrop ? `DECREASED(${seqDrop})` : 'monotonic';
  const discs = new Set();
  const insts = new Set();
  for (const s of media) {
    discs.add((s.text.match(/^#EXT-X-DISCONTINUITY\s*$/gm) || []).length);
    for (const m of s.text.matchAll(/^(?:video|audio)\/([0-9a-z]+)\/(?:init|seg|part)-/gm)) insts.add(m[1]);
    for (const m of s.text.matchAll(/URI="(?:video|audio)\/([0-9a-z]+)\/init-/g)) insts.add(m[1]);
  }
  out.disc_counts = [...discs].sort((a, b) => a - b).join('/');
  out.inst = [...insts].join('/') || 'none';
  const mpds = snaps.list.filter((s) => s.name === 'index.mpd' && s.status === 200);
  const types = new Set(mpds.map((s) => (/\btype="(\w+)"/.exec(s.text) || [])[1]));
  const asts = new Set(mpds.map((s) => (/availabilityStartTime="([^"]+)"/.exec(s.text) || [])[1]));
  const periods = new Set(mpds.map((s) => (s.text.match(/<Period\b/g) || []).length));
  out.mpd_types = [...types].join('/');
  out.mpd_asts = asts.size;
  out.mpd_periods = [...periods].sort((a, b) => a - b).join('/');
  return out;
}

function writeSnapshots(lib, snaps, sched, samples, end, events, extra) {
  fs.mkdirSync(SNAP_DIR, { recursive: true });
  const file = path.join(SNAP_DIR, `${lib}.txt`);
  const lines = [];
  lines.push(`# ${LIB_NAMES[lib]} continuity run; times are s after the first playing`);
  lines.push(`# schedule ${JSON.stringify({ ...sched, promise: undefined })}`);
  for (const [k, v] of Object.entries(extra)) lines.push(`# ${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  lines.push(`# errors ${JSON.stringify(end.errors)}`);
  lines.push(`# stallLog ${JSON.stringify(end.stallLog)}`);
  lines.push(`# player events ${JSON.stringify(events)}`);
  lines.push('# samples t ct latency wallLatency bufferAhead rate paused readyState');
  for (const s of samples) {
    lines.push(
      `sample ${fmt(s.t / 1000, 2)} ${fmt(s.currentTime, 2)} ${fmt(s.latency, 2)} ${fmt(s.wallLatency, 2)} ` +
        `${fmt(s.bufferAhead, 2)} ${s.playbackRate} ${s.paused} ${s.readyState}`,
    );
  }
  for (const s of snaps.list) {
    if (!s.changed) continue;
    lines.push(`=== ${fmt(s.t / 1000, 2)}s ${s.name} ${s.status}`);
    lines.push(s.text.trimEnd());
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Player events kept in the page (on top of page-driver.js's testState). */
function watchPlayer(lib) {
  const v = document.getElementById('video');
  const log = (window.continuityEvents = []);
  const push = (ev, extra) =>
    log.push({ ev, perf: Math.round(performance.now()), ct: +v.currentTime.toFixed(3), ...(extra || {}) });
  for (const ev of ['ended', 'seeking', 'seeked', 'emptied', 'pause', 'stalled']) v.addEventListener(ev, () => push(ev));
  const p = window.testPlayer;
  try {
    if (lib === 'hls' && p) {
      // eslint-disable-next-line no-undef
      p.on(Hls.Events.LEVEL_UPDATED, (_e, d) => {
        const det = d.details;
        if (det && det.endSN !== window.continuityLastSN) {
          window.continuityLastSN = det.endSN;
          if (det.fragments && det.fragments.some((f) => f.cc > 0)) push('level', { endSN: det.endSN, cc: det.fragments.at(-1).cc, live: det.live });
          if (!det.live) push('level-ended', { endSN: det.endSN });
        }
      });
      // eslint-disable-next-line no-undef
      p.on(Hls.Events.BUFFER_FLUSHED, () => push('buffer-flushed'));
    } else if (lib === 'dash' && p) {
      // eslint-disable-next-line no-undef
      const E = dashjs.MediaPlayer.events;
      for (const name of ['PERIOD_SWITCH_STARTED', 'PERIOD_SWITCH_COMPLETED', 'PLAYBACK_ENDED', 'STREAM_INITIALIZED']) {
        if (E[name]) p.on(E[name], () => push(name));
      }
    } else if (lib === 'shaka' && p) {
      for (const name of ['buffering', 'gapjumped', 'manifestupdated', 'trackschanged', 'ended']) {
        p.addEventListener(name, (e) => push(`shaka:${name}`, name === 'buffering' ? { buffering: e.buffering } : undefined));
      }
    }
  } catch (e) {
    push('watch-error', { message: String(e) });
  }
}

async function continuityCase(t, { lib, manifest }) {
  const name = `continuity-${LIB_NAMES[lib]}`;
  const ctx = await setupCase(t, {});
  const src = ctx.weir.url(ctx.key, manifest);
  const { page: pg, console: con } = await newPage(ctx.browser);
  await pg.goto(ctx.pages.playUrl(lib, src));
  try {
    await waitPlaying(pg, { timeoutMs: 30_000 });
  } catch (e) {
    throw new Error(`${LIB_NAMES[lib]} did not start playing ${src}: ${e.message}\n${dumpLogs(ctx, con)}`);
  }
  await pg.evaluate(watchPlayer, lib);
  const t0 = Date.now();
  const pageT0 = await pg.evaluate(() => performance.now());
  const sched = startSchedule(ctx, t0);
  const snaps = startSnapshots(ctx, t0);
  const planned = (BEFORE_S + GAP_S + BETWEEN_S + GAP_S + AFTER_S) * 1000;
  let samples;
  try {
    samples = await playFor(pg, planned, {
      intervalMs: 500,
      onTick: (_elapsed, s) => {
        s.t = Date.now() - t0;
      },
      until: () => sched.done && Date.now() - t0 >= (sched.republish2 ?? 0) + AFTER_S * 1000,
      maxMs: planned + 20_000,
    });
  } finally {
    sched.aborted = true;
    await sched.promise;
    await snaps.stop();
  }
  const end = await fullState(pg);
  const pageNow = await pg.evaluate(() => performance.now());
  const pageToT = (perf) => Math.round(perf - pageT0);
  const events = (await pg.evaluate(() => window.continuityEvents || [])).map((e) => ({ ...e, t: pageToT(e.perf) }));

  const wall = (pageNow - end.ttffMs) / 1000;
  const advanced = end.snapshot.currentTime - end.firstPlayingCurrentTime;
  const gaps =
    ((Number.isFinite(sched.republish1) ? sched.republish1 - sched.stop1 : 0) +
      (Number.isFinite(sched.republish2) ? sched.republish2 - sched.stop2 : 0)) /
    1000;
  const ratio = advanced / (wall - gaps);
  const stalls = end.stallLog.filter((s) => s.ms === null || s.ms >= STALL_MS);
  const fatal = end.errors.filter((e) => e.fatal);
  const window_ = (from, to) => samples.filter((s) => s.t >= from && s.t < to);
  const beforeSamples = Number.isFinite(sched.stop1) ? window_(sched.stop1 - 3000, sched.stop1) : [];
  const afterFrom = (sched.republish2 ?? NaN) + (LATENCY_AT_S - 1) * 1000;
  const afterSamples = Number.isFinite(afterFrom) ? window_(afterFrom, afterFrom + 2000 + 1) : [];
  const latencyBefore = median(beforeSamples.map((s) => s.latency));
  const latencyAfter = median(afterSamples.map((s) => s.latency));
  const wallBefore = median(beforeSamples.map((s) => s.wallLatency));
  const wallAfter = median(afterSamples.map((s) => s.wallLatency));
  const reason1 = sched.conn1 ? unpublishReason(ctx.weir.log, sched.conn1) : null;
  const reason2 = sched.conn2 ? unpublishReason(ctx.weir.log, sched.conn2) : null;
  const buffers = samples.map((s) => s.bufferAhead).filter(Number.isFinite);
  // Informational: how much of `advanced` was played (at most 1.25 x the
  // wall time between two samples) and how much the player jumped (seeks
  // over gaps or to the live edge).
  let played = 0;
  let jumped = 0;
  for (let i = 1; i < samples.length; i++) {
    const dCt = samples[i].currentTime - samples[i - 1].currentTime;
    const cap = (1.25 * (samples[i].t - samples[i - 1].t)) / 1000;
    played += Math.min(Math.max(dCt, 0), cap);
    jumped += dCt - Math.min(Math.max(dCt, 0), cap);
  }

  const line = report(t, {
    name,
    advanced: `${fmt(advanced)}s`,
    wall: `${fmt(wall)}s`,
    stalls: stalls.length,
    latency_before: `${fmt(latencyBefore, 2)}s`,
    latency_after: `${fmt(latencyAfter, 2)}s`,
    gaps: `${fmt(gaps, 2)}s`,
    ratio: fmt(ratio, 3),
    played: `${fmt(played)}s`,
    jumped: `${fmt(jumped, 2)}s`,
    stalledMs: stalls.reduce((a, s) => a + (s.ms ?? Math.round(pageNow - s.wallMs)), 0),
    blips: end.stallLog.length - stalls.length,
    ...(lib === 'hls' ? { wall_latency_before: `${fmt(wallBefore, 2)}s`, wall_latency_after: `${fmt(wallAfter, 2)}s` } : {}),
    min_buffer: `${fmt(buffers.length ? Math.min(...buffers) : NaN, 2)}s`,
    errors: end.errors.length,
    fatal: fatal.length,
    ttff: `${end.ttffMs}ms`,
    unpublish: `${reason1 ?? 'none'}/${reason2 ?? 'none'}`,
    version: end.libVersion,
  });
  console.log(line);
  const analysis = analyse(snaps, sched);
  const detailLine = `DETAIL ${name} ${Object.entries(analysis)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;
  t.diagnostic(detailLine);
  const stallsT = end.stallLog.map((s) => ({ ...s, t: pageToT(s.wallMs) }));
  const file = writeSnapshots(lib, snaps, sched, samples, end, events, {
    report: line,
    detail: detailLine,
    stallsT,
    weirLog: ctx.weir.log.slice(-60).join('\n# '),
  });
  t.diagnostic(`${name} playlists/MPD/API snapshots and player events: ${path.relative(REPO, file)}`);
  if (end.errors.length) t.diagnostic(`${name} player errors: ${JSON.stringify(end.errors.slice(0, 6))}`);
  if (end.stallLog.length) t.diagnostic(`${name} waiting events (t = ms after first playing): ${JSON.stringify(stallsT)}`);

  const schedule = JSON.stringify({ ...sched, promise: undefined });
  const detail = () =>
    `\n${line}\n${detailLine}\nschedule (ms after first playing): ${schedule}\n` +
    `errors: ${JSON.stringify(end.errors.slice(0, 10), null, 1)}\nstalls: ${JSON.stringify(stallsT)}\n` +
    `player events: ${JSON.stringify(events.slice(0, 40))}\n` +
    `latency samples: ${samples.map((s) => `${fmt(s.t / 1000)}:${fmt(s.latency, 2)}`).join(' ')}\n` +
    `snapshots: ${path.relative(REPO, file)}\n${dumpLogs(ctx, con)}`;

  // The publishers did what the case is about.
  assert.equal(sched.error, null, `publisher schedule failed: ${sched.error && sched.error.stack}${detail()}`);
  assert.ok(fatal.length || Number.isFinite(sched.republish2), `the schedule did not reach the second republish${detail()}`);
  if (Number.isFinite(sched.stop1)) {
    assert.ok(
      sched.exit1 && sched.exit1.signal !== 'SIGKILL',
      `ffmpeg did not exit on SIGINT by itself (it was SIGKILLed 3 s later): not a graceful stop${detail()}`,
    );
    assert.ok(
      GRACEFUL_REASONS.includes(reason1),
      `weir did not see a graceful unpublish from the SIGINTed ffmpeg (conn=${sched.conn1}, reason=${reason1})${detail()}`,
    );
  }
  if (Number.isFinite(sched.stop2)) {
    assert.equal(reason2, 'ConnectionClosed', `weir's unpublish reason for the kill -9 (conn=${sched.conn2})${detail()}`);
  }
  // The player.
  assert.deepEqual(fatal, [], `${LIB_NAMES[lib]}: fatal player error${detail()}`);
  assert.ok(
    ratio >= MIN_ADVANCE_RATIO,
    `${LIB_NAMES[lib]}: currentTime advanced ${fmt(advanced)} s = ${fmt(100 * ratio)} % of ${fmt(wall - gaps)} s ` +
      `(wall ${fmt(wall)} s - gaps ${fmt(gaps)} s) < ${100 * MIN_ADVANCE_RATIO} %${detail()}`,
  );
  assert.ok(stalls.length <= MAX_STALLS, `${LIB_NAMES[lib]}: ${stalls.length} stalls (> ${MAX_STALLS})${detail()}`);
  assert.ok(beforeSamples.length >= 3 && Number.isFinite(latencyBefore), `${LIB_NAMES[lib]}: no latency before the first gap${detail()}`);
  assert.ok(
    afterSamples.length >= 3 && Number.isFinite(latencyAfter),
    `${LIB_NAMES[lib]}: no latency ${LATENCY_AT_S} s after the second republish (${afterSamples.length} samples)${detail()}`,
  );
  assert.ok(
    Math.abs(latencyAfter - latencyBefore) <= MAX_LATENCY_DELTA,
    `${LIB_NAMES[lib]}: latency ${fmt(latencyAfter, 2)} s ${LATENCY_AT_S} s after the second republish vs ` +
      `${fmt(latencyBefore, 2)} s before the first gap (|delta| > ${MAX_LATENCY_DELTA} s)${detail()}`,
  );
}

before(ensureAssets, { timeout: 300_000 });

const TIMEOUT = (BEFORE_S + GAP_S + BETWEEN_S + GAP_S + AFTER_S + 140) * 1000;

describe('stream continuity across a graceful stop and a kill -9 of the publisher', { concurrency: CONCURRENCY }, () => {
  test('hls.js plays index.m3u8 across both gaps', { timeout: TIMEOUT }, (t) => continuityCase(t, { lib: 'hls', manifest: 'index.m3u8' }));
  test('dash.js plays index.mpd across both gaps', { timeout: TIMEOUT }, (t) => continuityCase(t, { lib: 'dash', manifest: 'index.mpd' }));
  test('Shaka plays index.mpd across both gaps', { timeout: TIMEOUT }, (t) => continuityCase(t, { lib: 'shaka', manifest: 'index.mpd' }));
});
