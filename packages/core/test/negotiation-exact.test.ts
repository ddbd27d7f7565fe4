/**
 * Establishment parameters at their edges (docs/PROTOCOL.md, "Negotiation"): which application
 * extensions a connect request or an acceptance may carry, which proposals the responder refuses
 * and why, and which acceptances the initiator must treat as a protocol error. Pure functions, so
 * each rule is pinned on both sides of its boundary, with the text a user reads in the error.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortCode,
  type AcceptFrame,
  agreedFromAccept,
  buildAccept,
  buildConnect,
  type ConnectFrame,
  DEFAULT_LIMITS,
  ErrorCode,
  type Extension,
  ExtensionId,
  evaluateConnect,
  FRAME_BYTES_FLOOR,
  type Limits,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  ProtocolError,
  RefuseCode,
  Unit,
  UsageError,
  WINDOW_BYTES_FLOOR,
} from '@liaison/core';
import { Pair } from './harness.js';

const UNITS = Unit.KERNEL | Unit.DUPLEX;
const limits = (over: Partial<Limits> = {}): Limits => ({ ...DEFAULT_LIMITS, ...over });
const u32 = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
};
const retransmitExt = (v: number): Extension => ({ id: ExtensionId.RETRANSMIT_BUFFER, value: u32(v) });

function connect(over: Partial<ConnectFrame> = {}, lim = limits()): ConnectFrame {
  return { ...buildConnect(1, lim, UNITS, new Uint8Array(0), []), ...over };
}

function accept(cn: ConnectFrame, over: Partial<AcceptFrame> = {}, lim = limits()): AcceptFrame {
  const ev = evaluateConnect(cn, lim, UNITS);
  assert.ok(ev.ok, 'the proposal itself is acceptable');
  return { ...buildAccept(1, ev.agreed, lim, new Uint8Array(0), []), ...over };
}

function refusal(cn: ConnectFrame, lim = limits()): { code: RefuseCode; why: string } {
  const ev = evaluateConnect(cn, lim, UNITS);
  assert.ok(!ev.ok, 'refused');
  return { code: ev.code, why: ev.why };
}

function protocolError(cn: ConnectFrame, ac: AcceptFrame): ProtocolError {
  try {
    agreedFromAccept(cn, ac);
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `a ProtocolError, not ${e}`);
    return e;
  }
  assert.fail('the acceptance was taken');
}

describe('application extensions on a connect request', () => {
  const open = (extensions: Extension[]) => {
    const p = new Pair();
    return () => p.a.conn.openSession(p.now, { extensions });
  };
  const ext = (id: number, bytes = 1): Extension => ({ id, value: new Uint8Array(bytes) });
  const usage = (message: RegExp) => (e: unknown) =>
    e instanceof UsageError && e.code === ErrorCode.INVALID_ARGUMENT && message.test(e.message);

  test('16 are allowed, the 17th is refused by name', () => {
    const sixteen = Array.from({ length: 16 }, (_, i) => ext(0x30 + i));
    assert.doesNotThrow(open(sixteen));
    assert.throws(open([...sixteen, ext(0x50)]), usage(/^at most 16 extensions$/));
  });

  test('ids 0x30..0xff are the application’s; below, above or fractional is refused with the range', () => {
    for (const id of [0x30, 0x31, 0xfe, 0xff]) assert.doesNotThrow(open([ext(id)]), `id ${id}`);
    const range = /^extension id .+ is reserved or out of range \(applications use 48\.\.255\)$/;
    for (const id of [0x2f, 0x04, 0, -1, 0x100, 0x30 + 0.5]) {
      assert.throws(open([ext(id)]), usage(range), `id ${id}`);
    }
    assert.throws(open([ext(0x2f)]), usage(/^extension id 47 is/));
  });

  test('a value of 4096 bytes is allowed, 4097 is refused', () => {
    assert.doesNotThrow(open([ext(0x40, 4096)]));
    assert.throws(open([ext(0x40, 4097)]), usage(/^an extension holds at most 4096 bytes$/));
  });
});

describe('the responder’s evaluation of a proposal', () => {
  test('no common version: refused with both ranges in the reason', () => {
    const r = refusal(connect({ versionMin: PROTOCOL_VERSION_MAX + 1, versionMax: PROTOCOL_VERSION_MAX + 3 }));
    assert.equal(r.code, RefuseCode.VERSION_UNSUPPORTED);
    assert.equal(
      r.why,
      `no common version: peer ${PROTOCOL_VERSION_MAX + 1}..${PROTOCOL_VERSION_MAX + 3}, here ${PROTOCOL_VERSION_MIN}..${PROTOCOL_VERSION_MAX}`,
    );
    const inverted = refusal(connect({ versionMin: 2, versionMax: 1 }));
    assert.equal(inverted.code, RefuseCode.VERSION_UNSUPPORTED);
  });

  test('no dialogue mode in common: refused UNITS_UNSUPPORTED, saying so', () => {
    const r = refusal(connect({ units: Unit.KERNEL }));
    assert.deepEqual(r, { code: RefuseCode.UNITS_UNSUPPORTED, why: 'no dialogue mode (duplex) in common' });
  });

  test('limits below the floors are refused PARAMETERS_UNACCEPTABLE with the offending value', () => {
    const cases: [Partial<ConnectFrame>, string][] = [
      [{ frameBytesMax: FRAME_BYTES_FLOOR - 1 }, `frame limit ${FRAME_BYTES_FLOOR - 1} below ${FRAME_BYTES_FLOOR}`],
      [
        { receiveWindowBytes: WINDOW_BYTES_FLOOR - 1 },
        `receive window ${WINDOW_BYTES_FLOOR - 1} below ${WINDOW_BYTES_FLOOR}`,
      ],
      [{ messageBytesMax: 0 }, 'message limit of 0'],
    ];
    for (const [over, why] of cases) {
      assert.deepEqual(refusal(connect(over)), { code: RefuseCode.PARAMETERS_UNACCEPTABLE, why });
    }
  });

  test('the floors themselves and a 1-byte message limit are accepted', () => {
    const ev = evaluateConnect(
      connect({ frameBytesMax: FRAME_BYTES_FLOOR, receiveWindowBytes: WINDOW_BYTES_FLOOR, messageBytesMax: 1 }),
      limits(),
      UNITS,
    );
    assert.ok(ev.ok);
    assert.equal(ev.agreed.peerMessageBytesMax, 1);
    assert.equal(ev.agreed.peerFrameBytesMax, FRAME_BYTES_FLOOR);
  });

  test('a proposed retransmit buffer under 64 KiB is refused; one above binds the agreement', () => {
    const low = connect({ extensions: [retransmitExt(65_535)] });
    assert.deepEqual(refusal(low), {
      code: RefuseCode.PARAMETERS_UNACCEPTABLE,
      why: 'retransmit buffer 65535 below 65536',
    });
    const modest = evaluateConnect(connect({ extensions: [retransmitExt(70_000)] }), limits(), UNITS);
    assert.ok(modest.ok);
    assert.equal(modest.agreed.retransmitBufferBytes, 70_000, 'the smaller of proposal and own limit');
    const silent = evaluateConnect(connect({ extensions: [] }), limits({ retransmitBufferBytes: 300_000 }), UNITS);
    assert.ok(silent.ok);
    assert.equal(silent.agreed.retransmitBufferBytes, 300_000, 'no proposal: the responder’s own limit');
  });
});

describe('the initiator’s check of an acceptance', () => {
  const cn = connect({ extensions: [retransmitExt(200_000)] });

  test('a faithful acceptance gives the agreed parameters', () => {
    const agreed = agreedFromAccept(cn, accept(cn));
    assert.equal(agreed.retransmitBufferBytes, 200_000);
    assert.equal(agreed.units, UNITS);
  });

  test('a version outside the proposal is UNSUPPORTED_VERSION, naming it', () => {
    for (const version of [cn.versionMin - 1, cn.versionMax + 1]) {
      const e = protocolError(cn, accept(cn, { version }));
      assert.equal(e.wireCode, AbortCode.UNSUPPORTED_VERSION);
      assert.equal(e.message, `peer accepted version ${version}, not proposed`);
    }
  });

  test('units never proposed, or no dialogue mode, are protocol errors', () => {
    const extra = protocolError(cn, accept(cn, { units: UNITS | Unit.EXPEDITED }));
    assert.equal(extra.wireCode, AbortCode.PROTOCOL_ERROR);
    assert.equal(extra.message, 'peer accepted functional units that were not proposed');
    const none = protocolError(cn, accept(cn, { units: Unit.KERNEL }));
    assert.equal(none.wireCode, AbortCode.PROTOCOL_ERROR);
    assert.equal(none.message, 'peer accepted a session without a dialogue mode');
  });

  test('limits below the floors in an acceptance are protocol errors with the value', () => {
    const e = protocolError(cn, accept(cn, { frameBytesMax: FRAME_BYTES_FLOOR - 1 }));
    assert.equal(e.wireCode, AbortCode.PROTOCOL_ERROR);
    assert.equal(e.message, `peer accepted with frame limit ${FRAME_BYTES_FLOOR - 1} below ${FRAME_BYTES_FLOOR}`);
  });

  test('a keepalive or an idle timeout longer than proposed is refused, each on its own', () => {
    const timed = connect({ keepaliveIntervalMs: 5_000, idleTimeoutMs: 20_000, extensions: [retransmitExt(200_000)] });
    assert.doesNotThrow(() => agreedFromAccept(timed, accept(timed, { keepaliveIntervalMs: 5_000 })));
    assert.doesNotThrow(() => agreedFromAccept(timed, accept(timed, { keepaliveIntervalMs: 4_000 })));
    for (const over of [{ keepaliveIntervalMs: 5_001 }, { idleTimeoutMs: 20_001 }]) {
      const e = protocolError(timed, accept(timed, over));
      assert.equal(e.message, 'peer agreed to longer timers than proposed', JSON.stringify(over));
    }
  });

  test('a retransmit buffer above the proposal or under 64 KiB is refused, naming it', () => {
    for (const bytes of [200_001, 65_535]) {
      const e = protocolError(cn, accept(cn, { extensions: [retransmitExt(bytes)] }));
      assert.equal(e.message, `peer agreed to a retransmit buffer of ${bytes} bytes`);
    }
    const floor = agreedFromAccept(cn, accept(cn, { extensions: [retransmitExt(65_536)] }));
    assert.equal(floor.retransmitBufferBytes, 65_536);
    const silent = agreedFromAccept(cn, accept(cn, { extensions: [] }));
    assert.equal(silent.retransmitBufferBytes, 200_000, 'an acceptance without one takes the proposal');
  });
});
