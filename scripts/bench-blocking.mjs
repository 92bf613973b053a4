#!/usr/bin/env node
// Load tool of scripts/bench-blocking.sh: N concurrent LL-HLS blocking
// playlist reloads (`video.m3u8?_HLS_msn=M&_HLS_part=P`, the part named by
// EXT-X-PRELOAD-HINT) against a running weir, and what they cost it.
//
// Per round:
//   0. weir's CPU for 1 s with none of our requests open;
//   1. --threads client threads, each with a keep-alive http.Agent
//      (maxSockets 2500), make --clients requests in all, each on its
//      socket with its headers not sent yet (round 0 opens the sockets);
//   2. a blocking reload on the current hint (its own connection) returns
//      right after a part was published: the EXT-X-PRELOAD-HINT of that
//      answer, (M, P), names the part that has just begun, about one part
//      duration (0.5 s by default) before it is complete;
//   3. a poller thread (own event loop, own connection) GETs plain
//      video.m3u8 every --poll-ms until it lists part M.P as EXT-X-PART: the
//      part's availability; on another connection it GETs the part file,
//      which weir holds until the part is complete;
//   4. the client threads set the path `video.m3u8?_HLS_msn=M&_HLS_part=P`
//      and send every request; the main thread samples weir's
//      /proc/PID/stat (utime+stime) and /proc/PID/status (VmRSS) every
//      10 ms, so its CPU is known over any interval (sending, waiting,
//      releasing);
//   5. release: the first and last response, and both against the polled
//      availability; every answer must be a 200 that lists part M.P.
// Round 0 is a warm-up (it opens the connections): shown, not in the medians.
// RSS "idle" is at the start of the round (round 0: no connection of ours;
// later rounds: the keep-alive connections open and idle), "before" once the
// requests are made (connections open, nothing sent), "waiting" just before
// the first answer.
// A request "late" is one whose bytes were written after the part was
// already available: it did not block.
//
// Usage: node scripts/bench-blocking.mjs --base http://127.0.0.1:PORT/live/KEY
//          --pid WEIR_PID [--clients 2000] [--rounds 5] [--threads 2]
//          [--timeout-ms 10000] [--poll-ms 5] [--json FILE]
// Loopback only: --base must be an http URL on 127.0.0.1 or localhost.
// Every request has a timeout, and the whole run a hard deadline.

import fs from 'node:fs';
import http from 'node:http';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

/** ms on the monotonic clock, the same in every thread. */
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function get(agent, url, { timeoutMs }) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
      const tHead = now();
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode, tHead, bytes: buf.length, body: buf.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${url}`)));
    req.on('error', reject);
  });
}

// Part URIs carry the stream instance: video/INSTANCE/part-M.P.m4s.
const partRe = (m, p) => new RegExp(`^#EXT-X-PART:[^\\n]*URI="video/[0-9a-z]+/part-${m}\\.${p}\\.m4s"`, 'm');
function hintOf(text) {
  const h = /^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(video\/[0-9a-z]+)\/part-(\d+)\.(\d+)\.m4s"/m.exec(text);
  return h ? { dir: h[1], m: Number(h[2]), p: Number(h[3]) } : null;
}

// ---------------------------------------------------------------------------
// Poller thread: when part M.P becomes available.
// ---------------------------------------------------------------------------
function pollerMain() {
  const { base, pollMs, timeoutMs } = workerData;
  const pollAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const partAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  parentPort.on('message', async ({ dir, m, p }) => {
    const deadline = now() + timeoutMs;
    const re = partRe(m, p);
    const held = get(partAgent, `${base}/${dir}/part-${m}.${p}.m4s`, { timeoutMs })
      .then((r) => ({ status: r.status, tHead: r.tHead, bytes: r.bytes }))
      .catch((e) => ({ error: e.message }));
    let tAvail = null;
    let tBefore = null;
    let tPrevMiss = null;
    let polls = 0;
    let error = null;
    while (now() < deadline) {
      const t0 = now();
      try {
        const r = await get(pollAgent, `${base}/video.m3u8`, { timeoutMs: 2000 });
        polls++;
        if (r.status === 200 && re.test(r.body)) {
          // Published between this request going out (t0) and its answer.
          tAvail = r.tHead;
          tBefore = t0;
          break;
        }
        tPrevMiss = r.tHead;
      } catch (e) {
        error = e.message;
      }
      const wait = pollMs - (now() - t0);
      if (wait > 0) await sleep(wait);
    }
    parentPort.postMessage({ tAvail, tBefore, tPrevMiss, polls, error, held: await held });
  });
}

// ---------------------------------------------------------------------------
// Client thread: its share of the blocked requests.
// ---------------------------------------------------------------------------
// `prepare` makes the requests ahead (each on its keep-alive socket, the
// headers not yet sent); `fire` sets their path and ends them, so the send
// phase is only writing the request lines, well inside one part duration.
function clientMain() {
  const { timeoutMs, base } = workerData;
  const u = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2500, maxFreeSockets: 2500 });
  let batch = null;
  parentPort.on('message', async (msg) => {
    if (msg.cmd === 'prepare') {
      const n = msg.n;
      const b = (batch = { n, reqs: new Array(n), done: new Array(n), written: new Float64Array(n).fill(NaN), heads: new Float64Array(n).fill(NaN) });
      b.out = { ok: 0, listed: 0, status: {}, errors: {}, bytes: 0 };
      b.re = null;
      const ready = [];
      let fresh = 0;
      for (let i = 0; i < n; i++) {
        const req = http.request({ host: u.hostname, port: u.port, method: 'GET', path: '/', agent, timeout: timeoutMs });
        b.reqs[i] = req;
        b.done[i] = new Promise((resolve) => {
          req.on('response', (res) => {
            b.heads[i] = now();
            b.out.status[res.statusCode] = (b.out.status[res.statusCode] || 0) + 1;
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
              const body = Buffer.concat(chunks);
              b.out.bytes += body.length;
              if (res.statusCode === 200) {
                b.out.ok++;
                if (b.re && b.re.test(body.toString('latin1'))) b.out.listed++;
              }
              resolve();
            });
            res.on('error', (e) => {
              b.out.errors[e.message] = (b.out.errors[e.message] || 0) + 1;
              resolve();
            });
          });
          req.on('finish', () => {
            b.written[i] = now();
          });
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', (e) => {
            const k = e.code || e.message;
            b.out.errors[k] = (b.out.errors[k] || 0) + 1;
            resolve();
          });
        });
        ready.push(
          new Promise((resolve) =>
            req.once('socket', (sock) => {
              if (sock.connecting) {
                fresh++;
                sock.once('connect', resolve);
                sock.once('error', resolve);
              } else resolve();
            }),
          ),
        );
      }
      await Promise.all(ready);
      parentPort.postMessage({ prepared: n, fresh });
    } else if (msg.cmd === 'fire') {
      const b = batch;
      b.re = partRe(msg.m, msg.p);
      const tStart = now();
      for (const req of b.reqs) {
        req.path = msg.path;
        req.end();
      }
      await Promise.all(b.done);
      batch = null;
      parentPort.postMessage({ tStart, written: b.written, heads: b.heads, ...b.out });
    }
  });
}

// ---------------------------------------------------------------------------
// Main thread
// ---------------------------------------------------------------------------
function parseArgs() {
  const a = { clients: 2000, rounds: 5, threads: 2, timeoutMs: 10_000, pollMs: 5, json: null, base: null, pid: null };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(k in a) || argv[i + 1] === undefined) throw new Error(`bad option ${argv[i]}`);
    a[k] = ['base', 'json'].includes(k) ? argv[i + 1] : Number(argv[i + 1]);
  }
  if (!a.base || !a.pid) throw new Error('--base URL and --pid PID are required');
  const u = new URL(a.base);
  if (u.protocol !== 'http:' || !['127.0.0.1', 'localhost'].includes(u.hostname)) {
    throw new Error(`--base must be a loopback http URL, not ${a.base}`);
  }
  return a;
}

const CLK_TCK = Number(process.env.CLK_TCK || 100); // USER_HZ; the .sh passes getconf CLK_TCK
function cpuTicks(pid) {
  // After the ")" closing comm: field 3 (state) is [0], utime (14) [11], stime (15) [12].
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}
function status(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s) || [])[1]);
  return { rssKb: kb('VmRSS'), threads: kb('Threads') };
}

/** Samples weir's CPU ticks and RSS every `everyMs` until stopped. */
function sampler(pid, everyMs = 10) {
  const xs = [];
  const take = () => xs.push({ t: now(), ticks: cpuTicks(pid), rssKb: status(pid).rssKb });
  take();
  const timer = setInterval(take, everyMs);
  return {
    xs,
    stop: () => {
      clearInterval(timer);
      take();
    },
    /** CPU as % of one core between t0 and t1 (nearest samples inside). */
    cpu(t0, t1) {
      if (!(t1 > t0)) return NaN;
      const a = xs.find((x) => x.t >= t0) || xs.at(-1);
      const b = [...xs].reverse().find((x) => x.t <= t1) || xs[0];
      if (!(b.t > a.t)) return NaN;
      return ((b.ticks - a.ticks) / CLK_TCK / ((b.t - a.t) / 1000)) * 100;
    },
    rssMaxMb(t0, t1) {
      const v = xs.filter((x) => x.t >= t0 && x.t <= t1).map((x) => x.rssKb);
      return v.length ? Math.max(...v) / 1024 : NaN;
    },
    rssAtMb(t) {
      const before = xs.filter((x) => x.t <= t);
      return before.length ? before.at(-1).rssKb / 1024 : NaN;
    },
  };
}

const finite = (xs) => Array.from(xs).filter(Number.isFinite);
function median(xs) {
  const v = finite(xs).sort((x, y) => x - y);
  if (!v.length) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}
function quant(xs, q) {
  const v = finite(xs).sort((x, y) => x - y);
  return v.length ? v[Math.min(v.length - 1, Math.floor(q * v.length))] : NaN;
}
const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const withTimeout = (p, ms, what) =>
  Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what}: no answer within ${ms} ms`)))]);

function ask(worker, msg) {
  return new Promise((resolve, reject) => {
    const onMsg = (m) => {
      worker.off('error', onErr);
      resolve(m);
    };
    const onErr = (e) => {
      worker.off('message', onMsg);
      reject(e);
    };
    worker.once('message', onMsg);
    worker.once('error', onErr);
    worker.postMessage(msg);
  });
}

async function round(ctx, index) {
  const { a, pollAgent, clients, poller } = ctx;
  const videoUrl = `${a.base}/video.m3u8`;
  const s = sampler(a.pid);
  try {
    // Weir's CPU with none of our requests open: 1 s.
    const tIdle0 = now();
    await sleep(1000);
    const cpuIdle = s.cpu(tIdle0, now());

    // The requests, made ahead on their sockets (round 0 opens them).
    const rssStart = s.rssAtMb(now());
    const shares = clients.map((_, i) => Math.floor(a.clients / clients.length) + (i < a.clients % clients.length ? 1 : 0));
    const tPrep = now();
    const prep = await withTimeout(Promise.all(clients.map((w, i) => ask(w, { cmd: 'prepare', n: shares[i] }))), a.timeoutMs + 5000, 'preparing');
    const prepareMs = now() - tPrep;
    const newConnections = prep.reduce((acc, r) => acc + r.fresh, 0);

    // 1. Align on a part boundary.
    const cur = await get(pollAgent, videoUrl, { timeoutMs: a.timeoutMs });
    const h0 = hintOf(cur.body);
    if (cur.status !== 200 || !h0) throw new Error(`no EXT-X-PRELOAD-HINT TYPE=PART in video.m3u8 (${cur.status}):\n${cur.body}`);
    const aligned = await get(pollAgent, `${videoUrl}?_HLS_msn=${h0.m}&_HLS_part=${h0.p}`, { timeoutMs: a.timeoutMs });
    const tAligned = now();
    const hint = hintOf(aligned.body);
    if (aligned.status !== 200 || !hint) throw new Error(`aligning blocking reload: ${aligned.status}\n${aligned.body}`);
    const { dir, m, p } = hint;

    // 2. + 3. The availability poller and the blocked requests, together.
    const availP = withTimeout(ask(poller, { dir, m, p }), a.timeoutMs + 5000, 'poller');
    const path = `${new URL(videoUrl).pathname}?_HLS_msn=${m}&_HLS_part=${p}`;
    const rssBefore = s.rssAtMb(now());
    const thrBefore = status(a.pid).threads;
    const tStart = now();
    const replies = await withTimeout(
      Promise.all(clients.map((w) => ask(w, { cmd: 'fire', path, m, p }))),
      a.timeoutMs + 5000,
      'client threads',
    );
    const thrAfter = status(a.pid).threads;
    const av = await availP;
    s.stop();

    const written = replies.flatMap((r) => Array.from(r.written));
    const heads = replies.flatMap((r) => Array.from(r.heads));
    const sum = (k) => replies.reduce((acc, r) => acc + r[k], 0);
    const merge = (k) => replies.reduce((acc, r) => {
      for (const [x, n] of Object.entries(r[k])) acc[x] = (acc[x] || 0) + n;
      return acc;
    }, {});
    const tSent = Math.max(...finite(written));
    const tFirst = Math.min(...finite(heads));
    const tLast = Math.max(...finite(heads));
    const tAvail = av.tAvail ?? NaN;
    return {
      round: index,
      part: `${m}.${p}`,
      clients: a.clients,
      prepareMs,
      newConnections,
      sendMs: tSent - tStart,
      waitMs: tFirst - tSent,
      cpuIdle,
      cpuSend: s.cpu(tStart, tSent),
      cpuWait: s.cpu(tSent, tFirst),
      cpuRelease: s.cpu(tFirst, tLast),
      rssStartMb: rssStart,
      rssBeforeMb: rssBefore,
      rssWaitMb: s.rssAtMb(tFirst),
      rssMaxMb: s.rssMaxMb(tStart, tLast),
      threads: `${thrBefore}/${thrAfter}`,
      firstToLastMs: tLast - tFirst,
      availToFirstMs: tFirst - tAvail,
      availToP50Ms: quant(heads, 0.5) - tAvail,
      availToP99Ms: quant(heads, 0.99) - tAvail,
      availToLastMs: tLast - tAvail,
      availPollMs: av.tAvail && av.tBefore ? av.tAvail - av.tBefore : NaN,
      // The part appeared between the last answer without it and the first with it.
      availWindowMs: av.tAvail && av.tPrevMiss ? av.tAvail - av.tPrevMiss : NaN,
      alignedToAvailMs: tAvail - tAligned,
      heldPartToLastMs: av.held && av.held.tHead ? tLast - av.held.tHead : NaN,
      heldPart: av.held ? (av.held.status ? `${av.held.status} ${av.held.bytes} B` : av.held.error) : null,
      polls: av.polls,
      pollError: av.error || null,
      ok: sum('ok'),
      listed: sum('listed'),
      late: written.filter((t) => t > tAvail).length,
      status: merge('status'),
      errors: merge('errors'),
      bodyBytes: sum('bytes'),
    };
  } finally {
    s.stop();
  }
}

const COLS = [
  ['round', (r) => String(r.round) + (r.round === 0 ? '*' : '')],
  ['part', (r) => r.part],
  ['send ms', (r) => fmt(r.sendMs)],
  ['wait ms', (r) => fmt(r.waitMs)],
  ['weir CPU idle %', (r) => fmt(r.cpuIdle)],
  ['CPU sending %', (r) => fmt(r.cpuSend)],
  ['CPU waiting %', (r) => fmt(r.cpuWait)],
  ['CPU releasing %', (r) => fmt(r.cpuRelease)],
  ['RSS idle MB', (r) => fmt(r.rssStartMb, 1)],
  ['RSS before MB', (r) => fmt(r.rssBeforeMb, 1)],
  ['RSS waiting MB', (r) => fmt(r.rssWaitMb, 1)],
  ['first→last ms', (r) => fmt(r.firstToLastMs)],
  ['avail→first ms', (r) => fmt(r.availToFirstMs)],
  ['avail→p50 ms', (r) => fmt(r.availToP50Ms)],
  ['avail→last ms', (r) => fmt(r.availToLastMs)],
  ['avail ± ms', (r) => fmt(r.availWindowMs)],
  ['late', (r) => String(r.late)],
  ['200 + part listed', (r) => `${r.listed}/${r.clients}`],
];
const NUMERIC = ['sendMs', 'waitMs', 'cpuIdle', 'cpuSend', 'cpuWait', 'cpuRelease', 'rssStartMb', 'rssBeforeMb', 'rssWaitMb', 'rssMaxMb', 'firstToLastMs', 'availToFirstMs', 'availToP50Ms', 'availToP99Ms', 'availToLastMs', 'availPollMs', 'availWindowMs', 'alignedToAvailMs', 'late', 'listed'];

function table(rows) {
  const head = COLS.map((c) => c[0]);
  const out = [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`];
  for (const r of rows) out.push(`| ${COLS.map((c) => c[1](r)).join(' | ')} |`);
  return out.join('\n');
}

async function main() {
  const a = parseArgs();
  const hardMs = (a.rounds + 1) * (a.timeoutMs * 2 + 15_000);
  const hard = setTimeout(() => {
    console.error(`bench-blocking.mjs: the run exceeded ${hardMs} ms`);
    process.exit(3);
  }, hardMs);
  hard.unref();
  const self = new URL(import.meta.url);
  const poller = new Worker(self, { workerData: { role: 'poller', base: a.base, pollMs: a.pollMs, timeoutMs: a.timeoutMs } });
  const clients = Array.from({ length: Math.max(1, a.threads) }, () => new Worker(self, { workerData: { role: 'client', base: a.base, timeoutMs: a.timeoutMs } }));
  const pollAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ctx = { a, pollAgent, clients, poller };
  const rows = [];
  let code = 0;
  try {
    for (let i = 0; i <= a.rounds; i++) {
      const r = await round(ctx, i);
      rows.push(r);
      console.log(
        `round ${i}${i === 0 ? ' (warm-up, opens the connections)' : ''}: part ${r.part}; ${r.listed}/${r.clients} answered 200 listing it ` +
          `(status ${JSON.stringify(r.status)}${Object.keys(r.errors).length ? `, errors ${JSON.stringify(r.errors)}` : ''}); ` +
          `prepared in ${fmt(r.prepareMs)} ms (${r.newConnections} new connections), sent in ${fmt(r.sendMs)} ms, late ${r.late}; part available ${fmt(r.alignedToAvailMs)} ms after aligning ` +
          `(${r.polls} polls; between the last answer without it and the first with it: ${fmt(r.availWindowMs)} ms, that poll took ${fmt(r.availPollMs)} ms); first→last ${fmt(r.firstToLastMs)} ms, avail→last ${fmt(r.availToLastMs)} ms ` +
          `(p99 ${fmt(r.availToP99Ms)}), held part GET ${r.heldPart} → last ${fmt(r.heldPartToLastMs)} ms; ` +
          `weir CPU idle/send/wait/release ${fmt(r.cpuIdle)}/${fmt(r.cpuSend)}/${fmt(r.cpuWait)}/${fmt(r.cpuRelease)} %, ` +
          `RSS ${fmt(r.rssStartMb, 1)} idle, ${fmt(r.rssBeforeMb, 1)} connected, ${fmt(r.rssWaitMb, 1)} waiting MB (max ${fmt(r.rssMaxMb, 1)}), threads ${r.threads}`,
      );
    }
    const measured = rows.filter((r) => r.round > 0);
    const med = { round: 'median', part: '', clients: a.clients };
    for (const k of NUMERIC) med[k] = median(measured.map((r) => r[k]));
    console.log('');
    console.log(
      `${a.clients} blocked requests per round (${clients.length} client threads) on ${a.base}/video.m3u8?_HLS_msn=M&_HLS_part=P; ` +
        `CPU in % of one core; * = warm-up round, not in the medians`,
    );
    console.log(table([...rows, med]));
    console.log('');
    console.log(
      `MEDIANS rounds=${measured.length} clients=${a.clients} send_ms=${fmt(med.sendMs)} wait_ms=${fmt(med.waitMs)} ` +
        `cpu_idle=${fmt(med.cpuIdle)}% cpu_wait=${fmt(med.cpuWait)}% cpu_release=${fmt(med.cpuRelease)}% ` +
        `rss_idle=${fmt(med.rssStartMb, 1)}MB rss_before=${fmt(med.rssBeforeMb, 1)}MB rss_wait=${fmt(med.rssWaitMb, 1)}MB first_to_last=${fmt(med.firstToLastMs)}ms ` +
        `avail_to_first=${fmt(med.availToFirstMs)}ms avail_to_last=${fmt(med.availToLastMs)}ms late=${fmt(med.late)}`,
    );
    if (a.json) fs.writeFileSync(a.json, JSON.stringify({ rows, median: med }, null, 1));
    const bad = measured.filter((r) => r.listed !== r.clients);
    if (bad.length) {
      console.error(`bench-blocking.mjs: ${bad.length} round(s) had answers that were not 200 listing the part`);
      code = 2;
    }
  } finally {
    pollAgent.destroy();
    await Promise.race([Promise.all([poller, ...clients].map((w) => w.terminate())), sleep(2000)]);
  }
  process.exit(code);
}

if (isMainThread) await main();
else if (workerData.role === 'poller') pollerMain();
else clientMain();
