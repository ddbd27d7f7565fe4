#!/usr/bin/env node
/**
 * Broadcast of one 100-byte event from a server to every connected client: @liaison/events
 * (`io.emit('news', payload)`, encoded once, the same bytes sent to each session) beside
 * Socket.IO 4 over its WebSocket transport only (`io.emit`, which also encodes once), one run.
 *
 *   node --expose-gc bench/events-broadcast.mjs [--sessions 10000] [--rounds 20] [--peers liaison,socketio]
 *
 * Theory of operation
 * - The server runs in this process, the N clients in one forked child (this file with --child):
 *   a server and its N clients in one process would need 2N file descriptors, above the usual
 *   limit of 20,000 at N = 10,000, and the child puts the clients on the other core.
 * - Clients connect 200 at a time; the setup time is printed. Then both processes force a GC
 *   (--expose-gc), two warm-up rounds run, then --rounds timed rounds, one after the other: the
 *   server emits the event (its first bytes are the round number, padded to 100 bytes) and the
 *   round ends when the child has counted it at every one of the N clients and said so over IPC.
 *   A client that got a round twice fails the run.
 * - Per peer: median and p90 ms per broadcast (emit to the last client's receipt) and deliveries
 *   per second (N / median). Peers run one after the other, each with a fresh child, and the
 *   table gives each figure's ratio to Socket.IO. Results also go to bench/results/events-broadcast.json.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Server as SocketIoServer } from 'socket.io';
import { io as socketIoClient } from 'socket.io-client';
import { connectEvents, listenEvents } from '../packages/events/dist/index.js';

const SELF = fileURLToPath(import.meta.url);
const RESULTS = join(dirname(SELF), 'results');
const PAYLOAD_BYTES = 100;
const CONNECT_CONCURRENCY = 200;
const WARMUP_ROUNDS = 2;
const ROUND_TIMEOUT_MS = 60_000;
const SETUP_TIMEOUT_MS = 600_000;

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '20' },
    peers: { type: 'string', default: 'liaison,socketio' },
    child: { type: 'string' },
    port: { type: 'string' },
  },
});
const sessions = positiveInt('--sessions', values.sessions);
const rounds = positiveInt('--rounds', values.rounds);

const payload = (round) => `${round}:`.padEnd(PAYLOAD_BYTES, 'x');
const roundOf = (text) => Number.parseInt(text, 10);
const gc = () => globalThis.gc?.();

/** The server side of each peer: listen, count connected clients, broadcast, close. */
const SERVERS = {
  async liaison() {
    // Every client comes from 127.0.0.1: above the per-address and total caps of a real server.
    const io = await listenEvents('tcp://127.0.0.1:0', {
      attackLimits: { connectionsPerAddressMax: 1_000_000, connectionsMax: 1_000_000 },
    });
    io.server.on('connection-error', () => {});
    return {
      port: io.server.address.port,
      connected: () => io.sockets.size,
      broadcast: (round) => io.emit('news', payload(round)),
      close: () => io.close(),
    };
  },
  async socketio() {
    const http = createServer();
    const io = new SocketIoServer(http, { transports: ['websocket'], serveClient: false });
    await new Promise((resolve) => http.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, resolve));
    return {
      port: http.address().port,
      connected: () => io.engine.clientsCount,
      broadcast: (round) => io.emit('news', payload(round)),
      close: () =>
        new Promise((resolve) => {
          io.close();
          http.close(() => resolve());
        }),
    };
  },
};

/** The client side of each peer: open one client that calls `onNews(text)` per event. */
const CLIENTS = {
  async liaison(port, onNews) {
    const socket = connectEvents(`tcp://127.0.0.1:${port}`);
    socket.on('news', onNews);
    await socket.ready;
    return () => socket.session.abort();
  },
  async socketio(port, onNews) {
    const socket = socketIoClient(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true });
    socket.on('news', onNews);
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return () => socket.disconnect();
  },
};

if (values.child) await child(values.child, Number(values.port));
else await main();

async function main() {
  if (!globalThis.gc) console.warn('run with node --expose-gc for a forced GC before the timed rounds');
  const peers = values.peers.split(',');
  for (const p of peers) if (!SERVERS[p]) throw new Error(`unknown peer ${p} (liaison, socketio)`);
  console.log(
    `broadcast of a ${PAYLOAD_BYTES} B event to ${sessions} sessions, ${rounds} rounds (+${WARMUP_ROUNDS} warm-up)`,
  );
  const results = {};
  for (const peer of peers) results[peer] = await measure(peer);
  printTable(results);
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, 'events-broadcast.json');
  const machine = { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, platform: os.platform() };
  writeFileSync(
    file,
    `${JSON.stringify({ sessions, rounds, payloadBytes: PAYLOAD_BYTES, machine, results }, null, 2)}\n`,
  );
  console.log(`\nwritten to ${file}`);
}

async function measure(peer) {
  const server = await SERVERS[peer]();
  const kid = fork(SELF, ['--child', peer, '--port', String(server.port), '--sessions', String(sessions)], {
    execArgv: ['--expose-gc', '--max-old-space-size=4096'],
  });
  const inbox = mailbox(kid);
  try {
    const started = performance.now();
    const ready = await inbox.next('ready', SETUP_TIMEOUT_MS);
    const setupMs = performance.now() - started;
    await until(() => server.connected() >= sessions, 30_000, `${peer}: ${sessions} sessions at the server`);
    console.log(
      `${peer}: ${sessions} clients connected in ${(setupMs / 1000).toFixed(1)} s (child ${ready.heapMB} MB heap)`,
    );
    gc();
    kid.send({ type: 'gc' });
    await inbox.next('gc-done', 10_000);
    const times = [];
    for (let round = 1; round <= WARMUP_ROUNDS + rounds; round++) {
      const t0 = performance.now();
      await server.broadcast(round);
      const done = await inbox.next('round', ROUND_TIMEOUT_MS);
      if (done.round !== round) throw new Error(`${peer}: expected round ${round}, child finished ${done.round}`);
      if (round > WARMUP_ROUNDS) times.push(performance.now() - t0);
    }
    kid.send({ type: 'close' });
    const end = await inbox.next('closed', 60_000);
    if (end.duplicates > 0) throw new Error(`${peer}: ${end.duplicates} duplicate deliveries`);
    times.sort((a, b) => a - b);
    const median = quantile(times, 0.5);
    return {
      setupMs,
      medianMs: median,
      p90Ms: quantile(times, 0.9),
      deliveriesPerSec: (sessions / median) * 1000,
      times,
    };
  } finally {
    kid.kill();
    await server.close();
  }
}

/** The child: N clients, a count per round, a message to the parent when a round reached all. */
async function child(peer, port) {
  const counts = new Map();
  let duplicates = 0;
  const seen = [];
  const closers = [];
  const onNewsFor = (index) => (text) => {
    const round = roundOf(text);
    if (seen[index] >= round) duplicates++;
    seen[index] = round;
    const n = (counts.get(round) ?? 0) + 1;
    counts.set(round, n);
    if (n === sessions) {
      counts.delete(round);
      process.send({ type: 'round', round });
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < sessions) {
      const index = next++;
      seen[index] = 0;
      closers.push(await CLIENTS[peer](port, onNewsFor(index)));
    }
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
  process.send({ type: 'ready', heapMB: Math.round(process.memoryUsage().heapUsed / 2 ** 20) });
  process.on('message', (m) => {
    if (m.type === 'gc') {
      gc();
      process.send({ type: 'gc-done' });
    }
    if (m.type === 'close') {
      for (const close of closers) close();
      process.send({ type: 'closed', duplicates }, () => process.exit(0));
    }
  });
}

/** The child's messages, taken in order by type, each wait bounded. */
function mailbox(kid) {
  const queue = [];
  let waiter = null;
  let exited = null;
  kid.on('message', (m) => {
    queue.push(m);
    waiter?.();
  });
  kid.on('exit', (code, signal) => {
    exited = `child exited (${code ?? signal})`;
    waiter?.();
  });
  return {
    async next(type, ms) {
      const deadline = performance.now() + ms;
      for (;;) {
        const at = queue.findIndex((m) => m.type === type);
        if (at >= 0) return queue.splice(at, 1)[0];
        if (exited) throw new Error(`${exited} while waiting for '${type}'`);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for '${type}' from the child`);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, left);
          waiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        waiter = null;
      }
    },
  };
}

function printTable(results) {
  const ref = results.socketio;
  const ratio = (v, r) => (r ? `${(v / r).toFixed(2)}x` : '-');
  const rows = [
    ['peer', 'setup s', 'ms/broadcast (median)', 'p90 ms', 'deliveries/s', 'time vs Socket.IO', 'rate vs Socket.IO'],
  ];
  for (const [peer, r] of Object.entries(results)) {
    rows.push([
      peer,
      (r.setupMs / 1000).toFixed(1),
      r.medianMs.toFixed(1),
      r.p90Ms.toFixed(1),
      Math.round(r.deliveriesPerSec).toLocaleString('en-US'),
      ratio(r.medianMs, ref?.medianMs),
      ratio(r.deliveriesPerSec, ref?.deliveriesPerSec),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)));
  console.log('');
  for (const row of rows) console.log(row.map((cell, i) => String(cell).padEnd(widths[i])).join('  '));
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function until(condition, ms, what) {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function positiveInt(name, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${text}`);
  return n;
}
