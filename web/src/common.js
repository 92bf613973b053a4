// Helpers shared by the stream list and the player page (plain script, no
// modules: everything hangs off window.Weir).
(function () {
  'use strict';

  /** Asset version of this build, appended to lazily loaded scripts. */
  const VERSION = '__WEIR_ASSET_VERSION__';

  /** GET /api/streams → array of streams; throws on network/HTTP errors. */
  async function fetchStreams() {
    const opts = { cache: 'no-store', headers: { Accept: 'application/json' } };
    if (typeof AbortSignal !== 'undefined' && AbortSignal.timeout) {
      opts.signal = AbortSignal.timeout(5000);
    }
    const res = await fetch('/api/streams', opts);
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const body = await res.json();
    return Array.isArray(body && body.streams) ? body.streams : [];
  }

  function bitrate(bps) {
    if (typeof bps !== 'number' || !isFinite(bps) || bps <= 0) return '—';
    if (bps >= 1e6) return (bps / 1e6).toFixed(bps >= 1e7 ? 1 : 2) + ' Mb/s';
    if (bps >= 1e3) return Math.round(bps / 1e3) + ' kb/s';
    return Math.round(bps) + ' b/s';
  }

  function duration(ms) {
    if (typeof ms !== 'number' || !isFinite(ms) || ms < 0) return '—';
    const total = Math.floor(ms / 1000);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const two = (n) => String(n).padStart(2, '0');
    return h > 0 ? h + ':' + two(m) + ':' + two(s) : m + ':' + two(s);
  }

  function seconds(value, digits) {
    if (typeof value !== 'number' || !isFinite(value)) return '—';
    return value.toFixed(digits === undefined ? 1 : digits) + ' s';
  }

  const AVC_PROFILES = {
    '42': 'Baseline',
    '4d': 'Main',
    '58': 'Extended',
    '64': 'High',
    '6e': 'High 10',
    '7a': 'High 4:2:2',
    'f4': 'High 4:4:4',
  };

  /** RFC 6381 codec string → a readable name ("avc1.64001f" → "H.264 High"). */
  function codecName(codec) {
    if (typeof codec !== 'string' || codec === '') return '—';
    const c = codec.toLowerCase();
    if (c.startsWith('avc1') || c.startsWith('avc3')) {
      const profile = AVC_PROFILES[c.slice(5, 7)];
      return profile ? 'H.264 ' + profile : 'H.264';
    }
    if (c.startsWith('hvc1') || c.startsWith('hev1')) return 'HEVC';
    if (c.startsWith('av01')) return 'AV1';
    if (c.startsWith('vp09') || c === 'vp9') return 'VP9';
    if (c === 'mp4a.40.2') return 'AAC-LC';
    if (c === 'mp4a.40.5') return 'HE-AAC';
    if (c === 'mp4a.40.29') return 'HE-AACv2';
    if (c.startsWith('mp4a.40')) return 'AAC';
    if (c === 'mp4a.69' || c === 'mp4a.6b' || c === 'mp3') return 'MP3';
    if (c === 'opus') return 'Opus';
    if (c === 'flac' || c === 'fla') return 'FLAC';
    if (c === 'ac-3') return 'AC-3';
    if (c === 'ec-3') return 'E-AC-3';
    return codec;
  }

  function resolution(video) {
    if (!video || !video.width || !video.height) return '—';
    return video.width + '×' + video.height;
  }

  function fps(video) {
    if (!video || typeof video.frame_rate !== 'number' || !(video.frame_rate > 0)) return '—';
    const r = video.frame_rate;
    return (Math.abs(r - Math.round(r)) < 0.05 ? String(Math.round(r)) : r.toFixed(2)) + ' fps';
  }

  /** A track Weir refuses (an unsupported codec): what the API says why. */
  function refused(track) {
    return track && track.error ? 'not packaged: ' + track.error : null;
  }

  function videoSummary(video) {
    if (!video) return 'none';
    if (refused(video)) return refused(video);
    return [codecName(video.codec), resolution(video), fps(video)].filter((s) => s !== '—').join(' · ');
  }

  function channels(n) {
    if (n === 1) return 'mono';
    if (n === 2) return 'stereo';
    return n ? n + ' ch' : '';
  }

  /** "48 kHz · stereo" */
  function sampling(audio) {
    if (!audio) return '';
    const rate = audio.sample_rate ? (audio.sample_rate / 1000).toLocaleString('en', { maximumFractionDigits: 2 }) + ' kHz' : '';
    return [rate, channels(audio.channels)].filter(Boolean).join(' · ');
  }

  function audioSummary(audio) {
    if (!audio) return 'none';
    if (refused(audio)) return refused(audio);
    return [codecName(audio.codec), sampling(audio)].filter((s) => s && s !== '—').join(' · ');
  }

  /** The RTMP host to show in publishing hints: the page's own host name. */
  function host() {
    return location.hostname || 'localhost';
  }

  /** Select the text of `node` (a fallback for copying by hand). */
  function selectNode(node) {
    const sel = window.getSelection && window.getSelection();
    if (!sel) return false;
    const range = document.createRange();
    range.selectNodeContents(node);
    sel.removeAllRanges();
    sel.addRange(range);
    return true;
  }

  /**
   * Copy `text`, through the async Clipboard API when the page may use it
   * (secure contexts: https or localhost), else by selecting `node` and
   * execCommand('copy'). Resolves to true when copied; when not, the text
   * is left selected for the user to copy.
   */
  async function copyText(text, node) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch (e) {
      // fall through to the selection fallback
    }
    if (!node || !selectNode(node)) return false;
    try {
      return document.execCommand('copy');
    } catch (e) {
      return false;
    }
  }

  /** Wire every `button[data-copy]` inside `root` to copy the element it names. */
  function wireCopyButtons(root, status) {
    root.addEventListener('click', async (ev) => {
      const btn = ev.target instanceof Element ? ev.target.closest('button[data-copy]') : null;
      if (!btn) return;
      const node = document.getElementById(btn.dataset.copy);
      if (!node) return;
      const ok = await copyText(node.textContent, node);
      if (!ok) selectNode(node);
      const label = btn.dataset.label || btn.textContent;
      btn.dataset.label = label;
      btn.textContent = ok ? 'Copied' : 'Selected';
      btn.classList.toggle('copied', ok);
      if (status) status.textContent = ok ? 'Copied to the clipboard' : 'Text selected: press Ctrl+C (⌘C) to copy';
      clearTimeout(btn._weirTimer);
      btn._weirTimer = setTimeout(() => {
        btn.textContent = label;
        btn.classList.remove('copied');
        if (status) status.textContent = '';
      }, 2000);
    });
  }

  window.Weir = {
    VERSION,
    fetchStreams,
    bitrate,
    duration,
    seconds,
    codecName,
    refused,
    resolution,
    fps,
    videoSummary,
    audioSummary,
    sampling,
    host,
    copyText,
    wireCopyButtons,
  };
})();
