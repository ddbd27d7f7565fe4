/**
 * A Connection inside Noise: session-level encryption that does not depend on the transport.
 *
 * Theory of operation
 * - SecureConnection wraps a fresh core Connection and offers the driver the same inputs and
 *   outputs (handle*, poll*, close). Under it is the byte stream of the transport; above it the
 *   inner Connection sees the plaintext byte stream it always sees, preface included, so sessions,
 *   recovery and flow control are the same code with and without encryption.
 * - The initiator opens with a Noise preface ("LSN" 0x50 for XX, 0x51 for IK) and its first
 *   handshake message; the responder echoes the preface and answers. Handshake messages and,
 *   after them, transport messages travel as length-prefixed records (records.ts). The prologue
 *   is a label and both prefaces, so a rewritten preface (a stripped or changed pattern) makes
 *   the handshake fail. Nothing is ever negotiated down: an initiator that asked for Noise closes
 *   with NOISE_DOWNGRADE on any other answer; a responder that requires Noise answers a plaintext
 *   preface with a plaintext CONNECTION_CLOSE (NOISE_REQUIRED) and nothing else.
 * - Once the handshake is complete the inner Connection is bound to its handshake hash
 *   (Connection.bindChannel: resume keys and resume proofs depend on it) and only then learns that
 *   its transport is up. Every byte it writes leaves in sealed records; every record received is
 *   opened before its bytes reach it.
 * - Any failure (a handshake message or record that does not authenticate or parse, a handshake
 *   not complete within handshakeTimeoutMs, a pinned key that does not match) ends the connection
 *   at once with its reason, as a broken transport would: resumable sessions are suspended (a
 *   tampering attacker can cut a connection, never inject into it) and the rest end.
 * - It never reads a clock or a random source: `now` is passed in, random bytes come from the
 *   injected RandomSource (one ephemeral key per connection).
 */
import type { Connection } from '../connection/connection.js';
import { AbortCode, ErrorCode, ProtocolError, UsageError } from '../errors.js';
import { constantTimeEqual, type RandomSource } from '../recovery/proof.js';
import type { ConnectionEvent } from '../session/events.js';
import { concatBytes } from '../wire/bytes.js';
import { FRAMING_VERSION } from '../wire/frame.js';
import { KEY_BYTES, TAG_BYTES } from './noise/cipher-state.js';
import { HandshakeState, keyPairFrom } from './noise/handshake-state.js';
import type { PatternName } from './noise/patterns.js';
import { noisePreface, noiseVariantPattern, PREFACE_BYTES, PREFACE_MAGIC, PROLOGUE_LABEL } from './preface.js';
import type { CryptoProvider } from './provider.js';
import {
  HANDSHAKE_RECORD_BYTES_MAX,
  handshakeRecord,
  RECORD_BODY_BYTES_MAX,
  RecordOpener,
  RecordReader,
  RecordSealer,
} from './records.js';

export interface NoiseConfig {
  /**
   * This side's static X25519 private key (32 bytes). Required for a responder. An initiator
   * without one uses a fresh key per connection (it stays anonymous to the responder).
   */
  staticKey?: Uint8Array;
  /**
   * Initiator: the responder's static public key, pinned. With it the handshake is IK (one round
   * trip, and only the holder of that key can answer); with `pattern: 'XX'` it is checked when it
   * arrives. Without it the handshake is XX and the key is reported (`remoteStaticKey`) for
   * trust on first use.
   */
  remoteStaticKey?: Uint8Array;
  /** Initiator: the pattern, when not the default (IK with remoteStaticKey, else XX). */
  pattern?: PatternName;
  /** Responder: refuse plaintext connections (default true). An initiator never falls back. */
  require?: boolean;
  /** The primitives (provider.ts): default @noble; a platform passes its native ones. */
  crypto?: CryptoProvider;
}

export interface SecureConnectionOptions extends NoiseConfig {
  /** A fresh Connection whose transport is not up yet. */
  connection: Connection;
  /** Cryptographically strong random bytes (ephemeral keys). */
  random: RandomSource;
}

type State =
  | { name: 'idle' }
  /** Responder: reading the initiator's preface. */
  | { name: 'preface'; deadline: number; seen: Uint8Array; fill: number }
  | { name: 'handshake'; deadline: number; hs: HandshakeState; prefaceFill: number }
  | { name: 'transport'; sealer: RecordSealer; opener: RecordOpener }
  /** Responder that allows plaintext: the bytes go straight through. */
  | { name: 'plaintext' }
  | { name: 'closed' };

export class SecureConnection {
  readonly connection: Connection;
  readonly #random: RandomSource;
  readonly #staticKey: Uint8Array;
  readonly #localStaticKey: Uint8Array;
  readonly #pinned: Uint8Array | null;
  readonly #initiatorPattern: PatternName;
  readonly #require: boolean;
  readonly #crypto: CryptoProvider | undefined;
  readonly #reader = new RecordReader();
  #state: State = { name: 'idle' };
  #out: Uint8Array[] = [];
  #pattern: PatternName | null = null;
  #remoteStaticKey: Uint8Array | null = null;
  #handshakeHash: Uint8Array | null = null;
  #rekeysSent = 0;
  #rekeysReceived = 0;

  /** @throws UsageError on a missing or malformed key, or a transport already up. */
  constructor(o: SecureConnectionOptions) {
    this.connection = o.connection;
    if (o.connection.isOpen || o.connection.isClosed) {
      throw new UsageError(ErrorCode.INVALID_STATE, 'a secure connection wraps a fresh connection');
    }
    const initiator = o.connection.role === 'initiator';
    if (!initiator && !o.staticKey)
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'a noise responder needs a static key');
    this.#random = o.random;
    this.#crypto = o.crypto;
    this.#staticKey = o.staticKey ? checkKey(o.staticKey, 'staticKey') : o.random(KEY_BYTES);
    this.#localStaticKey = keyPairFrom(this.#staticKey, o.crypto).publicKey;
    this.#pinned = o.remoteStaticKey ? checkKey(o.remoteStaticKey, 'remoteStaticKey') : null;
    this.#initiatorPattern = o.pattern ?? (this.#pinned ? 'IK' : 'XX');
    if (initiator && this.#initiatorPattern === 'IK' && !this.#pinned) {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'IK needs the responder static key (remoteStaticKey)');
    }
    this.#require = o.require ?? true;
  }

  /** The handshake pattern used, once the handshake is complete (null on plaintext). */
  get pattern(): PatternName | null {
    return this.#handshakeHash ? this.#pattern : null;
  }

  /** The peer's static public key, once the handshake is complete. */
  get remoteStaticKey(): Uint8Array | null {
    return this.#handshakeHash ? this.#remoteStaticKey : null;
  }

  get localStaticKey(): Uint8Array {
    return this.#localStaticKey;
  }

  /** The Noise handshake hash (the channel binding), once the handshake is complete. */
  get handshakeHash(): Uint8Array | null {
    return this.#handshakeHash;
  }

  /** Whether the connection runs inside Noise (false before the handshake and on plaintext). */
  get isEncrypted(): boolean {
    return this.#handshakeHash !== null;
  }

  /** REKEY records sent and received so far. */
  get rekeys(): { sent: number; received: number } {
    const s = this.#state;
    return s.name === 'transport'
      ? { sent: s.sealer.rekeys, received: s.opener.rekeys }
      : { sent: this.#rekeysSent, received: this.#rekeysReceived };
  }

  get isOpen(): boolean {
    const s = this.#state.name;
    return (s === 'transport' || s === 'plaintext') && this.connection.isOpen;
  }

  get isClosed(): boolean {
    return this.#state.name === 'closed' || this.connection.isClosed;
  }

  get sessionCount(): number {
    return this.connection.sessionCount;
  }

  // ---------------------------------------------------------------- inputs

  handleTransportUp(now: number): void {
    if (this.#state.name !== 'idle') throw new UsageError(ErrorCode.INVALID_STATE, 'transport already up');
    const deadline = now + this.connection.limits.handshakeTimeoutMs;
    if (this.connection.role === 'responder') {
      this.#state = { name: 'preface', deadline, seen: new Uint8Array(PREFACE_BYTES), fill: 0 };
      return;
    }
    const pattern = this.#initiatorPattern;
    const preface = noisePreface(pattern);
    const hs = this.#handshake(pattern, true, preface);
    this.#state = { name: 'handshake', deadline, hs, prefaceFill: 0 };
    this.#out.push(preface, handshakeRecord(hs.writeMessage(EMPTY)));
  }

  /** Bytes from the transport, split anywhere. Never throws for anything the peer sent. */
  handleBytes(now: number, bytes: Uint8Array): void {
    try {
      this.#receive(now, bytes);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.#fail(now, e.wireCode, e.message);
    }
  }

  handleTimeout(now: number): void {
    const s = this.#state;
    if ((s.name === 'preface' || s.name === 'handshake') && now >= s.deadline) {
      const ms = this.connection.limits.handshakeTimeoutMs;
      this.#fail(now, AbortCode.HANDSHAKE_TIMEOUT, `noise handshake not complete within ${ms} ms`);
      return;
    }
    this.connection.handleTimeout(now);
  }

  handleTransportDown(now: number, message = 'transport closed'): void {
    const s = this.#state;
    this.#state = { name: 'closed' };
    this.#out = [];
    const during = s.name === 'preface' || s.name === 'handshake' ? ' during the noise handshake' : '';
    this.connection.handleTransportDown(now, `${message}${during}`);
  }

  /** Closes the connection and every session on it (the peer is told when the channel is up). */
  close(now: number, code: AbortCode = AbortCode.SHUTDOWN, message = 'connection closed'): void {
    const s = this.#state.name;
    if (s !== 'transport' && s !== 'plaintext') {
      this.#state = { name: 'closed' };
      this.#out = [];
    }
    this.connection.close(now, code, message);
  }

  // ---------------------------------------------------------------- outputs

  pollTransmit(): Uint8Array | null {
    const segments = this.pollTransmitSegments();
    if (segments === null) return null;
    return segments.length === 1 ? (segments[0] as Uint8Array) : concatBytes(segments);
  }

  pollTransmitSegments(): Uint8Array[] | null {
    const s = this.#state;
    if (s.name === 'plaintext') return this.connection.pollTransmitSegments();
    let out: Uint8Array[] | null = null;
    if (this.#out.length > 0) {
      out = this.#out;
      this.#out = [];
    }
    if (s.name === 'transport') {
      const plain = this.connection.pollTransmitSegments();
      if (plain !== null) {
        const sealed = s.sealer.seal(plain);
        if (out === null) out = sealed;
        else for (const r of sealed) out.push(r);
      }
    }
    return out;
  }

  pollEvent(): ConnectionEvent | null {
    return this.connection.pollEvent();
  }

  pollTimeout(): number | null {
    const s = this.#state;
    const inner = this.connection.pollTimeout();
    if (s.name === 'preface' || s.name === 'handshake')
      return inner === null ? s.deadline : Math.min(inner, s.deadline);
    return inner;
  }

  // ---------------------------------------------------------------- internals

  #receive(now: number, bytes: Uint8Array): void {
    let s = this.#state;
    let rest = bytes;
    if (s.name === 'plaintext') return this.connection.handleBytes(now, bytes);
    if (s.name === 'preface') {
      const n = Math.min(PREFACE_BYTES - s.fill, rest.byteLength);
      s.seen.set(rest.subarray(0, n), s.fill);
      s.fill += n;
      rest = rest.subarray(n);
      if (s.fill < PREFACE_BYTES) return;
      this.#answerPreface(now, s.seen, s.deadline);
      if (this.#state.name === 'plaintext') {
        this.connection.handleBytes(now, concatBytes([s.seen, rest]));
        return;
      }
      s = this.#state;
    }
    if (s.name === 'handshake' && s.hs.initiator && s.prefaceFill < PREFACE_BYTES) {
      rest = this.#checkAnswer(s, rest);
      if (s.prefaceFill < PREFACE_BYTES) return;
    }
    if (s.name !== 'handshake' && s.name !== 'transport') return;
    this.#reader.push(rest);
    for (let record = this.#reader.next(); record !== null; record = this.#reader.next()) {
      const state = this.#state;
      if (state.name === 'handshake') {
        const payload = state.hs.readMessage(record.body);
        if (payload.byteLength !== 0) {
          throw new ProtocolError(AbortCode.NOISE_HANDSHAKE_FAILED, 'noise handshake payload must be empty');
        }
        if (state.hs.isMyTurn) this.#out.push(handshakeRecord(state.hs.writeMessage(EMPTY)));
        if (state.hs.isComplete) this.#establish(now, state.hs);
      } else if (state.name === 'transport') {
        const data = state.opener.open(record);
        if (data !== null) this.connection.handleBytes(now, data);
        if (this.connection.isClosed) return;
      } else {
        return;
      }
    }
  }

  /** Responder: the initiator's preface decides plaintext, refusal or which handshake. */
  #answerPreface(now: number, preface: Uint8Array, deadline: number): void {
    const magic = preface[0] === PREFACE_MAGIC[0] && preface[1] === PREFACE_MAGIC[1] && preface[2] === PREFACE_MAGIC[2];
    const pattern = magic ? noiseVariantPattern(preface[3] as number) : null;
    if (pattern === null) {
      this.#state = { name: 'plaintext' };
      this.connection.handleTransportUp(now);
      if (this.#require) {
        // Told in the only language a plaintext peer understands, and nothing else is sent.
        const why =
          magic && preface[3] === FRAMING_VERSION
            ? 'this server requires noise encryption'
            : 'this server requires noise encryption (unknown preface)';
        this.connection.close(now, AbortCode.NOISE_REQUIRED, why);
      }
      return;
    }
    const hs = this.#handshake(pattern, false, preface.slice());
    this.#state = { name: 'handshake', deadline, hs, prefaceFill: PREFACE_BYTES };
    this.#out.push(preface.slice());
  }

  /** Initiator: the responder must echo our preface exactly; anything else is a downgrade. */
  #checkAnswer(s: Extract<State, { name: 'handshake' }>, bytes: Uint8Array): Uint8Array {
    const expected = noisePreface(s.hs.pattern.name);
    let at = 0;
    while (s.prefaceFill < PREFACE_BYTES && at < bytes.byteLength) {
      const i = s.prefaceFill++;
      const byte = bytes[at++] as number;
      if (byte === expected[i]) continue;
      if (i < PREFACE_MAGIC.byteLength) {
        throw new ProtocolError(AbortCode.BAD_PREFACE, 'the peer does not speak the liaison protocol (bad preface)');
      }
      const what =
        byte === FRAMING_VERSION
          ? 'the server answered in plaintext'
          : noiseVariantPattern(byte)
            ? `the server answered noise ${noiseVariantPattern(byte)} to ${s.hs.pattern.name}`
            : `the server answered preface variant ${byte}`;
      throw new ProtocolError(
        AbortCode.NOISE_DOWNGRADE,
        `${what}: refusing to continue without the noise channel asked for`,
      );
    }
    return bytes.subarray(at);
  }

  #handshake(pattern: PatternName, initiator: boolean, preface: Uint8Array): HandshakeState {
    this.#pattern = pattern;
    this.#reader.setBounds(0, HANDSHAKE_RECORD_BYTES_MAX, AbortCode.NOISE_HANDSHAKE_FAILED);
    return new HandshakeState({
      pattern,
      initiator,
      // Both prefaces: the responder's is the echo of the initiator's, so either side knows both.
      prologue: concatBytes([PROLOGUE_LABEL, preface, preface]),
      staticKey: this.#staticKey,
      ephemeralKey: this.#random(KEY_BYTES),
      ...(initiator && this.#pinned ? { remoteStaticKey: this.#pinned } : {}),
      ...(this.#crypto ? { crypto: this.#crypto } : {}),
    });
  }

  #establish(now: number, hs: HandshakeState): void {
    const remote = hs.remoteStaticKey as Uint8Array;
    if (hs.initiator && this.#pinned && !constantTimeEqual(remote, this.#pinned)) {
      throw new ProtocolError(AbortCode.NOISE_PEER_KEY_MISMATCH, 'the server static key is not the pinned one');
    }
    const { send, receive } = hs.split();
    this.#remoteStaticKey = remote.slice();
    this.#handshakeHash = hs.handshakeHash.slice();
    this.#reader.setBounds(1 + TAG_BYTES, RECORD_BODY_BYTES_MAX, AbortCode.NOISE_RECORD_INVALID);
    this.#state = {
      name: 'transport',
      sealer: new RecordSealer(send, this.connection.limits.noiseRekeyBytes),
      opener: new RecordOpener(receive),
    };
    this.connection.bindChannel(this.#handshakeHash);
    this.connection.handleTransportUp(now);
  }

  #fail(now: number, code: AbortCode, message: string): void {
    const s = this.#state;
    if (s.name === 'closed') return;
    if (s.name === 'transport') {
      this.#rekeysSent = s.sealer.rekeys;
      this.#rekeysReceived = s.opener.rekeys;
    }
    this.#state = { name: 'closed' };
    this.#out = [];
    this.connection.handleTransportDown(now, message, code);
  }
}

function checkKey(key: Uint8Array, name: string): Uint8Array {
  if (!(key instanceof Uint8Array) || key.byteLength !== KEY_BYTES) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `${name} must be ${KEY_BYTES} bytes`);
  }
  return key.slice();
}

const EMPTY = new Uint8Array(0);
