#!/usr/bin/env node
// What recovery costs, measured (a benchmark, not a test: it asserts nothing and prints numbers).
// Needs `npm run build` first. Writes bench/results/resume.json.
//
// (a) Resume latency: client and server on loopback behind the testkit's fault proxy adding a fixed
//     one-way delay each way. Per run: a few messages are sent and cut off in flight, the network
//     is down (connections refused) while more are queued on the client, then up again. Reported:
//     from the moment the client's new TCP connection is accepted by the proxy (and separately from
//     the moment the proxy let connections through again) to the first retransmitted message
//     delivered at the server, in ms and in round trips; median and p90.
// (b) The cost of acknowledgements and recovery with no faults: bulk transfers over liaison and
//     over raw TCP with 4-byte length-prefixed framing (same messages, each side in its own
//     process), in MB/s and messages/s; and the bytes of ACK frames per MB of data, counted by
//     decoding frame headers in a pass-through proxy (a separate, identical liaison run).
//
// Usage: node bench/resume.mjs [--quick]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const SELF = new URL(import.meta.url).pathname;
const RESULTS = new URL('./results/', import.meta.url);
const MB = 1e6;

const ACK = 0x40;
const HEADER_BYTES = 10;
const PREFACE_BYTES = 4;

const args = process.argv.slice(2);
const role = args[0] === '--role' ? args[1] : null;
if (role) await child(role, args.slice(2));
else await main(args.includes('--quick'));

async function main(quick) {
  const started = performance.now();
  const latency = await resumeLatency({ runs: quick ? 5 : 20, delayMs: 10, downMs: 300 });
  const workloads = [
    { name: '256 MiB in 64 KiB messages', messages: quick ? 512 : 4096, size: 64 * 1024 },
    { name: '1M 64-byte messages', messages: quick ? 100_000 : 1_000_000, size: 64 },
  ];
  const throughput = [];
  for (const w of workloads) throughput.push(await bulk(w));

  printLatency(latency);
  printThroughput(throughput);
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    command: `node bench/resume.mjs${quick ? ' --quick' : ''}`,
    resumeLatency: latency,
    throughput,
    durationS: Math.round((performance.now() - started) / 100) / 10,
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(new URL('resume.json', RESULTS), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote bench/results/resume.json (${result.durationS} s)`);
}

// ---------------------------------------------------------------- (a) resume latency

async function resumeLatency({ runs, delayMs, downMs }) {
  const { connect, listen } = await import('@liaison/node');
  const { FaultProxy } = await import('@liaison/testkit');
  const server = await listen('tcp://127.0.0.1:0');
  const proxy = new FaultProxy({ target: server.address, delayMs });
  await proxy.start();
  const client = connect(proxy.url);
  const sessionP = new Promise((resolve) => server.once('session', resolve));
  await client.ready;
  const accepted = await sessionP;
  const delivered = []; // [text, at]
  let onDelivered = null;
  accepted.on('message', (m) => {
    delivered.push([new TextDecoder().decode(m), performance.now()]);
    onDelivered?.();
  });
  const waitDelivered = (n) =>
    new Promise((resolve) => {
      const check = () => {
        if (delivered.length >= n) {
          onDelivered = null;
          resolve();
        }
      };
      onDelivered = check;
      check();
    });
  let lastConnectionAt = 0;
  proxy.on('connection', ({ at }) => (lastConnectionAt = at));
  const samples = [];
  await client.send('warm-up');
  await waitDelivered(1);
  for (let run = 0; run < runs; run++) {
    await sleep(50); // let acknowledgements settle
    const before = delivered.length;
    const resumedBefore = client.stats.resumes;
    for (let i = 0; i < 5; i++) await client.send(`run ${run} in-flight ${i}`);
    await sleep(delayMs / 2); // on the wire (inside the delay line), not yet delivered
    await proxy.down('refuse', { cutExisting: true });
    for (let i = 0; i < 5; i++) await client.send(`run ${run} queued ${i}`);
    await sleep(downMs);
    const upAt = performance.now();
    await proxy.up();
    await waitDelivered(before + 10);
    const [firstText, firstAt] = delivered[before];
    // The client counts the resume when RESUMED comes back, half a round trip after the server's first delivery.
    for (let i = 0; i < 100 && client.stats.resumes === resumedBefore; i++) await sleep(5);
    const retransmitted = firstText === `run ${run} in-flight 0`;
    if (!retransmitted || client.stats.resumes !== resumedBefore + 1) {
      console.error(`run ${run}: unexpected (first delivered "${firstText}", resumes ${client.stats.resumes})`);
      continue;
    }
    samples.push({ fromConnectionMs: firstAt - lastConnectionAt, fromUpMs: firstAt - upAt });
  }
  const rttMs = 2 * delayMs;
  await client.close();
  await proxy.stop();
  await server.close();
  const fromConnection = samples.map((s) => s.fromConnectionMs);
  const fromUp = samples.map((s) => s.fromUpMs);
  return {
    runs: samples.length,
    oneWayDelayMs: delayMs,
    rttMs,
    downMs,
    note: 'the proxy delays data, not the TCP handshake: a real path adds one more RTT for SYN/SYN-ACK',
    fromNewConnection: summary(fromConnection, rttMs),
    fromNetworkUp: summary(fromUp, rttMs),
  };
}

function summary(values, rttMs) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  const r = (x) => Math.round(x * 10) / 10;
  return {
    medianMs: r(at(0.5)),
    p90Ms: r(at(0.9)),
    medianRtts: r(at(0.5) / rttMs),
    p90Rtts: r(at(0.9) / rttMs),
  };
}

// ---------------------------------------------------------------- (b) throughput

async function bulk({ name, messages, size }) {
  const bytes = messages * size;
  const raw = await transfer('raw', messages, size);
  const liaison = await transfer('liaison', messages, size);
  const acks = await ackCost(messages, size);
  const r = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    workload: name,
    messages,
    messageBytes: size,
    dataMB: r(bytes / MB),
    rawTcp: { ms: r(raw.ms), mbPerS: r(bytes / MB / (raw.ms / 1000)), msgPerS: Math.round(messages / (raw.ms / 1000)) },
    liaison: {
      ms: r(liaison.ms),
      mbPerS: r(bytes / MB / (liaison.ms / 1000)),
      msgPerS: Math.round(messages / (liaison.ms / 1000)),
    },
    liaisonToRawRatio: r(raw.ms / liaison.ms, 3),
    ack: {
      frames: acks.ackFrames,
      bytes: acks.ackBytes,
      bytesPerMB: r(acks.ackBytes / (acks.dataPayloadBytes / MB)),
      framesPerMB: r(acks.ackFrames / (acks.dataPayloadBytes / MB), 2),
      wireOverheadPercent: r((100 * (acks.wireBytes - acks.dataPayloadBytes)) / acks.dataPayloadBytes, 2),
    },
  };
}

/** One transfer, sender and receiver each in its own process; returns the sender's elapsed time. */
async function transfer(kind, messages, size, via = null) {
  const server = spawnChild([`${kind}-server`, String(messages)]);
  const [ready] = await once(createInterface({ input: server.stdout }), 'line');
  const port = Number(ready.split(' ')[1]);
  const target = via ? await via(port) : port;
  const client = spawnChild([`${kind}-client`, String(target), String(messages), String(size)]);
  const [line] = await once(createInterface({ input: client.stdout }), 'line');
  await once(client, 'exit');
  server.kill('SIGTERM');
  await once(server, 'exit');
  return JSON.parse(line);
}

/** The same liaison transfer through a pass-through proxy whose tap decodes every frame header. */
async function ackCost(messages, size) {
  const { FaultProxy } = await import('@liaison/testkit');
  const parsers = new Map();
  const totals = { ackFrames: 0, ackBytes: 0, dataPayloadBytes: 0, wireBytes: 0 };
  let proxy = null;
  const tap = (direction, bytes, id) => {
    const key = `${id} ${direction}`;
    let p = parsers.get(key);
    if (!p) parsers.set(key, (p = headerParser(totals)));
    totals.wireBytes += bytes.byteLength;
    p(bytes);
  };
  await transfer('liaison', messages, size, async (port) => {
    proxy = new FaultProxy({ target: { host: '127.0.0.1', port }, tap });
    await proxy.start();
    return proxy.address.port;
  });
  await proxy?.stop();
  return totals;
}

/** Walks liaison's framing (4-byte preface, then 10-byte headers: type, flags, channel, length). */
function headerParser(totals) {
  let skip = PREFACE_BYTES;
  const header = Buffer.alloc(HEADER_BYTES);
  let have = 0;
  return (bytes) => {
    let i = 0;
    while (i < bytes.length) {
      if (skip > 0) {
        const n = Math.min(skip, bytes.length - i);
        skip -= n;
        i += n;
        continue;
      }
      const n = Math.min(HEADER_BYTES - have, bytes.length - i);
      header.set(bytes.subarray(i, i + n), have);
      have += n;
      i += n;
      if (have < HEADER_BYTES) break;
      have = 0;
      const type = header[0];
      const length = header.readUInt32BE(6);
      if (type === ACK) {
        totals.ackFrames++;
        totals.ackBytes += HEADER_BYTES + length;
      } else if (type === 0x10) {
        totals.dataPayloadBytes += length;
      }
      skip = length;
    }
  };
}

function spawnChild(roleArgs) {
  const c = spawn(process.execPath, [SELF, '--role', ...roleArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  return c;
}

// ---------------------------------------------------------------- the child processes

async function child(which, rest) {
  switch (which) {
    case 'liaison-server': {
      const { listen } = await import('@liaison/node');
      const server = await listen('tcp://127.0.0.1:0');
      server.on('session', (s) => s.on('message', () => {}));
      console.log(`ready ${server.address.port}`);
      process.once('SIGTERM', () => server.close().then(() => process.exit(0)));
      return;
    }
    case 'liaison-client': {
      const { connect } = await import('@liaison/node');
      const [port, messages, size] = rest.map(Number);
      const session = connect(`tcp://127.0.0.1:${port}`);
      await session.ready;
      const payload = new Uint8Array(size).fill(0x61);
      const t0 = performance.now();
      for (let i = 0; i < messages; i++) await session.send(payload);
      const reason = await session.close(); // released: everything was delivered
      const ms = performance.now() - t0;
      if (reason.kind !== 'released') throw new Error(`not released: ${reason.kind}`);
      console.log(JSON.stringify({ ms }));
      return;
    }
    case 'raw-server': {
      const [expected] = rest.map(Number);
      const server = createServer((socket) => {
        let count = 0;
        let need = 4; // bytes still to read of the current header or payload
        let inHeader = true;
        const header = Buffer.alloc(4);
        let have = 0;
        socket.on('data', (chunk) => {
          let i = 0;
          while (i < chunk.length) {
            if (inHeader) {
              const n = Math.min(4 - have, chunk.length - i);
              chunk.copy(header, have, i, i + n);
              have += n;
              i += n;
              if (have === 4) {
                have = 0;
                inHeader = false;
                need = header.readUInt32BE(0);
              }
            } else {
              const n = Math.min(need, chunk.length - i);
              need -= n;
              i += n;
            }
            if (!inHeader && need === 0) {
              inHeader = true;
              if (++count === expected) socket.end(Buffer.of(1));
            }
          }
        });
      });
      server.listen(0, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
      process.once('SIGTERM', () => process.exit(0));
      return;
    }
    case 'raw-client': {
      const [port, messages, size] = rest.map(Number);
      const socket = netConnect({ host: '127.0.0.1', port });
      socket.setNoDelay(true);
      await once(socket, 'connect');
      const payload = Buffer.alloc(size, 0x61);
      const done = once(socket, 'data');
      const t0 = performance.now();
      // Frames are batched into 256 KiB writes: what a tight sender does, the physical ceiling.
      const batch = Buffer.allocUnsafe(256 * 1024 + 4 + size);
      let used = 0;
      for (let i = 0; i < messages; i++) {
        batch.writeUInt32BE(size, used);
        payload.copy(batch, used + 4);
        used += 4 + size;
        if (used >= 256 * 1024 || i === messages - 1) {
          const ok = socket.write(Buffer.from(batch.subarray(0, used)));
          used = 0;
          if (!ok) await once(socket, 'drain');
        }
      }
      await done;
      const ms = performance.now() - t0;
      socket.destroy();
      console.log(JSON.stringify({ ms }));
      return;
    }
    default:
      throw new Error(`unknown role ${which}`);
  }
}

// ---------------------------------------------------------------- output

function printLatency(l) {
  console.log(
    `\nResume latency: one-way delay ${l.oneWayDelayMs} ms each way (RTT ${l.rttMs} ms), network down ${l.downMs} ms, ${l.runs} runs`,
  );
  console.log('  to the first retransmitted message delivered     median           p90');
  const row = (label, s) =>
    console.log(
      `  ${label.padEnd(46)} ${`${s.medianMs} ms (${s.medianRtts} RTT)`.padEnd(16)} ${s.p90Ms} ms (${s.p90Rtts} RTT)`,
    );
  row('from the new TCP connection', l.fromNewConnection);
  row('from the network coming back (incl. backoff)', l.fromNetworkUp);
  console.log(`  (${l.note})`);
}

function printThroughput(rows) {
  console.log('\nBulk transfer, no faults, sender and receiver in separate processes (loopback)');
  console.log(
    `  ${'workload'.padEnd(28)} ${'raw TCP MB/s'.padStart(12)} ${'liaison MB/s'.padStart(12)} ${'raw msg/s'.padStart(11)} ${'liaison msg/s'.padStart(13)} ${'ratio'.padStart(6)} ${'ACK B/MB'.padStart(9)} ${'ACKs/MB'.padStart(8)}`,
  );
  for (const r of rows) {
    console.log(
      `  ${r.workload.padEnd(28)} ${String(r.rawTcp.mbPerS).padStart(12)} ${String(r.liaison.mbPerS).padStart(12)} ${String(r.rawTcp.msgPerS).padStart(11)} ${String(r.liaison.msgPerS).padStart(13)} ${String(r.liaisonToRawRatio).padStart(6)} ${String(r.ack.bytesPerMB).padStart(9)} ${String(r.ack.framesPerMB).padStart(8)}`,
    );
  }
  console.log('  ratio: liaison throughput / raw TCP throughput; ACK bytes counted from frame headers on the wire');
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
