/**
 * Credentials carried at establishment (docs/PROTOCOL.md 5.18). The core only carries them: the
 * initiator appends them to its CONNECT, the responder hands them, with the connection's
 * CHALLENGE, to its application, which decides. Verifying a token or a key is the endpoint's job
 * (it has the clock, the key files and the platform's crypto).
 *
 * A pre-shared key never travels: the initiator proves it holds it with an HMAC over
 * `pskProofInput`, which binds the proof to this connection's challenge (so a recorded proof is
 * useless on any other connection), to the channel, to the offered protocol versions and units (so
 * a changed offer, a downgrade, fails the proof) and to its resume key share. The responder answers
 * with an HMAC over `pskAnswerInput`, chained to that proof and covering the agreed version and
 * units and its own key share and session id: both ends then know the other holds the key and
 * that nobody in the middle changed the agreement or the resume key exchange.
 */
import { ErrorCode, UsageError } from '../errors.js';
import { type ConnectFrame, type Extension, ExtensionId } from '../wire/frame.js';

/** The extension ids of authentication (the auth part of the security range 0x10-0x2F). */
export const AUTH_EXTENSION_ID_MIN = 0x18;
export const AUTH_EXTENSION_ID_MAX = 0x2f;
/** At most this many credential extensions per CONNECT, ACCEPT or renewal, each at most CREDENTIAL_BYTES_MAX. */
export const CREDENTIAL_EXTENSIONS_MAX = 4;
export const CREDENTIAL_BYTES_MAX = 16 * 1024;
/** The PSK proof and answer: HMAC-SHA256, 32 bytes. */
export const PSK_PROOF_BYTES = 32;

/**
 * Credentials for a connect request: fixed extensions, or a function of the connection's
 * CHALLENGE (a PSK proof), in which case the CONNECT waits for the CHALLENGE.
 */
export type Credentials = Extension[] | ((challenge: Uint8Array, connect: ConnectFrame) => Extension[]);

/** What a PSK proof covers of the CONNECT. */
export interface PskOffer {
  channel: number;
  versionMin: number;
  versionMax: number;
  units: number;
  /** The CONNECT's KEY_SHARE (the initiator's X25519 public key), or null without recovery. */
  keyShare: Uint8Array | null;
}

/** What a PSK answer covers of the ACCEPT: the recovery values the responder put in it (null when none). */
export interface PskBinding {
  keyShare: Uint8Array | null;
  sessionId: Uint8Array | null;
}

/** @throws UsageError for ids outside the auth range, too many entries or one too large. */
export function checkCredentials(extensions: readonly Extension[]): void {
  if (extensions.length > CREDENTIAL_EXTENSIONS_MAX) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `at most ${CREDENTIAL_EXTENSIONS_MAX} credential extensions`);
  }
  for (const e of extensions) {
    if (!Number.isInteger(e.id) || e.id < AUTH_EXTENSION_ID_MIN || e.id > AUTH_EXTENSION_ID_MAX) {
      throw new UsageError(
        ErrorCode.INVALID_ARGUMENT,
        `credential extension id ${e.id} is outside ${AUTH_EXTENSION_ID_MIN}..${AUTH_EXTENSION_ID_MAX}`,
      );
    }
    if (e.value.byteLength > CREDENTIAL_BYTES_MAX) {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, `a credential holds at most ${CREDENTIAL_BYTES_MAX} bytes`);
    }
  }
}

/** The credential extensions of a CONNECT or ACCEPT (ids in the auth range), in order. */
export function credentialsOf(extensions: readonly Extension[]): Extension[] {
  return extensions.filter((e) => e.id >= AUTH_EXTENSION_ID_MIN && e.id <= AUTH_EXTENSION_ID_MAX);
}

/** The value of the first extension with `id`, or null. */
export function extensionValue(extensions: readonly Extension[], id: number): Uint8Array | null {
  return extensions.find((e) => e.id === id)?.value ?? null;
}

/** What a CONNECT offers, as a PSK proof covers it. */
export function pskOfferOf(connect: ConnectFrame): PskOffer {
  const { channel, versionMin, versionMax, units } = connect;
  return {
    channel,
    versionMin,
    versionMax,
    units,
    keyShare: extensionValue(connect.extensions, ExtensionId.KEY_SHARE),
  };
}

/**
 * What a PSK proof is the HMAC-SHA256 of (key = the pre-shared key):
 * "liaison psk v1" ‖ challenge (16) ‖ u32 channel ‖ u8 versionMin ‖ u8 versionMax ‖ u16 units ‖
 * u8 identity length ‖ identity ‖ u8 key share length (0 or 32) ‖ key share.
 */
export function pskProofInput(challenge: Uint8Array, offer: PskOffer, identity: Uint8Array): Uint8Array {
  if (identity.byteLength > 255)
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'a PSK identity is at most 255 bytes');
  const share = offer.keyShare ?? EMPTY;
  const out = new Uint8Array(PSK_LABEL.byteLength + challenge.byteLength + 10 + identity.byteLength + share.byteLength);
  const v = new DataView(out.buffer);
  let at = 0;
  out.set(PSK_LABEL, at);
  at += PSK_LABEL.byteLength;
  out.set(challenge, at);
  at += challenge.byteLength;
  v.setUint32(at, offer.channel);
  v.setUint8(at + 4, offer.versionMin);
  v.setUint8(at + 5, offer.versionMax);
  v.setUint16(at + 6, offer.units);
  v.setUint8(at + 8, identity.byteLength);
  out.set(identity, at + 9);
  at += 9 + identity.byteLength;
  v.setUint8(at, share.byteLength);
  out.set(share, at + 1);
  return out;
}

/**
 * What the responder's PSK answer (AUTH_PSK_ANSWER in ACCEPT) is the HMAC-SHA256 of:
 * "liaison psk answer v1" ‖ the initiator's proof (32) ‖ u8 agreed version ‖ u16 agreed units ‖
 * u8 n ‖ the ACCEPT's KEY_SHARE (n = 0 or 32) ‖ u8 m ‖ its SESSION_ID (m = 0 or 16).
 */
export function pskAnswerInput(
  initiatorProof: Uint8Array,
  agreed: { version: number; units: number },
  binding: PskBinding,
): Uint8Array {
  const share = binding.keyShare ?? EMPTY;
  const id = binding.sessionId ?? EMPTY;
  const head = PSK_ANSWER_LABEL.byteLength + initiatorProof.byteLength;
  const out = new Uint8Array(head + 5 + share.byteLength + id.byteLength);
  const v = new DataView(out.buffer);
  out.set(PSK_ANSWER_LABEL, 0);
  out.set(initiatorProof, PSK_ANSWER_LABEL.byteLength);
  v.setUint8(head, agreed.version);
  v.setUint16(head + 1, agreed.units);
  v.setUint8(head + 3, share.byteLength);
  out.set(share, head + 4);
  v.setUint8(head + 4 + share.byteLength, id.byteLength);
  out.set(id, head + 5 + share.byteLength);
  return out;
}

/**
 * AUTH_PSK's value: u8 identity length ‖ identity ‖ proof (32).
 * @throws UsageError for an identity outside 1..255 bytes or a proof that is not 32 bytes.
 */
export function encodePskCredential(identity: Uint8Array, proof: Uint8Array): Uint8Array {
  if (identity.byteLength < 1 || identity.byteLength > 255) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `a PSK identity has 1..255 bytes, not ${identity.byteLength}`);
  }
  if (proof.byteLength !== PSK_PROOF_BYTES) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `a PSK proof has ${PSK_PROOF_BYTES} bytes`);
  }
  const out = new Uint8Array(1 + identity.byteLength + proof.byteLength);
  out[0] = identity.byteLength;
  out.set(identity, 1);
  out.set(proof, 1 + identity.byteLength);
  return out;
}

/** Reads AUTH_PSK's value; null when it is not exactly that layout (an empty identity included). */
export function decodePskCredential(value: Uint8Array): { identity: Uint8Array; proof: Uint8Array } | null {
  if (value.byteLength < 1) return null;
  const n = value[0] as number;
  if (n === 0 || value.byteLength !== 1 + n + PSK_PROOF_BYTES) return null;
  return { identity: value.subarray(1, 1 + n), proof: value.subarray(1 + n) };
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const PSK_LABEL = ascii('liaison psk v1');
const PSK_ANSWER_LABEL = ascii('liaison psk answer v1');
const EMPTY = new Uint8Array(0);
