/**
 * Abort (X.225 AB): user abort with user data reaches the peer, `undelivered` counts messages not
 * known delivered, and frames crossing an abort are dropped without touching other sessions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AbortCode, ErrorCode, encodeFrame, FrameType, UsageError } from '@liaison/core';
import { establish, eventsOf, messages, Pair, utf8 } from './harness.js';

describe('abort', () => {
  test('a user abort with user data reaches the peer', () => {
    const p = new Pair();
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    a.abort(p.now, utf8('giving up'));
    assert.equal(a.state, 'closed');
    p.pump();
    const [closed] = eventsOf(p.b, 'closed');
    assert.equal(closed?.reason.kind, 'aborted');
    if (closed?.reason.kind !== 'aborted') return;
    assert.equal(closed.reason.origin, 'peer');
    assert.equal(closed.reason.by, 'user');
    assert.equal(closed.reason.code, AbortCode.USER);
    assert.equal(new TextDecoder().decode(closed.reason.userData), 'giving up');
    const local = a.closeReason;
    assert.ok(local?.kind === 'aborted' && local.origin === 'local' && local.by === 'user');
    assert.throws(
      () => a.abort(p.now, new Uint8Array(0)),
      (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_STATE,
    );
  });

  test('undelivered counts messages sent and not acknowledged', () => {
    const p = new Pair({ responder: { limits: { receiveWindowBytes: 2048 } } });
    p.autoConsume = false;
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    // 990 bytes + the 32-byte frame charge: two fit a 2048-byte window, a third does not.
    for (let i = 0; i < 5; i++) a.send(p.now, 'normal', new Uint8Array(990));
    assert.equal(a.undelivered, 5, 'all queued');
    p.pump();
    assert.equal(eventsOf(p.b, 'message').length, 2, 'two fit the window');
    assert.equal(a.undelivered, 5, 'sent but not yet acknowledged (the ack is delayed)');
    p.advance(50, 10);
    assert.equal(a.undelivered, 3, 'two acknowledged, three still queued');
    a.abort(p.now, new Uint8Array(0));
    assert.equal(a.closeReason?.undelivered, 3);
    p.pump();
    const [closed] = eventsOf(p.b, 'closed');
    assert.equal(closed?.reason.undelivered, 0);
  });

  test('undelivered after a peer abort counts what this side had in flight', () => {
    const p = new Pair({ responder: { limits: { receiveWindowBytes: 1024 } } });
    p.autoConsume = false;
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    a.send(p.now, 'normal', new Uint8Array(1000));
    a.send(p.now, 'normal', new Uint8Array(1000));
    p.pump();
    p.b.conn.session(ch)!.abort(p.now, new Uint8Array(0));
    p.pump();
    assert.equal(a.closeReason?.kind, 'aborted');
    assert.equal(a.closeReason?.undelivered, 2);
  });

  test('frames crossing an abort are ignored; other sessions on the connection go on', () => {
    const p = new Pair();
    const ch1 = establish(p);
    const ch3 = establish(p);
    const a1 = p.a.conn.session(ch1)!;
    const b1 = p.b.conn.session(ch1)!;
    // b sends on ch1 while a aborts it: the data crosses the abort on the wire.
    b1.send(p.now, 'normal', utf8('crossing'));
    b1.send(p.now, 'expedited', utf8('x'));
    a1.abort(p.now, new Uint8Array(0));
    p.pump();
    assert.equal(b1.state, 'closed');
    assert.deepEqual(messages(p.a), [], 'data for the aborted session is dropped');
    assert.equal(eventsOf(p.a, 'closed').length, 1);
    // Late frames of every kind for the closed channel are dropped too.
    const late = [
      { type: FrameType.DATA, channel: ch1, end: true, payload: utf8('late') },
      { type: FrameType.FINISH, channel: ch1, userData: new Uint8Array(0) },
      { type: FrameType.ACK, channel: ch1, received: 99, windowLimit: 99 },
      { type: FrameType.ABORT, channel: ch1, byProvider: true, code: 1, message: '', userData: new Uint8Array(0) },
    ] as const;
    for (const f of late) p.a.conn.handleBytes(p.now, encodeFrame(f));
    p.pump();
    assert.ok(p.a.conn.isOpen && p.b.conn.isOpen);
    assert.equal(eventsOf(p.a, 'closed').length, 1);
    p.a.conn.session(ch3)!.send(p.now, 'normal', utf8('still here'));
    p.b.conn.session(ch3)!.send(p.now, 'normal', utf8('me too'));
    p.pump();
    assert.deepEqual(messages(p.b), ['still here']);
    assert.deepEqual(messages(p.a), ['me too']);
  });

  test('a frame for a channel never used closes the connection with UNEXPECTED_FRAME', () => {
    const p = new Pair();
    establish(p);
    p.a.conn.handleBytes(p.now, encodeFrame({ type: FrameType.DATA, channel: 41, end: true, payload: utf8('?') }));
    assert.ok(p.a.conn.isClosed);
    p.pump();
    assert.equal(eventsOf(p.a, 'connection-closed')[0]?.code, AbortCode.UNEXPECTED_FRAME);
    assert.equal(eventsOf(p.b, 'connection-closed')[0]?.origin, 'peer');
  });

  test('a user abort while connecting reaches the responder waiting to answer', () => {
    const p = new Pair();
    const a = p.a.conn.openSession(p.now);
    p.pump();
    a.abort(p.now, utf8('never mind'));
    p.pump();
    const [closed] = eventsOf(p.b, 'closed');
    assert.equal(closed?.reason.kind === 'aborted' && closed.reason.by, 'user');
    assert.equal(p.b.conn.sessionCount, 0);
  });
});
