#!/usr/bin/env node
// The "Done when" check of issue 4, file transfer part: a file (200 MiB by default) crosses a
// fault proxy that cuts every connection after 1 s, survives a kill -9 of the sender (run again)
// and then of the receiver (started again on the same port and directory), resuming each time
// from a confirmed sync point; the received file's SHA-256 must match. Prints the figures.
//
//   npm run transfer:check                       (builds first)
//   node scripts/transfer-check.mjs --size-mib 24 --sync-every 1MiB --cut-ms 150 --delay-ms 5   (CI-sized)
//
// Exit 0 when every check passed, 1 otherwise.
import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const CLI = join(root, 'packages/cli/dist/main.js');
const { FaultProxy } = await import(join(root, 'packages/testkit/dist/index.js'));
const { parseByteSize, formatBytes } = await import(join(root, 'packages/transfer/dist/index.js'));

const { values: opts } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '200' },
    'sync-every': { type: 'string', default: '4MiB' },
    'cut-ms': { type: 'string', default: '1000' },
    'delay-ms': { type: 'string', default: '0' },
    // A bandwidth limit, so the transfer lasts long enough for the cuts to hit it many times
    // (unlimited, loopback moves 200 MiB in a few seconds: two or three cuts in all).
    'rate-mib': { type: 'string', default: '16' },
    'timeout-s': { type: 'string', default: '600' },
    keep: { type: 'boolean', default: false },
  },
});
const MiB = 1024 * 1024;
const size = Number(opts['size-mib']) * MiB;
const syncEvery = parseByteSize(opts['sync-every']);
const cutMs = Number(opts['cut-ms']);
const delayMs = Number(opts['delay-ms']);
const rateMiB = Number(opts['rate-mib']);
const deadline = Date.now() + Number(opts['timeout-s']) * 1000;
const children = new Set();
const figures = [];
const failures = [];

const work = await mkdtemp(join(tmpdir(), 'liaison-transfer-check-'));
try {
  await main();
} catch (e) {
  failures.push(e instanceof Error ? e.message : String(e));
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (!opts.keep) await rm(work, { recursive: true, force: true });
}
for (const f of figures) console.log(f);
if (failures.length > 0) {
  console.error(`transfer check FAILED:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('transfer check passed');
process.exit(0);

async function main() {
  const t0 = Date.now();
  const src = join(work, 'big.bin');
  const dir = join(work, 'received');
  const sha256 = await makeFile(src, size);
  figures.push(
    `file: ${formatBytes(size)}, SHA-256 ${sha256}; sync every ${formatBytes(syncEvery)}; proxy cuts every connection after ${cutMs} ms${delayMs ? `, delays ${delayMs} ms each way` : ''}${rateMiB > 0 ? `, carries ${rateMiB} MiB/s each way` : ''}`,
  );

  let receiver = await serve('tcp://127.0.0.1:0', dir);
  const proxy = new FaultProxy({
    target: endpoint(receiver.url),
    cutAfterMs: [cutMs, cutMs],
    delayMs,
    rateBytesPerSec: rateMiB > 0 ? rateMiB * MiB : null,
    seed: 1,
  });
  await proxy.start();
  try {
    const sendArgs = ['send', src, proxy.url, '--json', '--sync-every', opts['sync-every'], '--retry-for-ms', '60000'];

    // 1. The sender, killed with SIGKILL once a quarter of the file is confirmed.
    const tSend1 = Date.now();
    const first = run(sendArgs);
    await first.waitFor((e) => e.event === 'checkpoint' && e.offset >= size / 4, 'sender: a quarter confirmed');
    first.proc.kill('SIGKILL');
    await once(first.proc, 'exit');
    const confirmed1 = Math.max(...first.events.filter((e) => e.event === 'checkpoint').map((e) => e.offset));
    figures.push(
      `run 1: sender killed (SIGKILL) after ${((Date.now() - tSend1) / 1000).toFixed(1)} s, last confirmed sync point at byte ${confirmed1} (${formatBytes(confirmed1)})`,
    );

    // 2. Run again: it must resume at or past that point; then the receiver is killed at 60 %.
    const tSend2 = Date.now();
    const second = run(sendArgs);
    const r1 = (await second.waitFor((e) => e.event === 'resumed', 'sender run 2: resumed')).resumed;
    check(
      r1.fromByte >= confirmed1 && r1.fromByte % syncEvery === 0 && r1.fromByte > 0,
      `run 2 resumed from a confirmed sync point (${r1.fromByte} >= ${confirmed1})`,
    );
    figures.push(
      `run 2: resumed from byte ${r1.fromByte} (${formatBytes(r1.fromByte)}), sync point serial ${r1.serial}, not from zero`,
    );
    await second.waitFor((e) => e.event === 'checkpoint' && e.offset >= (size * 3) / 5, 'sender run 2: 60 % confirmed');
    receiver.child.proc.kill('SIGKILL');
    await once(receiver.child.proc, 'exit');
    const onDisk = Math.max(...receiver.child.events.filter((e) => e.event === 'checkpoint').map((e) => e.offset));
    figures.push(`run 2: receiver killed (SIGKILL) with ${onDisk} bytes (${formatBytes(onDisk)}) confirmed on disk`);
    const firstReceiver = receiver;
    receiver = await serve(receiver.url, dir);

    const [code] = await once(second.proc, 'exit');
    const resumes = second.events.filter((e) => e.event === 'resumed').map((e) => e.resumed);
    const r2 = resumes[1];
    check(code === 0, `the sender exited 0 (exit ${code}; ${second.tail()})`);
    check(
      r2 !== undefined && r2.fromByte >= onDisk && r2.fromByte % syncEvery === 0,
      `resumed into the restarted receiver from a confirmed sync point (${r2?.fromByte} >= ${onDisk})`,
    );
    if (r2)
      figures.push(
        `run 2: after the receiver restart, resumed from byte ${r2.fromByte} (${formatBytes(r2.fromByte)}), serial ${r2.serial}`,
      );
    const done = second.events.find((e) => e.event === 'done');
    const run2Ms = Date.now() - tSend2;
    const got = await hashFile(join(dir, 'big.bin'));
    check(got === sha256, `received SHA-256 ${got} matches`);
    figures.push(`received SHA-256 ${got} ${got === sha256 ? 'matches' : 'DIFFERS'}`);
    const libraryResumes = [...firstReceiver.child.events, ...receiver.child.events].filter(
      (e) => e.event === 'session-resumed',
    ).length;
    const reopened = second.events.filter((e) => e.event === 'session-lost').length;
    check(proxy.counters.cuts >= 1, `the proxy cut connections during the transfer (${proxy.counters.cuts})`);
    figures.push(
      `proxy: ${proxy.counters.connections} connections, ${proxy.counters.cuts} cuts; sessions resumed by the library after a cut: ${libraryResumes}; sessions re-opened by the sender after the receiver restart: ${reopened}`,
    );
    figures.push(
      `run 2 sent ${done?.bytesSent ?? '?'} bytes (${formatBytes(done?.bytesSent ?? 0)}) of the ${size}-byte file`,
    );
    figures.push(
      `time: run 2 ${(run2Ms / 1000).toFixed(1)} s; whole check ${((Date.now() - t0) / 1000).toFixed(1)} s; run 2 throughput ${formatBytes(((done?.bytesSent ?? 0) * 1000) / run2Ms)}/s`,
    );
  } finally {
    await proxy.stop();
  }
}

function check(ok, what) {
  if (!ok) failures.push(what);
}

async function serve(listen, dir) {
  const child = run(['serve', '--listen', listen, '--receive-dir', dir, '--json']);
  const lines = createInterface({ input: child.proc.stdout });
  const [first] = await within(once(lines, 'line'), 'serve: listening line');
  lines.close();
  return { child, url: first.slice('listening '.length) };
}

function endpoint(url) {
  const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(url);
  return { host: m[1], port: Number(m[2]) };
}

function run(args) {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  const events = [];
  const waiters = [];
  let text = '';
  createInterface({ input: proc.stderr }).on('line', (line) => {
    text = (text + line + '\n').slice(-4000);
    if (!line.startsWith('{')) return;
    const e = JSON.parse(line);
    events.push(e);
    for (const w of waiters.splice(0)) w.pred(e) ? w.resolve(e) : waiters.push(w);
  });
  return {
    proc,
    events,
    tail: () => text.slice(-1000),
    waitFor(pred, what) {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      const exited = once(proc, 'exit').then(([code]) => {
        throw new Error(`${what}: the process exited (${code}) first; ${text.slice(-1000)}`);
      });
      return within(Promise.race([new Promise((resolve) => waiters.push({ pred, resolve })), exited]), what);
    },
  };
}

function within(p, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function makeFile(path, bytes) {
  const hash = createHash('sha256');
  const fh = await open(path, 'w');
  const block = new Uint8Array(MiB);
  for (let at = 0; at < bytes; at += MiB) {
    randomFillSync(block);
    const n = Math.min(MiB, bytes - at);
    hash.update(block.subarray(0, n));
    await fh.write(block, 0, n, at);
  }
  await fh.close();
  return hash.digest('hex');
}

async function hashFile(path) {
  const hash = createHash('sha256');
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return 'missing';
  for await (const chunk of fh.createReadStream({ highWaterMark: MiB })) hash.update(chunk);
  return hash.digest('hex');
}
