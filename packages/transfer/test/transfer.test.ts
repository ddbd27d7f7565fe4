/**
 * Whole transfers over real loopback sessions, in process: a file arrives intact with a confirmed
 * sync point every interval; a proxy cutting every few hundred ms makes the sessions resume by
 * themselves without restarting the file; a receiver that goes away and comes back (a new server
 * on the same port, the same directory) is resumed from its journal; a source file changed
 * between runs is caught by the SHA-256 check, dropped, and sent again from zero.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { listen } from '@liaison/node';
import { FaultProxy, within } from '@liaison/testkit';
import {
  JOURNAL_DIR,
  Receiver,
  type SenderEvent,
  sendFiles,
  TransferError,
  TransferErrorCode,
} from '@liaison/transfer';
import { sha256File } from '../dist/hash.js';
import { randomFile, startReceiver, tempDir } from './helpers.js';

const MiB = 1024 * 1024;

async function sameContent(a: string, b: string): Promise<void> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  assert.equal(sb.size, sa.size);
  assert.equal(await sha256File(b, sb.size), await sha256File(a, sa.size));
}

describe('file transfer', { timeout: 120_000 }, () => {
  test('16 MiB with a sync point every MiB: every checkpoint confirmed in order, file verified and in place', async (t) => {
    const src = await tempDir(t);
    const dir = await tempDir(t);
    const path = await randomFile(src, 'a.bin', 16 * MiB);
    const { server, events: received } = await startReceiver(t, dir);
    const events: SenderEvent[] = [];
    const result = await within(
      sendFiles(server.url, [path], { syncEveryBytes: MiB, onEvent: (e) => events.push(e) }),
      60_000,
      'send',
    );
    assert.equal(result.bytesSent, 16 * MiB);
    const checkpoints = events.filter((e) => e.type === 'checkpoint');
    assert.deepEqual(
      checkpoints.map((e) => e.type === 'checkpoint' && e.offset),
      Array.from({ length: 15 }, (_, i) => (i + 1) * MiB),
    );
    const serials = checkpoints.map((e) => (e.type === 'checkpoint' ? e.serial : 0));
    for (let i = 1; i < serials.length; i++)
      assert.ok((serials[i] as number) > (serials[i - 1] as number), 'serials increase');
    assert.equal(received.filter((e) => e.type === 'checkpoint').length, 15);
    await sameContent(path, join(dir, 'a.bin'));
    assert.deepEqual(
      (await readdir(join(dir, JOURNAL_DIR))).filter((n) => n.endsWith('.part')),
      [],
    );
    const done = events.find((e) => e.type === 'file-done');
    assert.equal(done?.type === 'file-done' && done.sha256, await sha256File(path, 16 * MiB));
  });

  test('through a proxy cutting every 100-300 ms: the session resumes by itself and no byte is sent twice by the transfer', async (t) => {
    const src = await tempDir(t);
    const dir = await tempDir(t);
    const path = await randomFile(src, 'cut.bin', 24 * MiB);
    const { server } = await startReceiver(t, dir);
    const seed = Number(process.env.LIAISON_SEED ?? Date.now() % 2 ** 31);
    t.diagnostic(`proxy seed ${seed}`);
    // A 5 ms delay each way makes every sync point cost a round trip, so the file outlives many cuts.
    const proxy = new FaultProxy({ target: server.address, cutAfterMs: [100, 300], delayMs: 5, seed });
    await proxy.start();
    t.after(() => proxy.stop());
    const events: SenderEvent[] = [];
    const result = await within(
      sendFiles(proxy.url, [path], { syncEveryBytes: 256 * 1024, onEvent: (e) => events.push(e) }),
      100_000,
      `send through the proxy (seed ${seed})`,
    );
    await sameContent(path, join(dir, 'cut.bin'));
    assert.equal(result.bytesSent, 24 * MiB, 'the file was not restarted');
    assert.equal(events.filter((e) => e.type === 'session-lost' || e.type === 'resumed').length, 0);
    assert.ok(proxy.counters.cuts >= 3, `the proxy cut at least 3 times (${proxy.counters.cuts})`);
    t.diagnostic(`${proxy.counters.cuts} cuts`);
  });

  test('the receiver goes away mid-file and comes back: the sender resumes from its last confirmed sync point', async (t) => {
    const src = await tempDir(t);
    const dir = await tempDir(t);
    const path = await randomFile(src, 'back.bin', 16 * MiB);
    const first = await startReceiver(t, dir);
    const port = first.server.address.port;
    const events: SenderEvent[] = [];
    let restarted: Promise<unknown> | null = null;
    const sending = sendFiles(first.server.url, [path], {
      syncEveryBytes: MiB,
      retryForMs: 20_000,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'checkpoint' && e.offset === 4 * MiB && restarted === null) {
          // Gone at once (sessions aborted), back on the same port with the same directory.
          restarted = first.server.close().then(() => startReceiverOn(port));
        }
      },
    });
    const startReceiverOn = async (p: number) => {
      const receiver = await Receiver.open(dir);
      const server = await listen(`tcp://127.0.0.1:${p}`, { onConnect: Receiver.accept });
      t.after(() => server.close());
      void (async () => {
        for await (const s of server) void receiver.handle(s, 'second');
      })();
    };
    const result = await within(sending, 60_000, 'send across a receiver restart');
    const resumed = events.find((e) => e.type === 'resumed');
    assert.ok(resumed && resumed.type === 'resumed', 'a resumed event');
    assert.ok(
      resumed.fromByte >= 4 * MiB && resumed.fromByte % MiB === 0,
      `resumed at a sync point: ${resumed.fromByte}`,
    );
    assert.ok(events.some((e) => e.type === 'session-lost'));
    // Exactly: what the first session sent, then the rest from the resume point, not from zero.
    const lostAt = events.findIndex((e) => e.type === 'session-lost');
    const before = events
      .slice(0, lostAt)
      .filter((e) => e.type === 'progress')
      .at(-1);
    const sentBefore = before?.type === 'progress' ? before.bytes : 0;
    assert.equal(result.bytesSent, sentBefore + 16 * MiB - resumed.fromByte);
    await sameContent(path, join(dir, 'back.bin'));
  });

  test('a source changed between runs (same size and mtime) fails the SHA-256 check, is dropped, then sent again', async (t) => {
    const src = await tempDir(t);
    const dir = await tempDir(t);
    const path = await randomFile(src, 'changed.bin', 8 * MiB);
    // Whole seconds: utimes() takes float seconds, and a restored sub-millisecond mtime may round.
    const mtime = 1_700_000_000;
    await utimes(path, mtime, mtime);
    const { server } = await startReceiver(t, dir);
    const stop = new AbortController();
    await assert.rejects(
      sendFiles(server.url, [path], {
        syncEveryBytes: MiB,
        signal: stop.signal,
        onEvent: (e) => e.type === 'checkpoint' && e.offset === 3 * MiB && stop.abort(new Error('stopped by the test')),
      }),
      /stopped by the test/,
    );
    // Change the first MiB (already confirmed on the receiver) but keep size and mtime.
    const bytes = await readFile(path);
    bytes.fill(0, 0, MiB);
    await writeFile(path, bytes);
    await utimes(path, mtime, mtime);

    const events: SenderEvent[] = [];
    await assert.rejects(
      within(sendFiles(server.url, [path], { syncEveryBytes: MiB, onEvent: (e) => events.push(e) }), 30_000, 'resume'),
      (e) => e instanceof TransferError && e.code === TransferErrorCode.CHECKSUM_MISMATCH,
    );
    assert.ok(
      events.some((e) => e.type === 'resumed'),
      'the second run resumed (same identity)',
    );
    assert.equal(await stat(join(dir, 'changed.bin')).catch(() => null), null, 'nothing moved into place');

    const third = await within(sendFiles(server.url, [path], { syncEveryBytes: MiB }), 30_000, 'third run');
    assert.equal(third.bytesSent, 8 * MiB, 'the third run starts from zero');
    await sameContent(path, join(dir, 'changed.bin'));
  });
});
