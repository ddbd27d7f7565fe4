#!/usr/bin/env node
// Fairness over one shared connection (issue 6): 1,000 liaison sessions multiplexed over one
// transport connection, one of them moving bulk data both ways, while another measures request/
// response round trips. Compared with the round trip of a session alone on an idle connection.
// Server and client run in separate processes. Prints a line and writes bench/results/fairness.json.
//
//   node bench/fairness.mjs [--sessions 1000] [--pings 2000] [--runs 3]
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const api = new URL('../packages/node/dist/index.js', import.meta.url).href;
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

if (process.argv[2] === '--server') {
  const { listen } = await import(api);
  const server = await listen('tcp://127.0.0.1:0', { limits: { sessionsPerConnectionMax: 200_000 } });
  process.send({ url: server.url });
  for await (const s of server) {
    (async () => {
      try {
        for await (const m of s) await s.send(m);
      } catch {}
    })();
  }
} else if (process.argv[2] === '--client') {
  const { connect, Pool } = await import(api);
  const [url, sessionsText, pingsText] = process.argv.slice(3);
  const sessions = Number(sessionsText);
  const pings = Number(pingsText);
  const rtt = async (session) => {
    const it = session[Symbol.asyncIterator]();
    const out = [];
    for (let i = 0; i < pings + 200; i++) {
      const t = performance.now();
      await session.send('ping');
      await it.next();
      if (i >= 200) out.push(performance.now() - t); // the first 200 warm up
    }
    out.sort((a, b) => a - b);
    return { p50: out[Math.floor(out.length / 2)], p99: out[Math.floor(out.length * 0.99)] };
  };
  // Alone on an idle connection.
  const alone = connect(url);
  await alone.ready;
  const idle = await rtt(alone);
  await alone.close();
  // 1,000 sessions over one connection; session 0 is bulk, session 1 measures.
  const pool = new Pool({ sessionsPerConnection: sessions });
  const all = Array.from({ length: sessions }, () => connect(url, { pool }));
  await Promise.all(all.map((s) => s.ready));
  const bulk = all[0];
  let stop = false;
  let bulkBytes = 0;
  const chunk = new Uint8Array(64 * 1024);
  const sending = (async () => {
    while (!stop) await bulk.send(chunk);
  })();
  const reading = (async () => {
    for await (const m of bulk) {
      bulkBytes += m.byteLength;
      if (stop) break;
    }
  })();
  await new Promise((r) => setTimeout(r, 500));
  if (process.env.DEBUG_FAIRNESS) console.error('bulk bytes after 500 ms', bulkBytes, 'buffered', bulk.bufferedAmount);
  const before = bulkBytes;
  const t0 = performance.now();
  const shared = await rtt(all[1]);
  const bulkMBps = (bulkBytes - before) / (performance.now() - t0) / 1e3; // bytes per ms / 1e3 = MB/s
  if (process.env.DEBUG_FAIRNESS) {
    console.error('bulk bytes after pings', bulkBytes, 'before', before, 'ms', performance.now() - t0, bulk.stats);
  }
  stop = true;
  process.send({ idle, shared, bulkMBps, connections: pool.connectionCount });
  await Promise.race([Promise.all([sending, reading]), new Promise((r) => setTimeout(r, 500))]);
  process.exit(0);
} else {
  const sessions = arg('sessions', 1000);
  const pings = arg('pings', 2000);
  const runs = arg('runs', 3);
  const results = [];
  for (let run = 0; run < runs; run++) {
    const server = fork(fileURLToPath(import.meta.url), ['--server'], { stdio: 'inherit' });
    const { url } = await new Promise((resolve) => server.once('message', resolve));
    const client = fork(fileURLToPath(import.meta.url), ['--client', url, String(sessions), String(pings)], {
      stdio: 'inherit',
    });
    results.push(await new Promise((resolve) => client.once('message', resolve)));
    await new Promise((resolve) => client.once('exit', resolve));
    server.kill();
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const summary = {
    sessions,
    pings,
    runs,
    idleP50Ms: median(results.map((r) => r.idle.p50)),
    idleP99Ms: median(results.map((r) => r.idle.p99)),
    sharedP50Ms: median(results.map((r) => r.shared.p50)),
    sharedP99Ms: median(results.map((r) => r.shared.p99)),
    bulkMBps: median(results.map((r) => r.bulkMBps)),
    ratioP50: median(results.map((r) => r.shared.p50 / r.idle.p50)),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  };
  console.log(
    `fairness: ${sessions} sessions on one connection, one bulk (${summary.bulkMBps.toFixed(0)} MB/s echoed): ` +
      `round trip p50 ${summary.sharedP50Ms.toFixed(3)} ms (p99 ${summary.sharedP99Ms.toFixed(3)}) vs ` +
      `${summary.idleP50Ms.toFixed(3)} ms (p99 ${summary.idleP99Ms.toFixed(3)}) alone on an idle connection: ` +
      `${summary.ratioP50.toFixed(2)}x (target <= 2x)`,
  );
  mkdirSync(`${here}/results`, { recursive: true });
  writeFileSync(`${here}/results/fairness.json`, `${JSON.stringify({ summary, results }, null, 2)}\n`);
}
