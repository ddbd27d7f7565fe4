/**
 * The portable provider's composite pieces: Noise's HKDF built on HMAC is RFC 5869 HKDF with an
 * empty info (what the implementation used before the provider existed), and hashing parts is
 * hashing their concatenation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nobleCrypto, noiseHkdf } from '@liaison/core';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';

const bytes = fc.uint8Array({ maxLength: 200 });

test('property: noiseHkdf(ck, ikm) is RFC 5869 HKDF-SHA256 (salt ck, empty info), 64 bytes split in two', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), bytes, (ck, ikm) => {
      const expected = hkdf(sha256, ikm, ck, new Uint8Array(0), 64);
      const [a, b] = noiseHkdf(nobleCrypto, ck, ikm);
      assert.deepEqual(a, expected.subarray(0, 32));
      assert.deepEqual(b, expected.subarray(32));
    }),
  );
});

test('property: sha256 of parts is the hash of their concatenation', () => {
  fc.assert(
    fc.property(fc.array(bytes, { maxLength: 5 }), (parts) => {
      const joined = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
      let at = 0;
      for (const p of parts) {
        joined.set(p, at);
        at += p.byteLength;
      }
      assert.deepEqual(nobleCrypto.sha256(parts), sha256(joined));
    }),
  );
});

test('noble open refuses a short or tampered ciphertext with null', () => {
  const aead = nobleCrypto.chacha20poly1305(new Uint8Array(32).fill(9));
  const nonce = new Uint8Array(12);
  const sealed = aead.seal(nonce, Uint8Array.of(1), Uint8Array.of(2, 3));
  assert.deepEqual(aead.open(nonce, Uint8Array.of(1), sealed), Uint8Array.of(2, 3));
  assert.equal(aead.open(nonce, Uint8Array.of(0), sealed), null, 'other associated data');
  assert.equal(aead.open(nonce, Uint8Array.of(1), sealed.subarray(0, 15)), null);
});
