/**
 * Encode and decode of every frame type, side by side. `writeFrame` appends a frame to a
 * FrameWriter; `decodePayload` turns one frame's header fields and payload into a typed Frame,
 * or throws a ProtocolError. Decoding returns views into the payload (no copies).
 *
 * Checks here are the ones every frame must pass whatever the session state: field bounds,
 * reserved flags zero, channel 0 only for connection frames, no trailing bytes.
 */
import { AbortCode, InternalError, ProtocolError } from '../errors.js';
import { NONCE_BYTES, PROOF_BYTES, SESSION_ID_BYTES } from '../recovery/proof.js';
import {
  ABORT_MESSAGE_BYTES_MAX,
  ACTIVITY_ID_BYTES_MAX,
  CONNECTION_CHANNEL,
  type DialogueFrame,
  type DialogueFrameType,
  EXPEDITED_BYTES_MAX,
  type Extension,
  FLAG_ACK_SOON,
  FLAG_END,
  FLAG_FINAL,
  type Frame,
  FrameType,
  frameTypeName,
  isDialogue,
  isDialogueFrame,
  NAMED_TOKEN_NAME_BYTES_CEILING,
  type NamedTokenFrame,
  type NamedTokenRefuseFrame,
} from './frame.js';
import { PayloadReader } from './reader.js';
import { FrameWriter } from './writer.js';

/** User data is bounded by the receiver's limit; this is the wire ceiling (u16 length). */
export const USER_DATA_BYTES_CEILING = 0xffff;
const EXTENSIONS_MAX = 32;

export function writeFrame(w: FrameWriter, f: Frame): void {
  if (isDialogue(f)) {
    w.beginFrame(f.type, 0, f.channel);
    writeDialogueFields(w, f);
    w.endFrame();
    return;
  }
  switch (f.type) {
    case FrameType.CONNECT:
      w.beginFrame(f.type, 0, f.channel);
      w.u8(f.versionMin);
      w.u8(f.versionMax);
      w.u16(f.units);
      writeLimits(w, f);
      writeExtensions(w, f.extensions);
      w.shortBytes(f.userData);
      break;
    case FrameType.ACCEPT:
      w.beginFrame(f.type, 0, f.channel);
      w.u8(f.version);
      w.u8(0);
      w.u16(f.units);
      writeLimits(w, f);
      writeExtensions(w, f.extensions);
      w.shortBytes(f.userData);
      break;
    case FrameType.REFUSE:
      w.beginFrame(f.type, 0, f.channel);
      w.u16(f.code);
      w.shortBytes(f.userData);
      break;
    case FrameType.FINISH:
    case FrameType.DISCONNECT:
    case FrameType.NOT_FINISHED:
      w.beginFrame(f.type, 0, f.channel);
      w.shortBytes(f.userData);
      break;
    case FrameType.ABORT:
      w.beginFrame(f.type, 0, f.channel);
      w.u8(f.byProvider ? 1 : 0);
      w.u16(f.code);
      w.utf8(truncateUtf8(f.message, ABORT_MESSAGE_BYTES_MAX));
      w.shortBytes(f.userData);
      break;
    case FrameType.DATA:
    case FrameType.TYPED_DATA:
      w.beginFrame(f.type, (f.end ? FLAG_END : 0) | (f.ackSoon ? FLAG_ACK_SOON : 0), f.channel);
      w.bytes(f.payload);
      break;
    case FrameType.EXPEDITED:
      w.beginFrame(f.type, 0, f.channel);
      w.bytes(f.payload);
      break;
    case FrameType.ACK:
      w.beginFrame(f.type, 0, f.channel);
      w.u53(f.received);
      w.u53(f.windowLimit);
      break;
    case FrameType.PING:
    case FrameType.PONG:
      w.beginFrame(f.type, 0, CONNECTION_CHANNEL);
      w.f64(f.stamp);
      break;
    case FrameType.CONNECTION_CLOSE:
      w.beginFrame(f.type, 0, CONNECTION_CHANNEL);
      w.u16(f.code);
      w.utf8(truncateUtf8(f.message, ABORT_MESSAGE_BYTES_MAX));
      break;
    case FrameType.RESUME:
      w.beginFrame(f.type, 0, f.channel);
      w.bytes(fixed(f.sessionId, SESSION_ID_BYTES));
      w.bytes(fixed(f.clientNonce, NONCE_BYTES));
      w.u53(f.received);
      w.u53(f.resendFrom);
      w.u32(f.replaying);
      w.bytes(fixed(f.proof, PROOF_BYTES));
      break;
    case FrameType.RESUMED:
      w.beginFrame(f.type, 0, f.channel);
      w.u53(f.received);
      w.u32(f.replaying);
      w.bytes(fixed(f.proof, PROOF_BYTES));
      break;
    case FrameType.RESUME_REFUSE:
      w.beginFrame(f.type, f.final ? FLAG_FINAL : 0, f.channel);
      w.u16(f.code);
      w.utf8(truncateUtf8(f.message, ABORT_MESSAGE_BYTES_MAX));
      if (f.final) {
        w.u53(f.final.received);
        w.bytes(fixed(f.final.proof, PROOF_BYTES));
      }
      break;
    case FrameType.CHALLENGE:
      w.beginFrame(f.type, 0, CONNECTION_CHANNEL);
      w.bytes(fixed(f.nonce, NONCE_BYTES));
      break;
    case FrameType.WINDOW:
      w.beginFrame(f.type, 0, CONNECTION_CHANNEL);
      w.u53(f.windowLimit);
      break;
    case FrameType.NAMED_TOKEN_ACQUIRE:
    case FrameType.NAMED_TOKEN_RELEASE:
    case FrameType.NAMED_TOKEN_GRANT:
    case FrameType.NAMED_TOKEN_REFUSE:
      w.beginFrame(f.type, 0, f.channel);
      w.bytes(namedTokenPayload(f));
      break;
    case FrameType.RENEW_CREDENTIALS:
      w.beginFrame(f.type, 0, f.channel);
      w.u32(f.requestId);
      writeExtensions(w, f.credentials);
      break;
    case FrameType.CREDENTIALS_RENEWED:
      w.beginFrame(f.type, 0, f.channel);
      w.u32(f.requestId);
      w.u16(f.code);
      w.utf8(truncateUtf8(f.message, ABORT_MESSAGE_BYTES_MAX));
      break;
    default:
      return assertNever(f);
  }
  w.endFrame();
}

/** DATA or TYPED_DATA without building a frame object: the hot path of sending. */
export function writeDataFrame(
  w: FrameWriter,
  type: typeof FrameType.DATA | typeof FrameType.TYPED_DATA,
  end: boolean,
  channel: number,
  payload: Uint8Array,
  ackSoon = false,
): void {
  const flags = (end ? FLAG_END : 0) | (ackSoon ? FLAG_ACK_SOON : 0);
  if (payload.byteLength >= PAYLOAD_REF_MIN_BYTES) {
    w.frameWithPayloadRef(type, flags, channel, payload);
    return;
  }
  w.beginFrame(type, flags, channel);
  w.bytes(payload);
  w.endFrame();
}

/**
 * The payload of a named-token frame: [u16 code, REFUSE only] u16 name length, UTF-8 name. The
 * session keeps it as the frame's body in its retransmit buffer.
 */
export function namedTokenPayload(f: NamedTokenFrame | NamedTokenRefuseFrame): Uint8Array {
  const name = UTF8.encode(f.name);
  if (name.byteLength === 0 || name.byteLength > NAMED_TOKEN_NAME_BYTES_CEILING) {
    throw new InternalError(`named token name of ${name.byteLength} bytes`);
  }
  const head = f.type === FrameType.NAMED_TOKEN_REFUSE ? 2 : 0;
  const out = new Uint8Array(head + 2 + name.byteLength);
  const view = new DataView(out.buffer);
  if (f.type === FrameType.NAMED_TOKEN_REFUSE) view.setUint16(0, f.code);
  view.setUint16(head, name.byteLength);
  out.set(name, head + 2);
  return out;
}

/** A sequenced frame whose payload was encoded before (a named-token frame from the retransmit buffer). */
export function writeEncodedFrame(w: FrameWriter, type: number, channel: number, payload: Uint8Array): void {
  w.beginFrame(type, 0, channel);
  w.bytes(payload);
  w.endFrame();
}

const UTF8 = new TextEncoder();

/** Payloads at least this large are written by reference (vectored write), not copied. */
const PAYLOAD_REF_MIN_BYTES = 16 * 1024;

/** Encodes one frame on its own (tests, tools); the engine batches through a shared FrameWriter. */
export function encodeFrame(f: Frame): Uint8Array {
  const w = new FrameWriter(64);
  writeFrame(w, f);
  return w.take();
}

/**
 * Decodes one frame. `userDataBytesMax` bounds every user-data field (the receiver's limit).
 * @throws ProtocolError with MALFORMED_FRAME, UNKNOWN_FRAME_TYPE or LIMIT_EXCEEDED.
 */
export function decodePayload(
  type: number,
  flags: number,
  channel: number,
  payload: Uint8Array,
  userDataBytesMax: number,
): Frame {
  // The hot path: data and acknowledgements, checked and built without a reader or a name.
  if (
    (type === FrameType.DATA || type === FrameType.TYPED_DATA) &&
    channel !== CONNECTION_CHANNEL &&
    (flags & ~(FLAG_END | FLAG_ACK_SOON)) === 0
  ) {
    const end = (flags & FLAG_END) !== 0;
    return (flags & FLAG_ACK_SOON) === 0
      ? { type, channel, end, payload }
      : { type, channel, end, ackSoon: true, payload };
  }
  if (type === FrameType.ACK && channel !== CONNECTION_CHANNEL && flags === 0 && payload.byteLength === 16) {
    return { type, channel, received: readU53(payload, 0), windowLimit: readU53(payload, 8) };
  }
  const name = frameTypeName(type);
  const r = new PayloadReader(payload, name);
  const connectionFrame =
    type === FrameType.PING ||
    type === FrameType.PONG ||
    type === FrameType.CONNECTION_CLOSE ||
    type === FrameType.CHALLENGE ||
    type === FrameType.WINDOW;
  if (type in BY_CODE) {
    if (connectionFrame !== (channel === CONNECTION_CHANNEL)) {
      throw new ProtocolError(
        AbortCode.MALFORMED_FRAME,
        connectionFrame ? `${name} frame on session channel ${channel}` : `${name} frame on the connection channel`,
      );
    }
    const allowedFlags =
      type === FrameType.DATA || type === FrameType.TYPED_DATA
        ? FLAG_END | FLAG_ACK_SOON
        : type === FrameType.RESUME_REFUSE
          ? FLAG_FINAL
          : 0;
    if ((flags & ~allowedFlags) !== 0) {
      throw new ProtocolError(AbortCode.MALFORMED_FRAME, `${name} frame with reserved flags 0x${flags.toString(16)}`);
    }
  }
  let f: Frame;
  switch (type) {
    case FrameType.CONNECT: {
      const versionMin = r.u8();
      const versionMax = r.u8();
      const units = r.u16();
      f = {
        type,
        channel,
        versionMin,
        versionMax,
        units,
        ...readLimits(r),
        extensions: readExtensions(r),
        userData: r.shortBytes(userDataBytesMax, 'user data'),
      };
      break;
    }
    case FrameType.ACCEPT: {
      const version = r.u8();
      if (r.u8() !== 0) throw new ProtocolError(AbortCode.MALFORMED_FRAME, 'ACCEPT reserved byte is not zero');
      const units = r.u16();
      f = {
        type,
        channel,
        version,
        units,
        ...readLimits(r),
        extensions: readExtensions(r),
        userData: r.shortBytes(userDataBytesMax, 'user data'),
      };
      break;
    }
    case FrameType.REFUSE:
      f = { type, channel, code: r.u16(), userData: r.shortBytes(userDataBytesMax, 'user data') };
      break;
    case FrameType.FINISH:
    case FrameType.DISCONNECT:
    case FrameType.NOT_FINISHED:
      f = { type, channel, userData: r.shortBytes(userDataBytesMax, 'user data') };
      break;
    case FrameType.ABORT: {
      const by = r.u8();
      if (by > 1) throw new ProtocolError(AbortCode.MALFORMED_FRAME, `ABORT origin ${by} is neither user nor provider`);
      f = {
        type,
        channel,
        byProvider: by === 1,
        code: r.u16(),
        message: r.utf8(ABORT_MESSAGE_BYTES_MAX, 'message'),
        userData: r.shortBytes(userDataBytesMax, 'user data'),
      };
      break;
    }
    case FrameType.DATA:
    case FrameType.TYPED_DATA:
      f =
        (flags & FLAG_ACK_SOON) === 0
          ? { type, channel, end: (flags & FLAG_END) !== 0, payload: r.rest() }
          : { type, channel, end: (flags & FLAG_END) !== 0, ackSoon: true, payload: r.rest() };
      break;
    case FrameType.EXPEDITED:
      if (payload.byteLength > EXPEDITED_BYTES_MAX) {
        throw new ProtocolError(
          AbortCode.LIMIT_EXCEEDED,
          `EXPEDITED payload of ${payload.byteLength} bytes exceeds ${EXPEDITED_BYTES_MAX}`,
        );
      }
      f = { type, channel, payload: r.rest() };
      break;
    case FrameType.ACK:
      f = { type, channel, received: r.u53(), windowLimit: r.u53() };
      break;
    case FrameType.PING:
    case FrameType.PONG:
      f = { type, channel: CONNECTION_CHANNEL, stamp: r.f64() };
      break;
    case FrameType.CONNECTION_CLOSE:
      f = { type, channel: CONNECTION_CHANNEL, code: r.u16(), message: r.utf8(ABORT_MESSAGE_BYTES_MAX, 'message') };
      break;
    case FrameType.RESUME:
      f = {
        type,
        channel,
        sessionId: r.bytes(SESSION_ID_BYTES),
        clientNonce: r.bytes(NONCE_BYTES),
        received: r.u53(),
        resendFrom: r.u53(),
        replaying: r.u32(),
        proof: r.bytes(PROOF_BYTES),
      };
      break;
    case FrameType.RESUMED:
      f = { type, channel, received: r.u53(), replaying: r.u32(), proof: r.bytes(PROOF_BYTES) };
      break;
    case FrameType.RESUME_REFUSE: {
      const code = r.u16();
      const message = r.utf8(ABORT_MESSAGE_BYTES_MAX, 'message');
      f =
        (flags & FLAG_FINAL) === 0
          ? { type, channel, code, message }
          : { type, channel, code, message, final: { received: r.u53(), proof: r.bytes(PROOF_BYTES) } };
      break;
    }
    case FrameType.CHALLENGE:
      f = { type, channel: CONNECTION_CHANNEL, nonce: r.bytes(NONCE_BYTES) };
      break;
    case FrameType.WINDOW:
      f = { type, channel: CONNECTION_CHANNEL, windowLimit: r.u53() };
      break;
    case FrameType.NAMED_TOKEN_ACQUIRE:
    case FrameType.NAMED_TOKEN_RELEASE:
    case FrameType.NAMED_TOKEN_GRANT:
      f = { type, channel, name: readTokenName(r) };
      break;
    case FrameType.NAMED_TOKEN_REFUSE: {
      const code = r.u16();
      f = { type, channel, code, name: readTokenName(r) };
      break;
    }
    case FrameType.RENEW_CREDENTIALS:
      f = { type, channel, requestId: r.u32(), credentials: readExtensions(r) };
      break;
    case FrameType.CREDENTIALS_RENEWED:
      f = { type, channel, requestId: r.u32(), code: r.u16(), message: r.utf8(ABORT_MESSAGE_BYTES_MAX, 'message') };
      break;
    default:
      if (isDialogueFrame(type)) {
        f = readDialogueFields(r, type, channel, userDataBytesMax);
        break;
      }
      throw new ProtocolError(AbortCode.UNKNOWN_FRAME_TYPE, `unknown frame type ${frameTypeName(type)}`);
  }
  r.end();
  return f;
}

/** tokens u8, code u8, serial u32, id (u8 length, bytes), old id (u8 length, bytes), user data (u16 length, bytes). */
function writeDialogueFields(w: FrameWriter, f: DialogueFrame): void {
  if (f.id.byteLength > ACTIVITY_ID_BYTES_MAX || f.oldId.byteLength > ACTIVITY_ID_BYTES_MAX) {
    throw new InternalError('activity id too long');
  }
  w.u8(f.tokens);
  w.u8(f.code);
  w.u32(f.serial);
  w.u8(f.id.byteLength);
  w.bytes(f.id);
  w.u8(f.oldId.byteLength);
  w.bytes(f.oldId);
  w.shortBytes(f.userData);
}

function readDialogueFields(
  r: PayloadReader,
  type: DialogueFrameType,
  channel: number,
  userDataBytesMax: number,
): DialogueFrame {
  const tokens = r.u8();
  if ((tokens & ~0x0f) !== 0) {
    throw new ProtocolError(
      AbortCode.MALFORMED_FRAME,
      `${frameTypeName(type)} with unknown token bits 0x${tokens.toString(16)}`,
    );
  }
  const code = r.u8();
  const serial = r.u32();
  const id = r.bytes(activityIdLength(r.u8()));
  const oldId = r.bytes(activityIdLength(r.u8()));
  return { type, channel, tokens, code, serial, id, oldId, userData: r.shortBytes(userDataBytesMax, 'user data') };
}

function activityIdLength(n: number): number {
  if (n > ACTIVITY_ID_BYTES_MAX) {
    throw new ProtocolError(AbortCode.MALFORMED_FRAME, `activity id of ${n} bytes exceeds ${ACTIVITY_ID_BYTES_MAX}`);
  }
  return n;
}

interface Limits {
  frameBytesMax: number;
  messageBytesMax: number;
  receiveWindowBytes: number;
  keepaliveIntervalMs: number;
  idleTimeoutMs: number;
}

function writeLimits(w: FrameWriter, l: Limits): void {
  w.u32(l.frameBytesMax);
  w.u32(l.messageBytesMax);
  w.u32(l.receiveWindowBytes);
  w.u32(l.keepaliveIntervalMs);
  w.u32(l.idleTimeoutMs);
}

function readLimits(r: PayloadReader): Limits {
  return {
    frameBytesMax: r.u32(),
    messageBytesMax: r.u32(),
    receiveWindowBytes: r.u32(),
    keepaliveIntervalMs: r.u32(),
    idleTimeoutMs: r.u32(),
  };
}

function writeExtensions(w: FrameWriter, exts: readonly Extension[]): void {
  if (exts.length > EXTENSIONS_MAX) throw new InternalError(`${exts.length} extensions exceed ${EXTENSIONS_MAX}`);
  w.u8(exts.length);
  for (const e of exts) {
    w.u8(e.id);
    w.shortBytes(e.value);
  }
}

function readExtensions(r: PayloadReader): Extension[] {
  const count = r.u8();
  if (count > EXTENSIONS_MAX) {
    throw new ProtocolError(AbortCode.LIMIT_EXCEEDED, `${count} extensions exceed the limit of ${EXTENSIONS_MAX}`);
  }
  const out: Extension[] = [];
  for (let i = 0; i < count; i++) out.push({ id: r.u8(), value: r.shortBytes(USER_DATA_BYTES_CEILING, 'extension') });
  return out;
}

function readTokenName(r: PayloadReader): string {
  const name = r.utf8(NAMED_TOKEN_NAME_BYTES_CEILING, 'token name');
  if (name.length === 0) throw new ProtocolError(AbortCode.MALFORMED_FRAME, 'empty token name');
  return name;
}

/** A big-endian u64 that must be a safe integer; anything else is left to the full decoder's error. */
function readU53(b: Uint8Array, at: number): number {
  const high =
    ((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number);
  const low =
    ((b[at + 4] as number) << 24) |
    ((b[at + 5] as number) << 16) |
    ((b[at + 6] as number) << 8) |
    (b[at + 7] as number);
  if (high >>> 0 > 0x1fffff) {
    throw new ProtocolError(AbortCode.MALFORMED_FRAME, 'ACK frame malformed: 64-bit value beyond 2^53');
  }
  return (high >>> 0) * 0x1_0000_0000 + (low >>> 0);
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
export function truncateUtf8(s: string, max: number): string {
  if (s.length * 3 <= max) return s;
  const bytes = new TextEncoder().encode(s);
  if (bytes.byteLength <= max) return s;
  let end = max;
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

function fixed(b: Uint8Array, n: number): Uint8Array {
  if (b.byteLength !== n) throw new InternalError(`field of ${b.byteLength} bytes where ${n} are required`);
  return b;
}

const BY_CODE: Record<number, true> = Object.fromEntries(Object.values(FrameType).map((v) => [v, true]));

export function assertNever(x: never): never {
  throw new InternalError(`unreachable: ${JSON.stringify(x)}`);
}
