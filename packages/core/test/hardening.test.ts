/**
 * Regressions found by reading the code against the docs: oversized user data is refused by the
 * session it belongs to (not by closing the connection); application extensions cannot collide
 * with the protocol's own ids; a resume attempt is bounded by the resume window.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortCode,
  Connection,
  concatBytes,
  ErrorCode,
  ExtensionId,
  encodeFrame,
  FrameType,
  PREFACE,
  RefuseCode,
  type Session,
  SessionTable,
  UsageError,
} from '@liaison/core';
import { eventsOf, Pair } from './harness.js';
import { acceptedRawSession, connectFrame, RawPeer } from './raw-peer.js';
import { seededRandom } from './seeded-random.js';

describe('hardening', () => {
  test('regression: a CONNECT with user data over the limit is refused, the connection stays open', () => {
    const p = new Pair({
      initiator: { limits: { userDataBytesMax: 4096 } },
      responder: { limits: { userDataBytesMax: 100 } },
    });
    const big = p.a.conn.openSession(p.now, { userData: new Uint8Array(200) });
    p.pump();
    assert.equal(big.state, 'closed');
    const reason = big.closeReason;
    assert.ok(reason?.kind === 'refused');
    assert.equal(reason.code, RefuseCode.PARAMETERS_UNACCEPTABLE);
    assert.ok(p.a.conn.isOpen && p.b.conn.isOpen, 'the connection survives');
    const small = p.a.conn.openSession(p.now, { userData: new Uint8Array(50) });
    p.pump();
    assert.equal(eventsOf(p.b, 'connect-request').length, 1);
    assert.equal(small.state, 'connecting');
  });

  test('regression: a FINISH with user data over the limit aborts only its session', () => {
    const p = new Pair({
      initiator: { limits: { userDataBytesMax: 4096 } },
      responder: { limits: { userDataBytesMax: 100 } },
    });
    const sessions = [p.a.conn.openSession(p.now), p.a.conn.openSession(p.now)];
    p.pump();
    for (const s of sessions) p.b.conn.session(s.channel)?.accept(p.now, new Uint8Array(0));
    p.pump();
    sessions[0]?.release(p.now, new Uint8Array(300));
    p.pump();
    assert.equal(sessions[0]?.state, 'closed');
    const reason = sessions[0]?.closeReason;
    assert.ok(reason?.kind === 'aborted' && reason.code === AbortCode.LIMIT_EXCEEDED);
    assert.equal(sessions[1]?.state, 'open');
    assert.ok(p.a.conn.isOpen);
  });

  test('regression: application extensions may not use the protocol ids, nor be too many', () => {
    const p = new Pair();
    for (const extensions of [
      [{ id: 0x01, value: new Uint8Array(32) }],
      Array.from({ length: 40 }, () => ({ id: 0x80, value: new Uint8Array(1) })),
      [{ id: 0x80, value: new Uint8Array(5000) }],
    ]) {
      assert.throws(
        () => p.a.conn.openSession(p.now, { extensions }),
        (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_ARGUMENT,
      );
    }
    const ok = p.a.conn.openSession(p.now, { extensions: [{ id: 0x80, value: new Uint8Array(4) }] });
    p.pump();
    const [request] = eventsOf(p.b, 'connect-request');
    assert.deepEqual(
      request?.request.extensions.map((e) => e.id),
      [0x80],
    );
    void ok;
  });

  test('regression: a resume attempt that gets no answer ends when the resume window (and its grace) does', () => {
    const random = seededRandom(3);
    const table = new SessionTable({ resumeWindowMs: 1000, suspendedBytesMax: 1 << 20 });
    const serverTable = new SessionTable({ resumeWindowMs: 1000, suspendedBytesMax: 1 << 20 });
    // The initiator tries one handshake timeout past the window (a late answer may still be exact).
    const limits = { idleTimeoutMs: 0, keepaliveIntervalMs: 0, handshakeTimeoutMs: 300 };
    const client = new Connection({ role: 'initiator', random, table, limits });
    const server = new Connection({ role: 'responder', random, table: serverTable });
    client.handleTransportUp(0);
    server.handleTransportUp(0);
    const session = client.openSession(0);
    exchange(client, server);
    assert.equal(session.state, 'open');
    client.handleTransportDown(0, 'cut');
    // A new connection to something that never sends a challenge (idle timeout off).
    const silent = new Connection({ role: 'initiator', random, table, limits });
    silent.handleTransportUp(100);
    silent.resumeSession(100, session as Session);
    assert.equal(session.link, 'resuming');
    assert.equal(silent.pollTimeout(), 1300, 'the window and its grace are the deadline');
    silent.handleTimeout(1299);
    assert.equal(session.link, 'resuming');
    silent.handleTimeout(1300);
    assert.equal(session.state, 'closed');
    const reason = session.closeReason;
    assert.ok(reason?.kind === 'aborted' && reason.code === AbortCode.RESUME_WINDOW_EXPIRED);
  });
});

describe('regression (sim seed 271, second bug): a closed session has no deadline', () => {
  test('a resume refused while awaiting RESUMED leaves no timer behind', () => {
    const random = seededRandom(271);
    const table = new SessionTable({ resumeWindowMs: 1000, suspendedBytesMax: 1 << 20 });
    const client = new Connection({ role: 'initiator', random, table });
    const server = new Connection({
      role: 'responder',
      random,
      table: new SessionTable({ resumeWindowMs: 1000, suspendedBytesMax: 1 << 20 }),
    });
    client.handleTransportUp(0);
    server.handleTransportUp(0);
    const session = client.openSession(0);
    exchange(client, server);
    client.handleTransportDown(0, 'cut');
    // A server that never knew the session (it restarted): the resume is refused.
    const again = new Connection({ role: 'initiator', random, table });
    const stranger = new Connection({
      role: 'responder',
      random,
      table: new SessionTable({ resumeWindowMs: 1000, suspendedBytesMax: 1 << 20 }),
    });
    again.handleTransportUp(10);
    stranger.handleTransportUp(10);
    again.resumeSession(10, session);
    exchange(again, stranger);
    assert.equal(session.state, 'closed');
    assert.equal(session.nextDeadline(), null, 'no deadline on a closed session');
    const due = again.pollTimeout();
    assert.ok(due === null || due > 10, `the connection has no timer due now (${due})`);
  });
});

describe('regressions found reading the docs against the code', () => {
  test('an ABORT is never answered, even with user data over the limit', () => {
    const p = new Pair({
      initiator: { limits: { userDataBytesMax: 4096 } },
      responder: { limits: { userDataBytesMax: 100 } },
    });
    const s = p.a.conn.openSession(p.now);
    p.pump();
    p.b.conn.session(s.channel)?.accept(p.now, new Uint8Array(0));
    p.pump();
    const responderWrites = p.b.wire.length;
    s.abort(p.now, new Uint8Array(300));
    p.pump();
    const closed = eventsOf(p.b, 'closed')[0];
    assert.ok(closed && closed.reason.kind === 'aborted' && closed.reason.origin === 'peer');
    // Nothing came back: the responder wrote no frame in answer to the abort.
    assert.equal(p.b.wire.length, responderWrites, 'the responder answered the abort');
  });

  test('a CONNECT proposing a retransmit buffer below 64 KiB is refused, not accepted then aborted', () => {
    const peer = new RawPeer({ role: 'responder' }).send(
      connectFrame({ extensions: [{ id: ExtensionId.RETRANSMIT_BUFFER, value: Uint8Array.of(0, 0, 0x10, 0) }] }),
    );
    const [refuse] = peer.sent(FrameType.REFUSE);
    assert.equal(refuse?.code, RefuseCode.PARAMETERS_UNACCEPTABLE);
  });
});

describe('regressions found by review', () => {
  test('aborting a session while it is resuming sends nothing on its still unnamed channel', () => {
    const random = seededRandom(11);
    const clientTable = new SessionTable({ resumeWindowMs: 10_000, suspendedBytesMax: 1 << 30 });
    const serverTable = new SessionTable({ resumeWindowMs: 10_000, suspendedBytesMax: 1 << 30 });
    const client = new Connection({ role: 'initiator', random, table: clientTable });
    const server = new Connection({ role: 'responder', random, table: serverTable });
    client.handleTransportUp(0);
    server.handleTransportUp(0);
    const a = client.openSession(0);
    const b = client.openSession(0);
    exchange(client, server);
    client.handleTransportDown(0, 'cut');
    server.handleTransportDown(0, 'cut');
    const client2 = new Connection({ role: 'initiator', random, table: clientTable });
    const server2 = new Connection({ role: 'responder', random, table: serverTable });
    client2.handleTransportUp(10);
    server2.handleTransportUp(10);
    client2.resumeSession(10, a);
    client2.resumeSession(10, b);
    a.abort(10, new Uint8Array(0)); // before the challenge: A's channel is not named to the server yet
    exchange(client2, server2);
    assert.ok(server2.isOpen, 'the connection survives');
    assert.equal(b.link, 'attached', 'the other session resumed');
    assert.equal(a.state, 'closed');
  });

  test('a fragment other than the last must carry at least FRAGMENT_BYTES_MIN bytes', () => {
    const peer = acceptedRawSession();
    peer.send({ type: FrameType.DATA, channel: 1, end: false, payload: new Uint8Array(0) });
    assert.equal(peer.sent(FrameType.ABORT)[0]?.code, AbortCode.MALFORMED_FRAME);
    assert.ok(peer.conn.isOpen, 'only the session ends');
  });

  test('a peer that pings without reading gets one pong back, not one per ping', () => {
    const server = new Connection({ role: 'responder' });
    server.handleTransportUp(0);
    server.handleBytes(0, PREFACE);
    // 5,000 pings while nothing is read from the server (pollTransmit is never called).
    for (let i = 0; i < 5000; i++) server.handleBytes(0, encodeFrame({ type: FrameType.PING, channel: 0, stamp: i }));
    const out = server.pollTransmit() as Uint8Array;
    const pong = encodeFrame({ type: FrameType.PONG, channel: 0, stamp: 4999 });
    // The preface, exactly one pong (the latest stamp), then the server's connection window.
    const windowFrame = encodeFrame({ type: FrameType.WINDOW, channel: 0, windowLimit: 16 * 1024 * 1024 });
    assert.deepEqual(out, concatBytes([PREFACE, pong, windowFrame]));
  });

  test('parking many sessions stays within the budget and counts each session, even an empty one', () => {
    const table = new SessionTable({ resumeWindowMs: 10_000, suspendedBytesMax: 10 * 2048 });
    const random = seededRandom(5);
    const client = new Connection({
      role: 'initiator',
      random,
      table: new SessionTable({ resumeWindowMs: 10_000, suspendedBytesMax: 1 << 30 }),
    });
    const server = new Connection({ role: 'responder', random, table, limits: { sessionsPerConnectionMax: 100 } });
    client.handleTransportUp(0);
    server.handleTransportUp(0);
    for (let i = 0; i < 30; i++) client.openSession(0);
    exchange(client, server);
    server.handleTransportDown(0, 'cut');
    assert.equal(table.parkedCount, 10, 'ten empty sessions fit a budget of ten session overheads');
  });
});

/** Moves bytes both ways between two engines (time 0) and accepts every connect request `b` gets. */
function exchange(a: Connection, b: Connection): void {
  for (let i = 0; i < 10; i++) {
    const x = a.pollTransmit();
    if (x) b.handleBytes(0, x);
    const y = b.pollTransmit();
    if (y) a.handleBytes(0, y);
    for (let e = b.pollEvent(); e; e = b.pollEvent()) {
      if (e.type === 'connect-request') e.session.accept(0, new Uint8Array(0));
    }
  }
}
