/**
 * `liaison send` and `liaison serve --receive-dir` as a user runs them, as child processes over
 * loopback: a file sent and verified; the sender killed with SIGKILL after some confirmed sync
 * points and run again, resuming from a confirmed sync point; the receiver killed with SIGKILL and
 * started again on the same port and directory, the still-running sender resuming into it; an
 * unsafe name refused. Each run checks the received file's SHA-256 against the source.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, type TestContext, test } from 'node:test';
import { closedPort, within } from '@liaison/testkit';

const CLI = new URL('../dist/main.js', import.meta.url).pathname;
const MiB = 1024 * 1024;

interface Child {
  proc: ChildProcess;
  events: Record<string, unknown>[];
  stderr: () => string;
  exit: Promise<[number | null, NodeJS.Signals | null]>;
  /** Resolves with the first event that satisfies `pred` (already seen or future). */
  waitFor: (
    pred: (e: Record<string, unknown>) => boolean,
    ms: number,
    what: string,
  ) => Promise<Record<string, unknown>>;
}

function run(t: TestContext, args: string[]): Child {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const events: Record<string, unknown>[] = [];
  const waiters: { pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] =
    [];
  let text = '';
  createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    text += `${line}\n`;
    if (!line.startsWith('{')) return;
    const e = JSON.parse(line) as Record<string, unknown>;
    events.push(e);
    for (const w of waiters.splice(0)) w.pred(e) ? w.resolve(e) : waiters.push(w);
  });
  const exit = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return {
    proc,
    events,
    stderr: () => text.slice(-2000),
    exit,
    waitFor: (pred, ms, what) => {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return within(
        new Promise((resolve) => waiters.push({ pred, resolve })),
        ms,
        `${what}; last output: ${text.slice(-800)}`,
      );
    },
  };
}

async function serve(t: TestContext, listen: string, dir: string): Promise<{ child: Child; url: string }> {
  const child = run(t, ['serve', '--listen', listen, '--receive-dir', dir, '--json']);
  const lines = createInterface({ input: child.proc.stdout as NodeJS.ReadableStream });
  const [first] = (await within(once(lines, 'line'), 10_000, 'serve: listening line')) as [string];
  lines.close();
  assert.match(first, /^listening tcp:\/\/127\.0\.0\.1:\d+$/);
  return { child, url: first.slice('listening '.length) };
}

async function fixture(t: TestContext, size: number): Promise<{ src: string; dir: string; sha256: string }> {
  const root = await mkdtemp(join(tmpdir(), 'liaison-cli-transfer-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const src = join(root, 'big.bin');
  const hash = createHash('sha256');
  const fh = await open(src, 'w');
  const block = new Uint8Array(MiB);
  for (let at = 0; at < size; at += MiB) {
    randomFillSync(block);
    hash.update(block);
    await fh.write(block, 0, MiB, at);
  }
  await fh.close();
  return { src, dir: join(root, 'in'), sha256: hash.digest('hex') };
}

async function receivedSha(dir: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(join(dir, 'big.bin')))
    .digest('hex');
}

const isCheckpoint = (n: number) => (e: Record<string, unknown>) =>
  e.event === 'checkpoint' && (e.offset as number) >= n * MiB;

describe('liaison send / serve --receive-dir', { timeout: 120_000 }, () => {
  test('a file is sent, verified, and the sender exits 0 with a done event', async (t) => {
    const { src, dir, sha256 } = await fixture(t, 4 * MiB);
    const { url } = await serve(t, 'tcp://127.0.0.1:0', dir);
    const send = run(t, ['send', src, url, '--json', '--sync-every', '1MiB']);
    const [code] = await within(send.exit, 30_000, 'send');
    assert.equal(code, 0, send.stderr());
    assert.equal(await receivedSha(dir), sha256);
    const done = send.events.find((e) => e.event === 'file-done');
    assert.equal(done?.sha256, sha256);
    assert.ok(
      send.events.some((e) => e.event === 'progress'),
      'JSON progress events when stderr is not a terminal',
    );
    assert.equal(send.events.at(-1)?.event, 'done');
  });

  test('kill -9 of the sender after confirmed sync points; run again: resumes from a confirmed sync point, SHA-256 matches', async (t) => {
    const size = 24 * MiB;
    const { src, dir, sha256 } = await fixture(t, size);
    const { url } = await serve(t, 'tcp://127.0.0.1:0', dir);
    const args = ['send', src, url, '--json', '--sync-every', '1MiB'];
    const first = run(t, args);
    const seen = await first.waitFor(isCheckpoint(3), 30_000, 'three confirmed sync points');
    first.proc.kill('SIGKILL');
    const [, signal] = await within(first.exit, 5_000, 'sender killed');
    assert.equal(signal, 'SIGKILL', `the sender was killed mid-transfer: ${first.stderr()}`);
    const lastConfirmed = Math.max(
      ...first.events.filter((e) => e.event === 'checkpoint').map((e) => e.offset as number),
    );
    assert.ok(lastConfirmed >= (seen.offset as number));

    const second = run(t, args);
    const [code] = await within(second.exit, 60_000, 'second send');
    assert.equal(code, 0, second.stderr());
    const resumed = second.events.find((e) => e.event === 'resumed')?.resumed as {
      file: string;
      fromByte: number;
      serial: number;
    };
    assert.ok(resumed, `a resumed event: ${second.stderr()}`);
    assert.equal(resumed.file, 'big.bin');
    assert.ok(resumed.fromByte >= lastConfirmed, `resumed from ${resumed.fromByte}, confirmed ${lastConfirmed}`);
    assert.equal(resumed.fromByte % MiB, 0, 'a sync point');
    assert.ok(resumed.fromByte < size && resumed.serial > 0);
    const done = second.events.find((e) => e.event === 'done');
    assert.equal(done?.bytesSent, size - resumed.fromByte, 'only the rest was sent');
    assert.equal(await receivedSha(dir), sha256);
  });

  test('kill -9 of the receiver; started again on the same port and directory: the running sender resumes, SHA-256 matches', async (t) => {
    const size = 24 * MiB;
    const { src, dir, sha256 } = await fixture(t, size);
    const first = await serve(t, 'tcp://127.0.0.1:0', dir);
    const send = run(t, ['send', src, first.url, '--json', '--sync-every', '1MiB', '--retry-for-ms', '30000']);
    await first.child.waitFor(isCheckpoint(3), 30_000, 'three sync points on disk');
    first.child.proc.kill('SIGKILL');
    await within(first.child.exit, 5_000, 'receiver killed');
    const onDisk = Math.max(
      ...first.child.events.filter((e) => e.event === 'checkpoint').map((e) => e.offset as number),
    );

    const second = await serve(t, first.url, dir);
    assert.equal(second.url, first.url);
    const [code] = await within(send.exit, 60_000, 'send');
    assert.equal(code, 0, send.stderr());
    const resumed = send.events.find((e) => e.event === 'resumed')?.resumed as { fromByte: number; serial: number };
    assert.ok(resumed, `a resumed event: ${send.stderr()}`);
    assert.ok(
      resumed.fromByte >= onDisk && resumed.fromByte % MiB === 0,
      `resumed from ${resumed.fromByte}, on disk ${onDisk}`,
    );
    assert.ok(send.events.some((e) => e.event === 'session-lost'));
    assert.ok(second.child.events.some((e) => e.event === 'resumed' && e.fromByte === resumed.fromByte));
    assert.equal(await receivedSha(dir), sha256);
  });

  test('a missing file or an unsafe name exits 8 with a typed error; an unreachable receiver exits 5', async (t) => {
    const { src, dir } = await fixture(t, MiB);
    const { url } = await serve(t, 'tcp://127.0.0.1:0', dir);
    const missing = run(t, ['send', `${src}.nope`, url, '--json']);
    assert.equal((await within(missing.exit, 10_000, 'send of a missing file'))[0], 8);
    assert.equal(missing.events.at(-1)?.code, 'ERR_LIAISON_FILE_IO');
    const reserved = join(dir, '..', '.liaison-partial');
    await writeFile(reserved, 'x');
    const unsafe = run(t, ['send', reserved, url, '--json']);
    assert.equal((await within(unsafe.exit, 10_000, 'send of an unsafe name'))[0], 8);
    assert.equal(unsafe.events.at(-1)?.code, 'ERR_LIAISON_UNSAFE_FILE_NAME');
    const nobody = run(t, ['send', src, `tcp://127.0.0.1:${await closedPort()}`, '--json']);
    assert.equal((await within(nobody.exit, 20_000, 'send to a closed port'))[0], 5, nobody.stderr());
  });
});
