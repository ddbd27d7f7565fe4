#!/usr/bin/env node
/**
 * liaison against its peers, same scenarios, one run: raw TCP with length-prefixed framing (what
 * Node can physically do), the `ws` package, Socket.IO 4 over WebSocket without and with
 * connection state recovery, and liaison (one session per connection; and multiplexed for the
 * 100,000-session memory figure).
 *
 *   node bench/compare.mjs [--quick] [--secure] [--runs N] [--peers a,b] [--scenarios a,b] [--cpu-prof]
 *
 * Theory of operation
 * - Every figure comes from a fresh server process and a fresh client process (bench/peers/
 *   child.mjs, forked, talking to this one over IPC), on 127.0.0.1. Servers run with --expose-gc.
 * - Scenarios: `small` (64-byte messages one way, as fast as backpressure allows; messages per
 *   second counted at the server, after a warm-up), `large` (64 KiB messages one way, MB/s at the
 *   server, MB = 10^6 bytes), `rtt` (sequential request/response pairs on one session after a
 *   warm-up, p50 and p99), `memory` (server RSS and heapUsed growth after a forced GC, divided by
 *   the idle sessions opened: 5,000, and 100,000 multiplexed for liaison-mux), `resume` (cut the
 *   transport under an established session with a proxy in the client process, then time from
 *   the cut to the echo of the first message sent after the client noticed it).
 * - Each figure is the median of --runs runs (3; 1 with --quick), runs interleaved across peers so
 *   drift on the machine hits every peer alike. A table of absolute figures and of ratios
 *   (value / reference) against raw TCP and against Socket.IO goes to stdout; everything,
 *   with every run and the machine, to bench/results/compare.json.
 * - --secure compares encrypted channels instead (small, large, rtt): raw TCP and liaison
 *   plaintext, raw TLS (node:tls, same framing as raw TCP), ws over TLS (wss), liaison over tls://
 *   and liaison under Noise XX with each crypto provider (node:crypto, the default on Node, and
 *   the portable @noble); ratios against raw TCP and raw TLS. Certificates and the Noise key
 *   are made for the run (testkit's makePki, openssl) in a temporary directory, removed at the end.
 *   First, as the reference for Noise's cost, ChaCha20-Poly1305 sealing 64 KiB records in this
 *   process: @noble/ciphers (what liaison's core uses) against node:crypto (OpenSSL).
 *   Results go to bench/results/compare-secure.json.
 * - --cpu-prof runs liaison's two throughput scenarios once with --cpu-prof in the server and
 *   client processes (profiles in bench/results/profiles, never committed) and prints the top
 *   self-time functions of each (bench/profile-summary.mjs).
 */
import { execFileSync, fork } from 'node:child_process';
import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { summarizeProfiles } from './profile-summary.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHILD = join(HERE, 'peers', 'child.mjs');
const RESULTS = join(HERE, 'results');

/** Every row of the comparison: a peer module, and options for its client where a variant needs them. */
const PEERS = {
  'raw-tcp': { module: 'raw-tcp', label: 'raw TCP (framed)' },
  ws: { module: 'ws', label: 'ws' },
  socketio: { module: 'socketio', label: 'Socket.IO' },
  'socketio-recovery': { module: 'socketio-recovery', label: 'Socket.IO + recovery' },
  'socketio-recovery-50ms': {
    module: 'socketio-recovery',
    label: 'Socket.IO + recovery, 50 ms delay',
    peerOptions: { reconnectionDelayMs: 50 },
  },
  liaison: { module: 'liaison', label: 'liaison' },
  'liaison-mux': { module: 'liaison-mux', label: 'liaison, multiplexed' },
  // --secure: peerOptions (certificate paths, the Noise key) are filled in by securePeers().
  'raw-tls': { module: 'raw-tls', label: 'raw TLS (framed)' },
  wss: { module: 'wss', label: 'ws over TLS (wss)' },
  'liaison-tls': { module: 'liaison', label: 'liaison over tls://' },
  'liaison-noise': { module: 'liaison', label: 'liaison, Noise XX (node:crypto)' },
  'liaison-noise-noble': { module: 'liaison', label: 'liaison, Noise XX (@noble)' },
};

const BASE_PEERS = ['raw-tcp', 'ws', 'socketio', 'socketio-recovery', 'liaison'];

const SECURE_PEERS = ['raw-tcp', 'raw-tls', 'wss', 'liaison', 'liaison-tls', 'liaison-noise', 'liaison-noise-noble'];
const SECURE_SCENARIOS = ['small', 'large', 'rtt'];

const SCENARIOS = {
  small: { peers: BASE_PEERS, run: (peer, cfg) => flood(peer, cfg, 64) },
  large: { peers: BASE_PEERS, run: (peer, cfg) => flood(peer, cfg, 64 * 1024) },
  rtt: { peers: BASE_PEERS, run: roundTrips },
  memory: { peers: [...BASE_PEERS, 'liaison-mux'], run: memory },
  // Socket.IO waits 1,000 ms +-50% before its first reconnection, liaison 50 ms +-50%: the 50 ms
  // variant shows what Socket.IO's recovery itself costs.
  resume: { peers: ['liaison', 'socketio-recovery', 'socketio-recovery-50ms'], run: resume },
};

/** The lines of the table: which figure, how to print it, and whether more is better. */
const METRICS = [
  { scenario: 'small', key: 'msgsPerSec', title: '64 B one way, msg/s', digits: 0 },
  { scenario: 'large', key: 'MBps', title: '64 KiB one way, MB/s', digits: 0 },
  { scenario: 'rtt', key: 'p50Us', title: 'round trip p50, µs', digits: 0 },
  { scenario: 'rtt', key: 'p99Us', title: 'round trip p99, µs', digits: 0 },
  { scenario: 'memory', key: 'rssPerSession', title: 'memory per idle session: RSS, bytes', digits: 0 },
  { scenario: 'memory', key: 'heapPerSession', title: 'memory per idle session: heap, bytes', digits: 0 },
  { scenario: 'resume', key: 'medianMs', title: 'resume after a cut (median), ms', digits: 1 },
];

const CONFIGS = {
  full: {
    runs: 3,
    warmupMs: 1000,
    durationMs: 2000,
    rttWarmup: 200,
    rttCount: 2000,
    idleSessions: 5000,
    muxSessions: 100_000,
    resumeSamples: 10,
    resumeGapMs: 200,
  },
  quick: {
    runs: 1,
    warmupMs: 500,
    durationMs: 1000,
    rttWarmup: 100,
    rttCount: 500,
    idleSessions: 1000,
    muxSessions: 20_000,
    resumeSamples: 5,
    resumeGapMs: 100,
  },
};

const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

await main();

async function main() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      secure: { type: 'boolean', default: false },
      runs: { type: 'string' },
      peers: { type: 'string' },
      scenarios: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: process.env.BENCH_CPU_PROF === '1' },
      out: { type: 'string' },
    },
  });
  const profiling = values['cpu-prof'];
  const secure = values.secure;
  const cfg = { ...CONFIGS[values.quick ? 'quick' : 'full'] };
  if (profiling) cfg.runs = 1;
  if (values.runs) cfg.runs = Number.parseInt(values.runs, 10);
  const scenarioNames =
    values.scenarios?.split(',') ??
    (profiling ? ['small', 'large'] : secure ? SECURE_SCENARIOS : Object.keys(SCENARIOS));
  const onlyPeers = values.peers?.split(',') ?? (profiling && !secure ? ['liaison'] : null);
  for (const s of scenarioNames) if (!SCENARIOS[s]) throw new Error(`unknown scenario ${s}`);
  cfg.profileDir = profiling ? join(RESULTS, 'profiles') : null;
  if (cfg.profileDir) {
    rmSync(cfg.profileDir, { recursive: true, force: true });
    mkdirSync(cfg.profileDir, { recursive: true });
  }

  const started = performance.now();
  const pki = secure ? await securePeers() : null;
  const cipher = secure && !profiling ? cipherReference() : null;
  const results = {};
  for (const scenario of scenarioNames) {
    const candidates = secure ? SECURE_PEERS : SCENARIOS[scenario].peers;
    const peers = candidates.filter((p) => !onlyPeers || onlyPeers.includes(p));
    results[scenario] = {};
    for (const p of peers) results[scenario][p] = { runs: [], errors: [] };
    for (let run = 0; run < cfg.runs; run++) {
      for (const p of peers) {
        const t0 = performance.now();
        try {
          const figures = await SCENARIOS[scenario].run(p, cfg);
          results[scenario][p].runs.push(figures);
          log(`${scenario} ${p} run ${run + 1}/${cfg.runs}: ${brief(figures)} (${ms(t0)})`);
        } catch (e) {
          results[scenario][p].errors.push(String(e?.message ?? e));
          log(`${scenario} ${p} run ${run + 1}/${cfg.runs}: FAILED ${e?.message ?? e}`);
        }
      }
    }
    for (const p of peers) results[scenario][p].median = medianFigures(results[scenario][p].runs);
  }
  pki?.remove();

  const second = secure ? 'tls' : 'sio';
  const table = formatTable(results, cfg, second);
  const report = {
    date: new Date().toISOString(),
    command: process.argv.slice(1).join(' '),
    machine: machineInfo(),
    source: sourceInfo(),
    config: cfg,
    elapsedSeconds: (performance.now() - started) / 1000,
    cipher,
    results,
    ratios: ratios(results, second),
  };
  mkdirSync(RESULTS, { recursive: true });
  const name = `compare${secure ? '-secure' : ''}${profiling ? '-cpu-prof' : ''}.json`;
  const out = values.out ?? join(RESULTS, name);
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  if (cipher) console.log(`${formatCipher(cipher)}\n`);
  console.log(table);
  console.log(`\n${report.machine.cpuModel} x${report.machine.cpus}, node ${process.version}; ` + describe(cfg));
  console.log(`wrote ${out} in ${report.elapsedSeconds.toFixed(0)} s`);
  if (cfg.profileDir) console.log(`\n${summarizeProfiles(cfg.profileDir, 10)}`);
}

// ---------------------------------------------------------------- scenarios

async function flood(peer, cfg, size) {
  const server = await startServer(peer, cfg, { echo: false }, size === 64 ? 'small' : 'large');
  let client;
  try {
    client = spawn(
      'client',
      peer,
      { scenario: 'flood', port: server.port, size },
      cfg,
      size === 64 ? 'small' : 'large',
    );
    await client.next('started', 20_000);
    await sleep(cfg.warmupMs);
    const a = await server.request('mark');
    await sleep(cfg.durationMs);
    const b = await server.request('mark');
    client.send({ type: 'stop' });
    await client.next('stopped', 20_000);
    const seconds = (b.t - a.t) / 1000;
    return {
      msgsPerSec: (b.messages - a.messages) / seconds,
      MBps: (b.bytes - a.bytes) / 1e6 / seconds,
      seconds,
    };
  } finally {
    await client?.exit();
    await server.exit();
  }
}

async function roundTrips(peer, cfg) {
  const server = await startServer(peer, cfg, { echo: true }, 'rtt');
  let client;
  try {
    const opts = { scenario: 'rtt', port: server.port, size: 64, warmup: cfg.rttWarmup, count: cfg.rttCount };
    client = spawn('client', peer, opts, cfg, 'rtt');
    const r = await client.next('result', 60_000);
    return { p50Us: r.p50, p99Us: r.p99, count: r.count };
  } finally {
    await client?.exit();
    await server.exit();
  }
}

async function memory(peer, cfg) {
  const count = peer === 'liaison-mux' ? cfg.muxSessions : cfg.idleSessions;
  const server = await startServer(peer, cfg, { echo: false }, 'memory');
  let client;
  try {
    const before = await server.request('mem');
    const concurrency = peer === 'liaison-mux' ? 1000 : 100;
    client = spawn('client', peer, { scenario: 'idle', port: server.port, count, concurrency }, cfg, 'memory');
    const opened = await client.next('opened', 300_000);
    // The server may see the last connections a moment after the client does.
    let after = await server.request('mem');
    for (let i = 0; i < 50 && after.sessions < count; i++) {
      await sleep(100);
      after = await server.request('mem');
    }
    if (after.sessions < count) throw new Error(`server sees ${after.sessions} of ${count} sessions`);
    return {
      sessions: count,
      rssPerSession: (after.rss - before.rss) / count,
      heapPerSession: (after.heapUsed - before.heapUsed) / count,
      openSeconds: opened.ms / 1000,
    };
  } finally {
    await client?.exit();
    await server.exit();
  }
}

async function resume(peer, cfg) {
  const server = await startServer(peer, cfg, { echo: true }, 'resume');
  let client;
  try {
    const opts = {
      scenario: 'resume',
      port: server.port,
      size: 64,
      samples: cfg.resumeSamples,
      gapMs: cfg.resumeGapMs,
    };
    client = spawn('client', peer, opts, cfg, 'resume');
    const r = await client.next('result', 120_000);
    if (r.recovered < r.samples.length) throw new Error(`recovered ${r.recovered} of ${r.samples.length} cuts`);
    return { medianMs: r.median, maxMs: r.max, samplesMs: r.samples, proxy: r.proxy };
  } finally {
    await client?.exit();
    await server.exit();
  }
}

// ---------------------------------------------------------------- --secure

/** Certificates (openssl, via testkit's makePki) and a Noise key for this run, handed to the peers. */
async function securePeers() {
  const { makePki } = await import('../packages/testkit/dist/index.js');
  const pki = makePki();
  const tls = { cert: pki.files.serverCert, key: pki.files.serverKey, ca: pki.files.ca };
  const { privateKey } = generateKeyPairSync('x25519');
  const staticKey = Buffer.from(privateKey.export({ format: 'jwk' }).d, 'base64url').toString('hex');
  PEERS['raw-tls'].peerOptions = tls;
  PEERS.wss.peerOptions = tls;
  PEERS['liaison-tls'].peerOptions = { tls };
  PEERS['liaison-noise'].peerOptions = { noise: { staticKey, crypto: 'node' } };
  PEERS['liaison-noise-noble'].peerOptions = { noise: { staticKey, crypto: 'noble' } };
  return pki;
}

/**
 * ChaCha20-Poly1305 sealing then opening 64 KiB records (Noise's record size), MB/s of
 * plaintext, @noble/ciphers against node:crypto; rounds interleaved, median of 3 rounds.
 */
function cipherReference() {
  const RECORD = 64 * 1024 - 17;
  const ROUND_MS = 400;
  const key = randomBytes(32);
  const ad = Buffer.from([0xff, 0xff]);
  const plain = new Uint8Array(RECORD).fill(0x61);
  let counter = 0;
  const nonce = () => {
    const n = Buffer.alloc(12);
    n.writeUInt32LE(++counter, 4);
    return n;
  };
  const noble = () => {
    const n = nonce();
    const sealed = chacha20poly1305(key, n, ad).encrypt(plain);
    chacha20poly1305(key, n, ad).decrypt(sealed);
  };
  const native = () => {
    const n = nonce();
    const c = createCipheriv('chacha20-poly1305', key, n, { authTagLength: 16 });
    c.setAAD(ad, { plaintextLength: RECORD });
    const sealed = c.update(plain);
    c.final();
    const tag = c.getAuthTag();
    const d = createDecipheriv('chacha20-poly1305', key, n, { authTagLength: 16 });
    d.setAAD(ad, { plaintextLength: RECORD });
    d.setAuthTag(tag);
    d.update(sealed);
    d.final();
  };
  const rate = (fn) => {
    const t0 = performance.now();
    let records = 0;
    while (performance.now() - t0 < ROUND_MS) {
      fn();
      records++;
    }
    return (records * RECORD) / 1e6 / ((performance.now() - t0) / 1000);
  };
  rate(noble);
  rate(native);
  const runs = { noble: [], nodeCrypto: [] };
  for (let i = 0; i < 3; i++) {
    runs.noble.push(rate(noble));
    runs.nodeCrypto.push(rate(native));
  }
  const figures = { nobleMBps: median(runs.noble), nodeCryptoMBps: median(runs.nodeCrypto), runs };
  log(`cipher: @noble ${figures.nobleMBps.toFixed(0)} MB/s, node:crypto ${figures.nodeCryptoMBps.toFixed(0)} MB/s`);
  return figures;
}

function formatCipher(c) {
  return [
    'ChaCha20-Poly1305, seal + open of 64 KiB records, one core, MB/s of plaintext:',
    `  @noble/ciphers ${fmt(c.nobleMBps, 0)}   node:crypto ${fmt(c.nodeCryptoMBps, 0)}   @noble / node:crypto ${fmtRatio(c.nobleMBps / c.nodeCryptoMBps)}`,
  ].join('\n');
}

// ---------------------------------------------------------------- child processes

async function startServer(peer, cfg, options, profileTag) {
  const server = spawn('server', peer, options, cfg, profileTag);
  const { port } = await server.next('listening', 20_000);
  server.port = port;
  return server;
}

/** Forks a child for `peer` in `role`; its messages are read with next(type) or request(type). */
function spawn(role, peer, options, cfg, profileTag) {
  const { module, peerOptions } = PEERS[peer];
  const execArgv = [];
  if (role === 'server') execArgv.push('--expose-gc');
  if (peer === 'liaison-mux') execArgv.push('--max-old-space-size=8192');
  if (cfg.profileDir && profileTag) {
    execArgv.push(
      '--cpu-prof',
      `--cpu-prof-dir=${cfg.profileDir}`,
      `--cpu-prof-name=${peer}-${profileTag}-${role}.cpuprofile`,
    );
  }
  const child = fork(CHILD, [role, module, JSON.stringify({ ...options, peerOptions })], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  live.add(child);
  const inbox = [];
  const waiters = [];
  let failure = null;
  const fail = (error) => {
    failure ??= error;
    for (const w of waiters.splice(0)) w.reject(failure);
  };
  child.on('message', (m) => {
    if (m.type === 'error') return fail(new Error(m.message));
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(m);
    else inbox.push(m);
  });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      fail(new Error(`${role} of ${peer} exited (${code ?? signal})`));
      resolve();
    });
  });
  const next = (type, timeoutMs) => {
    const i = inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`${role} of ${peer}: no '${type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      const w = {
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      waiters.push(w);
    });
  };
  const send = (m) => {
    if (child.connected) child.send(m);
  };
  return {
    port: 0,
    next,
    send,
    request(type, timeoutMs = 60_000) {
      send({ type });
      return next(type, timeoutMs);
    },
    /** Asks the child to exit (so a CPU profile gets written); kills it if it does not. */
    async exit() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      send({ type: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------- figures and table

function medianFigures(runs) {
  if (runs.length === 0) return null;
  const out = {};
  for (const key of Object.keys(runs[0])) {
    const values = runs.map((r) => r[key]).filter((v) => typeof v === 'number');
    if (values.length > 0) out[key] = median(values);
  }
  return out;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The reference rows: raw TCP, and Socket.IO (with recovery where only that variant has the figure). */
function reference(results, scenario, key, which) {
  const rows = results[scenario] ?? {};
  const names = { raw: ['raw-tcp'], tls: ['raw-tls'], sio: ['socketio', 'socketio-recovery'] }[which];
  for (const n of names) {
    const v = rows[n]?.median?.[key];
    if (typeof v === 'number' && v !== 0) return v;
  }
  return null;
}

function ratios(results, second) {
  const out = {};
  for (const m of METRICS) {
    const rows = results[m.scenario];
    if (!rows) continue;
    const raw = reference(results, m.scenario, m.key, 'raw');
    const other = reference(results, m.scenario, m.key, second);
    const otherKey = second === 'tls' ? 'vsRawTls' : 'vsSocketIo';
    out[`${m.scenario}.${m.key}`] = Object.fromEntries(
      Object.entries(rows).map(([peer, r]) => {
        const v = r.median?.[m.key];
        return [peer, { vsRawTcp: ratio(v, raw), [otherKey]: ratio(v, other) }];
      }),
    );
  }
  return out;
}

function ratio(v, ref) {
  return typeof v === 'number' && ref ? v / ref : null;
}

function formatTable(results, cfg, second) {
  const header = ['figure', 'peer', 'value', '/ raw TCP', second === 'tls' ? '/ raw TLS' : '/ Socket.IO'];
  const lines = [];
  for (const m of METRICS) {
    const rows = results[m.scenario];
    if (!rows) continue;
    const raw = reference(results, m.scenario, m.key, 'raw');
    const sio = reference(results, m.scenario, m.key, second);
    let first = true;
    for (const [peer, r] of Object.entries(rows)) {
      const v = r.median?.[m.key];
      let label = PEERS[peer].label;
      if (m.scenario === 'memory') label += ` (${fmtInt(r.median?.sessions ?? sessionsFor(peer, cfg))})`;
      const failed = r.runs.length === 0 ? `failed: ${r.errors[0] ?? '?'}`.slice(0, 60) : null;
      lines.push([
        first ? m.title : '',
        label,
        failed ?? fmt(v, m.digits),
        failed ? '' : fmtRatio(ratio(v, raw)),
        failed ? '' : fmtRatio(ratio(v, sio)),
      ]);
      first = false;
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells) =>
    cells.map((c, i) => (i >= 2 && !c.startsWith('failed') ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const body = [];
  let previous = '';
  for (const l of lines) {
    if (l[0] && previous) body.push(rule);
    body.push(row(l).trimEnd());
    previous = l[0] || previous;
  }
  return [row(header).trimEnd(), rule, ...body].join('\n');
}

function sessionsFor(peer, cfg) {
  return peer === 'liaison-mux' ? cfg.muxSessions : cfg.idleSessions;
}

function fmt(v, digits) {
  if (typeof v !== 'number' || Number.isNaN(v)) return 'n/a';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtInt(v) {
  return typeof v === 'number' ? v.toLocaleString('en-US') : '?';
}

function fmtRatio(r) {
  if (r === null) return '';
  return r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

function describe(cfg) {
  return (
    `medians of ${cfg.runs} run(s); one way: ${cfg.warmupMs} ms warm-up then ${cfg.durationMs} ms counted at the ` +
    `server; round trips: ${cfg.rttCount} after ${cfg.rttWarmup}; memory: server growth after GC / sessions; ` +
    `resume: median of ${cfg.resumeSamples} cuts. Ratios are value / reference (for time and memory, lower is better).`
  );
}

function machineInfo() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    // Other work on the machine skews every figure: the load when the run ended says how much.
    loadAverage: os.loadavg(),
  };
}

/** Which liaison was measured: the commit, and whether packages/ had changes not committed. */
function sourceInfo() {
  const git = (...args) => {
    try {
      return execFileSync('git', args, { cwd: HERE, encoding: 'utf8' }).trim();
    } catch {
      return null;
    }
  };
  const changes = git('status', '--porcelain', '--', '../packages');
  return { commit: git('rev-parse', '--short', 'HEAD'), packagesDirty: changes === null ? null : changes !== '' };
}

function brief(figures) {
  return Object.entries(figures)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k}=${Math.abs(v) >= 100 ? Math.round(v) : v.toFixed(2)}`)
    .join(' ');
}

function ms(t0) {
  return `${((performance.now() - t0) / 1000).toFixed(1)} s`;
}

function log(line) {
  process.stderr.write(`${line}\n`);
}
