/**
 * A session's resume credentials (its id and the key agreed at establishment) and the proofs
 * each step of a resume makes with them (recovery/proof.ts has the construction; PROTOCOL 16.4
 * and 16.11 the layouts). Every check is a constant-time comparison.
 */
import { AbortCode, ProtocolError } from '../errors.js';
import { constantTimeEqual, type ProofRole, resumeKeyFrom, resumeProof, SESSION_ID_BYTES } from '../recovery/proof.js';
import { type Extension, ExtensionId } from '../wire/frame.js';

/** What one resume attempt binds every proof to. */
export interface Attempt {
  challenge: Uint8Array;
  clientNonce: Uint8Array;
  resendFrom: number;
}

/**
 * The id and the key share one 48-byte buffer: a typed array costs more than its bytes, and a
 * server holds one of these per session.
 */
export class ResumeCredentials {
  readonly #bytes: Uint8Array;
  /** How long the responder keeps this session suspended (from ACCEPT), if it said. */
  readonly resumeWindowMs: number | null;

  constructor(sessionId: Uint8Array, key: Uint8Array, resumeWindowMs: number | null) {
    this.#bytes = new Uint8Array(SESSION_ID_BYTES + key.byteLength);
    this.#bytes.set(sessionId, 0);
    this.#bytes.set(key, SESSION_ID_BYTES);
    this.resumeWindowMs = resumeWindowMs;
  }

  /**
   * Initiator: the credentials an ACCEPT offers (null when the responder offers no recovery).
   * `agree` is the connection's X25519 agreement of our share with the peer's key.
   * @throws ProtocolError on a malformed id or an unusable key share.
   */
  static fromAccept(extensions: Extension[], agree: (peerKey: Uint8Array) => Uint8Array): ResumeCredentials | null {
    const peerKey = extensions.find((e) => e.id === ExtensionId.KEY_SHARE)?.value;
    const sessionId = extensions.find((e) => e.id === ExtensionId.SESSION_ID)?.value;
    const resumeWindow = extensions.find((e) => e.id === ExtensionId.RESUME_WINDOW)?.value;
    if (!peerKey || !sessionId) return null;
    if (sessionId.byteLength !== SESSION_ID_BYTES) {
      throw new ProtocolError(AbortCode.MALFORMED_FRAME, 'session id extension of the wrong size');
    }
    let key: Uint8Array;
    try {
      key = resumeKeyFrom(agree(peerKey), sessionId);
    } catch (cause) {
      throw new ProtocolError(AbortCode.PROTOCOL_ERROR, 'unusable key share from the peer', { cause });
    }
    const resumeWindowMs =
      resumeWindow?.byteLength === 4
        ? new DataView(resumeWindow.buffer, resumeWindow.byteOffset, 4).getUint32(0)
        : null;
    return new ResumeCredentials(sessionId, key, resumeWindowMs);
  }

  get sessionId(): Uint8Array {
    return this.#bytes.subarray(0, SESSION_ID_BYTES);
  }

  get key(): Uint8Array {
    return this.#bytes.subarray(SESSION_ID_BYTES);
  }

  /** The proof `role` makes of `received` in this attempt. */
  proof(role: ProofRole, attempt: Attempt, received: number): Uint8Array {
    return resumeProof(this.key, role, {
      sessionId: this.sessionId,
      challenge: attempt.challenge,
      clientNonce: attempt.clientNonce,
      received,
      resendFrom: attempt.resendFrom,
    });
  }

  /** Whether `proof` is the one `role` would make of `received` in this attempt. */
  proves(role: ProofRole, attempt: Attempt, received: number, proof: Uint8Array): boolean {
    return constantTimeEqual(this.proof(role, attempt, received), proof);
  }
}
