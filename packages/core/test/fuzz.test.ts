/**
 * Fuzzing, bounded to a few seconds: random and mutated bytes into the decoder only ever give a
 * ProtocolError and always terminate; a Connection of either role fed random or mutated bytes
 * after a valid preface never throws from handleBytes (nor from the calls a driver makes next),
 * and ends either still open or closed with exactly one connection-closed event.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Connection,
  type ConnectionEvent,
  encodeFrame,
  FrameDecoder,
  FrameType,
  PREFACE,
  ProtocolError,
  type Role,
  Unit,
} from '@liaison/core';
import fc from 'fast-check';
import { anyFrame } from './arbitraries.js';
import { Pair, utf8 } from './harness.js';
import { concatBytes, decodeChunks, splitAt } from './wire-util.js';

type Mutation =
  | { op: 'flip'; at: number; mask: number }
  | { op: 'insert'; at: number; byte: number }
  | { op: 'delete'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
);
const mutations = fc.array(mutation, { minLength: 1, maxLength: 6 });

/** Applies the mutations; positions are taken modulo the current length. `keep` bytes at the start are spared. */
function mutate(bytes: Uint8Array, ms: readonly Mutation[], keep = 0): Uint8Array {
  const out = Array.from(bytes);
  for (const m of ms) {
    const span = out.length - keep;
    if (span <= 0) {
      if (m.op === 'insert') out.push(m.byte);
      continue;
    }
    const at = keep + (m.at % span);
    if (m.op === 'flip') out[at] = (out[at] as number) ^ m.mask;
    else if (m.op === 'insert') out.splice(at, 0, m.byte);
    else out.splice(at, 1);
  }
  return Uint8Array.from(out);
}

/** Drains the decoder; returns the frames decoded and the error, if any. Fails on any non-ProtocolError. */
function drain(d: FrameDecoder): { frames: number; error: ProtocolError | null } {
  let frames = 0;
  // Each next() either consumes a whole frame or returns null, so this is bounded by the bytes pushed.
  for (let guard = 0; guard < 1_000_000; guard++) {
    try {
      if (d.next() === null) return { frames, error: null };
      frames++;
    } catch (e) {
      assert.ok(e instanceof ProtocolError, `decoder threw a non-ProtocolError: ${String(e)}`);
      return { frames, error: e };
    }
  }
  assert.fail('decoder did not terminate');
}

const smallLimits = { frameBytesMax: 2048, userDataBytesMax: 64 };

test('decoder: random bytes give only ProtocolError and terminate', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 8 }),
      (bytes, preface, cuts) => {
        const d = new FrameDecoder(smallLimits, { expectPreface: preface });
        let error: ProtocolError | null = null;
        for (const chunk of splitAt(
          bytes,
          cuts.map((c) => c % (bytes.byteLength + 1)),
        )) {
          d.push(chunk);
          const r = drain(d);
          if (r.error) {
            error = r.error;
            break;
          }
        }
        if (error)
          assert.throws(
            () => d.next(),
            (e) => e === error,
          );
      },
    ),
    { numRuns: 1500 },
  );
});

test('decoder: random bytes after a valid preface give only ProtocolError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      const d = new FrameDecoder(smallLimits, { expectPreface: true });
      d.push(concatBytes([PREFACE, bytes]));
      drain(d);
    }),
    { numRuns: 1500 },
  );
});

test('decoder: mutated valid streams (flip, insert, delete) give only ProtocolError', () => {
  fc.assert(
    fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 6 }), mutations, fc.boolean(), (frames, ms, spare) => {
      const stream = concatBytes([PREFACE, ...frames.map(encodeFrame)]);
      const mutated = mutate(stream, ms, spare ? PREFACE.byteLength : 0);
      const d = new FrameDecoder({ frameBytesMax: 1 << 20, userDataBytesMax: 0xffff }, { expectPreface: true });
      d.push(mutated);
      drain(d);
    }),
    { numRuns: 1500 },
  );
});

/** A recorded, valid dialogue in both directions, exercising every session frame type. */
function recordDialogue(): { initiatorBytes: Uint8Array; responderBytes: Uint8Array } {
  const units = Unit.KERNEL | Unit.DUPLEX | Unit.EXPEDITED | Unit.TYPED_DATA | Unit.NEGOTIATED_RELEASE;
  const p = new Pair({ limits: { frameBytesMax: 1024, keepaliveIntervalMs: 100, idleTimeoutMs: 1000 } });
  const s1 = p.a.conn.openSession(p.now, { units, userData: utf8('hi') });
  p.pump();
  p.b.conn.session(s1.channel)!.accept(p.now, utf8('welcome'));
  const s3 = p.a.conn.openSession(p.now, { units });
  p.pump();
  p.b.conn.session(s3.channel)!.refuse(p.now, 0, utf8('no'));
  const s5 = p.a.conn.openSession(p.now, { units });
  p.pump();
  p.b.conn.session(s5.channel)!.accept(p.now, new Uint8Array(0));
  p.pump();
  s1.send(p.now, 'normal', new Uint8Array(3000).fill(7));
  s1.send(p.now, 'typed', utf8('typed'));
  s1.send(p.now, 'expedited', utf8('urgent'));
  p.b.conn.session(s1.channel)!.send(p.now, 'normal', utf8('back'));
  p.pump();
  p.advance(150, 50); // keepalive pings and pongs
  s1.release(p.now, utf8('bye?'));
  p.pump();
  p.b.conn.session(s1.channel)!.respondRelease(p.now, false, utf8('not yet'));
  p.pump();
  s1.release(p.now, utf8('bye'));
  p.pump();
  p.b.conn.session(s1.channel)!.respondRelease(p.now, true, utf8('ok'));
  p.pump();
  s5.send(p.now, 'normal', utf8('x'));
  s5.abort(p.now, utf8('gone'));
  p.pump();
  p.a.conn.close(p.now);
  p.pump();
  return { initiatorBytes: withoutAcks(concatBytes(p.a.wire)), responderBytes: withoutAcks(concatBytes(p.b.wire)) };
}

/**
 * The recorded stream minus its acknowledgements: those count frames of the recorded peer, and a
 * fresh replay target that sent different frames would rightly abort on them, ending the replay early.
 */
function withoutAcks(stream: Uint8Array): Uint8Array {
  const frames = decodeChunks([stream], { expectPreface: true }).filter((f) => f.type !== FrameType.ACK);
  return concatBytes([PREFACE, ...frames.map(encodeFrame)]);
}

const dialogue = recordDialogue();

/** Offsets where each frame of a valid stream starts, so an eager application can answer in time. */
function frameBoundaries(stream: Uint8Array): number[] {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const out: number[] = [];
  for (let at = PREFACE.byteLength; at + 10 <= stream.byteLength; at += 10 + view.getUint32(at + 6)) out.push(at);
  return out;
}

/**
 * Feeds `bytes` to a fresh connection of `role` in `cuts` chunks, acting as an eager application
 * (accepting connect requests, consuming data) and a driver (polling, firing timeouts).
 */
function feed(role: Role, bytes: Uint8Array, cuts: number[]): { conn: Connection; events: ConnectionEvent[] } {
  const conn = new Connection({ role, limits: { frameBytesMax: 1024, userDataBytesMax: 64 } });
  conn.handleTransportUp(0);
  if (role === 'initiator') {
    const units = Unit.KERNEL | Unit.DUPLEX | Unit.EXPEDITED | Unit.TYPED_DATA | Unit.NEGOTIATED_RELEASE;
    for (let i = 0; i < 3; i++) conn.openSession(0, { units });
  }
  const events: ConnectionEvent[] = [];
  let now = 0;
  for (const chunk of splitAt(bytes, cuts)) {
    now += 1;
    conn.handleBytes(now, chunk);
    conn.pollTransmit();
    for (let e = conn.pollEvent(); e !== null; e = conn.pollEvent()) {
      events.push(e);
      const s = 'channel' in e ? conn.session(e.channel) : undefined;
      if (e.type === 'connect-request' && s?.state === 'awaiting-response') s.accept(now, new Uint8Array(0));
      if (e.type === 'message' && s) s.consume(now, e.credit);
    }
    const deadline = conn.pollTimeout();
    if (deadline !== null && deadline <= now) conn.handleTimeout(now);
  }
  conn.handleTimeout(now + 1);
  conn.pollTransmit();
  for (let e = conn.pollEvent(); e !== null; e = conn.pollEvent()) events.push(e);
  const closedEvents = events.filter((e) => e.type === 'connection-closed');
  if (conn.isClosed) {
    assert.equal(closedEvents.length, 1, 'a closed connection says so exactly once');
    assert.equal(conn.sessionCount, 0, 'no session outlives its connection');
  } else {
    assert.ok(conn.isOpen);
    assert.equal(closedEvents.length, 0);
  }
  return { conn, events };
}

test('connection: the recorded dialogue itself is accepted by both roles', () => {
  // Sanity for the fuzz tests below: unmutated, the streams go deep without a protocol error.
  assert.ok(dialogue.initiatorBytes.byteLength > 3000);
  const r = feed('responder', dialogue.initiatorBytes, frameBoundaries(dialogue.initiatorBytes));
  const closed = r.events.filter((e) => e.type === 'connection-closed');
  assert.deepEqual(closed, [{ type: 'connection-closed', origin: 'peer', code: 15, message: 'connection closed' }]);
  assert.ok(r.events.some((e) => e.type === 'message' && e.kind === 'expedited'));
  assert.ok(r.events.some((e) => e.type === 'release-requested'));
  const i = feed('initiator', dialogue.responderBytes, frameBoundaries(dialogue.responderBytes));
  assert.ok(i.conn.isOpen, 'the responder never closed the connection');
  assert.equal(i.events.filter((e) => e.type === 'accepted').length, 2);
  assert.ok(i.events.some((e) => e.type === 'closed' && e.reason.kind === 'refused'));
  assert.ok(i.events.some((e) => e.type === 'message' && e.kind === 'normal'));
});

for (const role of ['initiator', 'responder'] as const) {
  const valid = role === 'responder' ? dialogue.initiatorBytes : dialogue.responderBytes;
  const boundaries = frameBoundaries(valid);

  test(`connection (${role}): random bytes after a valid preface never throw`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const stream = concatBytes([PREFACE, bytes]);
        feed(
          role,
          stream,
          cuts.map((c) => c % (stream.byteLength + 1)),
        );
      }),
      { numRuns: 1000 },
    );
  });

  test(`connection (${role}): random valid-looking frames never throw`, () => {
    fc.assert(
      fc.property(fc.array(anyFrame, { maxLength: 10 }), (frames) => {
        feed(role, concatBytes([PREFACE, ...frames.map(encodeFrame)]), []);
      }),
      { numRuns: 1000 },
    );
  });

  test(`connection (${role}): a mutated valid dialogue never throws`, () => {
    fc.assert(
      fc.property(mutations, fc.array(fc.nat(), { maxLength: 10 }), (ms, cuts) => {
        const mutated = mutate(valid, ms, PREFACE.byteLength);
        feed(role, mutated, [...boundaries, ...cuts.map((c) => c % (mutated.byteLength + 1))]);
      }),
      { numRuns: 1000 },
    );
  });
}
