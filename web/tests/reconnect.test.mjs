// Checklist §8 case 19 (the headless half): hls.js keeps playing across a
// publisher reconnect. After 10 s of playback the ffmpeg publisher is killed
// with SIGKILL and a new one publishes the same key at once (well within
// Weir's 10 s grace period and the checklist's 3 s); playback must go on:
// currentTime advances >= 25 s in total, no fatal hls.js error. Stalls
// around the reconnect are allowed and reported.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ensureAssets, playbackCase } from './harness.mjs';

before(ensureAssets, { timeout: 300_000 });

test('hls.js keeps playing across a publisher reconnect', { timeout: 180_000 }, async (t) => {
  let reconnect = null;
  const ctx = await playbackCase(t, {
    lib: 'hls',
    manifest: 'index.m3u8',
    seconds: 30,
    maxSeconds: 50,
    until: (_s, advanced) => advanced >= 25,
    allowStalls: true,
    allowNonFatal: true,
    onTick: async (elapsed, s, c) => {
      if (reconnect && !reconnect.playlist && elapsed >= reconnect.atElapsedMs + 8000) {
        // Informational: the media playlist a few segments after the reconnect.
        const url = new URL(c.stream.media[0].uri, c.weir.url(c.key, 'index.m3u8')).href;
        reconnect.playlist = await fetch(url).then((r) => r.text());
      }
      if (reconnect || elapsed < 10_000) return;
      reconnect = { atElapsedMs: elapsed, atCurrentTime: s.currentTime };
      const t0 = Date.now();
      await c.publisher.kill('SIGKILL');
      c.publisher = c.publish();
      reconnect.gapMs = Date.now() - t0;
    },
    reportExtra: (_c, end) => ({
      reconnectGap: reconnect ? `${reconnect.gapMs}ms` : 'none',
      nonFatal: [...new Set(end.errors.map((e) => e.details))].join(',') || 'none',
    }),
  });
  assert.ok(reconnect, 'the publisher was never restarted');
  assert.ok(reconnect.gapMs < 3000, `new publisher after ${reconnect.gapMs} ms (>= 3 s)`);
  const after = ctx.samples.filter((s) => s.elapsedMs > reconnect.atElapsedMs);
  const last = after.at(-1);
  assert.ok(
    last && last.currentTime - reconnect.atCurrentTime >= 10,
    `playback did not go on after the reconnect (currentTime ${reconnect.atCurrentTime} -> ${last && last.currentTime})`,
  );
  const media = reconnect.playlist || '';
  const disc = (media.match(/^#EXT-X-DISCONTINUITY\s*$/gm) || []).length;
  const discSeq = /^#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/m.exec(media);
  t.diagnostic(
    `media playlist 8 s after the reconnect: ${disc} EXT-X-DISCONTINUITY, DISCONTINUITY-SEQUENCE ${discSeq ? discSeq[1] : 'absent'}`,
  );
});
