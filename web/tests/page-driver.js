// Browser side of the playback tests: runs inside the test page that
// harness.mjs serves (its own origin, so every request to Weir is
// cross-origin). Plays `?src=` with `?lib=hls|dash|shaka` in the muted
// <video id="video"> and keeps what happened in `window.testState`:
//   started       the first `playing` event was seen
//   ttffMs        ms from navigation start to that first `playing`
//   stalls        `waiting` events after the first `playing` (all of them:
//                 harness.mjs counts those >= STALL_MS as stalls)
//   stallLog      [{ at, ms, buffered }] where (currentTime), how long each
//                 lasted (null: still waiting) and what was buffered
//   errors        player error events (and <video> errors), oldest first
//   fatal         the first fatal one, or null
//   snapshot()    { currentTime, latency, buffer, ... } right now
//   latency()     live latency in seconds as the player sees it, or null
//   parts         hls.js: LL-HLS parts loaded (FRAG_LOADED with a part)
// `?config=` (optional, JSON) is the player's configuration: `new Hls(config)`
// for hls.js, `updateSettings(config)` for dash.js, `configure(config)` for Shaka.
(function () {
  'use strict';
  const params = new URLSearchParams(location.search);
  const lib = params.get('lib');
  const src = params.get('src');
  const config = params.get('config') ? JSON.parse(params.get('config')) : null;
  const video = document.getElementById('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;

  const S = (window.testState = {
    lib,
    src,
    libVersion: null,
    started: false,
    ttffMs: null,
    firstPlayingCurrentTime: null,
    stalls: 0,
    stallLog: [],
    errors: [],
    fatal: null,
    levels: null,
    mse: null,
    config,
    parts: 0,
  });
  let player = null;
  let waitingSince = null;

  function ranges(r) {
    const out = [];
    for (let i = 0; i < r.length; i++) out.push([+r.start(i).toFixed(3), +r.end(i).toFixed(3)]);
    return out;
  }

  function error(e) {
    e.wallMs = Math.round(performance.now());
    e.currentTime = video.currentTime;
    S.errors.push(e);
    if (e.fatal && !S.fatal) S.fatal = e;
  }
  window.addEventListener('error', (ev) =>
    error({ source: 'page', fatal: true, message: String(ev.message) }),
  );
  window.addEventListener('unhandledrejection', (ev) =>
    error({ source: 'page', fatal: true, message: 'unhandled rejection: ' + String(ev.reason && ev.reason.message ? ev.reason.message : ev.reason) }),
  );

  video.addEventListener('playing', () => {
    if (!S.started) {
      S.started = true;
      S.ttffMs = Math.round(performance.now());
      S.firstPlayingCurrentTime = video.currentTime;
    }
    if (waitingSince !== null) {
      S.stallLog[S.stallLog.length - 1].ms = Math.round(performance.now() - waitingSince);
      waitingSince = null;
    }
  });
  video.addEventListener('waiting', () => {
    if (!S.started || waitingSince !== null) return;
    waitingSince = performance.now();
    S.stalls++;
    S.stallLog.push({ at: video.currentTime, wallMs: Math.round(waitingSince), ms: null, buffered: ranges(video.buffered) });
  });
  video.addEventListener('error', () => {
    const e = video.error;
    error({ source: 'video', fatal: true, code: e ? e.code : null, message: e ? e.message : 'media error' });
  });

  try {
    S.mse = {
      avc: MediaSource.isTypeSupported('video/mp4; codecs="avc1.42c01f"'),
      aac: MediaSource.isTypeSupported('audio/mp4; codecs="mp4a.40.2"'),
    };
  } catch (e) {
    S.mse = { error: String(e) };
  }

  S.latency = function () {
    try {
      if (!player) return null;
      let l = null;
      if (lib === 'hls') l = player.latency;
      else if (lib === 'dash') l = player.getCurrentLiveLatency();
      else if (lib === 'shaka') {
        const stats = player.getStats();
        if (Number.isFinite(stats.liveLatency) && stats.liveLatency > 0) l = stats.liveLatency;
        else {
          const start = player.getPresentationStartTimeAsDate();
          if (start) l = Date.now() / 1000 - (start.getTime() / 1000 + video.currentTime);
        }
      }
      return Number.isFinite(l) ? l : null;
    } catch (e) {
      return null;
    }
  };

  S.snapshot = function () {
    const b = video.buffered;
    let bufferAhead = 0;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= video.currentTime + 0.1 && b.end(i) > video.currentTime) bufferAhead = b.end(i) - video.currentTime;
    }
    const snap = {
      currentTime: video.currentTime,
      paused: video.paused,
      readyState: video.readyState,
      videoWidth: video.videoWidth,
      videoHeight: video.videoHeight,
      bufferAhead,
      latency: S.latency(),
      droppedFrames: null,
      totalFrames: null,
      started: S.started,
      stalls: S.stalls,
      errors: S.errors.length,
      fatal: S.fatal,
      playbackRate: video.playbackRate,
      // Wall clock minus the playhead's wall-clock time: hls.js from
      // EXT-X-PROGRAM-DATE-TIME, dash.js from availabilityStartTime (its
      // getCurrentLiveLatency already is that, on the UTCTiming clock).
      wallLatency: null,
      targetLatency: null,
      lowLatencyMode: null,
    };
    try {
      if (lib === 'hls' && player) {
        const d = player.playingDate;
        if (d) snap.wallLatency = (Date.now() - d.getTime()) / 1000;
        snap.targetLatency = player.targetLatency;
        snap.lowLatencyMode = !!player.lowLatencyMode;
      } else if (lib === 'dash' && player) {
        snap.wallLatency = snap.latency;
        snap.targetLatency = player.getTargetLiveDelay();
        snap.lowLatencyMode = player.getLowLatencyModeEnabled();
      }
    } catch (e) {
      // player not ready
    }
    if (video.getVideoPlaybackQuality) {
      const q = video.getVideoPlaybackQuality();
      snap.droppedFrames = q.droppedVideoFrames;
      snap.totalFrames = q.totalVideoFrames;
    }
    if (lib === 'shaka' && player) {
      try {
        const start = player.getPresentationStartTimeAsDate();
        snap.shakaPresentationStartMs = start ? start.getTime() : null;
      } catch (e) {
        snap.shakaPresentationStartMs = null;
      }
    }
    return snap;
  };

  async function start() {
    if (lib === 'hls') {
      S.libVersion = Hls.version;
      if (!Hls.isSupported()) throw new Error('hls.js: MediaSource is not supported in this browser');
      const hls = (player = config ? new Hls(config) : new Hls());
      hls.on(Hls.Events.FRAG_LOADED, (_ev, d) => {
        if (d.part) S.parts++;
      });
      hls.on(Hls.Events.ERROR, (_ev, d) =>
        error({
          source: 'hls.js',
          type: d.type,
          details: d.details,
          fatal: !!d.fatal,
          reason: d.reason || (d.error && d.error.message) || null,
          url: (d.frag && d.frag.url) || (d.context && d.context.url) || d.url || null,
          httpStatus: d.response ? d.response.code : null,
        }),
      );
      hls.on(Hls.Events.MANIFEST_PARSED, (_ev, d) => {
        S.levels = d.levels.map((l) => ({
          width: l.width,
          height: l.height,
          videoCodec: l.videoCodec || null,
          audioCodec: l.audioCodec || null,
        }));
        S.audioTracks = (d.audioTracks || []).map((a) => ({ name: a.name, codec: a.audioCodec || null }));
      });
      hls.loadSource(src);
      hls.attachMedia(video);
    } else if (lib === 'dash') {
      const p = (player = dashjs.MediaPlayer().create());
      S.libVersion = p.getVersion();
      if (config) p.updateSettings(config);
      p.on(dashjs.MediaPlayer.events.ERROR, (e) => {
        const err = e.error || e;
        error({ source: 'dash.js', fatal: true, code: err.code, message: String(err.message || err) });
      });
      p.on(dashjs.MediaPlayer.events.PLAYBACK_ERROR, (e) =>
        error({ source: 'dash.js', fatal: true, message: 'playback error: ' + String((e.error && e.error.message) || e.error) }),
      );
      p.initialize(video, src, true);
    } else if (lib === 'shaka') {
      S.libVersion = shaka.Player.version;
      shaka.polyfill.installAll();
      if (!shaka.Player.isBrowserSupported()) throw new Error('Shaka: browser not supported');
      const p = (player = new shaka.Player());
      if (config) p.configure(config);
      p.addEventListener('error', (ev) => {
        const d = ev.detail || {};
        error({
          source: 'shaka',
          fatal: d.severity === 2,
          severity: d.severity,
          category: d.category,
          code: d.code,
          message: d.message || 'shaka error ' + d.code,
          data: JSON.stringify(d.data || null).slice(0, 400),
        });
      });
      await p.attach(video);
      await p.load(src);
      S.shakaLoaded = true;
      video.play().catch((e) => error({ source: 'video', fatal: false, message: 'play(): ' + e.message }));
    } else {
      throw new Error('unknown lib ' + lib);
    }
    window.testPlayer = player;
  }

  start().catch((e) =>
    error({ source: lib || 'page', fatal: true, code: e && e.code, message: 'start failed: ' + String(e && e.message ? e.message : e) }),
  );
})();
