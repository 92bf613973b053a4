// Player page for /APP/KEY/: HLS (hls.js, or the browser's own HLS on Safari
// without MSE) or DASH (dash.js), chosen with ?protocol=hls|dash. Polls
// /api/streams every 2 s, starts playing by itself when the stream is live,
// tears the player down when it is not, and retries 2 s after fatal errors.
//
// For tests, window.weirPlayer reports what is going on:
//   protocol     'hls' | 'dash'
//   engine       'hls.js' | 'native' | 'dash.js' | 'shaka' | null
//   state        'waiting' (no stream yet, loading, or torn down)
//                'playing' (playback started; brief rebuffering included)
//                'error'   (fatal error, a retry is scheduled)
//                'unsupported' (the browser cannot decode a codec of the
//                          stream; `undecodable` lists them, the notice
//                          gives the VLC URL)
//   stream       'unknown' | 'live' | 'reconnecting' | 'ended' | 'absent' (from /api/streams)
//   stalls       `waiting` events after the first `playing` of an attempt
//   errors       fatal errors, oldest first: { time, protocol, engine, message }
//   warnings     non-fatal player errors (last 50), same shape
//   latency()    live latency in seconds, or null
//   buffer()     buffered seconds ahead of currentTime
//   firstFrameMs ms from the start of the attempt that first played to its
//                first `playing` event (null until then)
//   attempts     how many times a player was created
// `?engine=shaka` plays either protocol with Shaka Player instead.
(function () {
  'use strict';

  const W = window.Weir;
  const POLL_MS = 2000;
  const RETRY_MS = 2000;
  const STATS_MS = 1000;
  const MAX_LOG = 50;
  /** Playing, not paused, yet the playhead has not moved for this long: restart. */
  const STUCK_MS = 15000;

  // ---- where we are ------------------------------------------------------

  const segments = location.pathname.split('/').filter(Boolean);
  const rawApp = segments[0] || 'live';
  const rawKey = segments[1] || '';
  const decode = (s) => {
    try {
      return decodeURIComponent(s);
    } catch (e) {
      return s;
    }
  };
  const app = decode(rawApp);
  const key = decode(rawKey);
  const base = location.origin + '/' + rawApp + '/' + rawKey + '/';
  const params = new URLSearchParams(location.search);
  // Signed play URLs: the page's ?token= goes on the manifests, and Weir
  // carries it into every URI they list.
  const token = params.get('token');
  const signed = token ? '?token=' + encodeURIComponent(token) : '';
  const manifest = { hls: base + 'index.m3u8' + signed, dash: base + 'index.mpd' + signed };

  let protocol = params.get('protocol') === 'dash' ? 'dash' : 'hls';
  const forceShaka = params.get('engine') === 'shaka';

  // ---- elements ----------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const video = $('video');
  const notice = $('notice');
  const noticeTitle = $('notice-title');
  const noticeText = $('notice-text');
  const badge = $('badge');
  const stats = {
    protocol: $('st-protocol'),
    engine: $('st-engine'),
    state: $('st-state'),
    stream: $('st-stream'),
    video: $('st-video'),
    resolution: $('st-resolution'),
    fps: $('st-fps'),
    audio: $('st-audio'),
    sampling: $('st-sampling'),
    bitrate: $('st-bitrate'),
    uptime: $('st-uptime'),
    latency: $('st-latency'),
    buffer: $('st-buffer'),
    stalls: $('st-stalls'),
    dropped: $('st-dropped'),
    first: $('st-first'),
  };

  document.title = key + ' · Weir';
  $('title').textContent = key;

  $('url-hls').textContent = manifest.hls;
  $('url-dash').textContent = manifest.dash;
  $('url-vlc').textContent = 'vlc ' + manifest.hls;
  $('url-ffplay').textContent = 'ffplay ' + manifest.hls;
  $('url-curl').textContent = 'curl ' + manifest.hls;
  W.wireCopyButtons($('urls'), $('copy-status'));

  // ---- state -------------------------------------------------------------

  /** The running player: { name, label, destroy(), latency() } or null. */
  let engine = null;
  /** Bumped on every start/teardown: callbacks of an old player are ignored. */
  let generation = 0;
  let starting = false;
  let retryTimer = null;
  let attemptStart = 0;
  let attemptPlayed = false;
  /** The stream's entry from /api/streams (null when absent). */
  let info = null;

  function entry(message) {
    return { time: new Date().toISOString(), protocol, engine: engine ? engine.name : null, message: String(message) };
  }

  const weirPlayer = {
    protocol,
    engine: null,
    state: 'waiting',
    stream: 'unknown',
    stalls: 0,
    errors: [],
    warnings: [],
    firstFrameMs: null,
    attempts: 0,
    latency() {
      if (!engine || weirPlayer.state !== 'playing') return null;
      let value = null;
      try {
        value = engine.latency();
      } catch (e) {
        value = null;
      }
      return typeof value === 'number' && isFinite(value) && value > 0 ? value : null;
    },
    buffer() {
      return bufferAhead();
    },
  };
  window.weirPlayer = weirPlayer;

  function setState(state) {
    weirPlayer.state = state;
  }

  // ---- notice over the video ---------------------------------------------

  function showNotice(kind, title, text) {
    notice.dataset.kind = kind;
    if (noticeTitle.textContent !== title) noticeTitle.textContent = title;
    const body = text || '';
    if (noticeText.textContent !== body) noticeText.textContent = body;
    notice.hidden = false;
  }

  function hideNotice() {
    notice.hidden = true;
  }

  const rtmpUrl = 'rtmp://' + W.host() + ':1935/' + app + '/' + key;

  function showOffline() {
    if (!info) {
      showNotice('offline', 'This stream is not live', 'Waiting for a publisher on ' + rtmpUrl + '. Playback starts by itself when it goes live.');
    } else {
      showNotice('offline', 'The stream has ended', 'Waiting for it to come back live; playback starts again by itself.');
    }
  }

  // ---- libraries (loaded on demand, embedded in the weir binary) ---------

  const scripts = {};
  function loadScript(name) {
    if (!scripts[name]) {
      scripts[name] = new Promise((resolve, reject) => {
        const s = document.createElement('script');
        s.src = '/assets/' + name + '?v=' + W.VERSION;
        s.async = true;
        s.onload = () => resolve();
        s.onerror = () => {
          delete scripts[name];
          s.remove();
          reject(new Error('cannot load /assets/' + name));
        };
        document.head.appendChild(s);
      });
    }
    return scripts[name];
  }

  const hasMSE = () => !!(window.MediaSource || window.ManagedMediaSource || window.WebKitMediaSource);

  // Each engine: create(gen) → { name, label, destroy(), latency() }; reports
  // fatal errors through fatal(gen, message) and others through warn().

  async function createHlsJs(gen) {
    await loadScript('hls.min.js');
    const Hls = window.Hls;
    const hls = new Hls({ enableWorker: true, lowLatencyMode: false, backBufferLength: 30 });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      const message = 'hls.js ' + data.type + ': ' + data.details + (data.response && data.response.code ? ' (HTTP ' + data.response.code + ')' : '');
      if (data.fatal) fatal(gen, message);
      else warn(gen, message);
    });
    hls.loadSource(manifest.hls);
    hls.attachMedia(video);
    return {
      name: 'hls.js',
      label: 'hls.js ' + Hls.version,
      latency: () => hls.latency,
      destroy: () => hls.destroy(),
    };
  }

  function createNative(gen) {
    const onError = () => {
      const err = video.error;
      fatal(gen, 'native HLS: ' + (err ? 'code ' + err.code + (err.message ? ' ' + err.message : '') : 'error'));
    };
    video.addEventListener('error', onError);
    video.src = manifest.hls;
    return {
      name: 'native',
      label: 'Browser (native HLS)',
      latency: () => {
        // Needs EXT-X-PROGRAM-DATE-TIME; NaN otherwise.
        const start = video.getStartDate ? video.getStartDate().getTime() : NaN;
        return isFinite(start) ? (Date.now() - start) / 1000 - video.currentTime : null;
      },
      destroy: () => video.removeEventListener('error', onError),
    };
  }

  async function createDashJs(gen) {
    await loadScript('dash.all.min.js');
    const dashjs = window.dashjs;
    const player = dashjs.MediaPlayer().create();
    player.updateSettings({ debug: { logLevel: dashjs.Debug && dashjs.Debug.LOG_LEVEL_WARNING !== undefined ? dashjs.Debug.LOG_LEVEL_WARNING : 3 } });
    const events = dashjs.MediaPlayer.events;
    const describe = (e) => {
      const err = e && e.error;
      if (!err) return String((e && e.type) || 'error');
      return (err.code !== undefined ? err.code + ' ' : '') + (err.message || '');
    };
    player.on(events.ERROR, (e) => fatal(gen, 'dash.js error ' + describe(e)));
    player.on(events.PLAYBACK_ERROR, (e) => fatal(gen, 'dash.js playback error ' + describe(e)));
    player.initialize(video, manifest.dash, true);
    return {
      name: 'dash.js',
      label: 'dash.js ' + player.getVersion(),
      latency: () => player.getCurrentLiveLatency(),
      destroy: () => player.destroy(),
    };
  }

  async function createShaka(gen, url) {
    await loadScript('shaka-player.compiled.js');
    const shaka = window.shaka;
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) throw new Error('Shaka Player does not support this browser');
    const player = new shaka.Player();
    player.addEventListener('error', (ev) => {
      const err = ev.detail || {};
      const message = 'shaka error ' + err.code + ' (category ' + err.category + ')';
      if (err.severity === 2) fatal(gen, message);
      else warn(gen, message);
    });
    await player.attach(video);
    const handle = {
      name: 'shaka',
      label: 'Shaka Player ' + shaka.Player.version,
      latency: () => player.getStats().liveLatency,
      destroy: () => player.destroy(),
    };
    player.load(url).catch((err) => {
      // A load interrupted by destroy() is not an error.
      if (err && err.code === 7000) return;
      fatal(gen, 'shaka load error ' + (err && err.code !== undefined ? err.code : err));
    });
    return handle;
  }

  function createEngine(gen) {
    if (forceShaka) return createShaka(gen, manifest[protocol]);
    if (protocol === 'dash') {
      if (!hasMSE()) return Promise.reject(new Error('DASH playback needs Media Source Extensions, which this browser lacks; try HLS'));
      return createDashJs(gen);
    }
    if (hasMSE()) {
      return loadScript('hls.min.js').then(() => {
        if (window.Hls.isSupported()) return createHlsJs(gen);
        if (video.canPlayType('application/vnd.apple.mpegurl')) return createNative(gen);
        throw new Error('this browser cannot play HLS');
      });
    }
    if (video.canPlayType('application/vnd.apple.mpegurl')) return Promise.resolve(createNative(gen));
    return Promise.reject(new Error('this browser cannot play HLS (no Media Source Extensions)'));
  }

  // ---- lifecycle ---------------------------------------------------------

  // A stream waiting for its publisher to come back ('reconnecting') keeps
  // its playlists: the player keeps playing what is buffered and carries
  // on when the publisher returns, on the same URLs.
  function isLive() {
    return !!info && (info.state === 'live' || info.state === 'reconnecting');
  }

  function log(list, e) {
    list.push(e);
    if (list.length > MAX_LOG) list.splice(0, list.length - MAX_LOG);
  }

  function warn(gen, message) {
    if (gen !== generation) return;
    log(weirPlayer.warnings, entry(message));
  }

  function fatal(gen, message) {
    if (gen !== generation) return;
    log(weirPlayer.errors, entry(message));
    teardown();
    setState('error');
    showNotice('error', 'Playback error', message + '. Retrying in 2 s…');
    scheduleRetry();
  }

  function scheduleRetry() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      retryTimer = null;
      if (isLive()) start();
      else {
        setState('waiting');
        showOffline();
      }
    }, RETRY_MS);
  }

  function teardown() {
    generation++;
    starting = false;
    attemptPlayed = false;
    const old = engine;
    engine = null;
    weirPlayer.engine = null;
    if (old) {
      try {
        old.destroy();
      } catch (e) {
        // a player that fails to clean up must not block the next one
      }
    }
    if (video.hasAttribute('src')) {
      video.removeAttribute('src');
      video.load();
    }
    setState('waiting');
  }

  /** Whether the manifest answers yet (a new stream has none until its first segment). */
  async function manifestReady() {
    try {
      const res = await fetch(manifest[protocol], { cache: 'no-store' });
      return res.ok;
    } catch (e) {
      return false;
    }
  }

  /** The stream's codecs this browser's Media Source cannot decode
   *  (HEVC or AC-3 in Chromium, say), as "HEVC (hvc1.1.6.L93.B0)". */
  function undecodable() {
    if (!info || !window.MediaSource || typeof MediaSource.isTypeSupported !== 'function') return [];
    const out = [];
    for (const [track, type] of [[info.video, 'video/mp4'], [info.audio, 'audio/mp4']]) {
      const codec = track && !track.error && track.codec;
      if (codec && !MediaSource.isTypeSupported(type + '; codecs="' + codec + '"')) {
        out.push(W.codecName(codec) + ' (' + codec + ')');
      }
    }
    return out;
  }

  async function start() {
    if (engine || starting || retryTimer) return;
    starting = true;
    const gen = ++generation;
    setState('waiting');
    showNotice('loading', 'Loading…', (protocol === 'dash' ? 'DASH' : 'HLS') + ' from ' + manifest[protocol]);
    if (!(await manifestReady())) {
      if (gen === generation) {
        starting = false;
        showNotice('loading', 'Waiting for the first segments…', 'The stream is live; its ' + (protocol === 'dash' ? 'MPD' : 'playlist') + ' is not ready yet.');
      }
      return;
    }
    if (gen !== generation || !isLive()) {
      if (gen === generation) starting = false;
      return;
    }
    const missing = undecodable();
    if (missing.length) {
      // A black box helps nobody: say what this browser lacks and where
      // the stream plays instead.
      starting = false;
      weirPlayer.undecodable = missing;
      setState('unsupported');
      showNotice(
        'error',
        'This browser cannot decode ' + missing.join(' and '),
        'Play the stream in VLC or ffplay instead: vlc ' + manifest.hls,
      );
      return;
    }
    attemptStart = performance.now();
    attemptPlayed = false;
    weirPlayer.attempts++;
    let created;
    try {
      created = await createEngine(gen);
    } catch (e) {
      if (gen !== generation) return;
      starting = false;
      log(weirPlayer.errors, entry(e && e.message ? e.message : e));
      setState('error');
      showNotice('error', 'Cannot play this stream here', (e && e.message ? e.message : String(e)) + '. Retrying in 2 s…');
      scheduleRetry();
      return;
    }
    if (gen !== generation) {
      // Torn down (protocol switch, stream ended) while loading.
      try {
        created.destroy();
      } catch (e) {
        // ignore
      }
      return;
    }
    starting = false;
    engine = created;
    weirPlayer.engine = created.name;
    // No video.play() here: dash.js must see the element's `play` event
    // itself (it starts its manifest refresh on it). The `autoplay`
    // attribute (or dash.js) starts playback; when a browser refuses it,
    // say so once the media could play.
    video.addEventListener(
      'canplay',
      () => {
        if (gen !== generation || !video.paused) return;
        const played = video.play();
        if (played && played.catch) {
          played.catch((err) => {
            if (gen === generation && err && err.name === 'NotAllowedError') {
              showNotice('paused', 'Press play to start', 'This browser blocked autoplay.');
            }
          });
        }
      },
      { once: true },
    );
  }

  video.addEventListener('playing', () => {
    if (!engine) return;
    if (!attemptPlayed) {
      attemptPlayed = true;
      if (weirPlayer.firstFrameMs === null) weirPlayer.firstFrameMs = Math.round(performance.now() - attemptStart);
    }
    setState('playing');
    hideNotice();
  });

  video.addEventListener('waiting', () => {
    if (engine && attemptPlayed && !video.seeking) weirPlayer.stalls++;
  });

  // ---- protocol switch ---------------------------------------------------

  const radios = document.querySelectorAll('input[name="protocol"]');
  for (const r of radios) {
    r.checked = r.value === protocol;
    r.addEventListener('change', () => {
      if (!r.checked || r.value === protocol) return;
      protocol = r.value === 'dash' ? 'dash' : 'hls';
      weirPlayer.protocol = protocol;
      const url = new URL(location.href);
      url.searchParams.set('protocol', protocol);
      history.replaceState(null, '', url.pathname + url.search + url.hash);
      clearTimeout(retryTimer);
      retryTimer = null;
      teardown();
      if (isLive()) start();
      renderStats();
    });
  }

  // ---- polling /api/streams ----------------------------------------------

  async function poll() {
    try {
      const streams = await W.fetchStreams();
      info = streams.find((s) => s.app === app && s.key === key) || null;
      weirPlayer.stream = info ? info.state : 'absent';
      renderBadge();
      if (isLive()) {
        if (!engine && !starting && !retryTimer) start();
      } else {
        if (engine || starting) teardown();
        if (!retryTimer) showOffline();
      }
    } catch (e) {
      // Keep playing what we have; say so only when nothing plays.
      if (!engine) showNotice('offline', 'Cannot reach Weir', 'Retrying…');
    }
    renderStats();
    setTimeout(poll, POLL_MS);
  }

  function renderBadge() {
    const state = weirPlayer.stream;
    badge.dataset.state = state === 'live' || state === 'reconnecting' ? state : 'ended';
    badge.textContent =
      { live: 'Live', reconnecting: 'Reconnecting', ended: 'Ended' }[state] || 'Not live';
  }

  // ---- stats -------------------------------------------------------------

  function bufferAhead() {
    const b = video.buffered;
    const t = video.currentTime;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= t + 0.1 && t <= b.end(i)) return Math.max(0, b.end(i) - t);
    }
    return 0;
  }

  function set(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  /** `text`, and the RFC 6381 codec string on a line of its own. */
  function setWithCode(node, text, codec) {
    const key = text + '|' + (codec || '');
    if (node.dataset.key === key) return;
    node.dataset.key = key;
    node.textContent = text;
    if (codec) {
      const c = document.createElement('span');
      c.className = 'codec';
      c.textContent = codec;
      node.append(c);
    }
  }

  function renderStats() {
    set(stats.protocol, protocol === 'dash' ? 'DASH' : 'HLS');
    set(stats.engine, engine ? engine.label : '—');
    set(stats.state, weirPlayer.state);
    set(
      stats.stream,
      { live: 'live', reconnecting: 'reconnecting', ended: 'ended', absent: 'not live' }[weirPlayer.stream] || '—',
    );
    const v = info && info.video;
    const a = info && info.audio;
    setWithCode(stats.video, v ? W.refused(v) || W.codecName(v.codec) : '—', v && v.codec);
    let res = W.resolution(v);
    if (engine && video.videoWidth && v && (video.videoWidth !== v.width || video.videoHeight !== v.height)) {
      res += ' (shown ' + video.videoWidth + '×' + video.videoHeight + ')';
    }
    set(stats.resolution, res);
    set(stats.fps, W.fps(v));
    setWithCode(stats.audio, a ? W.refused(a) || W.codecName(a.codec) : '—', a && a.codec);
    set(stats.sampling, a ? W.sampling(a) || '—' : '—');
    set(stats.bitrate, info ? W.bitrate(info.bitrate_bps) : '—');
    set(stats.uptime, info ? W.duration(info.duration_ms) : '—');
    set(stats.latency, W.seconds(weirPlayer.latency()));
    set(stats.buffer, engine ? W.seconds(bufferAhead()) : '—');
    set(stats.stalls, String(weirPlayer.stalls));
    const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    set(stats.dropped, q && engine ? q.droppedVideoFrames + ' of ' + q.totalVideoFrames : '—');
    set(stats.first, weirPlayer.firstFrameMs === null ? '—' : (weirPlayer.firstFrameMs / 1000).toFixed(2) + ' s');
  }

  // A player that stalls for good without reporting an error is treated as
  // a fatal error too.
  let lastTime = -1;
  let lastMove = performance.now();
  function watchdog() {
    const now = performance.now();
    if (!engine || weirPlayer.state !== 'playing' || video.paused || video.currentTime !== lastTime) {
      lastTime = video.currentTime;
      lastMove = now;
      return;
    }
    if (now - lastMove > STUCK_MS && isLive()) {
      lastMove = now;
      fatal(generation, 'playback stuck: no progress for ' + STUCK_MS / 1000 + ' s');
    }
  }

  setInterval(() => {
    watchdog();
    renderStats();
  }, STATS_MS);
  renderStats();
  poll();
})();
