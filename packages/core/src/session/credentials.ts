/**
 * Credentials carried at establishment (docs/PROTOCOL.md 5.17). The core only carries them: the
 * initiator appends them to its CONNECT, the responder hands them, with the connection's
 * CHALLENGE, to its application, which decides. Verifying a token or a key is the endpoint's job
 * (it has the clock, the key files and the platform's crypto).
 *
 * A pre-shared key never travels: the initiator proves it holds it with an HMAC over
 * `pskProofInput`, which binds the proof to this connection's challenge (so a recorded proof is
 * useless on any other connection), to the channel, and to the offered protocol versions and
 * units (so a changed offer, a downgrade, fails the proof).
 */
import { ErrorCode, UsageError } from '../errors.js';
import type { ConnectFrame, Extension } from '../wire/frame.js';

/** The extension ids of authentication (the auth part of the security range 0x10-0x2F). */
export const AUTH_EXTENSION_ID_MIN = 0x18;
export const AUTH_EXTENSION_ID_MAX = 0x2f;
/** At most this many credential extensions per CONNECT, each at most CREDENTIAL_BYTES_MAX. */
export const CREDENTIAL_EXTENSIONS_MAX = 4;
export const CREDENTIAL_BYTES_MAX = 16 * 1024;
/** The PSK proof: HMAC-SHA256, 32 bytes. */
export const PSK_PROOF_BYTES = 32;

const PSK_LABEL = new TextEncoder().encode('liaison psk v1');

/**
 * Credentials for a connect request: fixed extensions, or a function of the connection's
 * CHALLENGE (a PSK proof), in which case the CONNECT waits for the CHALLENGE.
 */
export type Credentials = Extension[] | ((challenge: Uint8Array, connect: ConnectFrame) => Extension[]);

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

/** The credential extensions of a CONNECT (ids in the auth range), in order. */
export function credentialsOf(extensions: readonly Extension[]): Extension[] {
  return extensions.filter((e) => e.id >= AUTH_EXTENSION_ID_MIN && e.id <= AUTH_EXTENSION_ID_MAX);
}

/**
 * What a PSK proof is the HMAC-SHA256 of (key = the pre-shared key):
 * "liaison psk v1" ‖ challenge (16) ‖ u32 channel ‖ u8 versionMin ‖ u8 versionMax ‖ u16 units ‖
 * u8 identity length ‖ identity.
 */
export function pskProofInput(
  challenge: Uint8Array,
  connect: { channel: number; versionMin: number; versionMax: number; units: number },
  identity: Uint8Array,
): Uint8Array {
  if (identity.byteLength > 255)
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'a PSK identity is at most 255 bytes');
  const out = new Uint8Array(PSK_LABEL.byteLength + challenge.byteLength + 9 + identity.byteLength);
  out.set(PSK_LABEL, 0);
  let at = PSK_LABEL.byteLength;
  out.set(challenge, at);
  at += challenge.byteLength;
  const v = new DataView(out.buffer);
  v.setUint32(at, connect.channel);
  v.setUint8(at + 4, connect.versionMin);
  v.setUint8(at + 5, connect.versionMax);
  v.setUint16(at + 6, connect.units);
  v.setUint8(at + 8, identity.byteLength);
  out.set(identity, at + 9);
  return out;
}

/** AUTH_PSK's value: u8 identity length ‖ identity ‖ proof (32). */
export function encodePskCredential(identity: Uint8Array, proof: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + identity.byteLength + proof.byteLength);
  out[0] = identity.byteLength;
  out.set(identity, 1);
  out.set(proof, 1 + identity.byteLength);
  return out;
}

/** Reads AUTH_PSK's value; null when it is not exactly that layout. */
export function decodePskCredential(value: Uint8Array): { identity: Uint8Array; proof: Uint8Array } | null {
  if (value.byteLength < 1) return null;
  const n = value[0] as number;
  if (value.byteLength !== 1 + n + PSK_PROOF_BYTES) return null;
  return { identity: value.subarray(1, 1 + n), proof: value.subarray(1 + n) };
}
