/**
 * The wire format: every event is one session message, a small header then the codec's payload
 * (the table is in the package README).
 *
 *   kind (1 byte) | ack id (u32 BE, kinds 2 and 3 only) | name length (1 byte) + name (kinds 1, 2) | payload
 */
import { ErrorCode, UsageError } from '@liaison/node';
import { EventFrameError, EventsErrorCode } from './errors.js';

export const FrameKind = { EVENT: 1, EVENT_WANTS_ACK: 2, ACK: 3 } as const;

export type Frame =
  | { kind: 'event'; name: string; ackId: number | null; payload: Uint8Array }
  | { kind: 'ack'; ackId: number; payload: Uint8Array };

/** Event names are at most this many UTF-8 bytes (the length is one byte on the wire). */
export const EVENT_NAME_BYTES_MAX = 255;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** @throws UsageError for an empty name or one over EVENT_NAME_BYTES_MAX bytes. */
export function encodeEvent(name: string, ackId: number | null, payload: Uint8Array): Uint8Array {
  const nameBytes = utf8.encode(name);
  if (nameBytes.byteLength === 0 || nameBytes.byteLength > EVENT_NAME_BYTES_MAX)
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `event name must be 1-${EVENT_NAME_BYTES_MAX} UTF-8 bytes`);
  const head = ackId === null ? 1 : 5;
  const out = new Uint8Array(head + 1 + nameBytes.byteLength + payload.byteLength);
  out[0] = ackId === null ? FrameKind.EVENT : FrameKind.EVENT_WANTS_ACK;
  if (ackId !== null) new DataView(out.buffer).setUint32(1, ackId);
  out[head] = nameBytes.byteLength;
  out.set(nameBytes, head + 1);
  out.set(payload, head + 1 + nameBytes.byteLength);
  return out;
}

export function encodeAck(ackId: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.byteLength);
  out[0] = FrameKind.ACK;
  new DataView(out.buffer).setUint32(1, ackId);
  out.set(payload, 5);
  return out;
}

/** @throws EventFrameError (code ERR_LIAISON_EVENTS_BAD_FRAME) for anything that is not a frame. */
export function decodeFrame(bytes: Uint8Array): Frame {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kind = bytes[0];
  if (kind === FrameKind.ACK) {
    need(bytes, 5);
    return { kind: 'ack', ackId: view.getUint32(1), payload: bytes.subarray(5) };
  }
  if (kind !== FrameKind.EVENT && kind !== FrameKind.EVENT_WANTS_ACK) throw bad(`unknown frame kind ${kind}`);
  const head = kind === FrameKind.EVENT ? 1 : 5;
  need(bytes, head + 1);
  const nameLength = bytes[head] as number;
  if (nameLength === 0) throw bad('empty event name');
  need(bytes, head + 1 + nameLength);
  let name: string;
  try {
    name = fromUtf8.decode(bytes.subarray(head + 1, head + 1 + nameLength));
  } catch (e) {
    throw bad('event name is not UTF-8', e);
  }
  const ackId = kind === FrameKind.EVENT ? null : view.getUint32(1);
  return { kind: 'event', name, ackId, payload: bytes.subarray(head + 1 + nameLength) };
}

function need(bytes: Uint8Array, length: number): void {
  if (bytes.byteLength < length) throw bad(`truncated frame (${bytes.byteLength} bytes, header needs ${length})`);
}

function bad(message: string, cause?: unknown): EventFrameError {
  return new EventFrameError(EventsErrorCode.BAD_FRAME, message, { cause });
}
