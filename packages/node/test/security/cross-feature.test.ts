/**
 * The security features together, over real loopback sockets and a proxy that cuts the transport:
 * (a) TLS with a bearer token and Noise inside it (IK, the server key pinned), cut six times while
 *     messages flow: every message arrives exactly once and in order both ways, the session resumes after each cut, and the
 *     server sees the principal, the transport and the pattern;
 * (b) a session using the dialogue units (half-duplex token passing, major sync points) and an
 *     application-named token under Noise, across cuts: one holder of each token at any time,
 *     serials in order, each grant once.
 * Every wait is bounded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearerTokens, connect, generateNoiseKeyPair, listen, type Session } from '@liaison/node';
import { FaultProxy, makePki, type TestPki, within } from '@liaison/testkit';
import { nextSession, startServer, text, track, waitFor } from '../helpers.js';

let pki: TestPki;
before(() => {
  pki = makePki();
});
after(() => pki.remove());

const serverKeys = generateNoiseKeyPair();

describe('security features together, through cuts', () => {
  test('(a) TLS + token + Noise inside, cut six times while data flows: data exact both ways, resumed', {
    timeout: 60_000,
  }, async (t) => {
    const server = await listen('tls://127.0.0.1:0', {
      tls: { cert: pki.serverCert, key: pki.serverKey },
      authenticate: bearerTokens(new Map([['tok-alice', 'alice']])),
      noise: { staticKey: serverKeys.privateKey },
    });
    t.after(() => server.close());
    // Cut by the test, while data flows (cuts on a timer could land before a loaded machine has
    // finished the first TLS and Noise handshakes, and no session would ever open).
    const proxy = new FaultProxy({ target: { host: '127.0.0.1', port: server.address.port } });
    await proxy.start();
    t.after(() => proxy.stop());
    const client = track(
      t,
      connect(`tls://127.0.0.1:${proxy.address.port}`, {
        tls: { ca: pki.ca, servername: 'localhost' },
        auth: { token: 'tok-alice' },
        noise: { remoteStaticKey: serverKeys.publicKey },
      }),
    );
    const accepted = await nextSession(server, 10_000);
    await within(client.ready, 10_000, 'ready');
    assert.equal(accepted.principal?.id, 'alice');
    assert.equal(accepted.transport, 'tls');
    assert.equal(accepted.noisePattern, 'IK');
    assert.equal(client.noisePattern, 'IK');
    // The server echoes; the client sends in bursts spread over several cuts.
    const serverGot: string[] = [];
    const echoing = (async () => {
      try {
        for await (const m of accepted) {
          serverGot.push(text(m));
          await accepted.send(m);
        }
      } catch {}
    })();
    const clientGot: string[] = [];
    const reading = (async () => {
      for await (const m of client) clientGot.push(text(m));
    })();
    const N = 3_000;
    for (let i = 0; i < N; i++) {
      await client.send(`m${i} ${'x'.repeat(i % 200)}`);
      if (i % 500 === 249) {
        // Cut with messages in flight both ways; go on once resumed (a cut of the resuming
        // connection itself would only merge two cuts into one resume).
        const resumed = new Promise((r) => client.once('resumed', r));
        proxy.cutAll();
        await within(resumed, 15_000, `resumed after the cut at message ${i}`);
      }
      if (i % 300 === 299) await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor(() => clientGot.length === N, 30_000, 'every echo');
    await within(client.close(), 15_000, 'release');
    await within(Promise.all([echoing, reading]), 5_000, 'both ends done');
    const expected = Array.from({ length: N }, (_, i) => `m${i} ${'x'.repeat(i % 200)}`);
    assert.deepEqual(serverGot, expected, 'the server got each message once, in order');
    assert.deepEqual(clientGot, expected, 'the client got each echo once, in order');
    t.diagnostic(`${proxy.counters.cuts} cuts, ${client.stats.resumes} resumes`);
    assert.ok(client.stats.resumes >= 6, `resumed after each cut (${proxy.counters.cuts} cuts)`);
  });

  test('(b) dialogue tokens, major sync points and a named token under Noise, across cuts', {
    timeout: 60_000,
  }, async (t) => {
    const server = await startServer(t, { noise: { staticKey: serverKeys.privateKey } });
    const proxy = new FaultProxy({ target: server.address, cutAtBytes: [400, 2_000], seed: 5 });
    await proxy.start();
    t.after(() => proxy.stop());
    const units = ['half-duplex', 'major-synchronize', 'typed-data'];
    const open = async (): Promise<{ client: Session; remote: Session }> => {
      const remote = nextSession(server, 10_000);
      const client = track(t, connect(proxy.url, { units, noise: { remoteStaticKey: serverKeys.publicKey } }));
      await within(client.ready, 10_000, 'ready');
      return { client, remote: await remote };
    };
    const a = await open();
    const b = await open();
    assert.equal(a.remote.noisePattern, 'IK');
    // Never two holders of the printer, sampled all along.
    let overlap = 0;
    const sampler = setInterval(() => {
      if (a.client.heldTokens.includes('printer') && b.client.heldTokens.includes('printer')) overlap++;
    }, 1);
    t.after(() => clearInterval(sampler));
    const grants = { a: 0, b: 0 };
    a.client.on('named-token-granted', (n) => n === 'printer' && grants.a++);
    b.client.on('named-token-granted', (n) => n === 'printer' && grants.b++);

    // On session a: 20 half-duplex turns; the speaker sends, takes a major sync point and hands
    // the data and major tokens over. Meanwhile the named token moves between a and b.
    const { client, remote } = a;
    remote.on('sync-major', () => remote.confirmMajor());
    client.on('sync-major', () => client.confirmMajor());
    const serials = { client: [] as number[], remote: [] as number[] };
    client.on('sync-major', (e) => serials.client.push(e.serial));
    remote.on('sync-major', (e) => serials.remote.push(e.serial));
    const got = { client: [] as string[], remote: [] as string[] };
    client.on('message', (m) => got.client.push(text(m)));
    remote.on('message', (m) => got.remote.push(text(m)));
    const tokens = ['data', 'major'] as const;
    let holder = a;
    let waiter = b;
    await within(holder.client.acquire('printer'), 5_000, 'first grant');
    for (let turn = 0; turn < 20; turn++) {
      const [speaker, listener] = turn % 2 === 0 ? [client, remote] : [remote, client];
      await waitFor(() => tokens.every((tk) => speaker.owns(tk)), 10_000, `turn ${turn}: tokens arrive`);
      for (const tk of tokens) assert.ok(!listener.owns(tk), `turn ${turn}: ${tk} held by one side only`);
      await speaker.send(`turn ${turn}`);
      await within(speaker.syncMajor(), 10_000, `turn ${turn}: major sync`);
      speaker.giveTokens([...tokens]);
      if (turn % 5 === 4) {
        // The named token changes hands, with a cut right behind the release.
        const waits = waiter.client.acquire('printer');
        await waitFor(() => server.tokens?.waiting('printer').length === 1, 10_000, 'queued');
        holder.client.releaseToken('printer');
        proxy.cutAll();
        await within(waits, 10_000, `turn ${turn}: granted across the cut`);
        assert.equal(server.tokens?.holder('printer'), waiter.remote);
        [holder, waiter] = [waiter, holder];
      }
    }
    await waitFor(() => got.remote.length === 10 && got.client.length === 10, 10_000, 'all messages');
    assert.deepEqual(
      got.remote,
      Array.from({ length: 10 }, (_, i) => `turn ${2 * i}`),
    );
    assert.deepEqual(
      got.client,
      Array.from({ length: 10 }, (_, i) => `turn ${2 * i + 1}`),
    );
    // One serial counter: each major sync point seen once by the other side, in order.
    assert.deepEqual(
      serials.remote,
      Array.from({ length: 10 }, (_, i) => 2 * i),
    );
    assert.deepEqual(
      serials.client,
      Array.from({ length: 10 }, (_, i) => 2 * i + 1),
    );
    await new Promise((r) => setTimeout(r, 100)); // a doubled grant would surface now
    assert.equal(grants.a, 3, 'a granted at the start and twice more');
    assert.equal(grants.b, 2, 'b granted twice');
    assert.equal(overlap, 0, 'never two holders of the named token');
    t.diagnostic(`${proxy.counters.cuts} cuts, ${a.client.stats.resumes}+${b.client.stats.resumes} resumes`);
    assert.ok(a.client.stats.resumes >= 4, `session a resumed across the cuts (${a.client.stats.resumes})`);
  });
});
