/**
 * The node:crypto provider against the portable @noble one: the published Noise vectors byte for
 * byte with each, handshakes and records across providers, a property test that every primitive
 * agrees on random inputs, the typed close of a record that fails authentication, and sessions
 * over loopback sockets between a noble side and a node side.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  AbortCode,
  CipherState,
  type CryptoProvider,
  HandshakeState,
  nobleCrypto,
  ProtocolError,
  RecordOpener,
  RecordReader,
  RecordSealer,
} from '@liaison/core';
import { connect, generateNoiseKeyPair, nodeCrypto } from '@liaison/node';
import fc from 'fast-check';
import { echoServer, startServer, track, waitFor, within } from './helpers.js';

interface Vector {
  origin: string;
  protocol_name: string;
  init_prologue: string;
  init_static: string;
  init_ephemeral: string;
  init_remote_static?: string;
  resp_prologue: string;
  resp_static: string;
  resp_ephemeral: string;
  handshake_hash?: string;
  messages: { payload: string; ciphertext: string }[];
}

const VECTORS_URL = new URL('../../core/test/fixtures/noise-vectors.json', import.meta.url);
const vectors = (JSON.parse(readFileSync(VECTORS_URL, 'utf8')) as { vectors: Vector[] }).vectors;
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const EMPTY = new Uint8Array(0);
const PROVIDERS = [nobleCrypto, nodeCrypto];

/** Replays one vector with the initiator on `initCrypto` and the responder on `respCrypto`. */
function replay(v: Vector, initCrypto: CryptoProvider, respCrypto: CryptoProvider): void {
  const pattern = v.protocol_name.split('_')[1] as 'XX' | 'IK';
  const init = new HandshakeState({
    pattern,
    initiator: true,
    prologue: hex(v.init_prologue),
    staticKey: hex(v.init_static),
    ephemeralKey: hex(v.init_ephemeral),
    ...(v.init_remote_static ? { remoteStaticKey: hex(v.init_remote_static) } : {}),
    crypto: initCrypto,
  });
  const resp = new HandshakeState({
    pattern,
    initiator: false,
    prologue: hex(v.resp_prologue),
    staticKey: hex(v.resp_static),
    ephemeralKey: hex(v.resp_ephemeral),
    crypto: respCrypto,
  });
  const handshakeLength = init.pattern.messages.length;
  let ciphers: [{ send: CipherState; receive: CipherState }, { send: CipherState; receive: CipherState }] | null = null;
  v.messages.forEach((m, i) => {
    const fromInitiator = i % 2 === 0;
    if (i < handshakeLength) {
      const [writer, reader] = fromInitiator ? [init, resp] : [resp, init];
      assert.equal(toHex(writer.writeMessage(hex(m.payload))), m.ciphertext, `handshake message ${i}`);
      assert.equal(toHex(reader.readMessage(hex(m.ciphertext))), m.payload, `handshake payload ${i}`);
      if (i === handshakeLength - 1) {
        if (v.handshake_hash) assert.equal(toHex(init.handshakeHash), v.handshake_hash);
        assert.deepEqual(resp.handshakeHash, init.handshakeHash);
        ciphers = [init.split(), resp.split()];
      }
      return;
    }
    assert.ok(ciphers);
    const [initC, respC] = ciphers;
    const [send, receive] = fromInitiator ? [initC.send, respC.receive] : [respC.send, initC.receive];
    assert.equal(toHex(send.encryptWithAd(EMPTY, hex(m.payload))), m.ciphertext, `transport message ${i}`);
    assert.equal(toHex(receive.decryptWithAd(EMPTY, hex(m.ciphertext))), m.payload, `transport payload ${i}`);
  });
}

describe('the published Noise vectors with each provider', () => {
  test('the fixture is there: XX and IK from cacophony and snow', () => {
    assert.ok(vectors.length >= 4);
    assert.deepEqual(new Set(vectors.map((v) => v.protocol_name.split('_')[1])), new Set(['XX', 'IK']));
  });
  for (const crypto of PROVIDERS) {
    test(`${crypto.name}: every vector byte for byte, both roles`, () => {
      for (const v of vectors) replay(v, crypto, crypto);
    });
  }
  test('across providers: a noble initiator with a node responder and the reverse give the vector bytes', () => {
    for (const v of vectors) {
      replay(v, nobleCrypto, nodeCrypto);
      replay(v, nodeCrypto, nobleCrypto);
    }
  });
});

describe('the providers agree on random inputs', () => {
  const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const nonce = fc.uint8Array({ minLength: 12, maxLength: 12 });
  const bytes = fc.uint8Array({ maxLength: 3000 });

  test('property: seal gives the same bytes; each opens the other; a flipped byte opens nowhere', () => {
    fc.assert(
      fc.property(key, nonce, bytes, bytes, fc.nat(), (k, n, ad, message, flip) => {
        const [noble, node] = [nobleCrypto.chacha20poly1305(k), nodeCrypto.chacha20poly1305(k)];
        const sealed = noble.seal(n, ad, message);
        assert.deepEqual(node.seal(n, ad, message), sealed);
        const inPlace = new Uint8Array(3 + message.byteLength + 16);
        inPlace.set(message, 3);
        node.sealInPlace(n, ad, inPlace, 3, message.byteLength);
        assert.deepEqual(inPlace.subarray(3), sealed);
        assert.deepEqual(node.open(n, ad, sealed), message);
        assert.deepEqual(noble.open(n, ad, sealed), message);
        const bad = sealed.slice();
        const at = flip % bad.byteLength;
        bad[at] = (bad[at] as number) ^ (1 << (flip % 8));
        assert.equal(node.open(n, ad, bad), null);
        assert.equal(noble.open(n, ad, bad), null);
        assert.equal(node.open(n, ad, sealed.subarray(0, 15)), null, 'shorter than a tag');
      }),
      { numRuns: 200 },
    );
  });

  test('property: SHA-256, HMAC-SHA256 and X25519 agree', () => {
    fc.assert(
      fc.property(key, key, fc.array(bytes, { maxLength: 4 }), (a, b, parts) => {
        assert.deepEqual(nodeCrypto.sha256(parts), nobleCrypto.sha256(parts));
        assert.deepEqual(nodeCrypto.hmacSha256(a, parts), nobleCrypto.hmacSha256(a, parts));
        const pubB = nobleCrypto.x25519PublicKey(b);
        assert.deepEqual(nodeCrypto.x25519PublicKey(b), pubB);
        assert.deepEqual(nodeCrypto.x25519(a, pubB), nobleCrypto.x25519(a, pubB));
      }),
      { numRuns: 100 },
    );
  });

  test('results are plain Uint8Arrays, so a slice() in core is a copy', () => {
    const k = new Uint8Array(32).fill(7);
    const outputs = [
      nodeCrypto.sha256([k]),
      nodeCrypto.hmacSha256(k, [k]),
      nodeCrypto
        .chacha20poly1305(k)
        .open(new Uint8Array(12), EMPTY, nodeCrypto.chacha20poly1305(k).seal(new Uint8Array(12), EMPTY, k)),
    ];
    for (const out of outputs) assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype);
  });
});

describe('records and failures with the node provider', () => {
  test('records sealed by one provider open with the other, across rekeys', () => {
    const key = new Uint8Array(32).map((_, i) => i * 3);
    const data = new Uint8Array(300_000).map((_, i) => i * 11);
    for (const [from, to] of [
      [nobleCrypto, nodeCrypto],
      [nodeCrypto, nobleCrypto],
    ] as const) {
      const sealer = new RecordSealer(new CipherState(key, from), 100_000);
      const stream = Buffer.concat(sealer.seal([data.subarray(0, 123_456), data.subarray(123_456)]));
      assert.ok(sealer.rekeys >= 2);
      const reader = new RecordReader();
      reader.setBounds(17, 0xffff, AbortCode.NOISE_RECORD_INVALID);
      reader.push(stream);
      const opener = new RecordOpener(new CipherState(key, to));
      const got: Uint8Array[] = [];
      for (let r = reader.next(); r !== null; r = reader.next()) {
        const d = opener.open(r);
        if (d !== null) got.push(d);
      }
      assert.deepEqual(new Uint8Array(Buffer.concat(got)), data, `${from.name} to ${to.name}`);
      assert.equal(opener.rekeys, sealer.rekeys);
    }
  });

  test('a record that fails authentication is ProtocolError(NOISE_RECORD_INVALID); the nonce does not move', () => {
    const key = new Uint8Array(32).fill(1);
    const sealed = new CipherState(key, nodeCrypto).encryptWithAd(EMPTY, Uint8Array.of(1, 2, 3));
    const receive = new CipherState(key, nodeCrypto);
    for (const bad of [Uint8Array.from(sealed, (b, i) => (i === 0 ? b ^ 1 : b)), sealed.subarray(0, 10)]) {
      assert.throws(
        () => receive.decryptWithAd(EMPTY, bad),
        (e) => e instanceof ProtocolError && e.wireCode === AbortCode.NOISE_RECORD_INVALID,
      );
      assert.equal(receive.nonce, 0);
    }
    assert.deepEqual(receive.decryptWithAd(EMPTY, sealed), Uint8Array.of(1, 2, 3));
  });

  test('a low-order peer key fails the handshake with NOISE_HANDSHAKE_FAILED', () => {
    const init = new HandshakeState({
      pattern: 'XX',
      initiator: true,
      prologue: EMPTY,
      staticKey: new Uint8Array(32).fill(5),
      ephemeralKey: new Uint8Array(32).fill(6),
      crypto: nodeCrypto,
    });
    init.writeMessage(EMPTY);
    // The responder's message 2 with an all-zero (low-order) ephemeral key and nothing else.
    assert.throws(
      () => init.readMessage(new Uint8Array(32 + 48 + 16)),
      (e) => e instanceof ProtocolError && e.wireCode === AbortCode.NOISE_HANDSHAKE_FAILED,
    );
  });
});

describe('sessions between a noble side and a node side over sockets', () => {
  for (const [serverCrypto, clientCrypto] of [
    ['noble', 'node'],
    ['node', 'noble'],
  ] as const) {
    test(`${clientCrypto} client, ${serverCrypto} server: XX and IK, 64 KiB messages across rekeys`, async (t) => {
      const keys = generateNoiseKeyPair();
      const limits = { noiseRekeyBytes: 32 * 1024 };
      const server = await startServer(t, { noise: { staticKey: keys.privateKey, crypto: serverCrypto }, limits });
      echoServer(server);
      const message = new Uint8Array(64 * 1024).map((_, i) => i * 13);
      for (const noise of [{ crypto: clientCrypto }, { crypto: clientCrypto, remoteStaticKey: keys.publicKey }]) {
        const client = track(t, connect(server.url, { noise, limits }));
        await within(client.ready, 5_000, 'ready');
        assert.equal(client.noisePattern, noise.remoteStaticKey ? 'IK' : 'XX');
        let echoed = 0;
        client.on('message', (m) => {
          assert.deepEqual(m, message);
          echoed++;
        });
        for (let i = 0; i < 4; i++) await client.send(message);
        await waitFor(() => echoed === 4, 10_000, 'echoes');
        await client.close();
      }
    });
  }

  test('an unknown noise.crypto is a usage error', () => {
    assert.throws(() => connect('tcp://127.0.0.1:1', { noise: { crypto: 'openssl' as 'node' } }), /noise\.crypto/);
  });
});
