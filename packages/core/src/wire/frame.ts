/**
 * The frames of liaison's native wire profile, version 1 (docs/PROTOCOL.md has every layout).
 *
 * A connection starts with a 4-byte preface from each side ("LSN" and the framing version), then
 * carries frames. Every frame has a 10-byte header: type u8, flags u8, channel u32, payload length
 * u32 (big-endian), then the payload. Channel 0 carries connection frames; every other channel is
 * one session. The session machine works on these typed values, never on bytes, so a second wire
 * profile (ISO 8327 SPDUs over RFC 1006) can plug in beside this one.
 */

export const PREFACE = Uint8Array.of(0x4c, 0x53, 0x4e, 0x01); // "LSN", framing version 1
export const FRAMING_VERSION = 1;
export const HEADER_BYTES = 10;
/** The connection channel; sessions use 1..2^32-1. */
export const CONNECTION_CHANNEL = 0;

export const FrameType = {
  // Establishment (X.225 CN, AC, RF)
  CONNECT: 0x01,
  ACCEPT: 0x02,
  REFUSE: 0x03,
  // Termination (X.225 FN, DN, NF, AB)
  FINISH: 0x04,
  DISCONNECT: 0x05,
  NOT_FINISHED: 0x06,
  ABORT: 0x07,
  // Recovery (native): resume a suspended session on a new connection
  RESUME: 0x08,
  RESUMED: 0x09,
  RESUME_REFUSE: 0x0a,
  // Data transfer (X.225 DT, EX, TD)
  DATA: 0x10,
  EXPEDITED: 0x11,
  TYPED_DATA: 0x12,
  // Dialogue control, synchronization and activities (X.225 GT, PT, GTC, MIP, MIA, MAP, MAA, RS,
  // RA, ER, ED, AS, AR, AI, AIA, AD, ADA, AE): one payload layout, see dialogue-frame.ts
  GIVE_TOKENS: 0x20,
  PLEASE_TOKENS: 0x21,
  GIVE_CONTROL: 0x22,
  MINOR_SYNC: 0x23,
  MINOR_SYNC_ACK: 0x24,
  MAJOR_SYNC: 0x25,
  MAJOR_SYNC_ACK: 0x26,
  RESYNC: 0x27,
  RESYNC_ACK: 0x28,
  EXCEPTION_REPORT: 0x29,
  EXCEPTION_DATA: 0x2a,
  ACTIVITY_START: 0x2b,
  ACTIVITY_RESUME: 0x2c,
  ACTIVITY_INTERRUPT: 0x2d,
  ACTIVITY_INTERRUPT_ACK: 0x2e,
  ACTIVITY_DISCARD: 0x2f,
  ACTIVITY_DISCARD_ACK: 0x30,
  ACTIVITY_END: 0x31,
  // Capability data (X.225 CD, CDA): outside activities, with activity management
  CAPABILITY_DATA: 0x32,
  CAPABILITY_DATA_ACK: 0x33,
  // Application-named tokens (native): initiator asks the responder's registry, responder answers
  NAMED_TOKEN_ACQUIRE: 0x38,
  NAMED_TOKEN_RELEASE: 0x39,
  NAMED_TOKEN_GRANT: 0x3a,
  NAMED_TOKEN_REFUSE: 0x3b,
  // Maintenance and flow control, native to liaison
  ACK: 0x40,
  PING: 0x41,
  PONG: 0x42,
  CONNECTION_CLOSE: 0x43,
  /** Responder to initiator, first frame of every connection: the nonce a resume must be bound to. */
  CHALLENGE: 0x44,
  /** Connection-level flow control: the absolute charged-byte offset the peer may send up to. */
  WINDOW: 0x45,
  // Authentication (native): credentials renewed inside a live session (docs/PROTOCOL.md 5.19)
  /** Initiator to responder: new credentials (a fresh JWT) for this session. */
  RENEW_CREDENTIALS: 0x58,
  /** Responder to initiator: the answer to a RENEW_CREDENTIALS. */
  CREDENTIALS_RENEWED: 0x59,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Flag of DATA and TYPED_DATA: this fragment ends its message. */
export const FLAG_END = 0x01;
/**
 * Flag of DATA and TYPED_DATA: the sender has used half its in-flight budget and asks for an
 * acknowledgement now. Receivers otherwise acknowledge rarely (every 256 KiB or after ackDelayMs),
 * so bulk transfers spend almost nothing on acknowledgements.
 */
export const FLAG_ACK_SOON = 0x02;

/** Flag of RESUME_REFUSE: the frame ends with the session's final received count and its proof. */
export const FLAG_FINAL = 0x01;

/**
 * What each DATA, TYPED_DATA and EXPEDITED frame costs in the flow-control window and the
 * retransmit budget beyond its payload. Without it, tiny messages would let a window of payload
 * bytes admit hundreds of thousands of frames, each with a per-message cost at the receiver.
 */
export const FRAME_CHARGE_BYTES = 32;

/**
 * The connection-level window each side may assume before the peer's first WINDOW frame (sent
 * right after its preface) says more.
 */
export const INITIAL_CONNECTION_WINDOW_BYTES = 1024 * 1024;

/** Protocol-fixed sizes. */
export const EXPEDITED_BYTES_MAX = 14; // X.215: expedited SSDUs carry at most 14 octets
export const ABORT_MESSAGE_BYTES_MAX = 256;
/**
 * Frames other than DATA and TYPED_DATA are accepted up to this size whatever the peer's
 * frameBytesMax, so user data and extensions never depend on the data-frame limit.
 */
export const CONTROL_FRAME_BYTES_MAX = 192 * 1024;
/** The longest named-token name any frame may carry, in UTF-8 bytes (a responder may announce less). */
export const NAMED_TOKEN_NAME_BYTES_CEILING = 1024;

/** Extension ids carried by CONNECT and ACCEPT (0x01-0x0F recovery; 0x10-0x2F security; 0x80+ applications). */
export const ExtensionId = {
  /** X25519 public key (32 bytes) for the resume key agreement. */
  KEY_SHARE: 0x01,
  /** ACCEPT only: the session id (16 bytes) a resume names. */
  SESSION_ID: 0x02,
  /** ACCEPT only: how long the responder keeps the session suspended (u32 ms). */
  RESUME_WINDOW: 0x03,
  /** CONNECT: the initiator's retransmit budget (u32 bytes); ACCEPT: the agreed one (the smaller). */
  RETRANSMIT_BUFFER: 0x04,
  /** CONNECT: tokens the responder gets (u8 mask), tokens it may choose (u8 mask); ACCEPT: tokens it holds (u8). */
  INITIAL_TOKENS: 0x05,
  /** CONNECT: the initial synchronization point serial number (u32); ACCEPT: the one agreed. */
  INITIAL_SERIAL: 0x06,
  /** ACCEPT only: the responder arbitrates named tokens (u16 name bytes max, u16 tokens per session max). */
  NAMED_TOKENS: 0x08,
  /** CONNECT only: a bearer token or a JWT (UTF-8), for the responder's authentication hook. */
  AUTH_TOKEN: 0x18,
  /** CONNECT only: a pre-shared key's identity and its proof over the connection's CHALLENGE (session/credentials.ts). */
  AUTH_PSK: 0x19,
  /** ACCEPT only: the responder's proof that it holds the same pre-shared key, over the agreed version and units. */
  AUTH_PSK_ANSWER: 0x1a,
} as const;

/** Opaque parameters carried by connect and accept for later extensions (auth, resume, crypto). */
export interface Extension {
  id: number;
  value: Uint8Array;
}

export interface ConnectFrame {
  type: typeof FrameType.CONNECT;
  channel: number;
  versionMin: number;
  versionMax: number;
  units: number;
  frameBytesMax: number;
  messageBytesMax: number;
  receiveWindowBytes: number;
  keepaliveIntervalMs: number;
  idleTimeoutMs: number;
  extensions: Extension[];
  userData: Uint8Array;
}

export interface AcceptFrame {
  type: typeof FrameType.ACCEPT;
  channel: number;
  version: number;
  units: number;
  frameBytesMax: number;
  messageBytesMax: number;
  receiveWindowBytes: number;
  keepaliveIntervalMs: number;
  idleTimeoutMs: number;
  extensions: Extension[];
  userData: Uint8Array;
}

export interface RefuseFrame {
  type: typeof FrameType.REFUSE;
  channel: number;
  code: number;
  userData: Uint8Array;
}

export interface UserDataFrame<T extends FrameType> {
  type: T;
  channel: number;
  userData: Uint8Array;
}
export type FinishFrame = UserDataFrame<typeof FrameType.FINISH>;
export type DisconnectFrame = UserDataFrame<typeof FrameType.DISCONNECT>;
export type NotFinishedFrame = UserDataFrame<typeof FrameType.NOT_FINISHED>;

export interface AbortFrame {
  type: typeof FrameType.ABORT;
  channel: number;
  /** 0: the user aborted; 1: the provider (the protocol machinery) did. */
  byProvider: boolean;
  code: number;
  message: string;
  userData: Uint8Array;
}

export interface DataFrame {
  type: typeof FrameType.DATA | typeof FrameType.TYPED_DATA;
  channel: number;
  /** Last fragment of its message. */
  end: boolean;
  /** The sender asks for an acknowledgement now (FLAG_ACK_SOON). */
  ackSoon?: true;
  payload: Uint8Array;
}

/**
 * Every dialogue frame (0x20-0x33) has the same fields; each type gives some of them meaning and
 * senders write zero or empty in the others (docs/PROTOCOL.md lists which).
 */
export interface DialogueFrame {
  type: DialogueFrameType;
  channel: number;
  /** Token mask: data 0x01, minor 0x02, major/activity 0x04, release 0x08. */
  tokens: number;
  /** A small per-type code: resync kind, reason, confirm-requested flag. */
  code: number;
  serial: number;
  /** Activity id (start, resume), at most ACTIVITY_ID_BYTES_MAX bytes. */
  id: Uint8Array;
  /** The resumed activity's old id (resume only). */
  oldId: Uint8Array;
  userData: Uint8Array;
}
export type DialogueFrameType = (typeof FrameType)[
  | 'GIVE_TOKENS'
  | 'PLEASE_TOKENS'
  | 'GIVE_CONTROL'
  | 'MINOR_SYNC'
  | 'MINOR_SYNC_ACK'
  | 'MAJOR_SYNC'
  | 'MAJOR_SYNC_ACK'
  | 'RESYNC'
  | 'RESYNC_ACK'
  | 'EXCEPTION_REPORT'
  | 'EXCEPTION_DATA'
  | 'ACTIVITY_START'
  | 'ACTIVITY_RESUME'
  | 'ACTIVITY_INTERRUPT'
  | 'ACTIVITY_INTERRUPT_ACK'
  | 'ACTIVITY_DISCARD'
  | 'ACTIVITY_DISCARD_ACK'
  | 'ACTIVITY_END'
  | 'CAPABILITY_DATA'
  | 'CAPABILITY_DATA_ACK'];

/** Dialogue frame types are this contiguous range. */
export function isDialogueFrame(type: number): type is DialogueFrameType {
  return type >= FrameType.GIVE_TOKENS && type <= FrameType.CAPABILITY_DATA_ACK;
}
/** The same test on a frame, narrowing it. */
export function isDialogue(f: Frame): f is DialogueFrame {
  return isDialogueFrame(f.type);
}
export const ACTIVITY_ID_BYTES_MAX = 64;
/** Named-token requests and grants; `name` is 1..1024 UTF-8 bytes. */
export interface NamedTokenFrame {
  type:
    | typeof FrameType.NAMED_TOKEN_ACQUIRE
    | typeof FrameType.NAMED_TOKEN_RELEASE
    | typeof FrameType.NAMED_TOKEN_GRANT;
  channel: number;
  name: string;
}

export interface NamedTokenRefuseFrame {
  type: typeof FrameType.NAMED_TOKEN_REFUSE;
  channel: number;
  /** A TokenRefuseCode. */
  code: number;
  name: string;
}

export interface ExpeditedFrame {
  type: typeof FrameType.EXPEDITED;
  channel: number;
  payload: Uint8Array;
}

/** Cumulative acknowledgement and flow-control credit for one session. */
export interface AckFrame {
  type: typeof FrameType.ACK;
  channel: number;
  /** Count of sequenced frames received on this session so far. */
  received: number;
  /** Absolute offset, in flow-controlled payload bytes, up to which the peer may send. */
  windowLimit: number;
}

/** Initiator: resume the named session on this connection, on the frame's (new) channel. */
export interface ResumeFrame {
  type: typeof FrameType.RESUME;
  channel: number;
  sessionId: Uint8Array;
  clientNonce: Uint8Array;
  /** Sequenced frames the initiator has received on this session. */
  received: number;
  /** Sequence number of the first frame the initiator sends after this one (it may repeat some). */
  resendFrom: number;
  /** Whole messages the initiator is about to send again. */
  replaying: number;
  proof: Uint8Array;
}

/** Responder: the session is resumed; it sends again from the initiator's `received` + 1. */
export interface ResumedFrame {
  type: typeof FrameType.RESUMED;
  channel: number;
  received: number;
  replaying: number;
  proof: Uint8Array;
}

/**
 * Responder: no such session to resume (unknown, expired or not proven: deliberately not said
 * which). When the responder still keeps a tombstone of the session and the resume proved its
 * key, `final` says how many frames the session had received when it ended, proven with the same
 * key, so the initiator learns exactly which of its messages arrived (FLAG_FINAL).
 */
export interface ResumeRefuseFrame {
  type: typeof FrameType.RESUME_REFUSE;
  channel: number;
  code: number;
  message: string;
  final?: FinalCount;
}

/** A lost session's final received count, proven with its resume key (see recovery/proof.ts). */
export interface FinalCount {
  received: number;
  proof: Uint8Array;
}

export interface WindowFrame {
  type: typeof FrameType.WINDOW;
  channel: typeof CONNECTION_CHANNEL;
  windowLimit: number;
}

export interface ChallengeFrame {
  type: typeof FrameType.CHALLENGE;
  channel: typeof CONNECTION_CHANNEL;
  nonce: Uint8Array;
}

export interface PingFrame {
  type: typeof FrameType.PING | typeof FrameType.PONG;
  channel: typeof CONNECTION_CHANNEL;
  /** Opaque to the receiver, echoed in the pong; the sender puts its send time here. */
  stamp: number;
}

export interface ConnectionCloseFrame {
  type: typeof FrameType.CONNECTION_CLOSE;
  channel: typeof CONNECTION_CHANNEL;
  code: number;
  message: string;
}

export type Frame =
  | ConnectFrame
  | AcceptFrame
  | RefuseFrame
  | FinishFrame
  | DisconnectFrame
  | NotFinishedFrame
  | AbortFrame
  | DataFrame
  | ExpeditedFrame
  | DialogueFrame
  | AckFrame
  | PingFrame
  | ConnectionCloseFrame
  | ResumeFrame
  | ResumedFrame
  | ResumeRefuseFrame
  | ChallengeFrame
  | WindowFrame
  | NamedTokenFrame
  | NamedTokenRefuseFrame
  | RenewCredentialsFrame
  | CredentialsRenewedFrame;

export interface RenewCredentialsFrame {
  type: typeof FrameType.RENEW_CREDENTIALS;
  channel: number;
  /** Chosen by the initiator; the answer carries it back. */
  requestId: number;
  /** Credential extensions (ids 0x18-0x2F), as in CONNECT. */
  credentials: Extension[];
}

export interface CredentialsRenewedFrame {
  type: typeof FrameType.CREDENTIALS_RENEWED;
  channel: number;
  requestId: number;
  /** 0: accepted (the new expiry applies); otherwise a RefuseCode saying why not (the old expiry stays). */
  code: number;
  message: string;
}

/**
 * Frames that take a sequence number in their session's reliable stream: the receiver counts
 * them and acknowledges the count, so a resumed session knows what to send again.
 */
export function isSequenced(type: FrameType): boolean {
  return (
    type === FrameType.DATA ||
    type === FrameType.TYPED_DATA ||
    type === FrameType.EXPEDITED ||
    type === FrameType.FINISH ||
    type === FrameType.DISCONNECT ||
    type === FrameType.NOT_FINISHED ||
    isDialogueFrame(type) ||
    isNamedTokenFrame(type)
  );
}

/** The four named-token frames: sequenced, so a resume delivers each exactly once. */
export function isNamedTokenFrame(type: number): boolean {
  return type >= FrameType.NAMED_TOKEN_ACQUIRE && type <= FrameType.NAMED_TOKEN_REFUSE;
}

export function frameTypeName(type: number): string {
  return FRAME_TYPE_NAMES.get(type) ?? `0x${type.toString(16).padStart(2, '0')}`;
}

const FRAME_TYPE_NAMES = new Map<number, string>(Object.entries(FrameType).map(([name, value]) => [value, name]));
