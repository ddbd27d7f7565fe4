/**
 * The resume credentials' primitives on their own: key shares that agree, proofs that bind the
 * role, and the comparison of secrets. Written from the mutants that survived the session-level
 * tests (docs/TESTING.md, "Mutation testing"), which only see a resume accepted or refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { constantTimeEqual } from '@liaison/core';
import { newKeyShare, nobleKeyAgreement, type ProofInput, resumeProof } from '../dist/recovery/proof.js';
import { seededRandom } from './seeded-random.js';

const input: ProofInput = {
  sessionId: new Uint8Array(16).fill(1),
  challenge: new Uint8Array(16).fill(2),
  clientNonce: new Uint8Array(16).fill(3),
  received: 5,
  resendFrom: 7,
};

describe('resume proof', () => {
  test('two key shares agree on one secret', () => {
    const random = seededRandom(3);
    const mine = newKeyShare(random);
    const theirs = newKeyShare(random);
    assert.equal(mine.publicKey.byteLength, 32);
    const a = nobleKeyAgreement.agree(mine, theirs.publicKey);
    const b = nobleKeyAgreement.agree(theirs, mine.publicKey);
    assert.deepEqual(a, b);
    assert.ok(!constantTimeEqual(mine.publicKey, theirs.publicKey));
  });

  test("the initiator's proof is not the responder's, and each depends on the counts", () => {
    const key = new Uint8Array(32).fill(9);
    const request = resumeProof(key, 'initiator', input);
    const answer = resumeProof(key, 'responder', input);
    assert.equal(request.byteLength, 32);
    assert.ok(!constantTimeEqual(request, answer), 'a captured request cannot serve as the answer');
    assert.ok(constantTimeEqual(request, resumeProof(key, 'initiator', { ...input })), 'deterministic');
    assert.ok(!constantTimeEqual(request, resumeProof(key, 'initiator', { ...input, received: 6 })));
  });

  test('constantTimeEqual: equal bytes only, and never a prefix', () => {
    assert.ok(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])));
    assert.ok(!constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4])));
    assert.ok(!constantTimeEqual(new Uint8Array(2), new Uint8Array(3)), 'a zero prefix is not equal');
    assert.ok(!constantTimeEqual(new Uint8Array(3), new Uint8Array(2)));
    assert.ok(constantTimeEqual(new Uint8Array(0), new Uint8Array(0)));
  });
});
