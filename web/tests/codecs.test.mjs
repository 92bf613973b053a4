// Issue 14 §4: Weir's player page checks MediaSource.isTypeSupported on the
// stream's CODECS before it plays. An HEVC stream published with ffmpeg 9
// (Enhanced RTMP `hvc1`) in a Chromium that cannot decode HEVC gets a notice
// that names the codec and gives the VLC URL, never a black box.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { ASSET_DIR, launchBrowser, newPage, poll, publish, startWeir, waitForStream } from './harness.mjs';

const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

/** ffmpeg 9 from scripts/test.sh (WEIR_FFMPEG9). */
function ffmpeg9() {
  const bin = process.env.WEIR_FFMPEG9;
  if (!bin || !fs.existsSync(bin)) return null;
  return bin;
}

test('the player page names a codec the browser cannot decode and offers VLC', { timeout: 180_000 }, async (t) => {
  const bin = ffmpeg9();
  if (!bin) {
    t.skip('WEIR_FFMPEG9 is not set: run ./scripts/test.sh, which installs ffmpeg 9');
    return;
  }
  const asset = path.join(ASSET_DIR, 'hevc-aac-8s.flv');
  if (!fs.existsSync(asset)) {
    fs.mkdirSync(ASSET_DIR, { recursive: true });
    const tmp = `${asset}.${process.pid}.tmp.flv`;
    const r = spawnSync(
      bin,
      ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
        '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-t', '8', '-c:v', 'libx265', '-preset', 'ultrafast', '-g', '30', '-x265-params', 'log-level=error:info=0',
        '-c:a', 'aac', '-f', 'flv', tmp],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 },
    );
    assert.equal(r.status, 0, `encoding the HEVC asset: ${r.stderr}`);
    fs.renameSync(tmp, asset);
  }
  const weir = await startWeir();
  cleanup.push(() => weir.stop());
  const publisher = publish(weir.rtmpUrl('hevc'), asset, { bin });
  cleanup.push(() => publisher.kill());
  await waitForStream(weir, 'hevc', { minSegments: 2, publisher });
  const browser = await launchBrowser();
  cleanup.push(() => browser.close());
  const { page, console: lines } = await newPage(browser);
  await page.goto(`${weir.http}/live/hevc/`);
  const decodable = await page.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L60.90"'));
  if (decodable) {
    t.skip('this Chromium decodes HEVC: nothing to tell the viewer');
    return;
  }
  const seen = await poll(
    () =>
      page.evaluate(() => {
        const w = window.weirPlayer;
        return w && w.state === 'unsupported'
          ? { undecodable: w.undecodable, notice: document.getElementById('notice').textContent }
          : null;
      }),
    { timeoutMs: 20_000, what: "weirPlayer.state === 'unsupported'" },
  ).catch((e) => {
    throw new Error(`${e.message}\n${lines.join('\n')}`);
  });
  assert.deepEqual(seen.undecodable, ['HEVC (hvc1.1.6.L60.90)']);
  assert.match(seen.notice, /cannot decode HEVC \(hvc1\.1\.6\.L60\.90\)/);
  assert.match(seen.notice, new RegExp(`vlc ${weir.http.replace(/[.]/g, '\\.')}/live/hevc/index\\.m3u8`));
});
