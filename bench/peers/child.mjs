/**
 * One benchmark process: the server or the client of one peer, driven by compare.mjs over the
 * fork() IPC channel. Argument: role (server | client), peer module name, JSON options.
 *
 * Server: listens, counts every message and its bytes (echoes it when `echo`), and answers
 * `mark` (counters with this process's clock) and `mem` (RSS and heap after a forced GC; run it
 * with --expose-gc). Client: runs one scenario against `port` and reports:
 * - flood: sends `size`-byte messages as fast as backpressure allows until told `stop`;
 * - rtt: `warmup` then `count` sequential request/response pairs, reports p50/p99 in microseconds;
 * - idle: opens `count` sessions (`concurrency` at a time) and keeps them open;
 * - resume: through a cutting proxy, `samples` times: cut, wait until the client saw it, send
 *   one message, and time from the cut to its echo.
 * Any failure is reported as { type: 'error' } and ends the process.
 */
import { createServer, connect as netConnect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const [role, peerName, optionsJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson ?? '{}');

main().catch((e) => {
  process.send?.({ type: 'error', message: `${role} ${peerName}: ${e?.stack ?? e}` });
  setTimeout(() => process.exit(1), 50);
});

async function main() {
  const module = await import(`./${peerName}.mjs`);
  const peer = options.peerOptions && module.configure ? module.configure(options.peerOptions) : module.default;
  if (role === 'server') await serve(peer);
  else await client(peer);
}

async function serve(peer) {
  const echo = options.echo === true;
  let messages = 0;
  let bytes = 0;
  const server = await peer.listen({
    message(data, conn) {
      messages++;
      bytes += data.byteLength;
      if (echo) conn.send(data);
    },
  });
  process.on('message', async (m) => {
    if (m.type === 'mark') {
      process.send({ type: 'mark', t: performance.now(), messages, bytes });
    } else if (m.type === 'mem') {
      await collectGarbage();
      const mem = process.memoryUsage();
      process.send({ type: 'mem', rss: mem.rss, heapUsed: mem.heapUsed, sessions: server.sessions() });
    } else if (m.type === 'exit') {
      server.close();
      process.exit(0);
    }
  });
  process.send({ type: 'listening', port: server.port });
}

async function client(peer) {
  process.on('message', (m) => {
    if (m.type === 'stop') stopping = true;
    if (m.type === 'exit') process.exit(0);
  });
  const run = { flood, rtt, idle, resume }[options.scenario];
  if (!run) throw new Error(`unknown scenario ${options.scenario}`);
  await run(peer, options);
}

let stopping = false;

async function flood(peer, { port, size }) {
  const conn = await peer.open(port);
  const payload = Buffer.alloc(size, 0x61);
  process.send({ type: 'started' });
  let sent = 0;
  let lastYield = performance.now();
  while (!stopping) {
    const r = conn.send(payload);
    sent++;
    if (r === false) await conn.drained();
    else if (r !== true) await r;
    // Let the IPC channel in even when the transport never pushes back.
    if ((sent & 255) === 0 && performance.now() - lastYield > 20) {
      await new Promise(setImmediate);
      lastYield = performance.now();
    }
  }
  process.send({ type: 'stopped', sent });
}

async function rtt(peer, { port, size, warmup, count }) {
  const conn = await peer.open(port);
  const payload = Buffer.alloc(size, 0x62);
  let answer = null;
  conn.onMessage(() => answer?.());
  const samples = [];
  for (let i = 0; i < warmup + count; i++) {
    const echoed = new Promise((resolve) => {
      answer = resolve;
    });
    const t0 = performance.now();
    const r = conn.send(payload);
    if (r !== true && r !== false) await r;
    await echoed;
    if (i >= warmup) samples.push((performance.now() - t0) * 1000);
  }
  samples.sort((a, b) => a - b);
  process.send({ type: 'result', p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), count: samples.length });
}

async function idle(peer, { port, count, concurrency }) {
  const conns = [];
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      conns.push(await peer.open(port));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  process.send({ type: 'opened', count: conns.length, ms: performance.now() - t0 });
  // Keep them referenced until compare.mjs says exit.
  setInterval(() => conns.length, 60_000);
}

async function resume(peer, { port, size, samples, gapMs }) {
  const proxy = await startProxy(port);
  const conn = await peer.open(proxy.port);
  const payload = Buffer.alloc(size, 0x63);
  let answer = null;
  let down = null;
  conn.onMessage(() => answer?.());
  conn.onDown(() => down?.());
  const roundTrip = async () => {
    const echoed = new Promise((resolve) => {
      answer = resolve;
    });
    const r = conn.send(payload);
    if (r instanceof Promise) r.catch(() => {});
    await echoed;
  };
  for (let i = 0; i < 20; i++) await roundTrip();
  const times = [];
  let recovered = 0;
  for (let i = 0; i < samples; i++) {
    await sleep(gapMs);
    const noticed = new Promise((resolve) => {
      down = resolve;
    });
    const t0 = performance.now();
    proxy.cut();
    await withTimeout(noticed, 10_000, 'the client never saw the cut');
    await withTimeout(roundTrip(), 30_000, 'no message delivered after the cut');
    times.push(performance.now() - t0);
    if (conn.recovered?.() ?? true) recovered++;
  }
  times.sort((a, b) => a - b);
  process.send({
    type: 'result',
    median: quantile(times, 0.5),
    max: times[times.length - 1],
    samples: times,
    recovered,
    proxy: proxy.kind,
  });
  await proxy.stop();
}

/** The testkit's fault proxy when it is built; else a minimal one that can only cut. */
async function startProxy(targetPort) {
  try {
    const { FaultProxy } = await import('../../packages/testkit/dist/index.js');
    const proxy = new FaultProxy({ target: { host: '127.0.0.1', port: targetPort } });
    await proxy.start();
    return { kind: 'testkit', port: proxy.address.port, cut: () => proxy.cutAll(), stop: () => proxy.stop() };
  } catch {
    return startMiniProxy(targetPort);
  }
}

async function startMiniProxy(targetPort) {
  const pairs = new Set();
  const server = createServer((client) => {
    const upstream = netConnect({ host: '127.0.0.1', port: targetPort });
    const pair = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    kind: 'inline',
    port: server.address().port,
    cut: () => {
      for (const [a, b] of pairs) {
        a.resetAndDestroy();
        b.resetAndDestroy();
      }
    },
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function collectGarbage() {
  if (typeof globalThis.gc !== 'function') throw new Error('run the server with --expose-gc');
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise(setImmediate);
  }
}

function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
