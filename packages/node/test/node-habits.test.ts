/**
 * The API as a Node, ws or Socket.IO user writes it (issue 19), over real loopback sockets:
 * AbortSignal on connect, listen, send and close; `await using` on sessions, servers and pools;
 * send() left unawaited never crashes the process; write() with 'drain' as the streaming fast
 * path; an orderly server.close({ timeoutMs }) and Pool.destroy(); signals on the calls that wait for
 * the peer's confirmation (sync points, activities, capability data).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import { AbortCode, connect, listen, Pool, type Server, type Session, SessionClosedError } from '@liaison/node';
import { bytes, LOCAL, nextSession, startServer, stateAfter, text, track, waitFor, within } from './helpers.js';

/** A TCP port that accepts connections and never says a word: a hung server. */
async function silentPeer(t: TestContext): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return `tcp://127.0.0.1:${address.port}`;
}

async function opened(t: TestContext, server: Server, options = {}): Promise<{ client: Session; remote: Session }> {
  const remote = nextSession(server, 5_000);
  const client = track(t, connect(server.url, options));
  await within(client.ready, 5_000, 'client ready');
  return { client, remote: await remote };
}

describe('AbortSignal', () => {
  test('connect to a silent server: an abort ends the establishment at once, ready rejects with its reason', async (t) => {
    const url = await silentPeer(t);
    const controller = new AbortController();
    const session = track(t, connect(url, { signal: controller.signal }));
    assert.equal(await stateAfter(session.ready, 100), 'pending', 'the silent server never answers');
    const why = new Error('the user gave up');
    const abortedAt = performance.now();
    controller.abort(why);
    await assert.rejects(session.ready, (e) => e === why);
    // The bound: connect returns within 50 ms of the abort (without the signal this waited
    // for the 10 s handshake timeout).
    const tookMs = performance.now() - abortedAt;
    assert.ok(tookMs < 50, `ready rejected ${tookMs.toFixed(1)} ms after the abort`);
    const reason = await within(session.closed, 1_000, 'closed');
    assert.equal(reason.kind, 'aborted');
    assert.equal(reason.kind === 'aborted' && reason.origin, 'local');
  });

  test('connect with AbortSignal.timeout(100) rejects with a TimeoutError, not after 10 s', async (t) => {
    const url = await silentPeer(t);
    const started = Date.now();
    const session = track(t, connect(url, { signal: AbortSignal.timeout(100) }));
    await assert.rejects(session.ready, (e: Error) => e.name === 'TimeoutError');
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
    const sent = session.send('never');
    await assert.rejects(sent, SessionClosedError);
  });

  test('an already aborted signal: the session never opens; after ready the signal changes nothing', async (t) => {
    const server = await startServer(t);
    const dead = connect(server.url, { signal: AbortSignal.abort('no') });
    await assert.rejects(dead.ready, (e) => e === 'no');
    assert.equal((await dead.closed).kind, 'aborted');
    const controller = new AbortController();
    const { client, remote } = await opened(t, server, { signal: controller.signal });
    controller.abort();
    await client.send('still open');
    const next = await within(remote[Symbol.asyncIterator]().next(), 2_000, 'message');
    assert.equal(next.done ? null : text(next.value), 'still open');
    assert.equal(client.closeReason, null);
  });

  test('listen with a signal: the abort closes the server; an aborted signal rejects listen()', async () => {
    const controller = new AbortController();
    const server = await listen(LOCAL, { signal: controller.signal });
    const closed = once(server, 'close');
    const session = connect(server.url);
    await within(session.ready, 5_000, 'open');
    controller.abort();
    await within(closed, 5_000, 'server closed');
    assert.equal((await session.closed).kind, 'aborted');
    await assert.rejects(listen(LOCAL, { signal: AbortSignal.abort(new Error('late')) }), /late/);
  });

  test('send with a signal: a message waiting for room is withdrawn and never arrives; the rest do', async (t) => {
    const server = await startServer(t, { limits: { receiveWindowBytes: 16 * 1024 } });
    const { client, remote } = await opened(t, server, { limits: { sendQueueBytesMax: 16 * 1024 } });
    const big = (tag: string) => bytes(tag.padEnd(8 * 1024, '.'));
    // The server reads nothing yet: the window and the send queue fill, then sends wait.
    const accepted: Promise<void>[] = [];
    for (let i = 0; i < 6; i++) accepted.push(client.send(big(`m${i}`)));
    const controller = new AbortController();
    const withdrawn = client.send(big('withdrawn'), { signal: controller.signal });
    const after = client.send(big('after'));
    assert.equal(await stateAfter(withdrawn, 100), 'pending', 'waits for room');
    const before = client.bufferedAmount;
    controller.abort(new Error('stale'));
    await assert.rejects(withdrawn, /stale/);
    assert.equal(client.bufferedAmount, before - 8 * 1024, 'no longer counted as buffered');
    const got: string[] = [];
    for await (const m of remote) {
      got.push(text(m).replace(/\.+$/, ''));
      if (got.length === 7) break;
    }
    await Promise.all([...accepted, after]);
    assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'after']);
    assert.ok(!client.undeliveredMessages().some((u) => text(u.data).startsWith('withdrawn')));
  });

  test('close with a signal: a release that does not complete in time aborts the session', async (t) => {
    const server = await startServer(t);
    const { client } = await opened(t, server);
    // The server never takes this message, so it never answers the release behind it.
    await client.send('unread');
    await assert.rejects(
      client.close(undefined, { signal: AbortSignal.timeout(150) }),
      (e: Error) => e.name === 'TimeoutError',
    );
    const reason = await client.closed;
    assert.equal(reason.kind, 'aborted');
    assert.equal(reason.kind === 'aborted' && reason.by, 'user');
  });
});

const SYNC_UNITS = ['duplex', 'typed-data', 'major-synchronize', 'resynchronize'];
const ACTIVITY_UNITS = [...SYNC_UNITS, 'activity-management', 'capability-data'];

describe('AbortSignal on the calls that wait for a confirmation', () => {
  test('syncMajor with a signal: the wait ends at the abort; resynchronize(abandon) then cancels the point and data flows', async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server, { units: SYNC_UNITS });
    const seen: number[] = [];
    remote.on('sync-major', (e) => seen.push(e.serial));
    const controller = new AbortController();
    const sync = client.syncMajor('chk', { signal: controller.signal });
    const it = remote[Symbol.asyncIterator]();
    const nothing = it.next();
    await waitFor(() => seen.length === 1, 2_000, 'the peer sees the sync point');
    // The peer never confirms: without the signal this waits for as long as the session lives.
    const why = new Error('took too long');
    const abortedAt = Date.now();
    controller.abort(why);
    await assert.rejects(sync, (e) => e === why);
    assert.ok(Date.now() - abortedAt < 50, `rejected ${Date.now() - abortedAt} ms after the abort`);
    // The point is still outstanding (no withdrawal in X.225): the caller cancels it.
    const resynced = new Promise<void>((resolve) => remote.once('resynchronize', () => resolve()));
    const resync = client.resynchronize('abandon');
    await within(resynced, 2_000, 'the peer sees the resynchronization');
    remote.confirmResynchronize();
    await within(resync, 2_000, 'resynchronized');
    await client.send('after');
    const next = await within(nothing, 2_000, 'data after the resynchronization');
    assert.equal(text(next.value as Uint8Array), 'after');
    assert.equal(client.state, 'open');
  });

  test('an already aborted signal: syncMajor, endActivity, interrupt, discard, resynchronize and capability data send nothing', async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server, { units: ACTIVITY_UNITS });
    const events: string[] = [];
    for (const name of [
      'sync-major',
      'activity-end',
      'activity-interrupt',
      'activity-discard',
      'resynchronize',
      'capability-data',
    ])
      remote.on(name as 'sync-major', () => events.push(name));
    const why = new Error('already gone');
    const signal = AbortSignal.abort(why);
    const isWhy = (e: unknown) => e === why;
    await assert.rejects(client.syncMajor('x', { signal }), isWhy);
    await assert.rejects(client.sendCapability('x', { signal }), isWhy);
    await assert.rejects(client.resynchronize('abandon', { signal }), isWhy);
    client.startActivity('a1');
    await assert.rejects(client.endActivity('x', { signal }), isWhy);
    await assert.rejects(client.interruptActivity(1, 'x', { signal }), isWhy);
    await assert.rejects(client.discardActivity(1, 'x', { signal }), isWhy);
    // The session is as it was: the activity is still open and ends normally.
    const ended = new Promise<void>((resolve) => remote.once('activity-end', () => resolve()));
    const end = client.endActivity('done');
    const it = remote[Symbol.asyncIterator]();
    const pull = it.next();
    await within(ended, 2_000, 'activity-end');
    remote.confirmMajor();
    assert.equal((await within(end, 2_000, 'end confirmed')).serial, 1);
    assert.deepEqual(events, ['activity-end'], 'only the un-aborted call reached the peer');
    await client.close();
    await within(pull, 2_000, 'released');
  });
});

describe('await using', () => {
  test('a session is released at the end of its block, a server and a pool closed', async () => {
    let remote: Session | null = null;
    let session: Session | null = null;
    let url = '';
    const received: string[] = [];
    {
      await using server = await listen(LOCAL);
      url = server.url;
      server.on('session', (s) => {
        remote = s;
        void (async () => {
          for await (const m of s) received.push(text(m));
        })();
      });
      {
        await using pool = new Pool();
        {
          await using s = connect(server.url, { pool });
          session = s;
          await s.ready;
          await s.send('inside the block');
        }
        assert.equal(session.closeReason?.kind, 'released', 'released when its block ended');
        assert.equal(pool.connectionCount, 0);
      }
      assert.ok(remote);
      assert.equal((await within((remote as Session).closed, 2_000, 'server side ended')).kind, 'released');
      assert.deepEqual(received, ['inside the block']);
    }
    // The server closed with its block: nothing listens there any more.
    const late = connect(url, { resume: false });
    await assert.rejects(late.ready, SessionClosedError);
  });
});

describe('fire and forget', () => {
  test('sends nobody awaits, failing when the peer aborts, raise no unhandledRejection', async (t) => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    t.after(() => process.off('unhandledRejection', onUnhandled));
    const server = await startServer(t, { limits: { receiveWindowBytes: 16 * 1024 } });
    const { client, remote } = await opened(t, server, { limits: { sendQueueBytesMax: 16 * 1024 } });
    for (let i = 0; i < 20; i++) void client.send(bytes(`m${i}`.padEnd(4096, '.')));
    void client.send(bytes('x'.repeat(client.agreed!.peerMessageBytesMax + 1)));
    remote.abort();
    const reason = await within(client.closed, 5_000, 'client closed');
    assert.equal(reason.kind, 'aborted');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(unhandled, []);
    assert.ok(client.undeliveredMessages().length > 0, 'what was accepted and lost is listed');
  });

  test("write() returns false at the window and 'drain' says when to go on; every message arrives in order", async (t) => {
    const server = await startServer(t, { limits: { receiveWindowBytes: 32 * 1024 } });
    const { client, remote } = await opened(t, server, { limits: { sendQueueBytesMax: 32 * 1024 } });
    const n = 500;
    const reading = (async () => {
      const got: number[] = [];
      for await (const m of remote) {
        got.push(Number(text(m).split(' ')[0]));
        if (got.length === n) return got;
      }
      return got;
    })();
    let waits = 0;
    for (let i = 0; i < n; i++) {
      if (!client.write(`${i} ${'.'.repeat(1000)}`)) {
        waits++;
        await once(client, 'drain');
      }
    }
    assert.ok(waits > 0, 'backpressure was felt');
    assert.deepEqual(
      await within(reading, 10_000, 'all read'),
      Array.from({ length: n }, (_, i) => i),
    );
    await client.close();
    assert.throws(() => client.write('late'), SessionClosedError);
  });
});

describe('shutdown', () => {
  test('server.close({ timeoutMs }) releases: everything the server sent is read, then the session ends released', async (t) => {
    const server = await listen(LOCAL);
    t.after(() => server.close());
    const { client, remote } = await opened(t, server);
    for (let i = 0; i < 100; i++) await remote.send(`s${i}`);
    const reading = (async () => {
      const got: string[] = [];
      for await (const m of client) got.push(text(m));
      return got;
    })();
    await within(server.close({ timeoutMs: 5_000 }), 6_000, 'server closed');
    const got = await within(reading, 5_000, 'client read to the end');
    assert.equal(got.length, 100);
    assert.equal(got[99], 's99');
    assert.equal(client.closeReason?.kind, 'released');
    assert.equal(remote.closeReason?.kind, 'released');
  });

  test('what does not end within timeoutMs is aborted with SHUTDOWN; close() alone aborts at once', async (t) => {
    const server = await listen(LOCAL);
    const { client } = await opened(t, server);
    // This client never reads: its answer to the server's release waits behind that message.
    const s2 = await opened(t, server);
    await s2.remote.send('unread');
    const started = Date.now();
    await within(server.close({ timeoutMs: 300 }), 5_000, 'server closed');
    assert.ok(Date.now() - started >= 250, 'waited for the release');
    const reason = await within(s2.client.closed, 5_000, 'the unread client ended');
    assert.equal(reason.kind, 'aborted');
    assert.equal(reason.kind === 'aborted' && reason.code, AbortCode.SHUTDOWN);
    assert.equal((await client.closed).kind, 'released', 'the one that answered was released');
    assert.throws(() => server.close({ timeoutMs: -1 }), /timeoutMs/);
  });

  test('Pool.destroy() aborts every session of the pool at once', async (t) => {
    const server = await startServer(t);
    const pool = new Pool();
    const a = connect(server.url, { pool });
    const b = connect(server.url, { pool });
    await Promise.all([a.ready, b.ready]);
    assert.equal(pool.connectionCount, 1);
    await within(pool.destroy(), 2_000, 'destroyed');
    for (const s of [a, b]) {
      const reason = s.closeReason;
      assert.equal(reason?.kind, 'aborted');
      assert.equal(reason?.kind === 'aborted' && reason.by, 'user');
    }
    await waitFor(() => pool.connectionCount === 0, 2_000, 'connections gone');
  });
});
