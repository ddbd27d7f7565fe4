/**
 * Data transfer over loopback TCP: ordering under load in both directions at once, a message
 * larger than a frame, typed and expedited data, and send() backpressure against a slow reader.
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { connect, ErrorCode, type Session, UsageError } from '@liaison/node';
import { bytes, nextSession, readAll, sleep, startServer, stateAfter, text, track, within } from './helpers.js';

describe('data', { timeout: 20_000 }, () => {
  test('10,000 messages each way at once arrive in order', async (t) => {
    const N = 10_000;
    const server = await startServer(t);
    const client = track(t, connect(server.url));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');

    const sendAll = async (s: Session, prefix: string) => {
      for (let i = 0; i < N; i++) await s.send(`${prefix}${i}`);
    };
    const receive = async (s: Session, prefix: string) => {
      let i = 0;
      for await (const m of s) {
        const got = text(m);
        if (got !== `${prefix}${i}`) assert.fail(`message ${i}: expected ${prefix}${i}, got ${got}`);
        if (++i === N) return i;
      }
      return i;
    };
    const counts = await within(
      Promise.all([receive(accepted, 'c'), receive(client, 's'), sendAll(client, 'c'), sendAll(accepted, 's')]),
      10_000,
      'exchange',
    );
    assert.deepEqual(counts.slice(0, 2), [N, N]);
    assert.equal(client.stats.messagesSent, N);
    assert.equal(client.stats.messagesReceived, N);
    assert.equal(accepted.stats.messagesSent, N);
    assert.equal(accepted.stats.messagesReceived, N);
    const [rc, rs] = await within(Promise.all([client.close(), accepted.closed]), 2_000, 'release');
    assert.equal(rc.kind, 'released');
    assert.equal(rs.kind, 'released');
  });

  test('an 8 MiB message larger than the default receive window arrives intact', async (t) => {
    const big = randomFillSync(new Uint8Array(8 * 1024 * 1024));
    const server = await startServer(t);
    const client = track(t, connect(server.url));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    assert.ok(big.byteLength > accepted.agreed!.peerFrameBytesMax, 'the message needs fragmenting');
    const received = readAll(accepted);
    const sending = (async () => {
      await client.send(big);
      await client.send('after');
      return client.close();
    })();
    const messages = await within(received, 3_000, 'big message');
    assert.equal((await within(sending, 2_000, 'release')).kind, 'released');
    assert.equal(messages.length, 2);
    assert.equal(messages[0]!.byteLength, big.byteLength);
    assert.ok(Buffer.from(messages[0]!).equals(Buffer.from(big)), 'payload intact');
    assert.equal(text(messages[1]!), 'after');
  });

  test('an 8 MiB message arrives intact when it fits the receive window', async (t) => {
    const big = randomFillSync(new Uint8Array(8 * 1024 * 1024));
    const server = await startServer(t, { limits: { receiveWindowBytes: 16 * 1024 * 1024 } });
    const client = track(t, connect(server.url));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    const received = readAll(accepted);
    await client.send(big);
    void client.close();
    const messages = await within(received, 10_000, 'big message');
    assert.equal(messages.length, 1);
    assert.ok(Buffer.from(messages[0]!).equals(Buffer.from(big)), 'payload intact');
  });

  test("typed and expedited data arrive as 'typed' and 'expedited' events", async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    const typed: string[] = [];
    const expedited: string[] = [];
    accepted.on('typed', (d) => typed.push(text(d)));
    accepted.on('expedited', (d) => expedited.push(text(d)));
    const normal = readAll(accepted);
    await client.send('n1');
    await client.sendTyped('t1');
    await client.sendExpedited('urgent');
    await client.sendTyped(new Uint8Array(300_000)); // typed data is fragmented too
    await client.send('n2');
    await client.close();
    assert.deepEqual(
      (await within(normal, 2_000, 'messages')).map(text),
      ['n1', 'n2'],
      'typed and expedited data are not in the iterator',
    );
    assert.equal(typed.length, 2);
    assert.equal(typed[0], 't1');
    assert.equal(typed[1]!.length, 300_000);
    assert.deepEqual(expedited, ['urgent']);
  });

  test('typed and expedited data reach the peer in the other direction too', async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    const got = new Promise<string[]>((resolve) => {
      const seen: string[] = [];
      const add = (s: string) => {
        seen.push(s);
        if (seen.length === 2) resolve(seen.sort());
      };
      client.on('typed', (d) => add(`typed:${text(d)}`));
      client.on('expedited', (d) => add(`expedited:${text(d)}`));
    });
    await accepted.sendTyped('a');
    await accepted.sendExpedited(bytes('b'));
    assert.deepEqual(await within(got, 2_000, 'events'), ['expedited:b', 'typed:a']);
  });

  test('expedited data over 14 bytes rejects with a UsageError and the session goes on', async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    await client.sendExpedited('x'.repeat(14));
    await assert.rejects(client.sendExpedited('x'.repeat(15)), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.code, ErrorCode.MESSAGE_TOO_LARGE);
      return true;
    });
    assert.equal(client.state, 'open');
    const received = readAll(accepted);
    await client.send('still fine');
    await client.close();
    // With no 'expedited' listener, the expedited message reaches the iterator too: nothing dropped.
    assert.deepEqual((await within(received, 2_000, 'messages')).map(text), ['x'.repeat(14), 'still fine']);
  });

  test('regression: typed and expedited data with no listener of their own reach a message listener', async (t) => {
    const server = await startServer(t);
    const got: string[] = [];
    server.on('session', (s) => s.on('message', (m) => got.push(text(m))));
    const client = track(t, connect(server.url));
    await within(client.ready, 2_000, 'ready');
    await client.send('one');
    await client.sendTyped('typed');
    await client.sendExpedited('fast');
    for (let i = 0; i < 5; i++) await client.send(`n${i}`);
    // Before the fix the typed message stalled the inbox and the release hung until its timeout.
    const reason = await within(client.close(), 3_000, 'release');
    assert.equal(reason.kind, 'released');
    assert.deepEqual(got.sort(), ['fast', 'n0', 'n1', 'n2', 'n3', 'n4', 'one', 'typed']);
  });

  test('typed data without the typed-data unit rejects with UNIT_NOT_SELECTED', async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url, { units: ['duplex'] }));
    await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    await assert.rejects(client.sendTyped('t'), { code: ErrorCode.UNIT_NOT_SELECTED });
    await assert.rejects(client.sendExpedited('e'), { code: ErrorCode.UNIT_NOT_SELECTED });
  });
});

describe('backpressure', { timeout: 20_000 }, () => {
  test('send() waits while the peer does not read, then resumes; nothing is lost', async (t) => {
    const windowBytes = 64 * 1024;
    const queueBytes = 32 * 1024;
    const messageBytes = 1024;
    const N = 1_000; // ~1 MiB: far more than window + queue
    const server = await startServer(t, { limits: { receiveWindowBytes: windowBytes } });
    const client = track(t, connect(server.url, { limits: { sendQueueBytesMax: queueBytes } }));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');

    let resolved = 0;
    let maxBuffered = 0;
    const message = (i: number) => {
      const m = new Uint8Array(messageBytes);
      new DataView(m.buffer).setUint32(0, i);
      return m;
    };
    const producer = (async () => {
      for (let i = 0; i < N; i++) {
        await client.send(message(i));
        resolved++;
        maxBuffered = Math.max(maxBuffered, client.bufferedAmount);
      }
    })();

    // Wait until the producer stalls: the window and the send queue are full.
    let last = -1;
    for (let i = 0; i < 100 && resolved !== last; i++) {
      last = resolved;
      await sleep(100);
    }
    assert.equal(resolved, last, 'the producer stalled');
    assert.ok(resolved < N, `sends must stop resolving (resolved ${resolved} of ${N})`);
    const bound = windowBytes + queueBytes + 2 * messageBytes;
    assert.ok(resolved * messageBytes <= bound, `accepted ${resolved * messageBytes} bytes, bound ${bound}`);
    assert.ok(maxBuffered <= queueBytes + messageBytes, `bufferedAmount reached ${maxBuffered}`);
    assert.ok(client.bufferedAmount <= queueBytes + messageBytes);

    // A send made now stays pending while nobody reads.
    const pendingBefore = resolved;
    assert.equal(await stateAfter(producer, 300), 'pending');
    assert.equal(resolved, pendingBefore, 'no send resolved while the peer is not reading');

    // The server starts reading: everything arrives, in order.
    const received = (async () => {
      let i = 0;
      for await (const m of accepted) {
        assert.equal(m.byteLength, messageBytes);
        assert.equal(new DataView(m.buffer, m.byteOffset).getUint32(0), i, `message ${i} in order`);
        i++;
      }
      return i;
    })();
    await within(producer, 10_000, 'producer finishes once the server reads');
    await client.close();
    assert.equal(await within(received, 5_000, 'all received'), N);
    assert.equal((await client.closed).kind, 'released');
  });
});
