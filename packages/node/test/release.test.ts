/**
 * Ending a session over loopback TCP: orderly release (everything sent first is delivered first),
 * negotiated release refused and retried, and user abort.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AbortCode, type CloseReason, connect, ErrorCode, SessionClosedError } from '@liaison/node';
import {
  bytes,
  echoServer,
  nextSession,
  readAll,
  startServer,
  stateAfter,
  text,
  track,
  waitFor,
  within,
} from './helpers.js';

describe('orderly release', { timeout: 10_000 }, () => {
  test('close() resolves released on both sides after every message sent before it was received', async (t) => {
    const N = 2_000;
    const server = await startServer(t);
    const client = track(t, connect(server.url));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    const received = readAll(accepted);
    // Not awaited one by one: sends still waiting in the session's queue must go out before FINISH.
    const sends: Promise<void>[] = [];
    for (let i = 0; i < N; i++) sends.push(client.send(`m${i}`));
    const closing = client.close(bytes('goodbye'));
    const messages = await within(received, 5_000, 'iterator ends');
    assert.equal(messages.length, N);
    messages.forEach((m, i) => {
      if (text(m) !== `m${i}`) assert.fail(`message ${i} is ${text(m)}`);
    });
    await within(Promise.all(sends), 2_000, 'every send resolved');
    const [rc, rs] = await within(Promise.all([closing, accepted.closed]), 2_000, 'both closed');
    assert.equal(rc.kind, 'released');
    assert.equal(rs.kind, 'released');
    assert.equal(rc.undelivered, 0);
    assert.equal(client.state, 'closed');
    assert.equal(accepted.state, 'closed');
    assert.equal(await client.close(), rc, 'close() again gives the same reason');
  });

  test('replies written while handling the last messages reach the client before the release completes', async (t) => {
    const N = 500;
    const server = await startServer(t);
    echoServer(server);
    const client = track(t, connect(server.url));
    await within(client.ready, 2_000, 'ready');
    const echoed = readAll(client);
    for (let i = 0; i < N; i++) await client.send(`e${i}`);
    const reason = await within(client.close(), 5_000, 'release');
    assert.equal(reason.kind, 'released');
    const got = (await within(echoed, 2_000, 'echo iterator ends')).map(text);
    assert.equal(got.length, N);
    assert.equal(got[N - 1], `e${N - 1}`);
  });

  test('the server may release: the client iterator ends and closed says released', async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    const received = readAll(client);
    await accepted.send('last words');
    const closing = accepted.close();
    assert.deepEqual((await within(received, 2_000, 'client iterator')).map(text), ['last words']);
    assert.equal((await within(closing, 2_000, 'server release')).kind, 'released');
    assert.equal((await within(client.closed, 2_000, 'client closed')).kind, 'released');
  });

  test('both sides closing at once (release collision) still releases both', async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    const [a, b] = await within(Promise.all([client.close(), accepted.close()]), 3_000, 'collision');
    assert.equal(a.kind, 'released');
    assert.equal(b.kind, 'released');
  });

  // Regression: a refused release used to end the refusing side's message iterator, so a server
  // looping over its session stopped reading (and echoing) although the session stayed open.
  test('negotiated release: a refused release leaves the session working; a second close succeeds', async (t) => {
    const decisions: string[] = [];
    let refuse = true;
    const server = await startServer(t, {
      onReleaseRequest: (userData) => {
        decisions.push(text(userData));
        const accept = !refuse;
        refuse = false;
        return accept;
      },
    });
    echoServer(server);
    const client = track(t, connect(server.url, { units: ['duplex', 'negotiated-release'] }));
    await within(client.ready, 2_000, 'ready');
    assert.ok(client.agreed!.units & 0b10, 'negotiated release agreed');
    const replies: string[] = [];
    client.on('message', (m) => replies.push(text(m)));

    await client.send('before');
    const refused = new Promise<string>((resolve) => client.once('release-refused', (d) => resolve(text(d))));
    const first = client.close(bytes('may I?'));
    await within(refused, 2_000, "'release-refused'");
    assert.equal(client.state, 'open');
    assert.equal(await stateAfter(first, 50), 'pending', 'the refused close() does not resolve');

    // The session keeps working both ways after the refusal.
    await client.send('after');
    await waitFor(() => replies.includes('after'), 2_000, 'the echo after the refused release');

    const second = await within(client.close(bytes('now?')), 2_000, 'second close');
    assert.equal(second.kind, 'released');
    assert.equal((await within(first, 500, 'first close() settles with the session')).kind, 'released');
    assert.deepEqual(decisions, ['may I?', 'now?']);
    assert.deepEqual(replies, ['before', 'after']);
  });
});

describe('abort', { timeout: 10_000 }, () => {
  test("abort('bye') reaches the server as a user abort from the peer", async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    const iterating = readAll(accepted);
    client.abort('bye');
    const reason = await within(accepted.closed, 2_000, 'server closed');
    assert.equal(reason.kind, 'aborted');
    assert.ok(reason.kind === 'aborted');
    assert.equal(reason.origin, 'peer');
    assert.equal(reason.by, 'user');
    assert.equal(reason.code, AbortCode.USER);
    assert.equal(text(reason.userData), 'bye');
    await assert.rejects(iterating, (e: unknown) => {
      assert.ok(e instanceof SessionClosedError);
      assert.equal(e.code, ErrorCode.SESSION_ABORTED);
      return true;
    });
    const local = await client.closed;
    assert.ok(local.kind === 'aborted');
    assert.equal(local.origin, 'local');
    assert.equal(local.by, 'user');
  });

  test('pending sends reject with SessionClosedError; send() after close rejects with it too', async (t) => {
    const server = await startServer(t, { limits: { receiveWindowBytes: 16 * 1024 } });
    const client = track(t, connect(server.url, { limits: { sendQueueBytesMax: 16 * 1024 } }));
    await nextSession(server); // never read: the client's window and queue fill up
    await within(client.ready, 2_000, 'ready');
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) sends.push(client.send(new Uint8Array(1024)));
    const last = sends[sends.length - 1]!;
    assert.equal(await stateAfter(last, 200), 'pending', 'the last send waits for the window');
    client.abort('bye');
    const outcomes = await within(Promise.allSettled(sends), 2_000, 'sends settle');
    const rejected = outcomes.filter((o) => o.status === 'rejected');
    assert.ok(rejected.length > 0, 'some sends were still waiting');
    for (const r of rejected) assert.ok((r as PromiseRejectedResult).reason instanceof SessionClosedError);
    const reason = await client.closed;
    assert.ok(reason.kind === 'aborted');
    assert.ok(reason.undelivered > 0, 'messages the server never acknowledged are counted');
    await assert.rejects(client.send('late'), SessionClosedError);
    await assert.rejects(client.sendExpedited('late'), SessionClosedError);
  });

  // Regression: until the core's `closed` event was dispatched, send() after abort() rejected with a
  // UsageError (INVALID_STATE) instead of the SessionClosedError the contract promises.
  test('send() right after abort() rejects with SessionClosedError', async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url));
    await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    client.abort();
    await assert.rejects(client.send('x'), SessionClosedError);
    const reason: CloseReason = await within(client.closed, 2_000, 'closed');
    assert.equal(reason.kind, 'aborted');
  });

  test('the server aborting ends the client iterator with SessionClosedError', async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    const reading = readAll(client);
    accepted.abort(bytes('go away'));
    await assert.rejects(within(reading, 2_000, 'iterator'), { code: ErrorCode.SESSION_ABORTED });
    const reason = await client.closed;
    assert.ok(reason.kind === 'aborted');
    assert.equal(text(reason.userData), 'go away');
  });
});
