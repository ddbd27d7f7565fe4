/**
 * The preface variants that choose between a plaintext and a Noise-protected connection.
 *
 * Every connection starts with "LSN" and one byte. 0x01 is plaintext framing version 1 (wire/
 * frame.ts). 0x50 and 0x51 say that the initiator wants the whole connection inside Noise with
 * the pattern XX or IK and the suite 25519_ChaChaPoly_SHA256; a new pattern or suite gets a new
 * byte, never a negotiation, so there is nothing in flight an attacker could rewrite without the
 * handshake failing (both prefaces are in the Noise prologue).
 */
import type { PatternName } from './noise/patterns.js';

export const PREFACE_MAGIC = Uint8Array.of(0x4c, 0x53, 0x4e); // "LSN"
export const PREFACE_BYTES = 4;

export const NoiseVariant = {
  XX: 0x50,
  IK: 0x51,
} as const satisfies Record<PatternName, number>;

/** The preface of a Noise connection with this pattern. */
export function noisePreface(pattern: PatternName): Uint8Array {
  return Uint8Array.of(...PREFACE_MAGIC, NoiseVariant[pattern]);
}

/** The pattern a preface's variant byte names, or null when it is not a Noise variant. */
export function noiseVariantPattern(byte: number): PatternName | null {
  if (byte === NoiseVariant.XX) return 'XX';
  if (byte === NoiseVariant.IK) return 'IK';
  return null;
}

/** Mixed into every Noise handshake first: it names this protocol and its version. */
export const PROLOGUE_LABEL = Uint8Array.from('liaison noise v1', (c) => c.charCodeAt(0));
