// Weir's own pages in Chromium: the player page `/live/KEY/` reaches
// `window.weirPlayer.state === 'playing'` with HLS (the default), then with
// `?protocol=dash`; screenshots of the stream list and the player (desktop
// 1280x800 and phone 390x844) go to target/test-screens/.
//
// The pages are new: every check here skips (with the reason) while
// `/` or `/live/KEY/` answers 404 or the page sets no `window.weirPlayer`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { dumpLogs, ensureAssets, fmt, newPage, poll, report, screenshot, setupCase } from './harness.mjs';

before(ensureAssets, { timeout: 300_000 });

// One weir + publisher + browser for the whole file.
let ctx;
before(
  async () => {
    ctx = await setupCase(null);
  },
  { timeout: 120_000 },
);
after(() => ctx && ctx.close());

async function status(url) {
  const res = await fetch(url, { cache: 'no-store', redirect: 'manual' });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Opens the player page; returns null (after skipping `t`) when the page or
 * its `window.weirPlayer` is missing.
 */
async function openPlayer(t, query = '', viewport = {}) {
  const url = `${ctx.weir.http}/live/${ctx.key}/${query}`;
  const code = await status(url);
  if (code === 404) {
    t.skip(`${url} answers 404: the player page is not served (yet)`);
    return null;
  }
  assert.equal(code, 200, `${url} answered ${code}`);
  const p = await newPage(ctx.browser, viewport);
  await p.page.goto(url);
  const has = await poll(() => p.page.evaluate(() => typeof window.weirPlayer === 'object' && window.weirPlayer !== null), {
    timeoutMs: 10_000,
    what: 'window.weirPlayer',
  }).catch(() => false);
  if (!has) {
    await p.context.close();
    t.skip(`${url} loaded but set no window.weirPlayer`);
    return null;
  }
  return { ...p, url };
}

const playerState = (pg) =>
  pg.evaluate(() => {
    const w = window.weirPlayer;
    const v = document.querySelector('video');
    let latency = null;
    try {
      latency = w.latency();
    } catch {
      // not available yet
    }
    return {
      protocol: w.protocol,
      engine: w.engine || null,
      state: w.state,
      stalls: w.stalls,
      errors: w.errors,
      firstFrameMs: w.firstFrameMs,
      latency,
      currentTime: v ? v.currentTime : null,
    };
  });

async function waitState(p, want, timeoutMs = 30_000) {
  return poll(
    async () => {
      const s = await playerState(p.page);
      if (s.state === 'error') throw Object.assign(new Error(`weirPlayer.state = 'error': ${JSON.stringify(s.errors)}`), { final: true });
      return s.state === want ? s : null;
    },
    { timeoutMs, intervalMs: 250, what: `weirPlayer.state === '${want}' on ${p.url}` },
  );
}

async function playsOn(t, p, protocol) {
  let s;
  try {
    s = await waitState(p, 'playing');
  } catch (e) {
    const now = await playerState(p.page).catch(() => null);
    throw new Error(`${e.message}\nweirPlayer: ${JSON.stringify(now)}\n${dumpLogs(ctx, p.console)}`);
  }
  assert.equal(s.protocol, protocol, `weirPlayer.protocol on ${p.url}`);
  // A few seconds of playback: the clock must move.
  const ct0 = s.currentTime;
  await poll(async () => (await playerState(p.page)).currentTime - ct0 >= 4, { timeoutMs: 15_000, what: 'currentTime +4 s' });
  const end = await playerState(p.page);
  report(t, {
    lib: `weir-player ${protocol}${end.engine ? ` (${end.engine})` : ''}`,
    ttff: `${end.firstFrameMs}ms`,
    latency: `${fmt(end.latency)}s`,
    stalls: end.stalls,
    errors: end.errors.length,
  });
  assert.equal(end.state, 'playing', `weirPlayer.state after playing: ${JSON.stringify(end)}`);
  assert.deepEqual(end.errors, [], `weirPlayer.errors\n${dumpLogs(ctx, p.console)}`);
  return end;
}

test('stream list page screenshot', { timeout: 60_000 }, async (t) => {
  const url = `${ctx.weir.http}/`;
  const code = await status(url);
  if (code === 404) {
    t.skip(`${url} answers 404: no stream list page (yet)`);
    return;
  }
  const p = await newPage(ctx.browser, { width: 1280, height: 800 });
  try {
    await p.page.goto(url);
    // Best effort: the list names the live stream once it has polled the API.
    await p.page
      .getByText(ctx.key, { exact: false })
      .first()
      .waitFor({ timeout: 10_000 })
      .catch(() => t.diagnostic(`the stream list never showed "${ctx.key}"`));
    t.diagnostic(`screenshot ${await screenshot(p.page, 'stream-list.png')}`);
  } finally {
    await p.context.close();
  }
});

test("weir player page plays HLS (default protocol)", { timeout: 90_000 }, async (t) => {
  const p = await openPlayer(t, '', { width: 1280, height: 800 });
  if (!p) return;
  try {
    await playsOn(t, p, 'hls');
    t.diagnostic(`screenshot ${await screenshot(p.page, 'player.png')}`);
  } finally {
    await p.context.close();
  }
});

test('weir player page plays DASH (?protocol=dash)', { timeout: 90_000 }, async (t) => {
  const p = await openPlayer(t, '?protocol=dash', { width: 1280, height: 800 });
  if (!p) return;
  try {
    await playsOn(t, p, 'dash');
  } finally {
    await p.context.close();
  }
});

test('weir player page on a phone screen (screenshot)', { timeout: 90_000 }, async (t) => {
  const p = await openPlayer(t, '', { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  if (!p) return;
  try {
    const s = await waitState(p, 'playing').catch((e) => t.diagnostic(`phone layout: ${e.message}`));
    // A second of playback, so the picture and the stats panel are filled in.
    if (s) {
      await poll(async () => (await playerState(p.page)).currentTime - s.currentTime >= 1, { timeoutMs: 10_000, what: 'currentTime +1 s' }).catch(
        () => {},
      );
    }
    t.diagnostic(`screenshot ${await screenshot(p.page, 'player-phone.png')}`);
  } finally {
    await p.context.close();
  }
});

// Issue 12: while the publisher is away (kill -9 here) the stream is listed
// as `reconnecting`; the page says so and keeps its player (it used to tear
// it down as if the stream had ended), and playback goes on when a new
// publisher of the key comes back. Last in this file: it replaces the
// file's publisher.
test('weir player page keeps playing while the publisher reconnects', { timeout: 120_000 }, async (t) => {
  const p = await openPlayer(t, '', { width: 1280, height: 800 });
  if (!p) return;
  const badge = () => p.page.evaluate(() => document.getElementById('badge')?.textContent ?? null);
  try {
    const s0 = await waitState(p, 'playing');
    await ctx.publisher.kill('SIGKILL');
    await poll(async () => ((await badge()) === 'Reconnecting' ? true : null), {
      timeoutMs: 10_000,
      what: 'the badge says Reconnecting',
    });
    const during = await playerState(p.page);
    t.diagnostic(`screenshot ${await screenshot(p.page, 'player-reconnecting.png')}`);
    assert.equal(during.state, 'playing', `the player was torn down while reconnecting: ${JSON.stringify(during)}`);
    ctx.publisher = ctx.publish();
    await poll(async () => ((await badge()) === 'Live' ? true : null), { timeoutMs: 20_000, what: 'the badge says Live again' });
    await poll(async () => (await playerState(p.page)).currentTime - during.currentTime >= 6, {
      timeoutMs: 30_000,
      what: 'currentTime +6 s after the reconnect',
    });
    const end = await playerState(p.page);
    report(t, {
      lib: 'weir-player reconnect (hls)',
      advanced: `${fmt(end.currentTime - s0.currentTime)}s`,
      latency: `${fmt(end.latency)}s`,
      stalls: end.stalls,
      errors: end.errors.length,
    });
    assert.equal(end.state, 'playing', JSON.stringify(end));
    assert.deepEqual(end.errors, [], `weirPlayer.errors\n${dumpLogs(ctx, p.console)}`);
  } finally {
    await p.context.close();
  }
});
