/**
 * Failures over real sockets: nobody listening, a peer that never answers, a connection cut in
 * the middle of a transfer, a client that is not liaison, and keepalive holding an idle session.
 */
import assert from 'node:assert/strict';
import { createServer, type Server as NetServer, connect as netConnect, type Socket } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import { AbortCode, connect, ErrorCode, ProtocolError, SessionClosedError } from '@liaison/node';
import type { RttEstimate } from '@liaison/node/engine';
import { closedPort } from '@liaison/testkit';
import { echoServer, nextSession, readAll, sleep, startServer, text, track, waitFor, within } from './helpers.js';

/** A raw TCP server on a free loopback port, closed (with its sockets) when the test ends. */
async function rawServer(t: TestContext, onSocket: (s: Socket) => void): Promise<{ net: NetServer; port: number }> {
  const sockets = new Set<Socket>();
  const net = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((resolve) => net.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        net.close(() => resolve());
      }),
  );
  const address = net.address();
  assert.ok(address && typeof address === 'object');
  return { net, port: address.port };
}

describe('transport failures', { timeout: 15_000 }, () => {
  test('connecting to a closed port: ready rejects, closed says TRANSPORT_LOST', async (t) => {
    const port = await closedPort();
    const client = track(t, connect(`tcp://127.0.0.1:${port}`));
    await assert.rejects(within(client.ready, 2_000, 'ready'), (e: unknown) => {
      assert.ok(e instanceof SessionClosedError);
      assert.equal(e.code, ErrorCode.SESSION_ABORTED);
      return true;
    });
    const reason = await client.closed;
    assert.ok(reason.kind === 'aborted');
    assert.equal(reason.code, AbortCode.TRANSPORT_LOST);
    assert.equal(reason.by, 'provider');
    await assert.rejects(client.send('x'), SessionClosedError);
  });

  test('a server that accepts and never answers: the handshake times out', async (t) => {
    const { port } = await rawServer(t, () => {});
    const started = Date.now();
    const client = track(t, connect(`tcp://127.0.0.1:${port}`, { limits: { handshakeTimeoutMs: 300 } }));
    await assert.rejects(within(client.ready, 3_000, 'ready'), { code: ErrorCode.SESSION_ABORTED });
    const elapsed = Date.now() - started;
    const reason = await client.closed;
    assert.ok(reason.kind === 'aborted');
    assert.equal(reason.code, AbortCode.HANDSHAKE_TIMEOUT);
    assert.ok(elapsed >= 250 && elapsed < 2_000, `timed out after ${elapsed} ms`);
  });

  test('the server side of the socket destroyed mid-stream, without resume: TRANSPORT_LOST, undelivered counted', async (t) => {
    // The server never reads, so the client has sent messages it has no acknowledgement for.
    const server = await startServer(t, { resume: false, limits: { receiveWindowBytes: 64 * 1024 } });
    const upstream: Socket[] = [];
    // A pass-through proxy standing for the server's socket, so the test can destroy it.
    const { port } = await rawServer(t, (downstream) => {
      const up = netConnect(server.address.port, '127.0.0.1');
      up.on('error', () => {});
      upstream.push(up, downstream);
      downstream.pipe(up);
      up.pipe(downstream);
    });
    const client = track(
      t,
      connect(`tcp://127.0.0.1:${port}`, { resume: false, limits: { sendQueueBytesMax: 64 * 1024 } }),
    );
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 2_000; i++) sends.push(client.send(new Uint8Array(1024)));
    await sleep(100);
    assert.equal(client.state, 'open');
    const downstream = upstream[1]!;
    downstream.destroy();
    const reason = await within(client.closed, 2_000, 'client closed');
    assert.ok(reason.kind === 'aborted');
    assert.equal(reason.code, AbortCode.TRANSPORT_LOST);
    assert.equal(reason.origin, 'local');
    assert.equal(reason.by, 'provider');
    assert.ok(reason.undelivered > 0, `undelivered is ${reason.undelivered}`);
    const settled = await within(Promise.allSettled(sends), 2_000, 'sends settle');
    assert.ok(
      settled.some((s) => s.status === 'rejected'),
      'waiting sends were rejected',
    );
    // The real server sees its side go too (the proxy's upstream is ended when the test closes it).
    upstream[0]!.destroy();
    const serverReason = await within(accepted.closed, 2_000, 'server closed');
    assert.ok(serverReason.kind === 'aborted');
    assert.equal(serverReason.code, AbortCode.TRANSPORT_LOST);
  });

  test('a client that speaks HTTP is disconnected; a session running beside it is unaffected', async (t) => {
    const server = await startServer(t);
    echoServer(server);
    const client = track(t, connect(server.url));
    await within(client.ready, 2_000, 'ready');
    const echoed: string[] = [];
    client.on('message', (m) => echoed.push(text(m)));
    let sent = 0;
    let stop = false;
    const traffic = (async () => {
      while (!stop) {
        await client.send(`m${sent++}`);
        await sleep(2);
      }
    })();

    const raw = netConnect(server.address.port, '127.0.0.1');
    t.after(() => raw.destroy());
    raw.on('error', () => {});
    const answered: Buffer[] = [];
    raw.on('data', (d: Buffer) => answered.push(d));
    const rawClosed = new Promise<void>((resolve) => raw.on('close', () => resolve()));
    const connectionError = new Promise<Error>((resolve) => server.once('connection-error', resolve));
    raw.write('GET / HTTP/1.1\r\n\r\n');
    await within(rawClosed, 2_000, 'the HTTP client is disconnected');
    assert.ok(!Buffer.concat(answered).toString('latin1').includes('HTTP/'), 'no HTTP answer');
    // Regression: the server says why it dropped the stranger (it used to drop it silently).
    const error = await within(connectionError, 2_000, 'a connection-error event');
    assert.ok(error instanceof ProtocolError, String(error));
    assert.equal(error.wireCode, AbortCode.BAD_PREFACE);

    const before = echoed.length;
    await waitFor(() => echoed.length >= before + 20, 2_000, 'more echoes after the bad client left');
    stop = true;
    await within(traffic, 1_000, 'traffic stops');
    assert.equal(client.state, 'open');
    const reason = await within(client.close(), 2_000, 'release');
    assert.equal(reason.kind, 'released');
    assert.deepEqual(
      echoed,
      Array.from({ length: sent }, (_, i) => `m${i}`),
    );
  });

  test('keepalive holds an idle session open and measures the round trip', async (t) => {
    const limits = { keepaliveIntervalMs: 50, idleTimeoutMs: 200 };
    const server = await startServer(t, { limits });
    const client = track(t, connect(server.url, { limits }));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    assert.equal(client.agreed!.idleTimeoutMs, 200);
    const before: RttEstimate | null = accepted.rtt;
    assert.equal(before, null, 'the responder has no sample before a ping');
    await sleep(1_000); // five idle timeouts of silence from the application
    assert.equal(client.state, 'open');
    assert.equal(accepted.state, 'open');
    assert.equal(client.closeReason, null);
    const rtt: RttEstimate | null = accepted.rtt;
    assert.ok(rtt !== null, 'pings gave the server an rtt estimate');
    assert.ok(rtt.smoothedMs >= 0 && rtt.smoothedMs < 200, `smoothed rtt ${rtt.smoothedMs}`);
    assert.ok(client.rtt !== null);
    const received = readAll(accepted);
    await client.send('still here');
    await client.close();
    assert.deepEqual((await within(received, 2_000, 'messages')).map(text), ['still here']);
  });

  test('a peer that goes silent is declared dead after the idle timeout', async (t) => {
    // The raw server completes nothing: it swallows the bytes. The client's handshake deadline is
    // long, so only the idle timeout can end it... but an idle connection before establishment
    // is bounded by the handshake timeout; here both are short and the earlier one wins.
    const { port } = await rawServer(t, () => {});
    const client = track(
      t,
      connect(`tcp://127.0.0.1:${port}`, {
        limits: { keepaliveIntervalMs: 50, idleTimeoutMs: 150, handshakeTimeoutMs: 5_000 },
      }),
    );
    const reason = await within(client.closed, 3_000, 'closed');
    assert.ok(reason.kind === 'aborted');
    assert.equal(reason.code, AbortCode.IDLE_TIMEOUT);
  });
});
