#!/usr/bin/env node
/**
 * What session encryption costs, per crypto provider (packages/core/src/crypto/provider.ts).
 *
 *   node bench/noise-records.mjs [--quick] [--runs N] [--mb N] [--rows a,b] [--e2e] [--cpu-prof]
 *
 * 1. Records: full 64 KiB Noise records (65,518 data bytes each) sealed by a RecordSealer and
 *    opened by a RecordOpener in one process, with the portable @noble provider and with
 *    node:crypto; MB/s of data (MB = 10^6 bytes) and the ratio node / noble.
 * 2. End to end: 64 KiB messages one way on loopback, from a client in this process to a server in
 *    a forked process, timed from the first send to the server's answer once it counted every byte:
 *    raw TCP with length-prefixed framing (bench/peers/raw-tcp.mjs), plaintext liaison, and liaison
 *    inside Noise XX with each provider (both sides on the same provider). Ratios against raw TCP
 *    and against plaintext liaison.
 * Each figure is the median of --runs runs (3; 1 with --quick), runs interleaved across rows.
 * Needs `npm run build` first (it loads packages/*\/dist).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CipherState, nobleCrypto, RecordOpener, RecordSealer } from '../packages/core/dist/index.js';
import { connect, generateNoiseKeyPair, listen, nodeCrypto } from '../packages/node/dist/index.js';
import rawTcp from './peers/raw-tcp.mjs';

const SELF = fileURLToPath(import.meta.url);
const MESSAGE_BYTES = 64 * 1024;
const RECORD_DATA_BYTES = 65_518;
const PROVIDERS = { noble: nobleCrypto, node: nodeCrypto };
const ROWS = ['raw-tcp', 'liaison', 'liaison-noise-node', 'liaison-noise-noble'];
let cpuProf = false;

if (process.argv[2] === '--serve') await serve(process.argv[3]);
else await main();

async function main() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      runs: { type: 'string' },
      mb: { type: 'string' },
      rows: { type: 'string' },
      e2e: { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
    },
  });
  const rows = values.rows ? values.rows.split(',') : ROWS;
  cpuProf = values['cpu-prof'] ?? false;
  const runs = Number(values.runs ?? (values.quick ? 1 : 3));
  const mb = Number(values.mb ?? (values.quick ? 64 : 256));

  if (!values.e2e) records(runs);

  console.log(`End to end: ${mb} MiB of 64 KiB messages one way on loopback (noble row: a quarter), median of ${runs}`);
  const e2e = Object.fromEntries(rows.map((row) => [row, []]));
  for (let r = 0; r < runs; r++) {
    for (const row of rows) e2e[row].push(await oneWay(row, row.endsWith('noble') ? mb / 4 : mb));
  }
  const raw = e2e['raw-tcp'] ? median(e2e['raw-tcp']) : Number.NaN;
  const plain = e2e.liaison ? median(e2e.liaison) : Number.NaN;
  for (const row of rows) {
    const v = median(e2e[row]);
    console.log(
      `  ${row.padEnd(20)} ${fmt(v).padStart(7)} MB/s  ${(v / raw).toFixed(2)}x raw TCP  ${(v / plain).toFixed(2)}x plaintext liaison`,
    );
  }
}

function records(runs) {
  console.log(`Noise records: seal + open of ${RECORD_DATA_BYTES}-byte records, median of ${runs}`);
  const figures = {};
  for (const name of Object.keys(PROVIDERS)) figures[name] = [];
  for (let r = 0; r < runs; r++)
    for (const name of Object.keys(PROVIDERS)) figures[name].push(sealOpen(PROVIDERS[name]));
  for (const name of Object.keys(PROVIDERS)) console.log(`  ${name.padEnd(6)} ${fmt(median(figures[name]))} MB/s`);
  console.log(`  node / noble: ${(median(figures.node) / median(figures.noble)).toFixed(1)}x\n`);
}

/** MB/s of data through seal and open, for about a second after a warm-up. */
function sealOpen(crypto) {
  const key = new Uint8Array(32).fill(42);
  const sealer = new RecordSealer(new CipherState(key, crypto), 2 ** 50);
  const opener = new RecordOpener(new CipherState(key, crypto));
  const data = new Uint8Array(RECORD_DATA_BYTES).fill(7);
  const step = () => {
    const rec = sealer.seal([data])[0];
    opener.open({ header: rec.subarray(0, 2), body: rec.subarray(2) });
  };
  for (let i = 0; i < 20; i++) step();
  let bytes = 0;
  const start = performance.now();
  while (performance.now() - start < 1000) {
    step();
    bytes += RECORD_DATA_BYTES;
  }
  return bytes / 1e6 / ((performance.now() - start) / 1000);
}

/** MB/s of one one-way transfer of `mib` MiB in 64 KiB messages, server in a fresh process. */
async function oneWay(row, mib) {
  const total = Math.round(mib * 1024 * 1024);
  const execArgv = cpuProf ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles'] : [];
  const child = fork(SELF, ['--serve', row], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  const [ready] = await once(child, 'message');
  child.send({ total });
  await once(child, 'message');
  const message = new Uint8Array(MESSAGE_BYTES).fill(1);
  let done;
  const finished = new Promise((resolve) => {
    done = resolve;
  });
  let start;
  if (row === 'raw-tcp') {
    const conn = await rawTcp.open(ready.port);
    conn.onMessage(() => done());
    start = performance.now();
    for (let sent = 0; sent < total; sent += MESSAGE_BYTES) {
      const r = conn.send(message);
      if (r === false) await conn.drained();
      else if (r !== true) await r;
    }
    await finished;
    conn.close();
  } else {
    const noise = row === 'liaison' ? undefined : { remoteStaticKey: ready.publicKey, crypto: row.split('-')[2] };
    const session = connect(`tcp://127.0.0.1:${ready.port}`, noise ? { noise } : {});
    await session.ready;
    session.on('message', () => done());
    start = performance.now();
    for (let sent = 0; sent < total; sent += MESSAGE_BYTES) await session.send(message);
    await finished;
    await session.close();
  }
  const seconds = (performance.now() - start) / 1000;
  const exited = once(child, 'exit');
  child.send({ exit: true });
  await exited;
  return total / 1e6 / seconds;
}

/** The server process: counts bytes and answers once they all arrived. */
async function serve(row) {
  let total = Number.POSITIVE_INFINITY;
  let received = 0;
  const count = (data, reply) => {
    received += data.byteLength;
    if (received >= total) reply();
  };
  let ready;
  if (row === 'raw-tcp') {
    const server = await rawTcp.listen({ message: (data, conn) => count(data, () => conn.send(Uint8Array.of(1))) });
    ready = { port: server.port };
  } else {
    const keys = generateNoiseKeyPair();
    const noise = row === 'liaison' ? undefined : { staticKey: keys.privateKey, crypto: row.split('-')[2] };
    const server = await listen('tcp://127.0.0.1:0', noise ? { noise } : {});
    server.on('session', (session) => {
      session.on('message', (data) => count(data, () => session.send(Uint8Array.of(1)).catch(() => {})));
    });
    server.on('connection-error', () => {});
    ready = { port: server.address.port, publicKey: Buffer.from(keys.publicKey).toString('hex') };
  }
  process.on('message', (m) => {
    if (m.exit) process.exit(0); // a normal exit, so that --cpu-prof writes its profile
    total = m.total;
    process.send('go');
  });
  process.send(ready);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function fmt(v) {
  return v.toFixed(0);
}
