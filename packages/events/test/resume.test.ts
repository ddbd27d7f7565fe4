/**
 * The done-when of the events layer: a room member whose TCP connection breaks and resumes
 * (through the testkit's fault proxy) still gets every broadcast exactly once and in order, and
 * an ack in flight across the break completes exactly once, its handler run once.
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { EventServer, EventSocket } from '@liaison/events';
import { FaultProxy } from '@liaison/testkit';
import { client, connections, sleep, startEvents, waitFor, within } from './helpers.js';

interface S2C {
  news: (n: number) => void;
}
interface C2S {
  work: (n: number, ack: (result: number) => void) => void;
}

async function proxyTo(t: TestContext, io: EventServer<C2S, S2C>): Promise<FaultProxy> {
  const proxy = new FaultProxy({ target: io.server.address });
  await proxy.start();
  t.after(() => proxy.stop());
  return proxy;
}

function resumed(socket: EventSocket<S2C, C2S>): Promise<void> {
  return within(new Promise((resolve) => socket.session.once('resumed', () => resolve())), 10_000, 'resume');
}

describe('events across a broken and resumed connection', { timeout: 60_000 }, () => {
  test('a member cut several times gets each broadcast exactly once, in order', async (t) => {
    const io = await startEvents<C2S, S2C>(t);
    const proxy = await proxyTo(t, io);
    const accepted = connections(io, 2);
    const direct = client<S2C, C2S>(t, io.server.url);
    await within(direct.ready, 5_000, 'direct ready');
    const cut = client<S2C, C2S>(t, proxy.url);
    await within(cut.ready, 5_000, 'proxied ready');
    for (const s of await accepted) await s.join('room');
    const got = { direct: [] as number[], cut: [] as number[] };
    direct.on('news', (n) => got.direct.push(n));
    cut.on('news', (n) => got.cut.push(n));
    let disconnects = 0;
    cut.on('disconnect', () => disconnects++);

    const ROUNDS = 300;
    let back: Promise<void> | null = null;
    let suspendedSends = 0;
    for (let n = 1; n <= ROUNDS; n++) {
      if (n % 75 === 0) {
        back = resumed(cut);
        assert.equal(proxy.cutAll(), 1, 'one connection cut');
      }
      // The next 20 broadcasts go out while the member's connection is down or resuming.
      if (back && n % 75 === 20) {
        await back;
        back = null;
      }
      if (back) suspendedSends++;
      await io.to('room').emit('news', n);
      if (n % 10 === 0) await sleep(1);
    }
    if (back) await back;
    assert.ok(suspendedSends >= 60, 'broadcasts sent during the breaks');
    const all = [...Array(ROUNDS).keys()].map((i) => i + 1);
    await waitFor(() => got.cut.length >= ROUNDS && got.direct.length >= ROUNDS, 15_000, 'every broadcast');
    await sleep(100);
    assert.deepEqual(got.cut, all, 'the cut member: each once, in order');
    assert.deepEqual(got.direct, all, 'the direct member: each once, in order');
    assert.ok(cut.session.stats.resumes >= 4, `resumed ${cut.session.stats.resumes} times`);
    assert.equal(disconnects, 0, 'a resume is not a disconnect');
    assert.equal(cut.connected, true);
  });

  test('an ack in flight across a cut completes once; the handler runs once', async (t) => {
    const io = await startEvents<C2S, S2C>(t);
    const proxy = await proxyTo(t, io);
    const accepted = connections(io);
    const socket = client<S2C, C2S>(t, proxy.url);
    await within(socket.ready, 5_000, 'ready');
    const [server] = await accepted;
    const runs: number[] = [];
    server!.on('work', (n, ack) => {
      runs.push(n);
      setTimeout(() => ack(n * 2), 200);
    });
    const results: number[] = [];
    const pending = socket
      .timeout(15_000)
      .emitWithAck('work', 21)
      .then((r) => results.push(r));
    await waitFor(() => runs.length === 1, 5_000, 'the handler started');
    const back = resumed(socket);
    proxy.cutAll(); // the reply is sent while the connection is down or resuming
    await back;
    await within(pending, 10_000, 'the ack');
    await sleep(300);
    assert.deepEqual(results, [42]);
    assert.deepEqual(runs, [21], 'the handler ran once');
    // The ack ids go on matching after the resume.
    assert.equal(await within(socket.emitWithAck('work', 5), 5_000, 'next ack'), 10);
  });
});
