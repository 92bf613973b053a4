// Checklist §8 case 42: single-track streams. Audio-only (`-vn`) and
// video-only (`-an`, stream-copied from the A/V asset) each play in hls.js:
// `playing` within 10 s of loading the page, currentTime advances >= 25 s
// in 30 s, no stall, no error, and the multivariant playlist (CODECS) and
// the decoded media hold only the track that was published.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ASSETS, ensureAssets, playbackCase } from './harness.mjs';

before(ensureAssets, { timeout: 300_000 });

test('hls.js plays an audio-only stream', { timeout: 150_000 }, async (t) => {
  const ctx = await playbackCase(t, { lib: 'hls', manifest: 'index.m3u8', asset: ASSETS.audio, label: 'audio-only' });
  const mv = ctx.stream.multivariant;
  assert.match(mv, /mp4a\.40\.2/, `multivariant playlist lacks the AAC codec:\n${mv}`);
  assert.doesNotMatch(mv, /avc1|avc3|hvc1|hev1|av01/, `audio-only multivariant playlist names a video codec:\n${mv}`);
  assert.equal(ctx.end.snapshot.videoWidth, 0, 'an audio-only stream decoded a picture');
  for (const level of ctx.end.levels || []) {
    assert.ok(!level.videoCodec, `hls.js found a video codec: ${JSON.stringify(ctx.end.levels)}`);
  }
  assert.ok(ctx.end.ttffMs <= 10_000, `first playing after ${ctx.end.ttffMs} ms (> 10 s)`);
});

test('hls.js plays a video-only stream', { timeout: 150_000 }, async (t) => {
  const ctx = await playbackCase(t, { lib: 'hls', manifest: 'index.m3u8', asset: ASSETS.video, label: 'video-only' });
  const mv = ctx.stream.multivariant;
  assert.match(mv, /avc1\./, `multivariant playlist lacks the H.264 codec:\n${mv}`);
  assert.doesNotMatch(mv, /mp4a|TYPE=AUDIO/, `video-only multivariant playlist names audio:\n${mv}`);
  assert.equal(ctx.end.snapshot.videoWidth, 1280, 'no 1280x720 picture decoded');
  assert.ok(ctx.end.ttffMs <= 10_000, `first playing after ${ctx.end.ttffMs} ms (> 10 s)`);
});
