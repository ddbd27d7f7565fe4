/**
 * The server as a whole: shutdown with sessions open, and many clients at once.
 */
import assert from 'node:assert/strict';
import { createServer as createNetServer, type Socket as NetSocket, connect as netConnect } from 'node:net';
import { describe, test } from 'node:test';
import { AbortCode, connect, listen, type Session } from '@liaison/node';
import { echoServer, LOCAL, nextSession, startServer, text, track, waitFor, within } from './helpers.js';

describe('server', { timeout: 20_000 }, () => {
  test('regression: close() also ends sessions suspended and waiting to be resumed', async () => {
    const server = await listen(LOCAL);
    const accepted = nextSession(server);
    // A one-connection proxy whose sockets the test can cut.
    const sockets: NetSocket[] = [];
    const proxy = createNetServer((inbound) => {
      const outbound = netConnect(server.address.port, '127.0.0.1');
      sockets.push(inbound, outbound);
      for (const s of [inbound, outbound]) s.on('error', () => {});
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as { port: number }).port;
    // The client waits a minute before reconnecting: the session stays suspended on the server.
    const client = connect(`tcp://127.0.0.1:${port}`, { backoff: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    await within(client.ready, 2_000, 'ready');
    const session = await within(accepted, 2_000, 'accepted');
    const suspended = new Promise<void>((resolve) => session.once('suspended', () => resolve()));
    for (const s of sockets) s.destroy();
    await within(suspended, 2_000, 'suspended on the server');
    assert.equal(session.state, 'open');
    await server.close();
    const reason = await within(session.closed, 2_000, 'the suspended session ends with the server');
    assert.ok(reason.kind === 'aborted');
    assert.equal(reason.code, AbortCode.SHUTDOWN);
    client.abort();
    proxy.close();
  });

  test('close() aborts open sessions with SHUTDOWN and ends server iteration', async (t) => {
    const server = await listen(LOCAL);
    t.after(() => server.close());
    const iterated: Session[] = [];
    const iteration = (async () => {
      for await (const s of server) iterated.push(s);
    })();
    const clients = [track(t, connect(server.url)), track(t, connect(server.url))];
    await within(Promise.all(clients.map((c) => c.ready)), 2_000, 'clients ready');
    assert.equal(iterated.length, 2);
    const reading = clients.map((c) =>
      (async () => {
        for await (const _ of c);
      })().then(
        () => 'ended',
        (e: { code?: string }) => e.code,
      ),
    );

    await within(server.close(), 3_000, 'server.close()');
    await within(iteration, 1_000, 'server iteration ends');
    for (const c of clients) {
      const reason = await within(c.closed, 1_000, 'client closed');
      assert.ok(reason.kind === 'aborted', reason.kind);
      assert.equal(reason.code, AbortCode.SHUTDOWN);
      assert.equal(reason.origin, 'peer');
      assert.equal(reason.by, 'provider');
    }
    for (const s of iterated) {
      const reason = await s.closed;
      assert.ok(reason.kind === 'aborted');
      assert.equal(reason.code, AbortCode.SHUTDOWN);
      assert.equal(reason.origin, 'local');
    }
    assert.deepEqual(await Promise.all(reading), ['ERR_LIAISON_SESSION_ABORTED', 'ERR_LIAISON_SESSION_ABORTED']);
    await waitFor(() => server.connectionCount === 0, 1_000, 'no connection left');
    // Iterating a closed server ends at once; connecting to it fails.
    assert.equal((await server[Symbol.asyncIterator]().next()).done, true);
    const late = track(t, connect(server.url));
    await assert.rejects(within(late.ready, 2_000, 'late client'));
  });

  // Regression: close() called again after the server had closed waited for a 'close' event that
  // had already been emitted, and never resolved.
  test('close() is idempotent, also after the server closed, and a waiting iterator ends', async (t) => {
    const server = await listen(LOCAL);
    t.after(() => server.close());
    const waiting = server[Symbol.asyncIterator]().next();
    await within(Promise.all([server.close(), server.close()]), 2_000, 'double close');
    assert.equal((await within(waiting, 1_000, 'iterator')).done, true);
    await within(server.close(), 1_000, 'close() after the server closed');
  });

  test('50 concurrent clients each get 200 messages echoed in order', async (t) => {
    const CLIENTS = 50;
    const MESSAGES = 200;
    const server = await startServer(t);
    echoServer(server);
    const run = async (id: number) => {
      const client = track(t, connect(server.url, { userData: `client ${id}` }));
      await client.ready;
      const echoed = (async () => {
        const got: string[] = [];
        for await (const m of client) got.push(text(m));
        return got;
      })();
      for (let i = 0; i < MESSAGES; i++) await client.send(`${id}:${i}`);
      const reason = await client.close();
      assert.equal(reason.kind, 'released', `client ${id}`);
      const got = await echoed;
      assert.equal(got.length, MESSAGES, `client ${id} got ${got.length}`);
      got.forEach((m, i) => {
        if (m !== `${id}:${i}`) assert.fail(`client ${id}, message ${i}: ${m}`);
      });
    };
    await within(Promise.all(Array.from({ length: CLIENTS }, (_, i) => run(i))), 15_000, 'all clients');
  });

  test('the server reads user data of each of several sessions from one iterator', async (t) => {
    const server = await startServer(t);
    const names = ['a', 'b', 'c'];
    for (const n of names) track(t, connect(server.url, { userData: n }));
    const seen: string[] = [];
    for (let i = 0; i < names.length; i++) seen.push(text((await nextSession(server)).peerUserData));
    assert.deepEqual(seen.sort(), names);
  });
});
