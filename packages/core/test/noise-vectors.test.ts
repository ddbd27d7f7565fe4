/**
 * The Noise implementation against the published test vectors (test/fixtures/noise-vectors.json,
 * from cacophony and snow): every handshake message, every transport message after it and the
 * handshake hash where given, byte for byte, in both roles.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type CipherState, HandshakeState } from '@liaison/core';

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

const file = JSON.parse(readFileSync(new URL('../test/fixtures/noise-vectors.json', import.meta.url), 'utf8')) as {
  source: string;
  vectors: Vector[];
};

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('the fixture holds the XX and IK vectors of both sources', () => {
  assert.match(file.source, /cacophony/);
  const kinds = new Set(file.vectors.map((v) => `${v.origin} ${v.protocol_name}`));
  for (const origin of ['cacophony.json', 'snow.json'])
    for (const p of ['XX', 'IK']) assert.ok(kinds.has(`${origin} Noise_${p}_25519_ChaChaPoly_SHA256`));
});

for (const v of file.vectors) {
  test(`${v.origin}: ${v.protocol_name}`, () => {
    const pattern = v.protocol_name.split('_')[1] as 'XX' | 'IK';
    const init = new HandshakeState({
      pattern,
      initiator: true,
      prologue: hex(v.init_prologue),
      staticKey: hex(v.init_static),
      ephemeralKey: hex(v.init_ephemeral),
      ...(v.init_remote_static ? { remoteStaticKey: hex(v.init_remote_static) } : {}),
    });
    const resp = new HandshakeState({
      pattern,
      initiator: false,
      prologue: hex(v.resp_prologue),
      staticKey: hex(v.resp_static),
      ephemeralKey: hex(v.resp_ephemeral),
    });
    const handshakeLength = init.pattern.messages.length;
    let initCiphers: { send: CipherState; receive: CipherState } | null = null;
    let respCiphers: { send: CipherState; receive: CipherState } | null = null;
    v.messages.forEach((m, i) => {
      const fromInitiator = i % 2 === 0;
      const payload = hex(m.payload);
      if (i < handshakeLength) {
        const [writer, reader] = fromInitiator ? [init, resp] : [resp, init];
        assert.equal(toHex(writer.writeMessage(payload)), m.ciphertext, `handshake message ${i}`);
        assert.equal(toHex(reader.readMessage(hex(m.ciphertext))), m.payload, `handshake payload ${i}`);
        if (i === handshakeLength - 1) {
          assert.ok(init.isComplete && resp.isComplete);
          assert.deepEqual(init.handshakeHash, resp.handshakeHash);
          if (v.handshake_hash) assert.equal(toHex(init.handshakeHash), v.handshake_hash);
          assert.deepEqual(init.remoteStaticKey, resp.localStaticKey);
          assert.deepEqual(resp.remoteStaticKey, init.localStaticKey);
          initCiphers = init.split();
          respCiphers = resp.split();
        }
        return;
      }
      assert.ok(initCiphers && respCiphers);
      const [send, receive] = fromInitiator
        ? [(initCiphers as { send: CipherState }).send, (respCiphers as { receive: CipherState }).receive]
        : [(respCiphers as { send: CipherState }).send, (initCiphers as { receive: CipherState }).receive];
      const empty = new Uint8Array(0);
      assert.equal(toHex(send.encryptWithAd(empty, payload)), m.ciphertext, `transport message ${i}`);
      assert.equal(toHex(receive.decryptWithAd(empty, hex(m.ciphertext))), m.payload, `transport payload ${i}`);
    });
  });
}
