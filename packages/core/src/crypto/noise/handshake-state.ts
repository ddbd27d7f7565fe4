/**
 * The Noise HandshakeState (Noise spec revision 34, section 5.3) for the XX and IK patterns with
 * 25519, ChaChaPoly and SHA-256.
 *
 * Theory of operation
 * - Construction is Initialize(): the protocol name, then the prologue, then the pre-message keys
 *   are mixed into h. The ephemeral private key is passed in (the core reads no random source), so
 *   the same code runs the published test vectors and the live protocol.
 * - `writeMessage` and `readMessage` must alternate as the pattern says (the initiator writes
 *   first); calling the wrong one is a usage error. A message that fails to parse or authenticate
 *   throws ProtocolError(NOISE_HANDSHAKE_FAILED) and the handshake cannot continue.
 * - After the last message, `split()` gives the transport CipherStates and `handshakeHash` the
 *   value both sides share and nobody else can choose (used for channel binding).
 */
import { AbortCode, ErrorCode, ProtocolError, UsageError } from '../../errors.js';
import { type CryptoProvider, nobleCrypto } from '../provider.js';
import type { CipherState } from './cipher-state.js';
import { KEY_BYTES, TAG_BYTES } from './cipher-state.js';
import { type HandshakePattern, PATTERNS, type PatternName, protocolName } from './patterns.js';
import { SymmetricState } from './symmetric-state.js';

export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** A key pair from a 32-byte X25519 private key. */
export function keyPairFrom(privateKey: Uint8Array, crypto: CryptoProvider = nobleCrypto): KeyPair {
  if (privateKey.byteLength !== KEY_BYTES) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `an X25519 private key has ${KEY_BYTES} bytes`);
  }
  return { privateKey: privateKey.slice(), publicKey: crypto.x25519PublicKey(privateKey) };
}

export interface HandshakeOptions {
  pattern: PatternName;
  initiator: boolean;
  prologue: Uint8Array;
  /** This side's static private key. */
  staticKey: Uint8Array;
  /** This side's ephemeral private key: 32 fresh random bytes, never reused. */
  ephemeralKey: Uint8Array;
  /** The responder's static public key, known beforehand (IK initiator only). */
  remoteStaticKey?: Uint8Array;
  /** The primitives (default: @noble). */
  crypto?: CryptoProvider;
}

export interface TransportCiphers {
  send: CipherState;
  receive: CipherState;
}

export class HandshakeState {
  readonly pattern: HandshakePattern;
  readonly initiator: boolean;
  readonly #crypto: CryptoProvider;
  readonly #ss: SymmetricState;
  readonly #s: KeyPair;
  readonly #e: KeyPair;
  #rs: Uint8Array | null = null;
  #re: Uint8Array | null = null;
  #index = 0;
  #failed = false;

  constructor(o: HandshakeOptions) {
    this.pattern = PATTERNS[o.pattern];
    this.initiator = o.initiator;
    this.#crypto = o.crypto ?? nobleCrypto;
    this.#s = keyPairFrom(o.staticKey, this.#crypto);
    this.#e = keyPairFrom(o.ephemeralKey, this.#crypto);
    this.#ss = new SymmetricState(protocolName(o.pattern), this.#crypto);
    this.#ss.mixHash(o.prologue);
    if (this.pattern.responderStaticPremessage) {
      if (o.initiator) {
        if (o.remoteStaticKey?.byteLength !== KEY_BYTES) {
          throw new UsageError(ErrorCode.INVALID_ARGUMENT, `${o.pattern} needs the responder's 32-byte static key`);
        }
        this.#rs = o.remoteStaticKey.slice();
        this.#ss.mixHash(this.#rs);
      } else {
        this.#ss.mixHash(this.#s.publicKey);
      }
    }
  }

  get isComplete(): boolean {
    return this.#index === this.pattern.messages.length;
  }

  /** Whether the next message is this side's to write. */
  get isMyTurn(): boolean {
    return !this.isComplete && this.#index % 2 === (this.initiator ? 0 : 1);
  }

  /** The peer's static public key once it was received (or given beforehand), else null. */
  get remoteStaticKey(): Uint8Array | null {
    return this.#rs;
  }

  get localStaticKey(): Uint8Array {
    return this.#s.publicKey;
  }

  get handshakeHash(): Uint8Array {
    return this.#ss.handshakeHash;
  }

  /** WriteMessage(payload): the next handshake message. */
  writeMessage(payload: Uint8Array): Uint8Array {
    this.#checkTurn(true);
    const parts: Uint8Array[] = [];
    for (const token of this.pattern.messages[this.#index] as readonly string[]) {
      switch (token) {
        case 'e':
          parts.push(this.#e.publicKey);
          this.#ss.mixHash(this.#e.publicKey);
          break;
        case 's':
          parts.push(this.#ss.encryptAndHash(this.#s.publicKey));
          break;
        default:
          this.#mixDh(token);
      }
    }
    parts.push(this.#ss.encryptAndHash(payload));
    this.#index++;
    let total = 0;
    for (const p of parts) total += p.byteLength;
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }

  /**
   * ReadMessage(message): the payload of the peer's next handshake message.
   * @throws ProtocolError(NOISE_HANDSHAKE_FAILED) on a short, malformed or unauthenticated message.
   */
  readMessage(message: Uint8Array): Uint8Array {
    this.#checkTurn(false);
    try {
      let at = 0;
      const take = (n: number): Uint8Array => {
        if (message.byteLength - at < n) throw new Error('message too short');
        const part = message.subarray(at, at + n);
        at += n;
        return part;
      };
      for (const token of this.pattern.messages[this.#index] as readonly string[]) {
        switch (token) {
          case 'e':
            this.#re = take(KEY_BYTES).slice();
            this.#ss.mixHash(this.#re);
            break;
          case 's':
            this.#rs = this.#ss
              .decryptAndHash(take(this.#ss.cipher.hasKey() ? KEY_BYTES + TAG_BYTES : KEY_BYTES))
              .slice();
            break;
          default:
            this.#mixDh(token);
        }
      }
      const payload = this.#ss.decryptAndHash(message.subarray(at));
      this.#index++;
      return payload;
    } catch (cause) {
      this.#failed = true;
      const why = cause instanceof Error ? cause.message : String(cause);
      throw new ProtocolError(AbortCode.NOISE_HANDSHAKE_FAILED, `noise handshake failed: ${why}`, { cause });
    }
  }

  /** Split(): the transport ciphers of this side. Only after the last message. */
  split(): TransportCiphers {
    if (!this.isComplete) throw new UsageError(ErrorCode.INVALID_STATE, 'noise handshake not complete');
    const [c1, c2] = this.#ss.split();
    return this.initiator ? { send: c1, receive: c2 } : { send: c2, receive: c1 };
  }

  #checkTurn(writing: boolean): void {
    if (this.#failed) throw new UsageError(ErrorCode.INVALID_STATE, 'noise handshake already failed');
    if (this.isComplete) throw new UsageError(ErrorCode.INVALID_STATE, 'noise handshake already complete');
    if (this.isMyTurn !== writing) {
      throw new UsageError(ErrorCode.INVALID_STATE, `not this side's turn to ${writing ? 'write' : 'read'}`);
    }
  }

  #mixDh(token: string): void {
    const [mine, theirs] = this.#dhKeys(token);
    if (theirs === null) throw new Error(`no remote key for ${token}`);
    let shared: Uint8Array;
    try {
      shared = this.#crypto.x25519(mine, theirs);
      if (shared.every((b) => b === 0)) throw new Error('X25519 agreement with a low-order key');
    } catch (cause) {
      // A low-order peer key (an all-zero result): the peer's bytes, so a protocol error even
      // when it surfaces while this side writes its next message.
      this.#failed = true;
      throw new ProtocolError(AbortCode.NOISE_HANDSHAKE_FAILED, `noise handshake failed: bad peer key for ${token}`, {
        cause,
      });
    }
    this.#ss.mixKey(shared);
  }

  /** The spec's DH token rules: the first letter is the initiator's key, the second the responder's. */
  #dhKeys(token: string): [Uint8Array, Uint8Array | null] {
    const i = this.initiator;
    switch (token) {
      case 'ee':
        return [this.#e.privateKey, this.#re];
      case 'es':
        return i ? [this.#e.privateKey, this.#rs] : [this.#s.privateKey, this.#re];
      case 'se':
        return i ? [this.#s.privateKey, this.#re] : [this.#e.privateKey, this.#rs];
      case 'ss':
        return [this.#s.privateKey, this.#rs];
      default:
        throw new Error(`unknown token ${token}`);
    }
  }
}
