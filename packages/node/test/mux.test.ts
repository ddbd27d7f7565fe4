/**
 * Multiplexing: many sessions over one transport connection (Pool), each with its own flow
 * control; a slow reader slows only its own sender; a shared connection that breaks suspends
 * and resumes all its sessions together; the server's per-connection session limit.
 */
import assert from 'node:assert/strict';
import { createServer as createNetServer, type Socket as NetSocket, connect as netConnect } from 'node:net';
import { describe, test } from 'node:test';
import { connect, Pool, RefuseCode, type Server, type Session } from '@liaison/node';
import { echoServer, readAll, startServer, text, track, waitFor, within } from './helpers.js';

/** A loopback proxy whose live sockets a test can cut. */
async function cuttingProxy(target: Server): Promise<{ url: string; cut(): void; close(): void }> {
  const sockets = new Set<NetSocket>();
  const proxy = createNetServer((inbound) => {
    const outbound = netConnect(target.address.port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as { port: number }).port;
  return {
    url: `tcp://127.0.0.1:${port}`,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      proxy.close();
    },
  };
}

describe('multiplexing', { timeout: 60_000 }, () => {
  test('a pool carries 1,000 sessions over one connection, each exchanging its own messages', async (t) => {
    const server = await startServer(t);
    echoServer(server);
    const pool = new Pool();
    t.after(() => pool.close());
    const sessions = Array.from({ length: 1000 }, (_, i) => track(t, connect(server.url, { pool, userData: `s${i}` })));
    await within(Promise.all(sessions.map((s) => s.ready)), 20_000, '1,000 sessions ready');
    assert.equal(pool.connectionCount, 1);
    assert.equal(server.connectionCount, 1);
    const replies = sessions.map(async (s, i) => {
      const it = s[Symbol.asyncIterator]();
      await s.send(`hello ${i}`);
      const r = await it.next();
      return r.done ? '' : text(r.value);
    });
    const got = await within(Promise.all(replies), 20_000, 'every session echoed');
    assert.deepEqual(
      got,
      sessions.map((_, i) => `hello ${i}`),
    );
    const reasons = await within(Promise.all(sessions.map((s) => s.close())), 20_000, 'all released');
    assert.ok(reasons.every((r) => r.kind === 'released'));
  });

  test('a pool opens another connection when one is full', async (t) => {
    const server = await startServer(t);
    echoServer(server);
    const pool = new Pool({ sessionsPerConnection: 3 });
    t.after(() => pool.close());
    const sessions = Array.from({ length: 7 }, () => track(t, connect(server.url, { pool })));
    await within(Promise.all(sessions.map((s) => s.ready)), 5_000, 'ready');
    assert.equal(pool.connectionCount, 3);
    assert.equal(server.connectionCount, 3);
  });

  test('the server refuses sessions beyond sessionsPerConnectionMax with CONGESTION', async (t) => {
    const server = await startServer(t, { limits: { sessionsPerConnectionMax: 2 } });
    echoServer(server);
    const pool = new Pool();
    t.after(() => pool.close());
    const sessions = Array.from({ length: 3 }, () => track(t, connect(server.url, { pool })));
    const outcomes = await Promise.allSettled(sessions.map((s) => s.ready));
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'rejected'],
    );
    const reason = await sessions[2]!.closed;
    assert.ok(reason.kind === 'refused' && reason.code === RefuseCode.CONGESTION);
    assert.equal(sessions[0]!.state, 'open');
  });

  test('a slow reader slows its own sender, not the other sessions on the connection', async (t) => {
    const server = await startServer(t);
    const pool = new Pool();
    t.after(() => pool.close());
    const slow = track(t, connect(server.url, { pool, limits: { receiveWindowBytes: 64 * 1024 } }));
    const fast = track(t, connect(server.url, { pool }));
    const served: Session[] = [];
    server.on('session', (s) => served.push(s));
    await within(Promise.all([slow.ready, fast.ready]), 5_000, 'ready');
    await waitFor(() => served.length === 2, 2_000, 'both served');
    const [slowServed, fastServed] = served as [Session, Session];
    // The server sends far more than the slow client's window plus its own send queue (1 MiB);
    // the client does not read yet.
    const chunk = new Uint8Array(16 * 1024);
    const FLOOD = 256;
    let slowSent = 0;
    const flooding = (async () => {
      for (let i = 0; i < FLOOD; i++) {
        await slowServed.send(chunk);
        slowSent++;
      }
    })();
    await waitFor(() => slowSent > 0, 2_000, 'flooding started');
    // Meanwhile the fast session moves 2,000 messages both ways.
    const echo = (async () => {
      for await (const m of fastServed) await fastServed.send(m);
    })().catch(() => {}); // ends with the test's cleanup
    const it = fast[Symbol.asyncIterator]();
    for (let i = 0; i < 2000; i++) {
      await fast.send(`f${i}`);
      const r = await within(it.next(), 2_000, `fast echo ${i}`);
      assert.equal(text(r.value as Uint8Array), `f${i}`);
    }
    assert.ok(slowSent < FLOOD / 2, `the slow session's sender is held back (${slowSent} of ${FLOOD} sent)`);
    // Now the slow reader reads: everything arrives.
    const all = await within(
      (async () => {
        const got: Uint8Array[] = [];
        for await (const m of slow) {
          got.push(m);
          if (got.length === FLOOD) break;
        }
        return got;
      })(),
      10_000,
      'slow reader catches up',
    );
    await within(flooding, 5_000, 'flood finished');
    assert.equal(all.length, FLOOD);
    void echo;
  });

  test('regression: abort() of a suspended session and Pool.close() settle closed at once', async (t) => {
    const server = await startServer(t);
    echoServer(server);
    const proxy = await cuttingProxy(server);
    t.after(() => proxy.close());
    const pool = new Pool();
    // Reconnection far away: the sessions stay suspended.
    const slow = { backoff: { initialDelayMs: 60_000, maxDelayMs: 60_000 } };
    const [a, b] = [connect(proxy.url, { pool, ...slow }), connect(proxy.url, { pool, ...slow })] as [Session, Session];
    await within(Promise.all([a.ready, b.ready]), 5_000, 'ready');
    const suspended = Promise.all(
      [a, b].map((s) => new Promise<void>((resolve) => s.once('suspended', () => resolve()))),
    );
    proxy.cut();
    await within(suspended, 5_000, 'suspended');
    a.abort();
    const ra = await within(a.closed, 1_000, 'closed after abort while suspended');
    assert.ok(ra.kind === 'aborted' && ra.origin === 'local');
    pool.close();
    const rb = await within(b.closed, 1_000, 'closed after Pool.close while suspended');
    assert.ok(rb.kind === 'aborted');
  });

  test('when the shared connection breaks, all its sessions suspend and resume together, losing nothing', async (t) => {
    const server = await startServer(t);
    echoServer(server);
    const proxy = await cuttingProxy(server);
    t.after(() => proxy.close());
    const pool = new Pool();
    t.after(() => pool.close());
    const sessions = Array.from({ length: 20 }, () => track(t, connect(proxy.url, { pool })));
    await within(Promise.all(sessions.map((s) => s.ready)), 5_000, 'ready');
    const suspended = sessions.map((s) => new Promise<void>((resolve) => s.once('suspended', () => resolve())));
    const resumed = sessions.map((s) => new Promise<void>((resolve) => s.once('resumed', () => resolve())));
    const received = sessions.map((s) => readAll(s));
    for (let round = 0; round < 50; round++) for (const [i, s] of sessions.entries()) void s.send(`${i}:${round}`);
    proxy.cut();
    await within(Promise.all(suspended), 5_000, 'all suspended');
    await within(Promise.all(resumed), 10_000, 'all resumed');
    for (let round = 50; round < 100; round++) for (const [i, s] of sessions.entries()) void s.send(`${i}:${round}`);
    await within(Promise.all(sessions.map((s) => s.close())), 10_000, 'released');
    const got = await Promise.all(received);
    for (const [i, messages] of got.entries()) {
      assert.deepEqual(
        messages.map(text),
        Array.from({ length: 100 }, (_, round) => `${i}:${round}`),
      );
    }
    assert.ok(sessions.every((s) => s.stats.resumes === 1));
  });
});
