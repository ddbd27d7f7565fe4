/**
 * SecureConnection on virtual time: Noise XX and IK sessions, downgrade attempts, tampering,
 * truncated, reordered and slow handshakes, rekeying, and resume across cuts with channel binding.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortCode,
  Connection,
  keyPairFrom,
  NoiseVariant,
  SecureConnection,
  type Session,
  UsageError,
} from '@liaison/core';
import { closeOf, SecureLink, texts, utf8 } from './secure-link.js';
import { seededRandom } from './seeded-random.js';

const serverKeys = keyPairFrom(seededRandom(99)(32));
const clientKeys = keyPairFrom(seededRandom(98)(32));
const server = { staticKey: serverKeys.privateKey };

function openSession(l: SecureLink): { c: Session; s: Session } {
  const c = l.clientConn.openSession(l.now);
  l.pump();
  assert.equal(c.state, 'open');
  return { c, s: l.serverConn.session(c.channel) as Session };
}

const contains = (hay: Uint8Array, needle: Uint8Array): boolean => Buffer.from(hay).indexOf(Buffer.from(needle)) !== -1;

describe('noise sessions', () => {
  test('XX: first contact carries data both ways, encrypted on the wire, and reports the keys', () => {
    const l = new SecureLink({ client: { staticKey: clientKeys.privateKey }, server });
    const { c, s } = openSession(l);
    c.send(l.now, 'normal', utf8('secret from the client'));
    s.send(l.now, 'normal', utf8('secret from the server'));
    l.pump();
    assert.deepEqual(texts(l.serverEvents), ['secret from the client']);
    assert.deepEqual(texts(l.clientEvents), ['secret from the server']);
    const client = l.client as SecureConnection;
    const srv = l.server as SecureConnection;
    assert.equal(client.pattern, 'XX');
    assert.equal(srv.pattern, 'XX');
    assert.deepEqual(client.remoteStaticKey, serverKeys.publicKey);
    assert.deepEqual(srv.remoteStaticKey, clientKeys.publicKey);
    assert.deepEqual(client.handshakeHash, srv.handshakeHash);
    for (const { bytes } of l.wire) {
      assert.ok(!contains(bytes, utf8('secret from')), 'no plaintext on the wire');
      assert.ok(!contains(bytes, Uint8Array.of(0x4c, 0x53, 0x4e, 0x01)), 'the inner preface is sealed too');
    }
    assert.deepEqual([...(l.wire[0]?.bytes.subarray(0, 4) ?? [])], [0x4c, 0x53, 0x4e, NoiseVariant.XX]);
  });

  test('IK: a client that knows the server key gets a session in one round trip', () => {
    const l = new SecureLink({ client: { remoteStaticKey: serverKeys.publicKey }, server });
    const { c, s } = openSession(l);
    c.send(l.now, 'normal', utf8('hello'));
    l.pump();
    assert.deepEqual(texts(l.serverEvents), ['hello']);
    assert.equal((l.client as SecureConnection).pattern, 'IK');
    assert.equal((l.server as SecureConnection).pattern, 'IK');
    assert.equal(s.state, 'open');
    // Preface + message 1 from the client, preface + message 2 from the server, then records.
    assert.deepEqual([...(l.wire[0]?.bytes.subarray(0, 4) ?? [])], [0x4c, 0x53, 0x4e, NoiseVariant.IK]);
  });

  test('IK toward the wrong server key fails the handshake on both sides; no session', () => {
    const wrong = keyPairFrom(seededRandom(5)(32)).publicKey;
    const l = new SecureLink({ client: { remoteStaticKey: wrong }, server });
    const c = l.clientConn.openSession(l.now);
    l.pump();
    assert.equal(closeOf(l.serverEvents)?.code, AbortCode.NOISE_HANDSHAKE_FAILED);
    assert.equal(c.state, 'closed');
    assert.equal(l.serverConn.sessionCount, 0);
  });

  test('XX with a pinned key that the server does not hold is refused by the client', () => {
    const other = keyPairFrom(seededRandom(6)(32)).publicKey;
    const l = new SecureLink({ client: { remoteStaticKey: other, pattern: 'XX' }, server });
    const c = l.clientConn.openSession(l.now);
    l.pump();
    assert.equal(closeOf(l.clientEvents)?.code, AbortCode.NOISE_PEER_KEY_MISMATCH);
    assert.equal(c.state, 'closed');
  });

  test('a server that requires Noise refuses a plaintext client with a reason it can read', () => {
    const l = new SecureLink({ client: null, server });
    const c = l.clientConn.openSession(l.now);
    l.pump();
    const closed = closeOf(l.clientEvents);
    assert.equal(closed?.code, AbortCode.NOISE_REQUIRED);
    assert.equal(closed?.origin, 'peer');
    assert.equal(c.state, 'closed');
    assert.equal(l.serverConn.sessionCount, 0);
  });

  test('a server that allows plaintext serves a plaintext client unchanged', () => {
    const l = new SecureLink({ client: null, server: { ...server, require: false } });
    const { c } = openSession(l);
    c.send(l.now, 'normal', utf8('in the clear'));
    l.pump();
    assert.deepEqual(texts(l.serverEvents), ['in the clear']);
    assert.equal((l.server as SecureConnection).isEncrypted, false);
  });

  test('a plaintext server answers a Noise client NOISE_UNAVAILABLE; the client never falls back', () => {
    const l = new SecureLink({ client: {}, server: null });
    const c = l.clientConn.openSession(l.now);
    l.pump();
    assert.equal(closeOf(l.serverEvents)?.code, AbortCode.NOISE_UNAVAILABLE);
    assert.equal(closeOf(l.clientEvents)?.code, AbortCode.NOISE_DOWNGRADE);
    assert.equal(c.state, 'closed');
  });
});

describe('noise downgrade attempts', () => {
  test('a man in the middle strips Noise from the client preface: the client refuses the plaintext answer', () => {
    const l = new SecureLink({ client: {}, server: { ...server, require: false } });
    let first = true;
    l.tamper = (fromClient, b) => {
      if (!fromClient || !first) return b;
      first = false;
      const out = b.slice();
      out[3] = 0x01; // "LSN" 1: plaintext framing
      return out;
    };
    const c = l.clientConn.openSession(l.now);
    l.pump();
    assert.equal(closeOf(l.clientEvents)?.code, AbortCode.NOISE_DOWNGRADE);
    assert.match(closeOf(l.clientEvents)?.message ?? '', /plaintext/);
    assert.equal(c.state, 'closed');
  });

  test('a changed pattern (IK rewritten to XX, and the echo back) fails the handshake', () => {
    const l = new SecureLink({ client: { remoteStaticKey: serverKeys.publicKey }, server });
    l.tamper = (fromClient, b) => {
      if (b.byteLength < 4 || b[0] !== 0x4c || b[1] !== 0x53) return b;
      const out = b.slice();
      out[3] = fromClient ? NoiseVariant.XX : NoiseVariant.IK;
      return out;
    };
    const c = l.clientConn.openSession(l.now);
    l.pump();
    assert.equal(c.state, 'closed');
    const codes = [closeOf(l.clientEvents)?.code, closeOf(l.serverEvents)?.code];
    assert.ok(codes.includes(AbortCode.NOISE_HANDSHAKE_FAILED), `closed with ${codes}`);
    assert.equal(l.serverConn.sessionCount, 0);
  });

  test('the server answering another variant is a downgrade', () => {
    const l = new SecureLink({ client: { remoteStaticKey: serverKeys.publicKey }, server });
    l.tamper = (fromClient, b) => {
      if (fromClient) return b;
      const out = b.slice();
      if (out[0] === 0x4c) out[3] = NoiseVariant.XX;
      return out;
    };
    l.clientConn.openSession(l.now);
    l.pump();
    assert.equal(closeOf(l.clientEvents)?.code, AbortCode.NOISE_DOWNGRADE);
  });
});

describe('noise handshake robustness', () => {
  test('a truncated handshake is cut by the handshake timeout', () => {
    const l = new SecureLink({ client: {}, server, limits: { handshakeTimeoutMs: 2000 } });
    l.tamper = (fromClient, b) => (fromClient ? b.subarray(0, 20) : b); // preface and part of message 1
    l.clientConn.openSession(l.now);
    l.pump();
    assert.equal(closeOf(l.serverEvents), undefined);
    l.advance(2100);
    assert.equal(closeOf(l.serverEvents)?.code, AbortCode.HANDSHAKE_TIMEOUT);
  });

  test('a slow-drip handshake (one byte a second) is cut by the handshake timeout', () => {
    const l = new SecureLink({ client: {}, server, limits: { handshakeTimeoutMs: 5000 } });
    const held: number[] = [];
    l.tamper = (fromClient, b) => {
      if (!fromClient) return b;
      held.push(...b);
      return null;
    };
    l.clientConn.openSession(l.now);
    l.pump();
    for (let t = 0; t < 8 && !l.server.isClosed; t++) {
      l.server.handleBytes(l.now, Uint8Array.of(held.shift() as number));
      l.advance(1000);
    }
    assert.equal(closeOf(l.serverEvents)?.code, AbortCode.HANDSHAKE_TIMEOUT);
    assert.ok(l.now <= 6000, 'cut within the timeout');
  });

  test('a handshake message repeated (reordered) is refused', () => {
    const l = new SecureLink({ client: {}, server });
    let msg1: Uint8Array | null = null;
    l.tamper = (fromClient, b) => {
      if (fromClient && msg1 === null) {
        msg1 = b.subarray(4).slice();
        return b;
      }
      if (fromClient) return msg1; // message 1 again where message 3 belongs
      return b;
    };
    l.clientConn.openSession(l.now);
    l.pump();
    assert.equal(closeOf(l.serverEvents)?.code, AbortCode.NOISE_HANDSHAKE_FAILED);
    assert.equal(l.serverConn.sessionCount, 0);
  });

  test('a third message sent first (out of order) is refused', () => {
    // A first handshake gives a valid message 3; a second server receives it as message 1.
    const first = new SecureLink({ client: {}, server });
    first.clientConn.openSession(first.now);
    first.pump();
    const msg3 = first.wire.filter((w) => w.fromClient)[1]?.bytes.subarray(0, 66) as Uint8Array;
    assert.equal((msg3[0] as number) * 256 + (msg3[1] as number), 64, 'XX message 3 is 64 bytes');
    const s = new SecureConnection({
      connection: new Connection({ role: 'responder' }),
      random: seededRandom(3),
      ...server,
    });
    s.handleTransportUp(0);
    s.handleBytes(0, Uint8Array.of(0x4c, 0x53, 0x4e, NoiseVariant.XX));
    s.handleBytes(0, msg3);
    assert.ok(s.isClosed);
    const e = s.pollEvent();
    assert.equal(e?.type === 'connection-closed' && e.code, AbortCode.NOISE_HANDSHAKE_FAILED);
  });

  test('an oversized handshake record is refused before its body is buffered', () => {
    const s = new SecureConnection({
      connection: new Connection({ role: 'responder' }),
      random: seededRandom(3),
      ...server,
    });
    s.handleTransportUp(0);
    s.handleBytes(0, Uint8Array.of(0x4c, 0x53, 0x4e, NoiseVariant.XX, 0xff, 0xff));
    assert.ok(s.isClosed);
    const e = s.pollEvent();
    assert.equal(e?.type === 'connection-closed' && e.code, AbortCode.NOISE_HANDSHAKE_FAILED);
  });

  test('configuration errors are usage errors', () => {
    assert.throws(
      () => new SecureConnection({ connection: new Connection({ role: 'responder' }), random: seededRandom(1) }),
      UsageError,
    );
    assert.throws(
      () =>
        new SecureConnection({
          connection: new Connection({ role: 'initiator' }),
          random: seededRandom(1),
          pattern: 'IK',
        }),
      UsageError,
    );
    assert.throws(
      () =>
        new SecureConnection({
          connection: new Connection({ role: 'initiator' }),
          random: seededRandom(1),
          staticKey: new Uint8Array(31),
        }),
      UsageError,
    );
  });
});

describe('noise transport phase', () => {
  test('a tampered record closes the connection with a reason; the session resumes on a new one', () => {
    const l = new SecureLink({ client: {}, server });
    const { c } = openSession(l);
    let flip = false;
    l.tamper = (fromClient, b) => {
      if (!fromClient || !flip) return b;
      flip = false;
      const out = b.slice();
      out[out.byteLength - 1] = (out[out.byteLength - 1] as number) ^ 0x01;
      return out;
    };
    c.send(l.now, 'normal', utf8('one'));
    l.pump();
    flip = true;
    c.send(l.now, 'normal', utf8('two'));
    l.pump();
    const closed = closeOf(l.serverEvents);
    assert.equal(closed?.code, AbortCode.NOISE_RECORD_INVALID);
    assert.match(closed?.message ?? '', /authentication/);
    assert.equal(c.link, 'suspended');
    l.tamper = (_, b) => b;
    l.connect();
    l.clientConn.resumeSession(l.now, c);
    l.pump();
    assert.equal(c.link, 'attached');
    c.send(l.now, 'normal', utf8('three'));
    l.pump();
    assert.deepEqual(texts(l.serverEvents), ['one', 'two', 'three']);
  });

  test('each direction rekeys after noiseRekeyBytes, at the same record on both sides, and data continues', () => {
    const l = new SecureLink({ client: {}, server, limits: { noiseRekeyBytes: 4096 } });
    const { c, s } = openSession(l);
    const sent: string[] = [];
    for (let i = 0; i < 200; i++) {
      const m = `message ${i} `.padEnd(500, '.');
      sent.push(m);
      c.send(l.now, 'normal', utf8(m));
      s.send(l.now, 'normal', utf8(m));
      if (i % 20 === 0) l.pump();
    }
    l.pump();
    assert.deepEqual(texts(l.serverEvents), sent);
    assert.deepEqual(texts(l.clientEvents), sent);
    const client = l.client as SecureConnection;
    const srv = l.server as SecureConnection;
    assert.ok(client.rekeys.sent >= 20, `client rekeyed ${client.rekeys.sent} times`);
    assert.ok(srv.rekeys.sent >= 20, `server rekeyed ${srv.rekeys.sent} times`);
    assert.equal(client.rekeys.sent, srv.rekeys.received);
    assert.equal(srv.rekeys.sent, client.rekeys.received);
  });

  test('XX and IK sessions resume across cuts over Noise and deliver exactly once', () => {
    for (const client of [{}, { remoteStaticKey: serverKeys.publicKey }]) {
      const l = new SecureLink({ client, server });
      const { c, s } = openSession(l);
      const firstHash = (l.client as SecureConnection).handshakeHash;
      const got: string[] = [];
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 10; i++) c.send(l.now, 'normal', utf8(`r${round}m${i}`));
        l.pump();
        l.cut();
        assert.equal(c.link, 'suspended');
        l.connect();
        l.clientConn.resumeSession(l.now, c);
        l.pump();
        assert.equal(c.link, 'attached', `round ${round}`);
        assert.notDeepEqual((l.client as SecureConnection).handshakeHash, firstHash);
      }
      got.push(...texts(l.serverEvents));
      assert.equal(got.length, 30);
      assert.equal(new Set(got).size, 30);
      assert.equal(s.state, 'open');
    }
  });
});

describe('noise fuzzing', () => {
  test('random bytes into either side, at any stage, only ever close it with a typed reason', async () => {
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(
        fc.constantFrom('responder', 'initiator', 'established'),
        fc.boolean(),
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 6 }),
        (stage, withPreface, chunks) => {
          const l = new SecureLink({ client: {}, server });
          let target: SecureConnection;
          if (stage === 'established') {
            openSession(l);
            target = l.server as SecureConnection;
          } else {
            target = (stage === 'responder' ? l.server : l.client) as SecureConnection;
            if (stage === 'initiator') l.client.pollTransmit(); // its opening, not delivered
          }
          if (withPreface && stage !== 'established') {
            target.handleBytes(l.now, Uint8Array.of(0x4c, 0x53, 0x4e, NoiseVariant.XX));
          }
          for (const chunk of chunks) target.handleBytes(l.now, chunk);
          const events = [];
          for (let e = target.pollEvent(); e; e = target.pollEvent()) events.push(e);
          const closed = closeOf(events);
          if (target.isClosed) assert.ok(closed && closed.message.length > 0, 'closed with a reason');
          while (target.pollTransmit() !== null) {}
        },
      ),
      { numRuns: 150 },
    );
  });
});
