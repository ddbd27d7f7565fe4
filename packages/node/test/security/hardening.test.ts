/**
 * The audit's fixes against a live server on loopback, each with the attack it stops:
 * - a burst of CONNECTs on one connection under a slow (asynchronous) `authenticate` hook gets no
 *   more credentials verified than the address has attempts: one verification at a time per
 *   connection, each after the failures before it were counted;
 * - a hook that never answers refuses its request after the handshake timeout and does not hold
 *   the connection's later requests (nor count against the address);
 * - a flood of renewals on one session holds at most one verification; the others are answered
 *   CONGESTION at once;
 * - the server-wide connection limit is enforced at the door, whatever the source address.
 * Every wait is bounded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AbortCode, type Authenticator, connect, DEFAULT_LIMITS, listen, RefuseCode } from '@liaison/node';
import { buildConnect, ExtensionId, type Frame, FrameType, Unit } from '@liaison/node/engine';
import { makePki, type TestPki, within } from '@liaison/testkit';
import { bytes, nextSession, sleep, startServer, track, waitFor } from '../helpers.js';
import { is, RawClient } from './raw-client.js';

let pki: TestPki;
before(() => {
  pki = makePki();
});
after(() => pki.remove());

function connectFrame(channel: number, token: string) {
  const f = buildConnect(channel, DEFAULT_LIMITS, Unit.KERNEL | Unit.DUPLEX, new Uint8Array(0), []);
  f.extensions.push({ id: ExtensionId.AUTH_TOKEN, value: bytes(token) });
  return f;
}

/** A hook that answers after `ms`, counting its calls and how many run at once. */
function slowHook(ms: number, accept: (token: string) => string | null) {
  const stats = { calls: 0, running: 0, maxRunning: 0, renewals: 0 };
  const hook: Authenticator = async (credentials, facts) => {
    stats.calls++;
    if (facts.renewal) stats.renewals++;
    stats.running++;
    stats.maxRunning = Math.max(stats.maxRunning, stats.running);
    await sleep(ms);
    stats.running--;
    const id = credentials.type === 'token' ? accept(credentials.token) : null;
    return id ? { id } : null;
  };
  return { hook, stats };
}

describe('hardening: limits enforced on a live server', () => {
  test('a burst of 40 CONNECTs under a slow hook: at most the burst of attempts verified, one at a time', async (t) => {
    const { hook, stats } = slowHook(20, () => null);
    const server = await startServer(t, { authenticate: hook, attackLimits: { failuresBurst: 3 } });
    const a = await RawClient.open(server.address.port, '127.0.0.31');
    t.after(() => a.destroy());
    a.sendFrames(
      Array.from({ length: 40 }, (_, i) => connectFrame(2 * i + 1, `guess-${i}`)),
      true,
    );
    const close = await a.connectionClose(10_000);
    assert.equal(close.code, AbortCode.RATE_LIMITED);
    assert.equal(stats.maxRunning, 1, 'one verification at a time on a connection');
    assert.ok(stats.calls <= 3, `verified ${stats.calls} guesses, no more than the burst of 3`);
    const refused = a.frames.filter(is(FrameType.REFUSE));
    assert.ok(refused.length >= 2 && refused.every((f) => f.code === RefuseCode.UNAUTHENTICATED));
  });

  test('a hook that never answers: refused at the handshake timeout, later requests verified, no penalty', async (t) => {
    let calls = 0;
    const server = await startServer(t, {
      limits: { handshakeTimeoutMs: 400 },
      attackLimits: { failuresBurst: 1 },
      authenticate: (credentials) => {
        calls++;
        if (credentials.type === 'token' && credentials.token === 'hang') return new Promise(() => {});
        return credentials.type === 'token' && credentials.token === 'good' ? { id: 'good' } : null;
      },
    });
    const a = await RawClient.open(server.address.port, '127.0.0.32');
    t.after(() => a.destroy());
    // A live session keeps the connection open; then a request whose verification never ends.
    a.sendFrames([connectFrame(1, 'good'), connectFrame(3, 'hang')], true);
    await a.frame((f): f is Frame => f.type === FrameType.ACCEPT && f.channel === 1, 3_000);
    // It ends at the handshake timeout: refused UNAUTHENTICATED (the server gave up on the hook)
    // or aborted HANDSHAKE_TIMEOUT by the engine, whichever timer fires first...
    const ended = await a.frame(
      (f): f is Frame => (f.type === FrameType.REFUSE || f.type === FrameType.ABORT) && f.channel === 3,
      3_000,
    );
    if (ended.type === FrameType.REFUSE) assert.equal(ended.code, RefuseCode.UNAUTHENTICATED);
    if (ended.type === FrameType.ABORT) assert.equal(ended.code, AbortCode.HANDSHAKE_TIMEOUT);
    // ...and the connection's queue of verifications goes on past it.
    a.sendFrames([connectFrame(5, 'good')]);
    await a.frame((f): f is Frame => f.type === FrameType.ACCEPT && f.channel === 5, 3_000);
    assert.equal(calls, 3);
    // A failure would have emptied this address's bucket of 1: it may still log in.
    const again = track(t, connect(server.url, { auth: { token: 'good' }, resume: false }));
    await within(again.ready, 3_000, 'not penalised');
  });

  test('a flood of renewals on one session: one verified at a time, the rest answered CONGESTION at once', async (t) => {
    const { hook, stats } = slowHook(50, (token) => (token.startsWith('ok') ? 'dana' : null));
    const server = await startServer(t, { authenticate: hook });
    const accepted = nextSession(server, 5_000);
    const client = track(t, connect(server.url, { auth: { token: 'ok-0' } }));
    await within(client.ready, 5_000, 'ready');
    await accepted;
    const results = await within(
      Promise.allSettled(Array.from({ length: 20 }, (_, i) => client.renewCredentials(`ok-${i + 1}`))),
      5_000,
      'renewals answered',
    );
    assert.equal(stats.maxRunning, 1);
    assert.equal(stats.renewals, 1, 'one renewal verified');
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      assert.match(String((r as PromiseRejectedResult).reason), /already being checked/);
    }
    // The session goes on, and a renewal once the first is answered is verified as usual.
    await within(client.renewCredentials('ok-after'), 3_000, 'next renewal');
    assert.equal(stats.renewals, 2);
  });

  test('the server-wide connection limit: past connectionsMax every address is turned away, until one closes', async (t) => {
    const server = await startServer(t, { attackLimits: { connectionsMax: 2 } });
    const a = await RawClient.open(server.address.port, '127.0.0.41');
    const b = await RawClient.open(server.address.port, '127.0.0.42');
    t.after(() => {
      a.destroy();
      b.destroy();
    });
    await waitFor(() => server.connectionCount === 2, 3_000, 'two connections');
    const c = await RawClient.open(server.address.port, '127.0.0.43');
    t.after(() => c.destroy());
    const close = await c.connectionClose(3_000);
    assert.equal(close.code, AbortCode.TOO_MANY_CONNECTIONS);
    assert.match(close.message, /maximum of 2 connections/);
    a.destroy();
    await waitFor(() => server.connectionCount === 1, 3_000, 'one closed');
    const d = track(t, connect(server.url, { resume: false }));
    await within(d.ready, 3_000, 'a new connection is admitted again');
  });

  test('mutual TLS: failed certificate handshakes count against the address; past the burst it is turned away before TLS', async (t) => {
    const server = await listen('tls://127.0.0.1:0', {
      tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requestCert: true, rejectUnauthorized: true },
      attackLimits: { failuresBurst: 2 },
    });
    t.after(() => server.close());
    const refusals: number[] = [];
    server.on('connection-refused', (e) => refusals.push(e.code));
    const tls = { ca: pki.ca, servername: 'localhost' };
    for (let i = 0; i < 2; i++) {
      const noCert = track(t, connect(server.url, { tls, resume: false }));
      const reason = await within(noCert.closed, 5_000, `attempt ${i} without a certificate`);
      assert.match(reason.kind === 'aborted' ? reason.message : '', /certificate required/);
    }
    // Now even a client with a good certificate from this address is turned away at the door.
    const withCert = track(
      t,
      connect(server.url, { tls: { ...tls, cert: pki.clientCert, key: pki.clientKey }, resume: false }),
    );
    await within(withCert.closed, 5_000, 'turned away');
    assert.deepEqual(refusals, [AbortCode.RATE_LIMITED]);
  });
});
