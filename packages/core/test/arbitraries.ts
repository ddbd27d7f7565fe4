/**
 * fast-check arbitraries for every frame type of wire profile v1. Values stay inside what the
 * decoder accepts (user data within WIDE_LIMITS, expedited at most 14 bytes, at most 32
 * extensions, messages at most 256 UTF-8 bytes), so encode then decode must give them back.
 */
import { EXPEDITED_BYTES_MAX, type Frame, FrameType } from '@liaison/core';
import fc from 'fast-check';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
export const sessionChannel = fc.integer({ min: 1, max: 0xffff_ffff });
const bytes = (maxLength: number) => fc.uint8Array({ maxLength });
/** At most 32 code points: at most 128 UTF-8 bytes, inside the 256-byte message limit. */
const message = fc.string({ unit: 'binary', maxLength: 32 });

const limits = fc.record({
  frameBytesMax: u32,
  messageBytesMax: u32,
  receiveWindowBytes: u32,
  keepaliveIntervalMs: u32,
  idleTimeoutMs: u32,
});
const extensions = fc.array(fc.record({ id: u8, value: bytes(16) }), { maxLength: 32 });

export const connectFrame: fc.Arbitrary<Frame> = fc
  .record({
    channel: sessionChannel,
    versionMin: u8,
    versionMax: u8,
    units: u16,
    limits,
    extensions,
    userData: bytes(64),
  })
  .map(({ limits: l, ...rest }) => ({ type: FrameType.CONNECT, ...rest, ...l }));

export const acceptFrame: fc.Arbitrary<Frame> = fc
  .record({ channel: sessionChannel, version: u8, units: u16, limits, extensions, userData: bytes(64) })
  .map(({ limits: l, ...rest }) => ({ type: FrameType.ACCEPT, ...rest, ...l }));

export const refuseFrame: fc.Arbitrary<Frame> = fc
  .record({ channel: sessionChannel, code: u16, userData: bytes(64) })
  .map((r) => ({ type: FrameType.REFUSE, ...r }));

const userDataFrame = (type: typeof FrameType.FINISH | typeof FrameType.DISCONNECT | typeof FrameType.NOT_FINISHED) =>
  fc.record({ channel: sessionChannel, userData: bytes(64) }).map((r): Frame => ({ type, ...r }));
export const finishFrame = userDataFrame(FrameType.FINISH);
export const disconnectFrame = userDataFrame(FrameType.DISCONNECT);
export const notFinishedFrame = userDataFrame(FrameType.NOT_FINISHED);

export const abortFrame: fc.Arbitrary<Frame> = fc
  .record({ channel: sessionChannel, byProvider: fc.boolean(), code: u16, message, userData: bytes(64) })
  .map((r) => ({ type: FrameType.ABORT, ...r }));

const dataFrame = (type: typeof FrameType.DATA | typeof FrameType.TYPED_DATA) =>
  fc.record({ channel: sessionChannel, end: fc.boolean(), payload: bytes(256) }).map((r): Frame => ({ type, ...r }));
export const normalDataFrame = dataFrame(FrameType.DATA);
export const typedDataFrame = dataFrame(FrameType.TYPED_DATA);

export const expeditedFrame: fc.Arbitrary<Frame> = fc
  .record({ channel: sessionChannel, payload: bytes(EXPEDITED_BYTES_MAX) })
  .map((r) => ({ type: FrameType.EXPEDITED, ...r }));

export const ackFrame: fc.Arbitrary<Frame> = fc
  .record({ channel: sessionChannel, received: fc.maxSafeNat(), windowLimit: fc.maxSafeNat() })
  .map((r) => ({ type: FrameType.ACK, ...r }));

const stampFrame = (type: typeof FrameType.PING | typeof FrameType.PONG) =>
  fc.double().map((stamp): Frame => ({ type, channel: 0, stamp }));
export const pingFrame = stampFrame(FrameType.PING);
export const pongFrame = stampFrame(FrameType.PONG);

export const connectionCloseFrame: fc.Arbitrary<Frame> = fc
  .record({ code: u16, message })
  .map((r) => ({ type: FrameType.CONNECTION_CLOSE, channel: 0, ...r }));

/** The 14 frame types of wire profile v1 (types added later need their own arbitraries and vectors). */
export const V1_FRAME_TYPES = [
  'CONNECT',
  'ACCEPT',
  'REFUSE',
  'FINISH',
  'DISCONNECT',
  'NOT_FINISHED',
  'ABORT',
  'DATA',
  'EXPEDITED',
  'TYPED_DATA',
  'ACK',
  'PING',
  'PONG',
  'CONNECTION_CLOSE',
] as const;
export type V1FrameTypeName = (typeof V1_FRAME_TYPES)[number];

/** One arbitrary per v1 frame type, keyed by the FrameType name. */
export const frameByType: Record<V1FrameTypeName, fc.Arbitrary<Frame>> = {
  CONNECT: connectFrame,
  ACCEPT: acceptFrame,
  REFUSE: refuseFrame,
  FINISH: finishFrame,
  DISCONNECT: disconnectFrame,
  NOT_FINISHED: notFinishedFrame,
  ABORT: abortFrame,
  DATA: normalDataFrame,
  EXPEDITED: expeditedFrame,
  TYPED_DATA: typedDataFrame,
  ACK: ackFrame,
  PING: pingFrame,
  PONG: pongFrame,
  CONNECTION_CLOSE: connectionCloseFrame,
};

export const anyFrame: fc.Arbitrary<Frame> = fc.oneof(...Object.values(frameByType));

/** Cut points for splitting a stream of up to `maxBytes` bytes. */
export const cuts = (maxBytes: number) => fc.array(fc.integer({ min: 1, max: maxBytes }), { maxLength: 40 });
