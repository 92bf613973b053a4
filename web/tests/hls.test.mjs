// Checklist §8 case 46: hls.js (Chromium, headless) plays Weir's fMP4 HLS
// for 30 s: reaches `playing`, currentTime advances >= 25 s, no stall after
// the first frame, no hls.js error (bufferStalledError, FRAG_PARSING_ERROR…).
import { before, test } from 'node:test';
import { ensureAssets, playbackCase } from './harness.mjs';

before(ensureAssets, { timeout: 300_000 });

test('hls.js plays index.m3u8 for 30 s without stalls or errors', { timeout: 150_000 }, async (t) => {
  await playbackCase(t, { lib: 'hls', manifest: 'index.m3u8' });
});
