/**
 * The native X25519 (node:crypto) the Node driver gives the core must agree byte for byte with
 * the portable one (@noble/curves), both ways, and refuse low-order keys as it does.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { nativeKeyAgreement } from '@liaison/node';
import { nobleKeyAgreement } from '@liaison/node/engine';

const random = (n: number) => new Uint8Array(randomBytes(n));

test('native and portable X25519 compute the same shared secret, in both directions', () => {
  for (let i = 0; i < 32; i++) {
    const native = nativeKeyAgreement.newKeyShare(random);
    const portable = nobleKeyAgreement.newKeyShare(random);
    assert.equal(native.publicKey.byteLength, 32);
    assert.deepEqual(
      nativeKeyAgreement.agree(native, portable.publicKey),
      nobleKeyAgreement.agree(portable, native.publicKey),
    );
  }
});

test('native X25519 refuses a low-order (all-zero) peer key and a key of the wrong size', () => {
  const mine = nativeKeyAgreement.newKeyShare(random);
  assert.throws(() => nativeKeyAgreement.agree(mine, new Uint8Array(32)));
  assert.throws(() => nativeKeyAgreement.agree(mine, new Uint8Array(31)));
});
