// Checklist §8 case 58 (dash.js half): dash.js (Chromium, headless) plays
// Weir's dynamic MPD (SegmentTimeline, UTCTiming on /time) for 30 s:
// reaches `playing`, currentTime advances >= 25 s, no stall, no error event.
import { before, test } from 'node:test';
import { ensureAssets, playbackCase } from './harness.mjs';

before(ensureAssets, { timeout: 300_000 });

test('dash.js plays index.mpd for 30 s without stalls or errors', { timeout: 150_000 }, async (t) => {
  await playbackCase(t, { lib: 'dash', manifest: 'index.mpd' });
});
