/**
 * Data transfer (X.225 DT, EX, TD): fragmentation and reassembly, expedited overtaking, typed
 * data, and the message limits on both sides.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AbortCode, ErrorCode, FrameDecoder, FrameType, Unit, UsageError } from '@liaison/core';
import { establish, eventsOf, messages, Pair, utf8 } from './harness.js';
import { acceptedRawSession } from './raw-peer.js';

function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('data', () => {
  test('a message far larger than frameBytesMax is fragmented and reassembled intact', () => {
    const p = new Pair({ limits: { frameBytesMax: 1024 } });
    const ch = establish(p);
    const big = pattern(300_000);
    p.a.conn.session(ch)!.send(p.now, 'normal', big);
    p.pump();
    const got = eventsOf(p.b, 'message');
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]!.data, big);
    // Every frame on the wire respects the peer's frame limit.
    const d = new FrameDecoder({ frameBytesMax: 1024, userDataBytesMax: 0xffff }, { expectPreface: true });
    let dataFrames = 0;
    for (const chunk of p.a.wire) {
      d.push(chunk);
      for (let f = d.next(); f !== null; f = d.next()) if (f.type === FrameType.DATA) dataFrames++;
    }
    assert.ok(dataFrames >= Math.ceil(big.byteLength / 1014), `${dataFrames} fragments`);
  });

  test('messages of many sizes arrive intact and in order', () => {
    const p = new Pair({ limits: { frameBytesMax: 2048 } });
    const ch = establish(p);
    const sizes = [0, 1, 2037, 2038, 2039, 4096, 10_000, 0, 65_537];
    for (const [i, n] of sizes.entries()) p.a.conn.session(ch)!.send(p.now, 'normal', pattern(n, i + 7));
    p.pump();
    const got = eventsOf(p.b, 'message').map((e) => e.data);
    assert.deepEqual(
      got,
      sizes.map((n, i) => pattern(n, i + 7)),
    );
  });

  test('expedited data overtakes queued normal data', () => {
    const p = new Pair({ limits: { frameBytesMax: 16 * 1024, transmitBatchBytes: 1024 } });
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    a.send(p.now, 'normal', pattern(200_000));
    a.send(p.now, 'normal', utf8('after'));
    // The first fragment leaves; the rest is queued when the expedited message is sent.
    const first = p.a.conn.pollTransmit();
    assert.ok(first);
    p.b.conn.handleBytes(p.now, first);
    a.send(p.now, 'expedited', utf8('urgent'));
    p.pump();
    const kinds = eventsOf(p.b, 'message').map((e) => (e.kind === 'expedited' ? 'urgent' : e.data.byteLength));
    assert.deepEqual(kinds, ['urgent', 200_000, 5]);
  });

  test('expedited data sent with normal data, all before transmission, is delivered first', () => {
    const p = new Pair();
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    a.send(p.now, 'normal', utf8('one'));
    a.send(p.now, 'normal', utf8('two'));
    a.send(p.now, 'expedited', utf8('!'));
    p.pump();
    assert.deepEqual(
      eventsOf(p.b, 'message').map((e) => `${e.kind}:${new TextDecoder().decode(e.data)}`),
      ['expedited:!', 'normal:one', 'normal:two'],
    );
  });

  test('expedited data is at most 14 bytes and needs the EXPEDITED unit', () => {
    const p = new Pair();
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    a.send(p.now, 'expedited', new Uint8Array(14));
    assert.throws(
      () => a.send(p.now, 'expedited', new Uint8Array(15)),
      (e) => e instanceof UsageError && e.code === ErrorCode.MESSAGE_TOO_LARGE,
    );
    const q = new Pair();
    const s = q.a.conn.openSession(q.now, { units: Unit.KERNEL | Unit.DUPLEX });
    q.pump();
    q.b.conn.session(s.channel)!.accept(q.now, new Uint8Array(0));
    q.pump();
    assert.throws(
      () => s.send(q.now, 'expedited', utf8('x')),
      (e) => e instanceof UsageError && e.code === ErrorCode.UNIT_NOT_SELECTED,
    );
    assert.throws(
      () => s.send(q.now, 'typed', utf8('x')),
      (e) => e instanceof UsageError && e.code === ErrorCode.UNIT_NOT_SELECTED,
    );
    assert.equal(s.state, 'open');
  });

  test('typed data is delivered as typed, in order with normal data', () => {
    const p = new Pair({ limits: { frameBytesMax: 1024 } });
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    a.send(p.now, 'typed', utf8('t1'));
    a.send(p.now, 'normal', utf8('n1'));
    a.send(p.now, 'typed', pattern(5000));
    p.pump();
    assert.deepEqual(
      eventsOf(p.b, 'message').map((e) => [e.kind, e.data.byteLength]),
      [
        ['typed', 2],
        ['normal', 2],
        ['typed', 5000],
      ],
    );
    assert.deepEqual(messages(p.b, 'typed')[0], 't1');
  });

  test('typed data forged without the TYPED_DATA unit is a provider abort (UNEXPECTED_FRAME)', () => {
    const peer = acceptedRawSession({}, { units: Unit.KERNEL | Unit.DUPLEX });
    peer.send({ type: FrameType.TYPED_DATA, channel: 1, end: true, payload: utf8('x') });
    assert.equal(peer.sent(FrameType.ABORT)[0]?.code, AbortCode.UNEXPECTED_FRAME);
    assert.equal(peer.eventsOf('message').length, 0);
  });

  test("a message over the peer's messageBytesMax is a UsageError MESSAGE_TOO_LARGE", () => {
    const p = new Pair({ responder: { limits: { messageBytesMax: 1000 } } });
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    assert.equal(a.agreed?.peerMessageBytesMax, 1000);
    assert.throws(
      () => a.send(p.now, 'normal', new Uint8Array(1001)),
      (e) => e instanceof UsageError && e.code === ErrorCode.MESSAGE_TOO_LARGE,
    );
    assert.throws(
      () => a.send(p.now, 'typed', new Uint8Array(1001)),
      (e) => e instanceof UsageError && e.code === ErrorCode.MESSAGE_TOO_LARGE,
    );
    a.send(p.now, 'normal', new Uint8Array(1000));
    p.pump();
    assert.equal(eventsOf(p.b, 'message').length, 1);
    assert.equal(a.state, 'open');
  });

  test("a forged message over the receiver's limit is a provider abort MESSAGE_TOO_LARGE", () => {
    const peer = acceptedRawSession({ limits: { messageBytesMax: 1000 } });
    peer.send({ type: FrameType.DATA, channel: 1, end: false, payload: new Uint8Array(600) });
    assert.equal(peer.conn.session(1)?.state, 'open', 'a partial message within the limit is fine');
    peer.send({ type: FrameType.DATA, channel: 1, end: true, payload: new Uint8Array(401) });
    const [abort] = peer.sent(FrameType.ABORT);
    assert.equal(abort?.code, AbortCode.MESSAGE_TOO_LARGE);
    assert.equal(abort?.byProvider, true);
    const [closed] = peer.eventsOf('closed');
    assert.equal(closed?.reason.kind === 'aborted' && closed.reason.code, AbortCode.MESSAGE_TOO_LARGE);
    assert.equal(peer.eventsOf('message').length, 0);
    assert.ok(peer.conn.isOpen, 'only the session ends');
  });

  test('a forged message of exactly the limit is delivered', () => {
    const peer = acceptedRawSession({ limits: { messageBytesMax: 1000 } });
    peer.send(
      { type: FrameType.DATA, channel: 1, end: false, payload: new Uint8Array(600) },
      { type: FrameType.DATA, channel: 1, end: true, payload: new Uint8Array(400) },
    );
    assert.deepEqual(
      peer.eventsOf('message').map((e) => e.data.byteLength),
      [1000],
    );
  });

  test('stats count messages and bytes both ways', () => {
    const p = new Pair();
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    a.send(p.now, 'normal', new Uint8Array(100));
    a.send(p.now, 'expedited', new Uint8Array(10));
    p.pump();
    const noRecovery = {
      resumes: 0,
      framesRetransmitted: 0,
      bytesRetransmitted: 0,
      duplicatesSuppressed: 0,
      messagesPurged: 0,
      messagesDiscarded: 0,
    };
    assert.deepEqual(a.stats, {
      messagesSent: 2,
      messagesReceived: 0,
      bytesSent: 110,
      bytesReceived: 0,
      ...noRecovery,
    });
    assert.deepEqual(p.b.conn.session(ch)!.stats, {
      messagesSent: 0,
      messagesReceived: 2,
      bytesSent: 0,
      bytesReceived: 110,
      ...noRecovery,
    });
  });
});
