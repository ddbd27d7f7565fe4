/**
 * The messages of a session's two streams: what a sender records, the bytes it sends (a pattern
 * of the stream, the index and the size), and the exactly-once check of each delivery.
 */
import type { MessageKind } from '@liaison/core';
import { InvariantViolation } from './violation.js';

export const HEADER_BYTES = 8;

/** One message as the sender recorded it; its bytes are a function of (stream, index, size). */
export interface SentMessage {
  index: number;
  kind: MessageKind;
  bytes: number;
}

/** One direction of one session: what was sent, what arrived. */
export interface Stream {
  name: string;
  sent: SentMessage[];
  /** Indices of delivered messages, in delivery order, per kind class. */
  deliveredData: number[];
  deliveredExpedited: number[];
  /** Normal messages purged unsent by the sender or discarded on arrival (dialogue sessions' resynchronizations). */
  purged: Set<number>;
  /** Virtual time of the latest delivery (isolation: a session still delivering is not blocked). */
  lastDeliveryAt?: number;
}

/** A message's bytes: its index, its size, and a pattern that depends on both and on the stream. */
export function messageBytes(stream: Stream, m: SentMessage): Uint8Array {
  const out = new Uint8Array(m.bytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, m.index);
  view.setUint32(4, m.bytes);
  const salt = streamSalt(stream);
  for (let i = HEADER_BYTES; i < m.bytes; i++) out[i] = (m.index * 31 + i * 7 + salt) & 0xff;
  return out;
}

/** A message's index, from its first bytes (messageBytes). */
export function indexOf(data: Uint8Array): number {
  return data.byteLength >= 4 ? new DataView(data.buffer, data.byteOffset, 4).getUint32(0) : -1;
}

function streamSalt(stream: Stream): number {
  return stream.name.length * 7 + (stream.name.charCodeAt(stream.name.length - 1) & 0xff);
}

/** Checks a delivered message against what was sent; returns its index. */
export function checkMessage(stream: Stream, kind: MessageKind, data: Uint8Array): number {
  if (data.byteLength < HEADER_BYTES) {
    throw new InvariantViolation(
      'exactly-once',
      `${stream.name}: a ${data.byteLength}-byte ${kind} message was never sent`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const index = view.getUint32(0);
  const sent = stream.sent[index];
  if (!sent || sent.kind !== kind || sent.bytes !== data.byteLength || view.getUint32(4) !== data.byteLength) {
    throw new InvariantViolation(
      'exactly-once',
      `${stream.name}: delivered ${kind} #${index} does not match what was sent`,
    );
  }
  const base = index * 31 + streamSalt(stream);
  for (let i = HEADER_BYTES; i < data.byteLength; i++) {
    if (data[i] !== ((base + i * 7) & 0xff)) {
      throw new InvariantViolation('exactly-once', `${stream.name}: ${kind} #${index} corrupted at byte ${i}`);
    }
  }
  return index;
}
