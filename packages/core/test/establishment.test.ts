/**
 * Session establishment (X.225 CN, AC, RF): acceptance and refusal with user data, version and
 * functional-unit negotiation, parameter checks, the session limit.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AbortCode, ErrorCode, FrameType, RefuseCode, Unit, UsageError } from '@liaison/core';
import { establish, eventsOf, Pair, utf8 } from './harness.js';
import { acceptedRawSession, connectFrame, RawPeer } from './raw-peer.js';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('establishment', () => {
  test('accept with user data in both directions', () => {
    const p = new Pair();
    const a = p.a.conn.openSession(p.now, { userData: utf8('hello') });
    assert.equal(a.state, 'connecting');
    p.pump();
    const [request] = eventsOf(p.b, 'connect-request');
    assert.ok(request);
    assert.equal(text(request.request.userData), 'hello');
    const b = p.b.conn.session(a.channel)!;
    assert.equal(b.state, 'awaiting-response');
    b.accept(p.now, utf8('welcome'));
    p.pump();
    const [accepted] = eventsOf(p.a, 'accepted');
    assert.equal(text(accepted!.userData), 'welcome');
    assert.equal(a.state, 'open');
    assert.equal(b.state, 'open');
    assert.equal(a.agreed?.version, b.agreed?.version);
    assert.equal(a.agreed?.units, b.agreed?.units);
    assert.equal(a.agreed?.units, Unit.KERNEL | Unit.DUPLEX | Unit.EXPEDITED | Unit.TYPED_DATA);
  });

  test('refuse with a code and user data', () => {
    const p = new Pair();
    const a = p.a.conn.openSession(p.now);
    p.pump();
    const b = p.b.conn.session(a.channel)!;
    b.refuse(p.now, RefuseCode.UNAUTHENTICATED, utf8('who are you?'));
    assert.equal(b.state, 'closed');
    p.pump();
    assert.equal(a.state, 'closed');
    const reason = a.closeReason;
    assert.equal(reason?.kind, 'refused');
    assert.equal(reason?.kind === 'refused' && reason.code, RefuseCode.UNAUTHENTICATED);
    assert.equal(text(reason!.userData), 'who are you?');
    assert.equal(p.a.conn.sessionCount, 0);
    assert.equal(p.b.conn.sessionCount, 0);
  });

  test('version: the highest common version is agreed', () => {
    const peer = new RawPeer({ role: 'responder' }).send(connectFrame({ versionMin: 1, versionMax: 7 }));
    const [req] = peer.eventsOf('connect-request');
    assert.equal(req?.request.agreed.version, 1);
    peer.conn.session(1)!.accept(peer.now, new Uint8Array(0));
    peer.flush();
    assert.equal(peer.sent(FrameType.ACCEPT)[0]?.version, 1);
  });

  test('version: no common version is refused with VERSION_UNSUPPORTED', () => {
    for (const [versionMin, versionMax] of [
      [2, 3],
      [0, 0],
      [1, 0],
    ] as const) {
      const peer = new RawPeer({ role: 'responder' }).send(connectFrame({ versionMin, versionMax }));
      assert.deepEqual(
        peer.sent(FrameType.REFUSE).map((f) => f.code),
        [RefuseCode.VERSION_UNSUPPORTED],
        `${versionMin}..${versionMax}`,
      );
      assert.equal(peer.eventsOf('connect-request').length, 0);
      assert.ok(peer.conn.isOpen, 'a refusal does not close the connection');
    }
  });

  test('version: an acceptance of a version never proposed aborts with UNSUPPORTED_VERSION', () => {
    const peer = new RawPeer({ role: 'initiator' });
    const s = peer.conn.openSession(peer.now);
    peer.flush();
    const cn = peer.sent(FrameType.CONNECT)[0]!;
    peer.send({ ...cn, type: FrameType.ACCEPT, version: 2, units: Unit.KERNEL | Unit.DUPLEX } as never);
    assert.equal(s.state, 'closed');
    assert.equal(peer.sent(FrameType.ABORT)[0]?.code, AbortCode.UNSUPPORTED_VERSION);
  });

  test('an acceptance with units never proposed, or without duplex, is a protocol error', () => {
    for (const units of [Unit.KERNEL | Unit.DUPLEX | Unit.NEGOTIATED_RELEASE, Unit.KERNEL]) {
      const peer = new RawPeer({ role: 'initiator' });
      const s = peer.conn.openSession(peer.now);
      peer.flush();
      const cn = peer.sent(FrameType.CONNECT)[0]!;
      peer.send({ ...cn, type: FrameType.ACCEPT, version: 1, units } as never);
      assert.equal(s.closeReason?.kind === 'aborted' && s.closeReason.code, AbortCode.PROTOCOL_ERROR);
      assert.equal(peer.sent(FrameType.ABORT)[0]?.code, AbortCode.PROTOCOL_ERROR);
    }
  });

  test('offered both dialogue modes, duplex is agreed; units that need another are dropped without it', () => {
    const p = new Pair();
    const wanted =
      Unit.KERNEL | Unit.DUPLEX | Unit.HALF_DUPLEX | Unit.CAPABILITY_DATA | Unit.EXCEPTIONS | Unit.EXPEDITED;
    const a = p.a.conn.openSession(p.now, { units: wanted });
    p.pump();
    const [req] = eventsOf(p.b, 'connect-request');
    assert.equal(req?.request.proposedUnits, wanted, 'every unit is implemented, so all are proposed');
    p.b.conn.session(a.channel)!.accept(p.now, new Uint8Array(0));
    p.pump();
    // CAPABILITY_DATA needs ACTIVITY_MANAGEMENT; EXCEPTIONS needs HALF_DUPLEX, dropped for DUPLEX.
    assert.equal(a.agreed?.units, Unit.KERNEL | Unit.DUPLEX | Unit.EXPEDITED);
  });

  test('unknown units proposed by a peer are dropped by the responder', () => {
    const units =
      Unit.KERNEL | Unit.DUPLEX | Unit.DATA_SEPARATION | Unit.MINOR_SYNCHRONIZE | Unit.TYPED_DATA | (1 << 15);
    const peer = new RawPeer({ role: 'responder' }).send(connectFrame({ units }));
    const [req] = peer.eventsOf('connect-request');
    const agreed = Unit.KERNEL | Unit.DUPLEX | Unit.DATA_SEPARATION | Unit.MINOR_SYNCHRONIZE | Unit.TYPED_DATA;
    assert.equal(req?.request.agreed.units, agreed);
    peer.conn.session(1)!.accept(peer.now, new Uint8Array(0));
    peer.flush();
    assert.equal(peer.sent(FrameType.ACCEPT)[0]?.units, agreed);
  });

  test('no dialogue mode in common: refused with UNITS_UNSUPPORTED', () => {
    const raw = new RawPeer({ role: 'responder' }).send(connectFrame({ units: Unit.KERNEL | Unit.EXPEDITED }));
    assert.deepEqual(
      raw.sent(FrameType.REFUSE).map((f) => f.code),
      [RefuseCode.UNITS_UNSUPPORTED],
    );

    const p = new Pair({ responder: { acceptableUnits: Unit.KERNEL | Unit.EXPEDITED } });
    const a = p.a.conn.openSession(p.now);
    p.pump();
    assert.equal(a.closeReason?.kind === 'refused' && a.closeReason.code, RefuseCode.UNITS_UNSUPPORTED);
    assert.equal(eventsOf(p.b, 'connect-request').length, 0, 'the application never sees it');
  });

  test('unacceptable parameters are refused with PARAMETERS_UNACCEPTABLE', () => {
    for (const bad of [{ frameBytesMax: 1023 }, { receiveWindowBytes: 100 }, { messageBytesMax: 0 }]) {
      const peer = new RawPeer({ role: 'responder' }).send(connectFrame(bad));
      assert.deepEqual(
        peer.sent(FrameType.REFUSE).map((f) => f.code),
        [RefuseCode.PARAMETERS_UNACCEPTABLE],
        JSON.stringify(bad),
      );
    }
  });

  test('over sessionsPerConnectionMax the responder refuses with CONGESTION', () => {
    const p = new Pair({ responder: { limits: { sessionsPerConnectionMax: 1 } } });
    const first = p.a.conn.openSession(p.now);
    const second = p.a.conn.openSession(p.now);
    p.pump();
    p.b.conn.session(first.channel)!.accept(p.now, new Uint8Array(0));
    p.pump();
    assert.equal(first.state, 'open');
    assert.equal(second.closeReason?.kind === 'refused' && second.closeReason.code, RefuseCode.CONGESTION);
    assert.equal(eventsOf(p.b, 'connect-request').length, 1);
  });

  test('over its own sessionsPerConnectionMax the initiator throws a UsageError', () => {
    const p = new Pair({ initiator: { limits: { sessionsPerConnectionMax: 2 } } });
    p.a.conn.openSession(p.now);
    p.a.conn.openSession(p.now);
    assert.throws(
      () => p.a.conn.openSession(p.now),
      (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_STATE,
    );
  });

  test('accept and refuse check the user-data limit and leave the state unchanged', () => {
    const peer = new RawPeer({ role: 'responder', limits: { userDataBytesMax: 4 } }).send(connectFrame());
    const s = peer.conn.session(1)!;
    for (const call of [() => s.accept(0, utf8('12345')), () => s.refuse(0, RefuseCode.REJECTED, utf8('12345'))]) {
      assert.throws(call, (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_ARGUMENT);
      assert.equal(s.state, 'awaiting-response');
    }
  });

  test('application extensions reach the application; the protocol ids (below 0x30) do not', () => {
    const peer = acceptedRawSession(
      {},
      {
        extensions: [
          { id: 0x09, value: utf8('reserved') },
          { id: 0x80, value: utf8('token') },
        ],
      },
    );
    const [req] = peer.eventsOf('connect-request');
    assert.deepEqual(
      req?.request.extensions.map((e) => [e.id, text(e.value)]),
      [[0x80, 'token']],
    );
  });

  test('the retransmit buffer is agreed at establishment: the smaller of the two', () => {
    const p = new Pair({
      initiator: { limits: { retransmitBufferBytes: 512 * 1024 } },
      responder: { limits: { retransmitBufferBytes: 256 * 1024 } },
    });
    const ch = establish(p);
    assert.equal(p.a.conn.session(ch)?.agreed?.retransmitBufferBytes, 256 * 1024);
    assert.equal(p.b.conn.session(ch)?.agreed?.retransmitBufferBytes, 256 * 1024);
  });

  test('a CONNECT reusing a closed channel, or on an even channel, closes the connection', () => {
    const abort = {
      type: FrameType.ABORT,
      channel: 1,
      byProvider: false,
      code: AbortCode.USER,
      message: '',
      userData: new Uint8Array(0),
    } as const;
    for (const frames of [[connectFrame({ channel: 2 })], [connectFrame(), abort, connectFrame()]]) {
      const peer = new RawPeer({ role: 'responder' }).send(...frames);
      assert.ok(peer.conn.isClosed);
      assert.equal(peer.sent(FrameType.CONNECTION_CLOSE)[0]?.code, AbortCode.PROTOCOL_ERROR);
    }
  });
});
