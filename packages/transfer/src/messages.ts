/**
 * The transfer protocol's messages, carried by session services (docs/PROTOCOL.md, "File
 * transfer"). Each is one small JSON object in UTF-8:
 *
 *   accept user data                  RECEIVER_GREETING  the server is a receiver (else the sender stops)
 *   typed data, sender -> receiver    Offer      before each file: may I send it, from where?
 *   typed data, receiver -> sender    Answer     start | resume (fromByte, serial, activityId) | done | refuse
 *   activity start / resume data      FileStart  which file the activity carries, from which byte
 *   normal data                       (raw bytes of the file, in order)
 *   major sync / its confirmation     SyncPoint  the byte offset the sync point stands at
 *   activity end                      FileEnd    size and SHA-256 of the whole file
 *   its confirmation                  Verdict    the receiver's check passed or failed
 *
 * Every decoder checks types and ranges and throws TransferError TRANSFER_PROTOCOL otherwise:
 * these bytes come from the peer.
 */
import { TransferError, TransferErrorCode } from './errors.js';

/**
 * The user data of a receiver's session acceptance. A server that accepts the session without it
 * is not a receiver (a plain echo or print server would never answer an offer, or echo it back):
 * the sender stops at once with NOT_A_RECEIVER instead of waiting.
 */
export const RECEIVER_GREETING = 'liaison-receiver/1';

export interface Offer {
  t: 'offer';
  name: string;
  size: number;
  mtimeMs: number;
}

export type Answer =
  | { t: 'answer'; name: string; action: 'start' }
  | { t: 'answer'; name: string; action: 'resume'; fromByte: number; serial: number; activityId: string }
  | { t: 'answer'; name: string; action: 'done'; sha256: string }
  | { t: 'refuse'; name: string; code: string; message: string };

export interface FileStart {
  t: 'file';
  name: string;
  size: number;
  mtimeMs: number;
  fromByte: number;
}

export interface SyncPoint {
  offset: number;
}

export interface FileEnd {
  size: number;
  sha256: string;
}

export type Verdict = { ok: true; sha256: string } | { ok: false; code: string; message: string };

export function encode(message: Offer | Answer | FileStart | SyncPoint | FileEnd | Verdict): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message));
}

export function decodeOffer(bytes: Uint8Array): Offer {
  const o = object(bytes, 'offer');
  if (o.t !== 'offer') throw bad('offer', 'not an offer');
  return { t: 'offer', name: str(o, 'name'), size: count(o, 'size'), mtimeMs: count(o, 'mtimeMs') };
}

export function decodeAnswer(bytes: Uint8Array): Answer {
  const o = object(bytes, 'answer');
  const name = str(o, 'name');
  if (o.t === 'refuse') return { t: 'refuse', name, code: str(o, 'code'), message: str(o, 'message') };
  if (o.t !== 'answer') throw bad('answer', 'neither an answer nor a refusal');
  switch (o.action) {
    case 'start':
      return { t: 'answer', name, action: 'start' };
    case 'resume':
      return {
        t: 'answer',
        name,
        action: 'resume',
        fromByte: count(o, 'fromByte'),
        serial: count(o, 'serial'),
        activityId: hex(o, 'activityId'),
      };
    case 'done':
      return { t: 'answer', name, action: 'done', sha256: sha(o) };
    default:
      throw bad('answer', `unknown action ${JSON.stringify(o.action)}`);
  }
}

export function decodeFileStart(bytes: Uint8Array): FileStart {
  const o = object(bytes, 'activity user data');
  if (o.t !== 'file') throw bad('activity user data', 'not a file');
  return {
    t: 'file',
    name: str(o, 'name'),
    size: count(o, 'size'),
    mtimeMs: count(o, 'mtimeMs'),
    fromByte: count(o, 'fromByte'),
  };
}

export function decodeSyncPoint(bytes: Uint8Array): SyncPoint {
  return { offset: count(object(bytes, 'sync point'), 'offset') };
}

export function decodeFileEnd(bytes: Uint8Array): FileEnd {
  const o = object(bytes, 'activity end');
  return { size: count(o, 'size'), sha256: sha(o) };
}

export function decodeVerdict(bytes: Uint8Array): Verdict {
  const o = object(bytes, 'verdict');
  if (o.ok === true) return { ok: true, sha256: sha(o) };
  if (o.ok === false) return { ok: false, code: str(o, 'code'), message: str(o, 'message') };
  throw bad('verdict', 'ok is not a boolean');
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

function object(bytes: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw bad(what, 'not UTF-8 JSON', e);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(what, 'not a JSON object');
  return v as Record<string, unknown>;
}

function str(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw bad(key, 'not a string');
  return v;
}

function count(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(key, 'not a non-negative integer');
  return v;
}

function hex(o: Record<string, unknown>, key: string): string {
  const v = str(o, key);
  if (!/^(?:[0-9a-f]{2})+$/.test(v)) throw bad(key, 'not lowercase hex');
  return v;
}

function sha(o: Record<string, unknown>): string {
  const v = str(o, 'sha256');
  if (!/^[0-9a-f]{64}$/.test(v)) throw bad('sha256', 'not 64 lowercase hex digits');
  return v;
}

function bad(what: string, why: string, cause?: unknown): TransferError {
  return new TransferError(TransferErrorCode.TRANSFER_PROTOCOL, `bad ${what} from the peer: ${why}`, { cause });
}
