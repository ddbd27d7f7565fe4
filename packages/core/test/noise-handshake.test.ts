/**
 * The Noise handshake state machine and the record layer on their own: turn order, prologue
 * binding, and a property test that any flipped byte of a sealed record is detected.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AbortCode,
  CipherState,
  HandshakeState,
  keyPairFrom,
  type PatternName,
  ProtocolError,
  RecordOpener,
  RecordReader,
  RecordSealer,
  UsageError,
} from '@liaison/core';
import fc from 'fast-check';
import { seededRandom } from './seeded-random.js';

const rnd = seededRandom(21);
const server = keyPairFrom(rnd(32));
const EMPTY = new Uint8Array(0);

function pair(pattern: PatternName, prologues: [Uint8Array, Uint8Array] = [EMPTY, EMPTY]) {
  const i = new HandshakeState({
    pattern,
    initiator: true,
    prologue: prologues[0],
    staticKey: rnd(32),
    ephemeralKey: rnd(32),
    ...(pattern === 'IK' ? { remoteStaticKey: server.publicKey } : {}),
  });
  const r = new HandshakeState({
    pattern,
    initiator: false,
    prologue: prologues[1],
    staticKey: server.privateKey,
    ephemeralKey: rnd(32),
  });
  return { i, r };
}

function run(i: HandshakeState, r: HandshakeState): void {
  let [w, rd] = [i, r];
  while (!w.isComplete) {
    rd.readMessage(w.writeMessage(EMPTY));
    [w, rd] = [rd, w];
  }
}

for (const pattern of ['XX', 'IK'] as const) {
  test(`${pattern}: the turns alternate, the initiator first; anything else is a usage error`, () => {
    const { i, r } = pair(pattern);
    assert.equal(i.isMyTurn, true);
    assert.equal(r.isMyTurn, false);
    assert.throws(() => r.writeMessage(EMPTY), UsageError);
    assert.throws(() => i.readMessage(new Uint8Array(32)), UsageError);
    assert.throws(() => i.split(), UsageError);
    run(i, r);
    assert.ok(i.isComplete && r.isComplete);
    assert.throws(() => i.writeMessage(EMPTY), UsageError);
    const a = i.split();
    const b = r.split();
    assert.deepEqual(
      b.receive.decryptWithAd(EMPTY, a.send.encryptWithAd(EMPTY, Uint8Array.of(1, 2, 3))),
      Uint8Array.of(1, 2, 3),
    );
  });

  test(`${pattern}: different prologues make the handshake fail (the prefaces are bound)`, () => {
    const { i, r } = pair(pattern, [Uint8Array.of(1), Uint8Array.of(2)]);
    assert.throws(
      () => run(i, r),
      (e: unknown) => e instanceof ProtocolError && e.wireCode === AbortCode.NOISE_HANDSHAKE_FAILED,
    );
  });

  test(`${pattern}: a failed handshake cannot continue`, () => {
    const { i, r } = pair(pattern);
    const m = i.writeMessage(EMPTY);
    assert.throws(() => r.readMessage(m.subarray(0, 20)), ProtocolError);
    assert.throws(() => r.readMessage(m), UsageError);
  });
}

test('a low-order ephemeral key fails the handshake with a protocol error, even while writing', () => {
  const { r } = pair('XX');
  r.readMessage(new Uint8Array(32)); // e = 0 is only hashed here; the DH comes with the reply
  assert.throws(
    () => r.writeMessage(EMPTY),
    (e: unknown) => e instanceof ProtocolError && e.wireCode === AbortCode.NOISE_HANDSHAKE_FAILED,
  );
});

test('REKEY() changes the key on both sides alike and keeps the nonce', () => {
  const key = rnd(32);
  const a = new CipherState(key);
  const b = new CipherState(key);
  const stale = new CipherState(key);
  assert.deepEqual(b.decryptWithAd(EMPTY, a.encryptWithAd(EMPTY, Uint8Array.of(1))), Uint8Array.of(1));
  stale.decryptWithAd(EMPTY, new CipherState(key).encryptWithAd(EMPTY, Uint8Array.of(1)));
  a.rekey();
  b.rekey();
  assert.equal(a.nonce, 1);
  const sealed = a.encryptWithAd(EMPTY, Uint8Array.of(9));
  assert.deepEqual(b.decryptWithAd(EMPTY, sealed), Uint8Array.of(9));
  assert.throws(() => stale.decryptWithAd(EMPTY, sealed), ProtocolError, 'the old key no longer opens');
});

test('property: any flipped byte of a sealed record is detected, never delivered', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 2000 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (data, where, mask) => {
        const key = rnd(32);
        const records = new RecordSealer(new CipherState(key), 1 << 30).seal([data]);
        const rec = (records[0] as Uint8Array).slice();
        const at = where % rec.byteLength;
        rec[at] = (rec[at] as number) ^ mask;
        const reader = new RecordReader();
        reader.setBounds(17, 0xffff, AbortCode.NOISE_RECORD_INVALID);
        const opener = new RecordOpener(new CipherState(key));
        try {
          reader.push(rec);
          let r = reader.next();
          // A length made larger waits for bytes that never authenticate either.
          if (r === null) {
            reader.push(new Uint8Array(0x10000));
            r = reader.next();
          }
          assert.ok(r);
          opener.open(r);
        } catch (e) {
          assert.ok(e instanceof ProtocolError);
          assert.equal(e.wireCode, AbortCode.NOISE_RECORD_INVALID);
          return;
        }
        assert.fail(`flip at ${at} of ${rec.byteLength} was not detected`);
      },
    ),
    { numRuns: 300 },
  );
});

test('property: records split anywhere reassemble to the sealed bytes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 70_000 }), { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (segments, cuts) => {
        const key = rnd(32);
        const stream = Buffer.concat(new RecordSealer(new CipherState(key), 50_000).seal(segments));
        const reader = new RecordReader();
        reader.setBounds(17, 0xffff, AbortCode.NOISE_RECORD_INVALID);
        const opener = new RecordOpener(new CipherState(key));
        const points = [...new Set(cuts.map((c) => c % stream.byteLength))].sort((a, b) => a - b);
        const got: Uint8Array[] = [];
        let prev = 0;
        for (const p of [...points, stream.byteLength]) {
          reader.push(new Uint8Array(stream.subarray(prev, p)));
          for (let r = reader.next(); r !== null; r = reader.next()) {
            const d = opener.open(r);
            if (d) got.push(d.slice());
          }
          prev = p;
        }
        assert.deepEqual(Buffer.concat(got), Buffer.concat(segments));
        assert.ok(opener.rekeys >= 1 || stream.byteLength < 50_000);
      },
    ),
    { numRuns: 40 },
  );
});
