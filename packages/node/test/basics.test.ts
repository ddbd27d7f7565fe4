/**
 * listen/connect over real loopback TCP: establishment, agreed parameters, user data both ways,
 * the two ways a server hands out sessions, and refusal.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type CloseReason,
  connect,
  ErrorCode,
  type IncomingRequest,
  RefuseCode,
  SessionClosedError,
} from '@liaison/node';
import { Unit } from '@liaison/node/engine';
import { bytes, echoServer, nextSession, startServer, text, track, within } from './helpers.js';

describe('listen and connect', { timeout: 10_000 }, () => {
  test('ready resolves on both sides with the same agreed parameters', async (t) => {
    const server = await startServer(t);
    assert.match(server.url, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(server.address.port > 0);
    const client = track(t, connect(server.url));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'client ready');
    await within(accepted.ready, 2_000, 'server ready');
    assert.equal(client.state, 'open');
    assert.equal(accepted.state, 'open');
    const a = client.agreed;
    const b = accepted.agreed;
    assert.ok(a && b);
    assert.equal(a.version, b.version);
    assert.equal(a.units, b.units);
    assert.ok((a.units & Unit.DUPLEX) !== 0, 'duplex agreed');
    assert.ok((a.units & Unit.KERNEL) !== 0, 'kernel agreed');
    assert.equal(client.channel, accepted.channel);
    assert.equal(accepted.remoteAddress, '127.0.0.1');
    assert.equal(client.remotePort, server.address.port);
    assert.ok(client.rtt !== null, 'the connect round trip gives an rtt sample');
    client.close();
    const [rc, rs] = await within(Promise.all([client.closed, accepted.closed]), 2_000, 'release');
    assert.equal(rc.kind, 'released');
    assert.equal(rs.kind, 'released');
  });

  test('user data: the connect request reaches onConnect, the acceptance reaches the client', async (t) => {
    const seen: IncomingRequest[] = [];
    const server = await startServer(t, {
      onConnect: (request) => {
        seen.push(request);
        return { accept: true, userData: bytes(`welcome ${text(request.userData)}`) };
      },
    });
    const client = track(t, connect(server.url, { userData: 'alice' }));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'client ready');
    assert.equal(seen.length, 1);
    assert.equal(text(seen[0]!.userData), 'alice');
    assert.equal(seen[0]!.remoteAddress, '127.0.0.1');
    assert.ok(seen[0]!.remotePort > 0);
    assert.equal(text(accepted.peerUserData), 'alice');
    assert.equal(text(client.peerUserData), 'welcome alice');
  });

  test('an async onConnect is awaited', async (t) => {
    const server = await startServer(t, {
      onConnect: async (request) => {
        await new Promise((r) => setTimeout(r, 20));
        return text(request.userData) === 'let me in';
      },
    });
    echoServer(server);
    const ok = track(t, connect(server.url, { userData: 'let me in' }));
    const no = track(t, connect(server.url, { userData: 'no' }));
    await within(ok.ready, 2_000, 'accepted');
    await assert.rejects(within(no.ready, 2_000, 'refused'), { code: ErrorCode.SESSION_REFUSED });
    assert.equal(((await no.closed) as Extract<CloseReason, { kind: 'refused' }>).code, RefuseCode.REJECTED);
  });

  test("the server hands out sessions by async iteration and by the 'session' event", async (t) => {
    const server = await startServer(t);
    const viaIterator = nextSession(server);
    const first = track(t, connect(server.url, { userData: 'first' }));
    const s1 = await viaIterator;
    assert.equal(text(s1.peerUserData), 'first');
    await within(first.ready, 2_000, 'first ready');

    const viaEvent = new Promise<string>((resolve) => server.once('session', (s) => resolve(text(s.peerUserData))));
    const second = track(t, connect(server.url, { userData: 'second' }));
    assert.equal(await within(viaEvent, 2_000, "'session' event"), 'second');
    await within(second.ready, 2_000, 'second ready');
    assert.equal(server.connectionCount, 2);
  });

  test('send() and close() may be called before ready; they wait for the session to open', async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url));
    const sent = client.send('early');
    const closing = client.close();
    const s = await nextSession(server);
    const got: string[] = [];
    for await (const m of s) got.push(text(m));
    await within(sent, 2_000, 'early send');
    assert.deepEqual(got, ['early']);
    assert.equal((await within(closing, 2_000, 'release')).kind, 'released');
  });
});

describe('refusal', { timeout: 10_000 }, () => {
  test('onConnect refusing with a code and user data: ready rejects, closed says refused', async (t) => {
    const server = await startServer(t, {
      onConnect: () => ({ accept: false, code: RefuseCode.CONGESTION, userData: bytes('busy, retry later') }),
    });
    let sessions = 0;
    server.on('session', () => sessions++);
    const client = track(t, connect(server.url));
    const error = await within(
      client.ready.then(
        () => assert.fail('ready resolved'),
        (e: unknown) => e,
      ),
      2_000,
      'refusal',
    );
    assert.ok(error instanceof SessionClosedError);
    assert.equal(error.code, ErrorCode.SESSION_REFUSED);
    const reason = await within(client.closed, 2_000, 'closed');
    assert.equal(reason.kind, 'refused');
    assert.ok(reason.kind === 'refused');
    assert.equal(reason.code, RefuseCode.CONGESTION);
    assert.equal(text(reason.userData), 'busy, retry later');
    assert.deepEqual(error.reason, reason);
    assert.equal(client.state, 'closed');
    assert.equal(sessions, 0, 'a refused session is never handed to the application');
    await assert.rejects(client.send('x'), SessionClosedError);
  });

  test('onConnect throwing refuses the session', async (t) => {
    const server = await startServer(t, {
      onConnect: () => {
        throw new Error('boom');
      },
    });
    const client = track(t, connect(server.url));
    await assert.rejects(within(client.ready, 2_000, 'refusal'), { code: ErrorCode.SESSION_REFUSED });
    const reason = await client.closed;
    assert.equal(reason.kind, 'refused');
  });

  test('onConnect rejecting refuses the session', async (t) => {
    const server = await startServer(t, { onConnect: () => Promise.reject(new Error('no')) });
    const client = track(t, connect(server.url));
    await assert.rejects(within(client.ready, 2_000, 'refusal'), { code: ErrorCode.SESSION_REFUSED });
  });

  test('units the server does not agree to: no dialogue mode left is refused with UNITS_UNSUPPORTED', async (t) => {
    const server = await startServer(t, { units: ['half-duplex'] });
    const client = track(t, connect(server.url, { units: ['duplex'] }));
    await assert.rejects(within(client.ready, 2_000, 'refusal'), { code: ErrorCode.SESSION_REFUSED });
    const reason = await client.closed;
    assert.ok(reason.kind === 'refused');
    assert.equal(reason.code, RefuseCode.UNITS_UNSUPPORTED);
  });
});
