/**
 * Rooms across two servers sharing one real redis-server (redisAdapter): a broadcast from either
 * node reaches every member of the target on both nodes exactly once, except lists hold across
 * nodes, a member whose connection breaks and resumes still gets each broadcast once, a Redis that
 * is gone makes broadcast() reject with a typed error (this node's members got it, the others
 * did not, and nobody pretends otherwise), and junk on the channel is reported, not delivered.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, type TestContext, test } from 'node:test';
import { type EventServer, type EventSocket, EventsErrorCode, redisAdapter } from '@liaison/events';
import { FaultProxy, type RedisServer, startRedis } from '@liaison/testkit';
import { Redis } from 'ioredis';
import { client, connections, startEvents, waitFor, within } from './helpers.js';

interface S2C {
  news: (n: number) => void;
}
type C2S = Record<string, never>;

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(() => redis?.kill());

/** A node: an event server whose adapter has its own two Redis connections (closed after the test). */
async function node(t: TestContext, onBadMessage?: (e: Error) => void): Promise<EventServer<C2S, S2C>> {
  const pub = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: false });
  const sub = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  for (const c of [pub, sub]) c.on('error', () => {});
  t.after(() => {
    pub.disconnect();
    sub.disconnect();
  });
  const io = await startEvents<C2S, S2C>(t, {
    adapter: redisAdapter({ pub, sub, channel: `test:${t.name}`, onBadMessage }),
  });
  return io;
}

/** `count` clients of `io`, each recording what 'news' it got; with their server-side sockets. */
async function members(t: TestContext, io: EventServer<C2S, S2C>, count: number, url = io.server.url) {
  const accepted = connections(io, count);
  const got: number[][] = [];
  const sockets: EventSocket<S2C, C2S>[] = [];
  for (let i = 0; i < count; i++) {
    const socket = client<S2C, C2S>(t, url);
    const mine: number[] = [];
    socket.on('news', (n) => mine.push(n));
    got.push(mine);
    sockets.push(socket);
    await within(socket.ready, 5_000, 'ready');
  }
  return { got, sockets, servers: await accepted };
}

describe('redisAdapter: rooms across nodes', { timeout: 30_000 }, () => {
  test('a broadcast from either node reaches each member of the room on both nodes once; except holds across nodes', async (t) => {
    const [a, b] = [await node(t), await node(t)];
    const onA = await members(t, a, 2);
    const onB = await members(t, b, 2);
    await onA.servers[0]?.join('room');
    await onB.servers[0]?.join('room');
    await onB.servers[1]?.join('quiet');
    await a.to('room').emit('news', 1);
    await b.to('room').emit('news', 2);
    await a.emit('news', 3);
    await b.except('quiet').emit('news', 4);
    // A later broadcast marks the end: everything before it has arrived where it was going.
    await a.emit('news', 5);
    await waitFor(() => [...onA.got, ...onB.got].every((g) => g.at(-1) === 5), 5_000, 'the marker');
    // Each node's own broadcasts arrive in the order it sent them; two nodes' are not ordered
    // with respect to each other (as with any pub/sub fan-out), so compare as sorted lists.
    const sorted = (all: number[][]) => all.map((g) => [...g].sort((x, y) => x - y));
    assert.deepEqual(sorted(onA.got), [
      [1, 2, 3, 4, 5],
      [3, 4, 5],
    ]);
    assert.deepEqual(sorted(onB.got), [
      [1, 2, 3, 4, 5],
      [3, 5],
    ]);
  });

  test('a member whose connection breaks and resumes gets every broadcast of the other node exactly once', async (t) => {
    const [a, b] = [await node(t), await node(t)];
    const proxy = new FaultProxy({ target: { host: '127.0.0.1', port: Number(new URL(b.server.url).port) } });
    await proxy.start();
    t.after(() => proxy.stop());
    const onB = await members(t, b, 1, proxy.url);
    await onB.servers[0]?.join('room');
    const rounds = 60;
    for (let i = 1; i <= rounds; i++) {
      await a.to('room').emit('news', i);
      if (i % 20 === 10) proxy.cutAll();
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => onB.got[0]?.length === rounds, 10_000, `${rounds} broadcasts through the cuts`);
    assert.deepEqual(
      onB.got[0],
      Array.from({ length: rounds }, (_, i) => i + 1),
    );
    assert.ok(proxy.counters.cuts >= 3, 'the connection was cut');
  });

  test('Redis gone: broadcast() rejects with ADAPTER_UNAVAILABLE; this node delivered, the other did not', async (t) => {
    const own = await startRedis();
    t.after(() => own.kill());
    const make = async () => {
      const pub = new Redis(own.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false });
      const sub = new Redis(own.url, { maxRetriesPerRequest: 0 });
      for (const c of [pub, sub]) c.on('error', () => {});
      t.after(() => {
        pub.disconnect();
        sub.disconnect();
      });
      await within(Promise.all([once(pub, 'ready'), once(sub, 'ready')]), 5_000, 'redis connections');
      return startEvents<C2S, S2C>(t, { adapter: redisAdapter({ pub, sub }) });
    };
    const [a, b] = [await make(), await make()];
    const onA = await members(t, a, 1);
    const onB = await members(t, b, 1);
    await a.emit('news', 1);
    await waitFor(() => onB.got[0]?.length === 1, 5_000, 'the first broadcast');
    await own.kill();
    await assert.rejects(
      async () => a.emit('news', 2),
      (e: Error & { code?: string }) => e.code === EventsErrorCode.ADAPTER_UNAVAILABLE,
    );
    await waitFor(() => onA.got[0]?.length === 2, 5_000, 'the local member');
    assert.deepEqual(onB.got[0], [1], 'the other node never got it');
  });

  test('junk on the channel is reported to onBadMessage and delivered to nobody', async (t) => {
    const bad: Error[] = [];
    const a = await node(t, (e) => bad.push(e));
    const onA = await members(t, a, 1);
    const junk = new Redis(redis.url);
    t.after(() => junk.disconnect());
    await junk.publish(`test:${t.name}`, Buffer.from([9, 1, 2, 3]));
    await junk.publish(`test:${t.name}`, Buffer.from([1, 2, 3]));
    await waitFor(() => bad.length === 2, 5_000, 'two reports');
    assert.match(bad[0]?.message ?? '', /version 9/);
    assert.match(bad[1]?.message ?? '', /truncated/);
    assert.deepEqual(onA.got[0], []);
  });
});
