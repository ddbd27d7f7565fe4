#!/usr/bin/env node
/**
 * File transfer over loopback: `liaison send` of one file to `liaison serve --receive-dir`
 * against a raw baseline, and the cost of --sync-every, in one run.
 *
 *   node bench/transfer.mjs [--quick] [--runs N] [--mib N]
 *
 * Theory of operation
 * - One file of --mib MiB (256; 64 with --quick) of random bytes is written to a temporary
 *   directory on the machine's disk (removed at the end). Each variant sends it once per run,
 *   runs interleaved across variants; a receiver process is started first, then the sender
 *   process is timed from its spawn to its exit (process start-up is in every variant alike).
 * - Variants: `raw` (bench/peers/file-pipe.mjs: the file piped over one TCP connection into a
 *   file, fsynced at the end, then one byte of confirmation), `raw+sha256` (the same, both ends
 *   hashing and the sender checking the receiver's digest: the per-file work liaison send does
 *   beyond moving the bytes), and `liaison send` with --sync-every 1 MiB, 4 MiB (its default) and
 *   16 MiB (each sync point is confirmed by the receiver once the data is fsynced).
 * - Figures: the median MB/s (10^6 bytes) of --runs runs (3; 1 with --quick), and ratios against
 *   `raw` and `raw+sha256` measured in the same run. Everything goes to bench/results/transfer.json.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const PIPE = join(HERE, 'peers', 'file-pipe.mjs');
const LIAISON = join(HERE, '..', 'packages', 'cli', 'bin', 'liaison.js');
const RESULTS = join(HERE, 'results');
const MiB = 1024 * 1024;

const VARIANTS = {
  raw: { label: 'raw TCP pipe + fsync', run: (ctx) => raw(ctx, false) },
  'raw-sha256': { label: 'raw TCP pipe + fsync + SHA-256 both ends', run: (ctx) => raw(ctx, true) },
  'liaison-1MiB': { label: 'liaison send, --sync-every 1MiB', run: (ctx) => liaison(ctx, '1MiB') },
  'liaison-4MiB': { label: 'liaison send, --sync-every 4MiB (default)', run: (ctx) => liaison(ctx, '4MiB') },
  'liaison-16MiB': { label: 'liaison send, --sync-every 16MiB', run: (ctx) => liaison(ctx, '16MiB') },
};

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    mib: { type: 'string' },
  },
});
const runs = values.runs ? Number.parseInt(values.runs, 10) : values.quick ? 1 : 3;
const mib = values.mib ? Number.parseInt(values.mib, 10) : values.quick ? 64 : 256;

const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

const work = mkdtempSync(join(os.tmpdir(), 'liaison-bench-transfer-'));
try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}

async function main() {
  const started = performance.now();
  const file = join(work, 'payload.bin');
  await writeRandomFile(file, mib * MiB);
  const bytes = statSync(file).size;
  const results = Object.fromEntries(Object.keys(VARIANTS).map((v) => [v, { runs: [], errors: [] }]));
  for (let run = 0; run < runs; run++) {
    for (const [name, variant] of Object.entries(VARIANTS)) {
      const dir = join(work, `${name}-${run}`);
      mkdirSync(dir);
      try {
        const seconds = await variant.run({ file, dir });
        const MBps = bytes / 1e6 / seconds;
        results[name].runs.push({ seconds, MBps });
        log(`${name} run ${run + 1}/${runs}: ${MBps.toFixed(0)} MB/s (${seconds.toFixed(2)} s)`);
      } catch (e) {
        results[name].errors.push(String(e?.message ?? e));
        log(`${name} run ${run + 1}/${runs}: FAILED ${e?.message ?? e}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  for (const r of Object.values(results)) r.MBps = r.runs.length ? median(r.runs.map((x) => x.MBps)) : null;
  const report = {
    date: new Date().toISOString(),
    command: process.argv.slice(1).join(' '),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      node: process.version,
      loadAverage: os.loadavg(),
    },
    fileBytes: bytes,
    runs,
    elapsedSeconds: (performance.now() - started) / 1000,
    results,
  };
  mkdirSync(RESULTS, { recursive: true });
  const out = join(RESULTS, 'transfer.json');
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(table(results));
  console.log(
    `\n${mib} MiB file, loopback, median of ${runs} run(s), sender process spawn to exit; ${report.machine.cpuModel} x${report.machine.cpus}, node ${process.version}`,
  );
  console.log(`wrote ${out} in ${report.elapsedSeconds.toFixed(0)} s`);
  if (Object.values(results).some((r) => r.runs.length === 0)) process.exitCode = 1;
}

async function raw({ file, dir }, sha) {
  const flags = sha ? ['--sha256'] : [];
  const sink = start(process.execPath, [PIPE, 'sink', dir, ...flags]);
  try {
    const port = (await sink.line(/^listening (\d+)/))[1];
    return await timed(process.execPath, [PIPE, 'source', file, port, ...flags]);
  } finally {
    sink.kill();
  }
}

async function liaison({ file, dir }, syncEvery) {
  const receiver = start(process.execPath, [
    LIAISON,
    'serve',
    '--listen',
    'tcp://127.0.0.1:0',
    '--receive-dir',
    dir,
    '--quiet',
  ]);
  try {
    const url = (await receiver.line(/^listening (\S+)/))[1];
    return await timed(process.execPath, [LIAISON, 'send', file, url, '--sync-every', syncEvery]);
  } finally {
    receiver.kill();
  }
}

/** Seconds from the spawn of a process to its exit; rejects unless it exits 0. */
function timed(command, args) {
  const t0 = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  return new Promise((resolve, reject) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      const seconds = (performance.now() - t0) / 1000;
      if (code === 0) resolve(seconds);
      else reject(new Error(`${args[1] ?? args[0]} exited ${code ?? signal}: ${stderr.trim().slice(0, 200)}`));
    });
  });
}

/** A long-running process whose stdout lines can be awaited. */
function start(command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  live.add(child);
  let buffered = '';
  const waiting = [];
  child.stdout.on('data', (c) => {
    buffered += c;
    for (const w of [...waiting]) {
      const m = buffered.match(w.pattern);
      if (m) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.on('exit', () => {
    live.delete(child);
    for (const w of waiting.splice(0)) w.reject(new Error(`${args.join(' ')} exited`));
  });
  return {
    line(pattern) {
      const m = buffered.match(new RegExp(pattern.source, 'm'));
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) =>
        waiting.push({ pattern: new RegExp(pattern.source, 'm'), resolve, reject }),
      );
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

async function writeRandomFile(path, size) {
  const f = await open(path, 'w');
  const block = randomBytes(4 * MiB);
  for (let at = 0; at < size; at += block.length) await f.write(block, 0, Math.min(block.length, size - at));
  await f.close();
}

function table(results) {
  const rawMBps = results.raw.MBps;
  const shaMBps = results['raw-sha256'].MBps;
  const rows = [['variant', 'MB/s', '/ raw', '/ raw+sha256']];
  for (const [name, r] of Object.entries(results)) {
    const v = r.MBps;
    rows.push([
      VARIANTS[name].label,
      v === null ? `failed: ${r.errors[0] ?? '?'}`.slice(0, 60) : v.toFixed(0),
      v && rawMBps ? (v / rawMBps).toFixed(2) : '',
      v && shaMBps ? (v / shaMBps).toFixed(2) : '',
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '))
    .join('\n');
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function log(line) {
  process.stderr.write(`${line}\n`);
}
