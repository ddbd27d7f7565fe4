/**
 * Resume credentials: a key agreed at establishment and the proofs that use it.
 *
 * At establishment each side sends an ephemeral X25519 public key (extension KEY_SHARE); the
 * responder also names the session (SESSION_ID, 16 random bytes). Both derive
 *   resumeKey = HKDF-SHA256(ikm = X25519 shared secret, salt = session id, info = "liaison resume v1")
 * so only the two original parties know it: the session id alone is never enough to resume.
 * A resume proves knowledge of the key over a fresh challenge that the responder sends on every
 * new connection, so a captured resume cannot be replayed on another connection:
 *   proof = HMAC-SHA256(resumeKey, label || session id || challenge || client nonce || counts)
 * with distinct labels for the initiator's request and the responder's answer (mutual proof).
 * Primitives come from @noble (audited); randomness is passed in, never read here.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes } from '../wire/bytes.js';

export const KEY_BYTES = 32;
export const SESSION_ID_BYTES = 16;
export const NONCE_BYTES = 16;
export const PROOF_BYTES = 32;

/** A source of cryptographically strong random bytes, supplied by the platform (or a seeded simulator). */
export type RandomSource = (bytes: number) => Uint8Array;

export interface KeyShare {
  /** Opaque to the core: whatever the KeyAgreement that made it needs (bytes, a platform key handle). */
  secret: unknown;
  publicKey: Uint8Array;
}

/**
 * X25519 for the resume key agreement, supplied by the platform where it has a native one
 * (node:crypto, about a hundred times faster than pure JavaScript); @noble/curves otherwise.
 */
export interface KeyAgreement {
  newKeyShare(random: RandomSource): KeyShare;
  /** @throws on a malformed or low-order peer key. */
  agree(mine: KeyShare, peerPublicKey: Uint8Array): Uint8Array;
}

/** The portable implementation (audited @noble/curves), used where no platform one is given. */
export const nobleKeyAgreement: KeyAgreement = {
  newKeyShare(random) {
    const secret = random(KEY_BYTES);
    return { secret, publicKey: x25519.getPublicKey(secret) };
  },
  agree(mine, peerPublicKey) {
    return x25519.getSharedSecret(mine.secret as Uint8Array, peerPublicKey);
  },
};

export function newKeyShare(random: RandomSource): KeyShare {
  return nobleKeyAgreement.newKeyShare(random);
}

/**
 * A session's resume key from the connection's X25519 shared secret: the session id is the HKDF
 * salt, so a connection agrees once and every session on it still gets a key of its own.
 */
export function resumeKeyFrom(shared: Uint8Array, sessionId: Uint8Array): Uint8Array {
  return hkdf(sha256, shared, sessionId, LABEL_KEY, KEY_BYTES);
}

export interface ProofInput {
  sessionId: Uint8Array;
  challenge: Uint8Array;
  clientNonce: Uint8Array;
  received: number;
  resendFrom: number;
}

/**
 * Who proves: the initiator's RESUME, the responder's RESUMED, or the responder's tombstone of a
 * session that has ended, answering a late RESUME with the session's final received count.
 */
export type ProofRole = 'initiator' | 'responder' | 'final';

export function resumeProof(key: Uint8Array, role: ProofRole, p: ProofInput): Uint8Array {
  const counts = new Uint8Array(16);
  const view = new DataView(counts.buffer);
  view.setFloat64(0, p.received);
  view.setFloat64(8, p.resendFrom);
  const label = role === 'initiator' ? LABEL_REQUEST : role === 'responder' ? LABEL_ANSWER : LABEL_FINAL;
  return hmac(sha256, key, concatBytes([label, p.sessionId, p.challenge, p.clientNonce, counts]));
}

/**
 * The connection's X25519 secret bound to its secure channel: HKDF-Extract(salt = the Noise
 * handshake hash, ikm = shared), so a session's resume key depends on the handshake of the
 * connection that established it. Unchanged on a plaintext connection (binding null).
 */
export function bindSecret(shared: Uint8Array, binding: Uint8Array | null): Uint8Array {
  return binding === null ? shared : hmac(sha256, binding, shared);
}

/**
 * The challenge a resume proof covers: the responder's nonce, followed on a secure connection by
 * that connection's handshake hash (channel binding), so a proof made for one secure channel
 * fails on any other even where the nonce were the same.
 */
export function bindChallenge(challenge: Uint8Array, binding: Uint8Array | null): Uint8Array {
  return binding === null ? challenge : concatBytes([challenge, binding]);
}

/** Compares secrets in time independent of where they differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const LABEL_KEY = ascii('liaison resume v1');
const LABEL_REQUEST = ascii('liaison resume request');
const LABEL_ANSWER = ascii('liaison resume answer');
const LABEL_FINAL = ascii('liaison resume final');
