/**
 * Establishment parameters: what a connect request proposes, how the responder turns a proposal
 * into agreed values or a refusal, and how the initiator checks the acceptance it gets back.
 *
 * Rules (docs/PROTOCOL.md, "Negotiation"): the version is the highest both support; functional
 * units are the intersection of proposal, responder's wishes and what is implemented; each side's
 * frame, message and window limits are its own and bind the other's sending; keepalive and idle
 * timeout are the smaller non-zero values.
 */
import { AbortCode, ErrorCode, ProtocolError, RefuseCode, UsageError } from '../errors.js';
import {
  FRAME_BYTES_FLOOR,
  type Limits,
  minEnabled,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  WINDOW_BYTES_FLOOR,
} from '../limits.js';
import { negotiateUnits } from '../units.js';
import { type AcceptFrame, type ConnectFrame, type Extension, ExtensionId, FrameType } from '../wire/frame.js';
import type { AgreedParameters } from './types.js';

/** Extension ids below this are the protocol's own (recovery, security); applications use the rest. */
export const APPLICATION_EXTENSION_ID_MIN = 0x30;
/** Extensions an application may add to a connect request or an acceptance (the core adds up to 3). */
export const APPLICATION_EXTENSIONS_MAX = 16;

/** @throws UsageError for reserved ids, too many extensions or one too large. */
export function checkExtensions(extensions: readonly Extension[]): void {
  if (extensions.length > APPLICATION_EXTENSIONS_MAX) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `at most ${APPLICATION_EXTENSIONS_MAX} extensions`);
  }
  for (const e of extensions) {
    if (!Number.isInteger(e.id) || e.id < APPLICATION_EXTENSION_ID_MIN || e.id > 0xff) {
      throw new UsageError(
        ErrorCode.INVALID_ARGUMENT,
        `extension id ${e.id} is reserved or out of range (applications use ${APPLICATION_EXTENSION_ID_MIN}..255)`,
      );
    }
    if (e.value.byteLength > 4096)
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'an extension holds at most 4096 bytes');
  }
}

/** The u32 value of extension `id`, or null when absent or not 4 bytes. */
export function u32Extension(extensions: readonly Extension[], id: number): number | null {
  const value = extensions.find((x) => x.id === id)?.value;
  if (value?.byteLength !== 4) return null;
  return new DataView(value.buffer, value.byteOffset, 4).getUint32(0);
}

export function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
}

/** The smallest retransmit budget either side may agree to (a few frames' worth). */
export const RETRANSMIT_BUFFER_FLOOR = 64 * 1024;

export function buildConnect(
  channel: number,
  limits: Limits,
  units: number,
  userData: Uint8Array,
  extensions: Extension[],
): ConnectFrame {
  extensions = [...extensions, { id: ExtensionId.RETRANSMIT_BUFFER, value: u32Bytes(limits.retransmitBufferBytes) }];
  return {
    type: FrameType.CONNECT,
    channel,
    versionMin: PROTOCOL_VERSION_MIN,
    versionMax: PROTOCOL_VERSION_MAX,
    units,
    frameBytesMax: limits.frameBytesMax,
    messageBytesMax: limits.messageBytesMax,
    receiveWindowBytes: limits.receiveWindowBytes,
    keepaliveIntervalMs: limits.keepaliveIntervalMs,
    idleTimeoutMs: limits.idleTimeoutMs,
    extensions,
    userData,
  };
}

export type Evaluation = { ok: true; agreed: AgreedParameters } | { ok: false; code: RefuseCode; why: string };

/** The responder's view of a connect request: the values acceptance would agree, or why to refuse. */
export function evaluateConnect(cn: ConnectFrame, limits: Limits, acceptableUnits: number): Evaluation {
  const version = Math.min(cn.versionMax, PROTOCOL_VERSION_MAX);
  if (cn.versionMin > cn.versionMax || version < Math.max(cn.versionMin, PROTOCOL_VERSION_MIN)) {
    return {
      ok: false,
      code: RefuseCode.VERSION_UNSUPPORTED,
      why: `no common version: peer ${cn.versionMin}..${cn.versionMax}, here ${PROTOCOL_VERSION_MIN}..${PROTOCOL_VERSION_MAX}`,
    };
  }
  const units = negotiateUnits(cn.units, acceptableUnits);
  if (units === null) {
    return { ok: false, code: RefuseCode.UNITS_UNSUPPORTED, why: 'no dialogue mode (duplex) in common' };
  }
  const bad = unacceptableLimits(cn);
  if (bad) return { ok: false, code: RefuseCode.PARAMETERS_UNACCEPTABLE, why: bad };
  const proposedRetransmit = u32Extension(cn.extensions, ExtensionId.RETRANSMIT_BUFFER);
  if (proposedRetransmit !== null && proposedRetransmit < RETRANSMIT_BUFFER_FLOOR) {
    return {
      ok: false,
      code: RefuseCode.PARAMETERS_UNACCEPTABLE,
      why: `retransmit buffer ${proposedRetransmit} below ${RETRANSMIT_BUFFER_FLOOR}`,
    };
  }
  return {
    ok: true,
    agreed: {
      version,
      units,
      peerFrameBytesMax: cn.frameBytesMax,
      peerMessageBytesMax: cn.messageBytesMax,
      peerInboundStreamBytes: cn.receiveWindowBytes,
      keepaliveIntervalMs: minEnabled(cn.keepaliveIntervalMs, limits.keepaliveIntervalMs),
      idleTimeoutMs: minEnabled(cn.idleTimeoutMs, limits.idleTimeoutMs),
      retransmitBufferBytes: Math.max(
        RETRANSMIT_BUFFER_FLOOR,
        Math.min(limits.retransmitBufferBytes, u32Extension(cn.extensions, ExtensionId.RETRANSMIT_BUFFER) ?? Infinity),
      ),
    },
  };
}

export function buildAccept(
  channel: number,
  agreed: AgreedParameters,
  limits: Limits,
  userData: Uint8Array,
  extensions: Extension[],
): AcceptFrame {
  return {
    type: FrameType.ACCEPT,
    channel,
    version: agreed.version,
    units: agreed.units,
    frameBytesMax: limits.frameBytesMax,
    messageBytesMax: limits.messageBytesMax,
    receiveWindowBytes: limits.receiveWindowBytes,
    keepaliveIntervalMs: agreed.keepaliveIntervalMs,
    idleTimeoutMs: agreed.idleTimeoutMs,
    extensions: [...extensions, { id: ExtensionId.RETRANSMIT_BUFFER, value: u32Bytes(agreed.retransmitBufferBytes) }],
    userData,
  };
}

/**
 * The initiator's check of an acceptance against its own proposal.
 * @throws ProtocolError when the responder agreed to something never proposed.
 */
export function agreedFromAccept(cn: ConnectFrame, ac: AcceptFrame): AgreedParameters {
  if (ac.version < cn.versionMin || ac.version > cn.versionMax) {
    throw new ProtocolError(AbortCode.UNSUPPORTED_VERSION, `peer accepted version ${ac.version}, not proposed`);
  }
  if ((ac.units & ~cn.units) !== 0) {
    throw new ProtocolError(AbortCode.PROTOCOL_ERROR, 'peer accepted functional units that were not proposed');
  }
  if (negotiateUnits(ac.units, ac.units) === null) {
    throw new ProtocolError(AbortCode.PROTOCOL_ERROR, 'peer accepted a session without a dialogue mode');
  }
  const bad = unacceptableLimits(ac);
  if (bad) throw new ProtocolError(AbortCode.PROTOCOL_ERROR, `peer accepted with ${bad}`);
  if (
    ac.keepaliveIntervalMs > minEnabled(cn.keepaliveIntervalMs, ac.keepaliveIntervalMs) ||
    ac.idleTimeoutMs > minEnabled(cn.idleTimeoutMs, ac.idleTimeoutMs)
  ) {
    throw new ProtocolError(AbortCode.PROTOCOL_ERROR, 'peer agreed to longer timers than proposed');
  }
  const proposed = u32Extension(cn.extensions, ExtensionId.RETRANSMIT_BUFFER) ?? Infinity;
  const retransmit = u32Extension(ac.extensions, ExtensionId.RETRANSMIT_BUFFER) ?? proposed;
  if (retransmit > proposed || retransmit < RETRANSMIT_BUFFER_FLOOR) {
    throw new ProtocolError(AbortCode.PROTOCOL_ERROR, `peer agreed to a retransmit buffer of ${retransmit} bytes`);
  }
  return {
    version: ac.version,
    units: ac.units,
    peerFrameBytesMax: ac.frameBytesMax,
    peerMessageBytesMax: ac.messageBytesMax,
    peerInboundStreamBytes: ac.receiveWindowBytes,
    keepaliveIntervalMs: ac.keepaliveIntervalMs,
    idleTimeoutMs: ac.idleTimeoutMs,
    retransmitBufferBytes: retransmit,
  };
}

function unacceptableLimits(f: {
  frameBytesMax: number;
  receiveWindowBytes: number;
  messageBytesMax: number;
}): string | null {
  if (f.frameBytesMax < FRAME_BYTES_FLOOR) return `frame limit ${f.frameBytesMax} below ${FRAME_BYTES_FLOOR}`;
  if (f.receiveWindowBytes < WINDOW_BYTES_FLOOR)
    return `receive window ${f.receiveWindowBytes} below ${WINDOW_BYTES_FLOOR}`;
  if (f.messageBytesMax < 1) return 'message limit of 0';
  return null;
}
