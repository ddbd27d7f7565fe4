/**
 * Application-named tokens over real loopback sockets: clients contend for names in the server's
 * registry (server.tokens), grants come in request order, a holder's end hands its tokens on, a
 * suspended holder keeps them until its resume window ends, and transport cuts (FaultProxy) while
 * holding, while queued and during a handover keep exactly one holder and deliver each grant once.
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import {
  connect,
  ErrorCode,
  NamedTokenRefusedError,
  type Server,
  type Session,
  TokenRefuseCode,
  UsageError,
} from '@liaison/node';
import { FaultProxy, type FaultProxyOptions } from '@liaison/testkit';
import { sleep, startServer, stateAfter, track, waitFor, within } from './helpers.js';

/** Opens a client session and waits for it and its server-side end. */
async function open(t: TestContext, server: Server, url = server.url): Promise<{ client: Session; remote: Session }> {
  const remote = new Promise<Session>((resolve) => server.once('session', resolve));
  const client = track(t, connect(url));
  await within(client.ready, 5_000, 'client ready');
  return { client, remote: await within(remote, 5_000, 'server session') };
}

async function startProxy(t: TestContext, options: FaultProxyOptions): Promise<FaultProxy> {
  const proxy = new FaultProxy(options);
  await proxy.start();
  t.after(() => proxy.stop());
  return proxy;
}

/** Counts 'named-token-granted' events of `s` for `name`. */
function grantCounter(s: Session, name: string): () => number {
  let n = 0;
  s.on('named-token-granted', (granted) => {
    if (granted === name) n++;
  });
  return () => n;
}

describe('named tokens over sockets', () => {
  test('two clients contend for one name: the second is granted when the first releases', async (t) => {
    const server = await startServer(t);
    const a = await open(t, server);
    const b = await open(t, server);
    const grants: [string, unknown][] = [];
    server.tokens?.on('grant', (name, holder) => grants.push([name, holder]));
    await within(a.client.acquire('printer'), 2_000, 'a granted');
    const bGranted = b.client.acquire('printer');
    assert.equal(await stateAfter(bGranted, 100), 'pending');
    assert.equal(server.tokens?.holder('printer'), a.remote);
    assert.deepEqual(server.tokens?.waiting('printer'), [b.remote]);
    assert.deepEqual(a.client.heldTokens, ['printer']);
    assert.deepEqual(a.remote.heldTokens, ['printer']);
    assert.deepEqual(b.client.heldTokens, []);
    a.client.releaseToken('printer');
    await within(bGranted, 2_000, 'b granted');
    assert.deepEqual(b.client.heldTokens, ['printer']);
    assert.deepEqual(a.client.heldTokens, []);
    assert.equal(server.tokens?.holder('printer'), b.remote);
    assert.deepEqual(grants, [
      ['printer', a.remote],
      ['printer', b.remote],
    ]);
  });

  test('five clients are granted in the order they asked', async (t) => {
    const server = await startServer(t);
    const ends: { client: Session; remote: Session }[] = [];
    for (let i = 0; i < 5; i++) ends.push(await open(t, server));
    const clients = ends.map((e) => e.client);
    const order: number[] = [];
    const all: Promise<void>[] = [];
    // Holders keep the name until every request is registered, so the queue really forms.
    let queued: () => void = () => {};
    const allQueued = new Promise<void>((resolve) => {
      queued = resolve;
    });
    for (const [i, { client, remote }] of ends.entries()) {
      all.push(
        (async () => {
          await client.acquire('row:42');
          order.push(i);
          assert.equal(clients.filter((x) => x.heldTokens.includes('row:42')).length, 1, 'one holder');
          await allQueued;
          client.releaseToken('row:42');
        })(),
      );
      // Connections are independent: the next request leaves once this one is registered.
      const registered = () =>
        server.tokens?.holder('row:42') === remote || server.tokens?.waiting('row:42').includes(remote) === true;
      await waitFor(registered, 2_000, `request ${i} registered`);
    }
    assert.equal(server.tokens?.waiting('row:42').length, 4);
    queued();
    await within(Promise.all(all), 5_000, 'all granted in turn');
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    await waitFor(() => server.tokens?.holder('row:42') === undefined, 2_000, 'the last release');
  });

  test("the holder's session abort releases to the next waiter; the aborted client's acquire rejects", async (t) => {
    const server = await startServer(t);
    const a = await open(t, server);
    const b = await open(t, server);
    const c = await open(t, server);
    await a.client.acquire('x');
    await a.client.acquire('y');
    await c.client.acquire('z');
    const bGranted = b.client.acquire('x');
    const aWaits = a.client.acquire('z'); // a queues behind c
    await waitFor(() => server.tokens?.waiting('z').length === 1, 2_000, 'a queued for z');
    a.client.abort();
    await assert.rejects(aWaits, (e: Error & { code?: string }) => e.code === ErrorCode.SESSION_ABORTED);
    await within(bGranted, 2_000, 'b granted after a aborted');
    assert.equal(server.tokens?.holder('x'), b.remote);
    assert.equal(server.tokens?.holder('y'), undefined);
    assert.equal(server.tokens?.holder('z'), c.remote);
    assert.deepEqual(server.tokens?.waiting('z'), []);
  });

  test('a pending acquire rejects when the session ends, and with the reason when its signal aborts', async (t) => {
    const server = await startServer(t);
    const a = await open(t, server);
    const b = await open(t, server);
    const c = await open(t, server);
    await a.client.acquire('x');
    const controller = new AbortController();
    const bWaits = b.client.acquire('x', { signal: controller.signal });
    const cWaits = c.client.acquire('x');
    await waitFor(() => server.tokens?.waiting('x').length === 2, 2_000, 'two waiters');
    controller.abort(new Error('gave up'));
    await assert.rejects(bWaits, /gave up/);
    await waitFor(() => server.tokens?.waiting('x').length === 1, 2_000, 'b withdrawn');
    assert.deepEqual(server.tokens?.waiting('x'), [c.remote]);
    a.client.releaseToken('x');
    await within(cWaits, 2_000, 'c granted, b skipped');
    // A session that ends rejects its waiting requests.
    const dWaits = b.client.acquire('x');
    await waitFor(() => server.tokens?.waiting('x').length === 1, 2_000, 'b waits again');
    b.client.abort();
    await assert.rejects(dWaits, (e: Error & { code?: string }) => e.code === ErrorCode.SESSION_ABORTED);
    await waitFor(() => server.tokens?.waiting('x').length === 0, 2_000, 'b dropped from the queue');
  });

  test('server-local code is one owner in the same FIFO', async (t) => {
    const server = await startServer(t);
    const tokens = server.tokens;
    assert.ok(tokens);
    const a = await open(t, server);
    const b = await open(t, server);
    await a.client.acquire('printer');
    const local = tokens.acquire('printer');
    const bWaits = b.client.acquire('printer');
    await waitFor(() => tokens.waiting('printer').length === 2, 2_000, 'two waiters');
    assert.deepEqual(tokens.waiting('printer'), ['server', b.remote]);
    assert.deepEqual(tokens.queue('printer'), ['server', b.remote]);
    a.client.releaseToken('printer');
    await within(local, 2_000, 'local code granted');
    assert.equal(tokens.holder('printer'), 'server');
    assert.deepEqual(tokens.held, ['printer']);
    assert.equal(await stateAfter(bWaits, 50), 'pending');
    assert.equal(tokens.release('printer'), true);
    await within(bWaits, 2_000, 'b granted after local code');
    // A local request can be withdrawn by its signal.
    const controller = new AbortController();
    const localWaits = tokens.acquire('printer', { signal: controller.signal });
    controller.abort();
    await assert.rejects(localWaits, (e: Error) => e.name === 'AbortError');
    assert.deepEqual(tokens.waiting('printer'), []);
    // Closing the server rejects local requests still waiting (b holds the name).
    const rejected = assert.rejects(
      tokens.acquire('printer'),
      (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_STATE,
    );
    await server.close();
    await rejected;
  });

  test("'grant' reports every grant, the server's own of a free name included", async (t) => {
    const server = await startServer(t);
    const tokens = server.tokens;
    assert.ok(tokens);
    const a = await open(t, server);
    const grants: [string, unknown][] = [];
    tokens.on('grant', (name, holder) => grants.push([name, holder]));
    await tokens.acquire('printer');
    const aWaits = a.client.acquire('printer');
    await waitFor(() => tokens.waiting('printer').length === 1, 2_000, 'a waits');
    assert.equal(tokens.release('printer'), true);
    await within(aWaits, 2_000, 'a granted after the server');
    assert.deepEqual(grants, [
      ['printer', 'server'],
      ['printer', a.remote],
    ]);
  });

  test('refusals: a full queue, a name too long, and a server that offers no named tokens', async (t) => {
    const server = await startServer(t, { namedTokens: { waitersPerTokenMax: 1, nameBytesMax: 16 } });
    const [a, b, c] = [await open(t, server), await open(t, server), await open(t, server)];
    await a.client.acquire('x');
    void b.client.acquire('x').catch(() => {});
    await waitFor(() => server.tokens?.waiting('x').length === 1, 2_000, 'b queued');
    await assert.rejects(
      c.client.acquire('x'),
      (e) => e instanceof NamedTokenRefusedError && e.refuseCode === TokenRefuseCode.QUEUE_FULL,
    );
    await assert.rejects(
      c.client.acquire('a name longer than sixteen bytes'),
      (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_ARGUMENT,
    );
    assert.equal(c.client.state, 'open');
    assert.throws(
      () => c.client.releaseToken('never'),
      (e) => e instanceof UsageError && e.code === ErrorCode.NAMED_TOKEN_NOT_HELD,
    );
    await assert.rejects(
      a.remote.acquire('x'),
      (e) => e instanceof UsageError && e.code === ErrorCode.NAMED_TOKENS_UNAVAILABLE,
    );

    const plain = await startServer(t, { namedTokens: false });
    assert.equal(plain.tokens, null);
    const d = await open(t, plain);
    await assert.rejects(
      d.client.acquire('x'),
      (e) => e instanceof UsageError && e.code === ErrorCode.NAMED_TOKENS_UNAVAILABLE,
    );
    assert.equal(d.client.state, 'open');
  });
});

describe('named tokens across transport cuts (FaultProxy)', () => {
  test('cuts while holding, while queued and during the handover: one holder, each grant once', {
    timeout: 30_000,
  }, async (t) => {
    const server = await startServer(t);
    const proxy = await startProxy(t, { target: server.address });
    const a = await open(t, server, proxy.url);
    const b = await open(t, server, proxy.url);
    const aGrants = grantCounter(a.client, 'printer');
    const bGrants = grantCounter(b.client, 'printer');
    // Never two clients believing they hold it, sampled all along.
    let overlap = 0;
    const sampler = setInterval(() => {
      if (a.client.heldTokens.includes('printer') && b.client.heldTokens.includes('printer')) overlap++;
    }, 1);
    t.after(() => clearInterval(sampler));

    for (let round = 0; round < 4; round++) {
      const [holder, waiter] = round % 2 === 0 ? [a, b] : [b, a];
      if (round === 0) await within(holder.client.acquire('printer'), 5_000, 'first grant');
      const waits = waiter.client.acquire('printer');
      await waitFor(() => server.tokens?.waiting('printer').length === 1, 5_000, 'queued');
      // Cut while one holds and the other waits: both resume, nothing changes hands.
      const resumes = holder.client.stats.resumes;
      assert.ok(proxy.cutAll() >= 1);
      await waitFor(() => holder.client.stats.resumes > resumes, 5_000, 'holder resumed');
      await waitFor(() => waiter.client.link === 'attached', 5_000, 'waiter resumed');
      assert.equal(server.tokens?.holder('printer'), holder.remote, `round ${round}: holder kept`);
      assert.equal(await stateAfter(waits, 50), 'pending');
      // Cut right after the release leaves: the release and the grant cross the break.
      holder.client.releaseToken('printer');
      proxy.cutAll();
      await within(waits, 5_000, `round ${round}: the waiter granted across the cut`);
      assert.equal(server.tokens?.holder('printer'), waiter.remote);
    }
    await sleep(100); // a doubled grant would surface now
    assert.equal(aGrants(), 3, 'a granted exactly three times (before round 0, in rounds 1 and 3)');
    assert.equal(bGrants(), 2, 'b granted exactly twice (rounds 0 and 2)');
    assert.equal(overlap, 0, 'never two holders');
    assert.ok(a.client.stats.resumes >= 4 && b.client.stats.resumes >= 4, 'every round resumed both');
  });

  test('a grant made while the waiter is suspended reaches it once it resumes, exactly once', {
    timeout: 20_000,
  }, async (t) => {
    const server = await startServer(t);
    const proxy = await startProxy(t, { target: server.address });
    const a = await open(t, server); // direct
    const b = await open(t, server, proxy.url); // through the proxy
    const bGrants = grantCounter(b.client, 'x');
    await a.client.acquire('x');
    const bWaits = b.client.acquire('x');
    await waitFor(() => server.tokens?.waiting('x').length === 1, 2_000, 'b queued');
    await proxy.down('refuse', { cutExisting: true });
    await waitFor(() => b.remote.link === 'suspended', 2_000, 'b suspended on the server');
    a.client.releaseToken('x');
    // The registry hands x to b's suspended session: it holds it, its client learns on resume.
    await waitFor(() => server.tokens?.holder('x') === b.remote, 2_000, 'granted to the suspended session');
    assert.equal(await stateAfter(bWaits, 100), 'pending');
    await proxy.up();
    await within(bWaits, 10_000, 'grant delivered after the resume');
    await sleep(100);
    assert.equal(bGrants(), 1);
    assert.deepEqual(b.client.heldTokens, ['x']);
    assert.equal(b.client.stats.resumes, 1);
  });

  test('a suspended holder keeps its token until its resume window ends; then the next waiter gets it', {
    timeout: 20_000,
  }, async (t) => {
    const server = await startServer(t, { limits: { resumeWindowMs: 600 } });
    const proxy = await startProxy(t, { target: server.address });
    const a = await open(t, server, proxy.url);
    const b = await open(t, server); // direct, unaffected by the proxy
    await a.client.acquire('x');
    const bWaits = b.client.acquire('x');
    await waitFor(() => server.tokens?.waiting('x').length === 1, 2_000, 'b queued');
    await proxy.down('refuse', { cutExisting: true });
    await waitFor(() => a.remote.link === 'suspended', 2_000, 'a suspended on the server');
    assert.equal(await stateAfter(bWaits, 300), 'pending', 'still held by the suspended session');
    assert.equal(server.tokens?.holder('x'), a.remote);
    await within(bWaits, 3_000, 'granted once the window ended');
    assert.equal(server.tokens?.holder('x'), b.remote);
    const reason = await within(a.remote.closed, 2_000, 'a expired');
    assert.equal(reason.kind, 'aborted');
  });
});
