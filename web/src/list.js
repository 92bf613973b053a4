// Stream list: polls /api/streams every 2 s and keeps one card per stream,
// updated in place (so keyboard focus survives the refresh).
(function () {
  'use strict';

  const W = window.Weir;
  const REFRESH_MS = 2000;

  const list = document.getElementById('streams');
  const empty = document.getElementById('empty');
  const summary = document.getElementById('summary');
  const error = document.getElementById('error');
  /** "app/key" → { li, fields } */
  const cards = new Map();
  let timer = null;
  let sleeping = false;
  let loaded = false;

  // Publishing hints use the host this page was loaded from.
  const rtmpBase = 'rtmp://' + W.host() + ':1935/live';
  for (const el of document.querySelectorAll('[data-rtmp-base]')) el.textContent = rtmpBase;
  W.wireCopyButtons(empty, document.getElementById('copy-status'));

  function playerHref(s) {
    return '/' + encodeURIComponent(s.app) + '/' + encodeURIComponent(s.key) + '/';
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function makeCard(s) {
    const li = el('li', 'card');
    const head = el('div', 'card-head');
    const h2 = el('h2');
    const link = el('a', '', s.key);
    link.href = playerHref(s);
    h2.append(link);
    const badge = el('span', 'badge');
    head.append(h2, badge);
    const path = el('p', 'path', s.app + '/' + s.key);
    const dl = el('dl', 'facts');
    const fields = { badge, link };
    for (const [name, label] of [
      ['video', 'Video'],
      ['audio', 'Audio'],
      ['bitrate', 'Bitrate'],
      ['uptime', 'Uptime'],
    ]) {
      const dd = el('dd');
      dl.append(el('dt', '', label), dd);
      fields[name] = dd;
    }
    const watch = el('span', 'watch', 'Watch →');
    watch.setAttribute('aria-hidden', 'true');
    li.append(head, path, dl, watch);
    return { li, fields };
  }

  function set(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function updateCard(card, s) {
    const f = card.fields;
    const state = s.state === 'live' || s.state === 'reconnecting' ? s.state : 'ended';
    const label = { live: 'Live', reconnecting: 'Reconnecting', ended: 'Ended' }[state];
    card.li.dataset.state = state;
    f.badge.dataset.state = state;
    set(f.badge, label);
    set(f.video, W.videoSummary(s.video));
    set(f.audio, W.audioSummary(s.audio));
    set(f.bitrate, W.bitrate(s.bitrate_bps));
    set(f.uptime, W.duration(s.duration_ms));
    f.link.setAttribute('aria-label', s.key + ' (' + label.toLowerCase() + ')');
    card.li.title = s.last_error ? 'Last error: ' + s.last_error : '';
  }

  function render(streams) {
    // Live first, then by app and key.
    streams.sort((a, b) => {
      const order = (s) => ({ live: 0, reconnecting: 1 })[s.state] ?? 2;
      const la = order(a);
      const lb = order(b);
      return la - lb || String(a.app).localeCompare(b.app) || String(a.key).localeCompare(b.key);
    });
    const seen = new Set();
    streams.forEach((s, i) => {
      const id = s.app + '/' + s.key;
      seen.add(id);
      let card = cards.get(id);
      if (!card) {
        card = makeCard(s);
        cards.set(id, card);
      }
      updateCard(card, s);
      // Move only when out of place: moving a node drops its focus.
      if (list.children[i] !== card.li) list.insertBefore(card.li, list.children[i] || null);
    });
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        card.li.remove();
        cards.delete(id);
      }
    }
    const count = (state) => streams.filter((s) => s.state === state).length;
    const live = count('live');
    const reconnecting = count('reconnecting');
    const ended = streams.length - live - reconnecting;
    const text =
      streams.length === 0
        ? 'No streams'
        : live + ' live' + (reconnecting ? ', ' + reconnecting + ' reconnecting' : '') + (ended ? ', ' + ended + ' ended' : '');
    set(summary, text);
    list.hidden = streams.length === 0;
    empty.hidden = streams.length !== 0;
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const streams = await W.fetchStreams();
      render(streams);
      error.hidden = true;
      loaded = true;
    } catch (e) {
      set(error, 'Cannot reach Weir (' + (e && e.message ? e.message : e) + '). Retrying…');
      error.hidden = false;
      if (!loaded) set(summary, '');
    }
    timer = setTimeout(tick, REFRESH_MS);
  }

  function tick() {
    // A hidden tab does not poll; it refreshes as soon as it is shown again.
    if (document.hidden) {
      sleeping = true;
      return;
    }
    refresh();
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && sleeping) {
      sleeping = false;
      refresh();
    }
  });

  refresh();
})();
