// Checklist §8 case 58 (Shaka half): Shaka Player (Chromium, headless)
// plays Weir's dynamic MPD for 30 s: reaches `playing`, currentTime advances
// >= 25 s, no stall, no error event, and its console has no
// "availabilityStartTime seems to be inaccurate" warning (an MPD whose
// AST does not match the media it lists: DASH-MPD-08).
//
// Shaka 5 no longer prints that warning (it silently re-derives the
// presentation start from the segment end times: `autoCorrectDrift`), so the
// test also reports how far Shaka moved the start away from the MPD's
// @availabilityStartTime (`astShift`, informational).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { dumpLogs, ensureAssets, fmt, playbackCase } from './harness.mjs';

before(ensureAssets, { timeout: 300_000 });

test('Shaka plays index.mpd for 30 s without stalls, errors or an inaccurate-AST warning', { timeout: 150_000 }, async (t) => {
  const ctx = await playbackCase(t, {
    lib: 'shaka',
    manifest: 'index.mpd',
    reportExtra: (c, end) => {
      const ast = /availabilityStartTime="([^"]+)"/.exec(c.stream.mpd);
      const astMs = ast ? Date.parse(ast[1]) : NaN;
      const shift = (end.snapshot.shakaPresentationStartMs - astMs) / 1000;
      return { astShift: `${fmt(shift, 2)}s` };
    },
  });
  const warnings = ctx.console.filter((l) => /availabilityStartTime seems to be inaccurate/i.test(l));
  assert.deepEqual(warnings, [], `Shaka warned about the MPD's availabilityStartTime\n${dumpLogs(ctx, ctx.console)}`);
});
