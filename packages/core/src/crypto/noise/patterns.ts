/**
 * The handshake patterns liaison speaks (Noise spec revision 34, section 7.5), as data: the
 * pre-message (what the initiator knows before the first message) and the message tokens, in order,
 * the first message written by the initiator.
 */

export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss';

export interface HandshakePattern {
  readonly name: 'XX' | 'IK';
  /** Whether the responder's static key is known to the initiator beforehand (`<- s`). */
  readonly responderStaticPremessage: boolean;
  readonly messages: readonly (readonly Token[])[];
}

/** XX: first contact; both static keys travel encrypted, the initiator's last. */
export const XX: HandshakePattern = {
  name: 'XX',
  responderStaticPremessage: false,
  messages: [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']],
};

/** IK: the initiator knows the responder's static key; one round trip. */
export const IK: HandshakePattern = {
  name: 'IK',
  responderStaticPremessage: true,
  messages: [
    ['e', 'es', 's', 'ss'],
    ['e', 'ee', 'se'],
  ],
};

export const PATTERNS = { XX, IK } as const;
export type PatternName = keyof typeof PATTERNS;

/** The full protocol name, hashed into the handshake (so both sides must agree on every choice). */
export function protocolName(pattern: PatternName): string {
  return `Noise_${pattern}_25519_ChaChaPoly_SHA256`;
}
