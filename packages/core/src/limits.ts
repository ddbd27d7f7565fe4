/**
 * Every limit of the engine, with its default, in one place (docs/LIMITS.md explains each).
 * Names end with their unit. `resolveLimits` validates a caller's overrides at construction,
 * so a bad value is a UsageError up front instead of a strange failure later.
 */
import { ErrorCode, UsageError } from './errors.js';

export interface Limits {
  /** Largest frame (10-byte header included) this side accepts; advertised to the peer. */
  frameBytesMax: number;
  /** Largest message (after reassembly) this side accepts; advertised to the peer. */
  messageBytesMax: number;
  /** Flow-control window per session: payload bytes the peer may send beyond what was consumed. */
  receiveWindowBytes: number;
  /** Bytes accepted by send() and not yet transmitted, per session, before send() must wait. */
  sendQueueBytesMax: number;
  /** Largest user-data field (connect, accept, refuse, release, abort) this side accepts. */
  userDataBytesMax: number;
  /** Send a ping after this long without receiving anything; 0 disables keepalive. */
  keepaliveIntervalMs: number;
  /** Declare the peer dead after this long without receiving anything; 0 disables. */
  idleTimeoutMs: number;
  /** Time allowed from transport up to an established session. */
  handshakeTimeoutMs: number;
  /** Time allowed for an orderly release to complete before the session is aborted. */
  releaseTimeoutMs: number;
  /** Longest an acknowledgement of received frames is delayed to ride on other traffic. */
  ackDelayMs: number;
  /** Sessions one connection may carry at once (the server refuses more with CONGESTION). */
  sessionsPerConnectionMax: number;
  /** Largest batch of frames handed to the transport in one pollTransmit(). */
  transmitBatchBytes: number;
  /** Sent bytes kept until acknowledged, per session; when full, sending waits for acknowledgements. */
  retransmitBufferBytes: number;
  /** Responder: how long a suspended session is kept for a resume (announced to the initiator). */
  resumeWindowMs: number;
  /** Responder: bytes all suspended sessions may retain together; past it the oldest are dropped. */
  suspendedBytesMax: number;
  /**
   * Responder: ended resumable sessions remembered as tombstones (their final received count and
   * resume key, about 200 bytes each), so a late resume learns exactly what arrived. Oldest go first.
   */
  tombstonesMax: number;
  /** Responder: how long a tombstone is kept after its session ended. */
  tombstoneMs: number;
  /** Flow-control window of the whole connection (all its sessions together), in charged bytes. */
  connectionWindowBytes: number;
  /**
   * While several sessions send on one connection, each may have at most this many bytes in
   * flight (sent, not acknowledged): a bulk session then cannot fill the shared byte stream and
   * hold everyone else's messages behind it. A session alone on its connection is not capped.
   */
  contendedInflightBytes: number;
  /**
   * Noise connections: each direction applies REKEY() after sending this many bytes (a REKEY
   * record tells the receiver), so a key protects a bounded volume.
   */
  noiseRekeyBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  frameBytesMax: 128 * 1024,
  messageBytesMax: 16 * 1024 * 1024,
  receiveWindowBytes: 4 * 1024 * 1024,
  sendQueueBytesMax: 1024 * 1024,
  userDataBytesMax: 8 * 1024,
  keepaliveIntervalMs: 15_000,
  idleTimeoutMs: 45_000,
  handshakeTimeoutMs: 10_000,
  releaseTimeoutMs: 30_000,
  ackDelayMs: 10,
  sessionsPerConnectionMax: 1024,
  transmitBatchBytes: 256 * 1024,
  retransmitBufferBytes: 8 * 1024 * 1024,
  resumeWindowMs: 60_000,
  suspendedBytesMax: 256 * 1024 * 1024,
  tombstonesMax: 16_384,
  tombstoneMs: 600_000,
  connectionWindowBytes: 16 * 1024 * 1024,
  contendedInflightBytes: 16 * 1024,
  noiseRekeyBytes: 1024 * 1024 * 1024,
});

/** Protocol floors: below these a peer's advertised value is refused as unacceptable. */
export const FRAME_BYTES_FLOOR = 1024;
export const WINDOW_BYTES_FLOOR = 1024;
export const PROTOCOL_VERSION_MIN = 1;
export const PROTOCOL_VERSION_MAX = 1;
const U32_MAX = 0xffff_ffff;

const RANGES: { [K in keyof Limits]: [min: number, max: number] } = {
  frameBytesMax: [FRAME_BYTES_FLOOR, 16 * 1024 * 1024],
  messageBytesMax: [1, U32_MAX],
  receiveWindowBytes: [WINDOW_BYTES_FLOOR, 1024 * 1024 * 1024],
  sendQueueBytesMax: [1, 1024 * 1024 * 1024],
  userDataBytesMax: [0, 0xffff],
  keepaliveIntervalMs: [0, U32_MAX],
  idleTimeoutMs: [0, U32_MAX],
  handshakeTimeoutMs: [1, U32_MAX],
  releaseTimeoutMs: [1, U32_MAX],
  ackDelayMs: [0, 60_000],
  sessionsPerConnectionMax: [1, 1 << 24],
  transmitBatchBytes: [1024, 64 * 1024 * 1024],
  retransmitBufferBytes: [64 * 1024, 1024 * 1024 * 1024],
  resumeWindowMs: [0, U32_MAX],
  suspendedBytesMax: [0, Number.MAX_SAFE_INTEGER],
  tombstonesMax: [0, 1 << 24],
  tombstoneMs: [0, U32_MAX],
  connectionWindowBytes: [64 * 1024, 4 * 1024 * 1024 * 1024],
  contendedInflightBytes: [16 * 1024, 1024 * 1024 * 1024],
  noiseRekeyBytes: [1024, 2 ** 50],
};

/** @throws UsageError (ERR_LIAISON_INVALID_ARGUMENT) on an unknown, non-integer or out-of-range limit. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  const out: Limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(key in RANGES)) throw new UsageError(ErrorCode.INVALID_ARGUMENT, `unknown limit "${key}"`);
    const [min, max] = RANGES[key as keyof Limits];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new UsageError(
        ErrorCode.INVALID_ARGUMENT,
        `limit ${key} must be an integer in [${min}, ${max}], got ${value}`,
      );
    }
    out[key as keyof Limits] = value;
  }
  if (out.keepaliveIntervalMs > 0 && out.idleTimeoutMs > 0 && out.keepaliveIntervalMs >= out.idleTimeoutMs) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'keepaliveIntervalMs must be shorter than idleTimeoutMs');
  }
  return out;
}

/** The smaller of two optional durations, where 0 means "off". */
export function minEnabled(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}
