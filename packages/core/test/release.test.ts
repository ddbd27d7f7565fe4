/**
 * Orderly release (X.225 FN, DN, NF): everything sent first is delivered first; negotiated release
 * may be refused; a release collision ends released on both sides.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode, Token, Unit, UsageError } from '@liaison/core';
import { establish, eventsOf, messages, Pair, type Side, utf8 } from './harness.js';

const EMPTY = new Uint8Array(0);
const NR_UNITS = Unit.KERNEL | Unit.DUPLEX | Unit.NEGOTIATED_RELEASE;

function openWith(p: Pair, units: number): number {
  const s = p.a.conn.openSession(p.now, { units });
  p.pump();
  p.b.conn.session(s.channel)!.accept(p.now, EMPTY);
  p.pump();
  return s.channel;
}

const order = (side: Side) =>
  side.events
    .filter((e) => e.type === 'message' || e.type === 'release-requested' || e.type === 'closed')
    .map((e) =>
      e.type === 'message' ? `msg:${e.data.byteLength}` : e.type === 'closed' ? `closed:${e.reason.kind}` : e.type,
    );

describe('release', () => {
  test('orderly release delivers everything sent before it, in both directions', () => {
    const p = new Pair({ limits: { frameBytesMax: 1024, receiveWindowBytes: 8192 } });
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    const b = p.b.conn.session(ch)!;
    for (let i = 1; i <= 5; i++) a.send(p.now, 'normal', new Uint8Array(i * 3000));
    a.release(p.now, utf8('done'));
    assert.equal(a.state, 'releasing');
    assert.throws(
      () => a.send(p.now, 'normal', utf8('late')),
      (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_STATE,
    );
    for (let i = 0; i < 200 && b.state !== 'release-requested'; i++) p.advance(20, 10);
    assert.deepEqual(order(p.b), ['msg:3000', 'msg:6000', 'msg:9000', 'msg:12000', 'msg:15000', 'release-requested']);
    assert.equal(new TextDecoder().decode(eventsOf(p.b, 'release-requested')[0]!.userData), 'done');

    // The responder may still send before it answers; its data reaches the releasing side.
    b.send(p.now, 'normal', new Uint8Array(20_000));
    b.respondRelease(p.now, true, utf8('bye'));
    assert.equal(b.state, 'disconnecting');
    for (let i = 0; i < 200 && (a.closeReason === null || b.closeReason === null); i++) p.advance(20, 10);
    assert.deepEqual(order(p.a), ['msg:20000', 'closed:released']);
    assert.equal(new TextDecoder().decode(a.closeReason!.userData), 'bye');
    assert.equal(b.closeReason?.kind, 'released');
    assert.equal(a.undelivered, 0);
  });

  test('negotiated release refused with NOT_FINISHED keeps the session open', () => {
    const p = new Pair();
    const ch = openWith(p, NR_UNITS);
    const a = p.a.conn.session(ch)!;
    const b = p.b.conn.session(ch)!;
    a.release(p.now, EMPTY);
    p.pump();
    b.respondRelease(p.now, false, utf8('not yet'));
    assert.equal(b.state, 'open');
    p.pump();
    assert.equal(a.state, 'open');
    assert.equal(new TextDecoder().decode(eventsOf(p.a, 'release-refused')[0]!.userData), 'not yet');
    a.send(p.now, 'normal', utf8('more'));
    b.send(p.now, 'normal', utf8('reply'));
    p.pump();
    assert.deepEqual(messages(p.b), ['more']);
    assert.deepEqual(messages(p.a), ['reply']);
    // A second request can be accepted; with negotiated release the releaser holds the release token.
    assert.throws(
      () => b.release(p.now, EMPTY),
      (e: unknown) => e instanceof UsageError && e.code === ErrorCode.TOKEN_NOT_HELD,
    );
    a.dialogue!.giveTokens(Token.release, EMPTY);
    p.pump();
    b.release(p.now, EMPTY);
    p.pump();
    a.respondRelease(p.now, true, EMPTY);
    p.pump();
    assert.equal(a.closeReason?.kind, 'released');
    assert.equal(b.closeReason?.kind, 'released');
  });

  test('refusing a release without NEGOTIATED_RELEASE is a UsageError; the state is unchanged', () => {
    const p = new Pair();
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    const b = p.b.conn.session(ch)!;
    a.release(p.now, EMPTY);
    p.pump();
    assert.throws(
      () => b.respondRelease(p.now, false, EMPTY),
      (e) => e instanceof UsageError && e.code === ErrorCode.UNIT_NOT_SELECTED,
    );
    assert.equal(b.state, 'release-requested');
    b.respondRelease(p.now, true, EMPTY);
    p.pump();
    assert.equal(a.closeReason?.kind, 'released');
  });

  // With NEGOTIATED_RELEASE only the release token holder may release, so releases never collide.
  test('release collision: both ask at once, both end released', () => {
    for (const units of [Unit.KERNEL | Unit.DUPLEX]) {
      const p = new Pair();
      const ch = openWith(p, units);
      const a = p.a.conn.session(ch)!;
      const b = p.b.conn.session(ch)!;
      a.send(p.now, 'normal', utf8('from a'));
      b.send(p.now, 'normal', utf8('from b'));
      a.release(p.now, EMPTY);
      b.release(p.now, EMPTY);
      for (let i = 0; i < 50 && (a.closeReason === null || b.closeReason === null); i++) p.advance(20, 10);
      assert.equal(a.closeReason?.kind, 'released');
      assert.equal(b.closeReason?.kind, 'released');
      assert.deepEqual(messages(p.a), ['from b']);
      assert.deepEqual(messages(p.b), ['from a']);
      assert.equal(eventsOf(p.a, 'release-requested').length, 0);
      assert.ok(p.a.conn.isOpen && p.b.conn.isOpen);
    }
  });

  test('the released side closes only once its DISCONNECT is acknowledged', () => {
    const p = new Pair();
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    const b = p.b.conn.session(ch)!;
    a.release(p.now, EMPTY);
    p.pump();
    b.respondRelease(p.now, true, EMPTY);
    const toA = p.b.conn.pollTransmit()!;
    p.a.conn.handleBytes(p.now, toA);
    assert.equal(a.state, 'closed');
    assert.equal(b.state, 'disconnecting', 'waits for the acknowledgement');
    p.pump();
    assert.equal(b.closeReason?.kind, 'released');
  });
});
