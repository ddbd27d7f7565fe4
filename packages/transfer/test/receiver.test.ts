/**
 * The receiver's side of the offer exchange over real loopback sessions: unsafe names refused with
 * a typed answer, the journal's resume point and completed files reported, a peer that breaks the
 * transfer protocol aborted without harming another session. And the sender against a receiver
 * that already has the file: done without sending, or a clear mismatch.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { connect, type Session } from '@liaison/node';
import { within } from '@liaison/testkit';
import { JOURNAL_DIR, Journal, sendFiles, TransferError, TransferErrorCode } from '@liaison/transfer';
import { sha256File } from '../dist/hash.js';
import { decodeAnswer, encode } from '../dist/messages.js';
import { randomFile, startReceiver, tempDir } from './helpers.js';

async function ask(session: Session, offer: { name: string; size: number; mtimeMs: number }) {
  const answer = once(session, 'typed') as Promise<[Uint8Array]>;
  await session.sendTyped(encode({ t: 'offer', ...offer }));
  const [bytes] = await within(answer, 5_000, `answer to ${offer.name}`);
  return decodeAnswer(bytes);
}

function client(url: string, t: { after: (fn: () => void) => void }): Session {
  const s = connect(url, { units: ['duplex', 'typed-data'] });
  t.after(() => s.abort());
  return s;
}

describe('receiver offers', { timeout: 30_000 }, () => {
  test('unsafe names are refused with UNSAFE_FILE_NAME and nothing is written outside the directory', async (t) => {
    const root = await tempDir(t);
    const dir = join(root, 'in');
    await mkdir(dir);
    const { server, events } = await startReceiver(t, dir);
    const s = client(server.url, t);
    await within(s.ready, 5_000, 'ready');
    for (const name of ['../escape', '/etc/passwd', '..', 'a/b', '', 'x\0y', '.liaison-partial']) {
      const a = await ask(s, { name, size: 10, mtimeMs: 1 });
      assert.equal(a.t, 'refuse', name);
      assert.equal(a.t === 'refuse' && a.code, TransferErrorCode.UNSAFE_FILE_NAME, name);
    }
    assert.equal(events.filter((e) => e.type === 'refused').length, 7);
    assert.equal(await stat(join(root, 'escape')).catch(() => null), null);
    // The session goes on: a safe name is answered normally.
    assert.deepEqual(await ask(s, { name: 'ok.bin', size: 10, mtimeMs: 1 }), {
      t: 'answer',
      name: 'ok.bin',
      action: 'start',
    });
  });

  test("the journal's confirmed offset is offered as the resume point; a completed file as done", async (t) => {
    const dir = await tempDir(t);
    const journal = await Journal.open(dir);
    const partial = { name: 'partial.bin', size: 1000, mtimeMs: 5 };
    const { record, file } = await journal.begin(partial, 'a1b2c3');
    await file.write(Buffer.alloc(600), 0, 600, 0);
    await journal.confirm(record, file, 400, 7);
    await file.close();
    const done = { name: 'done.bin', size: 3, mtimeMs: 6 };
    const d = await journal.begin(done, '0102');
    await d.file.write(Buffer.from('abc'), 0, 3, 0);
    await journal.complete(d.record, d.file, 'ee'.repeat(32));

    const { server } = await startReceiver(t, dir);
    const s = client(server.url, t);
    await within(s.ready, 5_000, 'ready');
    assert.deepEqual(await ask(s, partial), {
      t: 'answer',
      name: 'partial.bin',
      action: 'resume',
      fromByte: 400,
      serial: 7,
      activityId: 'a1b2c3',
    });
    assert.deepEqual(await ask(s, done), { t: 'answer', name: 'done.bin', action: 'done', sha256: 'ee'.repeat(32) });
    // Another version of partial.bin (other mtime) starts from zero.
    assert.deepEqual(await ask(s, { ...partial, mtimeMs: 99 }), { t: 'answer', name: 'partial.bin', action: 'start' });
  });

  test('file data outside an activity aborts that session with TRANSFER_PROTOCOL; another session is unaffected', async (t) => {
    const dir = await tempDir(t);
    const { server, events } = await startReceiver(t, dir);
    const bad = client(server.url, t);
    const good = client(server.url, t);
    await within(Promise.all([bad.ready, good.ready]), 5_000, 'ready');
    await bad.send('not in an activity');
    const reason = await within(bad.closed, 5_000, 'bad session aborted');
    assert.equal(reason.kind, 'aborted');
    assert.match(
      new TextDecoder().decode(reason.kind === 'aborted' ? reason.userData : new Uint8Array()),
      /ERR_LIAISON_TRANSFER_PROTOCOL/,
    );
    assert.ok(events.some((e) => e.type === 'session-error' && e.code === TransferErrorCode.TRANSFER_PROTOCOL));
    assert.deepEqual(await ask(good, { name: 'g', size: 1, mtimeMs: 1 }), { t: 'answer', name: 'g', action: 'start' });
    assert.equal(good.closeReason, null);
  });

  test('sendFiles: a file the receiver already verified is done without sending it again', async (t) => {
    const src = await tempDir(t);
    const dir = await tempDir(t);
    const path = await randomFile(src, 'same.bin', 300_000);
    const s = await stat(path);
    const journal = await Journal.open(dir);
    const id = { name: 'same.bin', size: s.size, mtimeMs: Math.trunc(s.mtimeMs) };
    const { record, file } = await journal.begin(id, '01');
    await journal.complete(record, file, await sha256File(path, s.size));
    const { server } = await startReceiver(t, dir);

    const result = await within(sendFiles(server.url, [path]), 10_000, 'send');
    assert.equal(result.bytesSent, 0);
    assert.deepEqual(
      result.files.map((f) => [f.file, f.skipped]),
      [['same.bin', true]],
    );
  });

  test('sendFiles: a done record whose SHA-256 differs from the local file is CHECKSUM_MISMATCH', async (t) => {
    const src = await tempDir(t);
    const dir = await tempDir(t);
    const path = await randomFile(src, 'other.bin', 1000);
    const s = await stat(path);
    const journal = await Journal.open(dir);
    const { record, file } = await journal.begin(
      { name: 'other.bin', size: s.size, mtimeMs: Math.trunc(s.mtimeMs) },
      '01',
    );
    await journal.complete(record, file, '00'.repeat(32));
    const { server } = await startReceiver(t, dir);
    await assert.rejects(
      within(sendFiles(server.url, [path]), 10_000, 'send'),
      (e) => e instanceof TransferError && e.code === TransferErrorCode.CHECKSUM_MISMATCH,
    );
  });

  test('sendFiles: a missing local file or two files with one name fail before connecting', async (t) => {
    const src = await tempDir(t);
    await mkdir(join(src, 'sub'));
    await writeFile(join(src, 'x'), 'a');
    await writeFile(join(src, 'sub', 'x'), 'b');
    await assert.rejects(
      sendFiles('tcp://127.0.0.1:1', [join(src, 'nope')]),
      (e) => e instanceof TransferError && e.code === TransferErrorCode.FILE_IO,
    );
    await assert.rejects(
      sendFiles('tcp://127.0.0.1:1', [join(src, 'x'), join(src, 'sub', 'x')]),
      (e) => e instanceof TransferError && e.code === TransferErrorCode.FILE_REFUSED,
    );
    assert.ok(JOURNAL_DIR.startsWith('.liaison-'));
  });
});
