/**
 * A peer that breaks the transfer protocol with activities and sync points is aborted with
 * TRANSFER_PROTOCOL, and nothing it sent is confirmed or moved into place: an activity started
 * without an offer, a sync point whose offset is not what arrived, more data than announced, an
 * activity end at the wrong size, a resume that does not match the journal.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { connect, type Session } from '@liaison/node';
import { within } from '@liaison/testkit';
import { TRANSFER_UNITS, TransferErrorCode } from '@liaison/transfer';
import { decodeAnswer, encode } from '../dist/messages.js';
import { startReceiver, tempDir } from './helpers.js';

const FILE = { name: 'p.bin', size: 1000, mtimeMs: 42 };
const start = (fromByte = 0) => encode({ t: 'file', ...FILE, fromByte });

async function open(t: TestContext) {
  const dir = await tempDir(t);
  const { server, events } = await startReceiver(t, dir);
  const session = connect(server.url, { units: [...TRANSFER_UNITS] });
  t.after(() => session.abort());
  await within(session.ready, 5_000, 'ready');
  return { dir, session, events };
}

async function offer(session: Session) {
  const answer = new Promise<Uint8Array>((resolve) => session.on('typed', resolve));
  await session.sendTyped(encode({ t: 'offer', ...FILE }));
  return decodeAnswer(await within(answer, 5_000, 'answer'));
}

async function abortedForProtocol(session: Session, what: string): Promise<void> {
  const reason = await within(session.closed, 5_000, what);
  assert.equal(reason.kind, 'aborted', what);
  const text = reason.kind === 'aborted' ? new TextDecoder().decode(reason.userData) : '';
  assert.ok(text.startsWith(`${TransferErrorCode.TRANSFER_PROTOCOL}:`), `${what}: ${text}`);
}

describe('receiver against protocol breakers', { timeout: 30_000 }, () => {
  test('an activity started without an offer', async (t) => {
    const { session } = await open(t);
    session.startActivity(randomBytes(6), start());
    await abortedForProtocol(session, 'activity without offer');
  });

  test('a sync point at another offset than the bytes that arrived is never confirmed', async (t) => {
    const { session, dir } = await open(t);
    assert.equal((await offer(session)).t, 'answer');
    session.startActivity(randomBytes(6), start());
    await session.send(new Uint8Array(100));
    const sync = session.syncMajor(encode({ offset: 200 }));
    sync.catch(() => {});
    await abortedForProtocol(session, 'wrong offset');
    await assert.rejects(sync);
    assert.equal(await stat(join(dir, FILE.name)).catch(() => null), null);
  });

  test('more data than the offered size', async (t) => {
    const { session } = await open(t);
    await offer(session);
    session.startActivity(randomBytes(6), start());
    await session.send(new Uint8Array(FILE.size + 1));
    await abortedForProtocol(session, 'too much data');
  });

  test('an activity end before all the data arrived is not verified', async (t) => {
    const { session, dir } = await open(t);
    await offer(session);
    session.startActivity(randomBytes(6), start());
    await session.send(new Uint8Array(10));
    const end = session.endActivity(encode({ size: FILE.size, sha256: '00'.repeat(32) }));
    end.catch(() => {});
    await abortedForProtocol(session, 'short file');
    assert.equal(await stat(join(dir, FILE.name)).catch(() => null), null);
  });

  test('a resume that does not match the journal (there is nothing to resume)', async (t) => {
    const { session } = await open(t);
    const answer = await offer(session);
    assert.equal(answer.t === 'answer' && answer.action, 'start');
    session.resumeActivity({ id: randomBytes(6), oldId: randomBytes(6), serial: 3, userData: start(500) });
    await abortedForProtocol(session, 'resume without a partial file');
  });
});
