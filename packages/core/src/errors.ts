/**
 * Errors, sorted by blame (after rustls): the peer misbehaved (ProtocolError), the caller
 * misused the API (UsageError), the session is over (SessionClosedError), a deadline passed
 * (TimeoutError), the transport failed (TransportError), or a bug of ours (InternalError).
 *
 * Every error has a stable string `code` (listed in docs/ERRORS.md); match on it, never on the
 * message. A ProtocolError also carries the numeric wire code sent to the peer in the abort.
 */

/** Numeric reasons carried by provider aborts and refusals on the wire. Stable: part of the protocol. */
export const AbortCode = {
  /** The user aborted; see the user data for why. */
  USER: 0,
  PROTOCOL_ERROR: 1,
  MALFORMED_FRAME: 2,
  UNKNOWN_FRAME_TYPE: 3,
  FRAME_TOO_LARGE: 4,
  MESSAGE_TOO_LARGE: 5,
  FLOW_CONTROL: 6,
  UNEXPECTED_FRAME: 7,
  BAD_PREFACE: 8,
  UNSUPPORTED_VERSION: 9,
  IDLE_TIMEOUT: 10,
  HANDSHAKE_TIMEOUT: 11,
  LIMIT_EXCEEDED: 12,
  INTERNAL: 13,
  RELEASE_TIMEOUT: 14,
  SHUTDOWN: 15,
  /** Local only, never sent: the transport connection was lost. */
  TRANSPORT_LOST: 16,
  /** The peer does not know the session: unknown, expired, or the proof failed (not said which). */
  RESUME_REFUSED: 17,
  /** The session was not resumed before its resume window ended. */
  RESUME_WINDOW_EXPIRED: 18,
  /** Suspended sessions used their memory budget; the oldest was dropped. */
  RESUME_BUDGET_EXCEEDED: 19,
  /** The peer's resume answer did not prove the key, or its counts were impossible. */
  RESUME_FAILED: 20,
  /** A dialogue frame (or normal data, or a release) from a peer that does not hold the token it needs. */
  TOKEN_VIOLATION: 21,
  /** A sync, resynchronize or activity frame not allowed now (wrong serial, nothing pending, wrong state). */
  SYNC_VIOLATION: 22,
  /** The peer broke the named-token protocol (a grant or refusal nobody asked for, tokens not offered). */
  NAMED_TOKEN_VIOLATION: 30,
  // Session-level encryption (Noise), 35-44
  /** A Noise handshake message was malformed or failed to authenticate. */
  NOISE_HANDSHAKE_FAILED: 35,
  /** This side requires Noise and the peer opened in plaintext. */
  NOISE_REQUIRED: 36,
  /** This side asked for Noise and the peer answered in plaintext or with another variant: never a fallback. */
  NOISE_DOWNGRADE: 37,
  /** A sealed record failed authentication (tampered, reordered, truncated or replayed bytes). */
  NOISE_RECORD_INVALID: 38,
  /** The responder's static key is not the pinned one. */
  NOISE_PEER_KEY_MISMATCH: 39,
  /** The peer asked for Noise and this side has no Noise configuration. */
  NOISE_UNAVAILABLE: 40,
  /** The session's credentials (a JWT) expired and were not renewed in time. */
  CREDENTIALS_EXPIRED: 45,
  /** Too many connections from this remote address at once (the server's connectionsPerAddressMax). */
  TOO_MANY_CONNECTIONS: 46,
  /** Too many failed logins or resumes from this remote address lately: try again later. */
  RATE_LIMITED: 47,
  /** The peer did not prove the pre-shared key, or the agreement its proof covers was changed on the way. */
  AUTHENTICATION_FAILED: 48,
} as const;
export type AbortCode = (typeof AbortCode)[keyof typeof AbortCode];

/** Reasons for refusing a connect request (X.225 RF reason, extended). */
export const RefuseCode = {
  /** The called application refused, no reason given. */
  REJECTED: 0,
  /** The called application is busy or over its session limit (congestion). */
  CONGESTION: 1,
  /** No protocol version in common. */
  VERSION_UNSUPPORTED: 2,
  /** No acceptable set of functional units (a dialogue mode is required). */
  UNITS_UNSUPPORTED: 3,
  /** A proposed limit is outside what this side accepts. */
  PARAMETERS_UNACCEPTABLE: 4,
  /** Credentials were missing or not accepted. */
  UNAUTHENTICATED: 5,
  /** The server is shutting down. */
  SHUTTING_DOWN: 6,
  /** Authenticated, but this principal may not open this session. */
  FORBIDDEN: 7,
  /** Too many failed logins from this remote address lately: try again later. */
  RATE_LIMITED: 8,
} as const;
export type RefuseCode = (typeof RefuseCode)[keyof typeof RefuseCode];

/** Stable string codes of the error classes below. */
export const ErrorCode = {
  PROTOCOL: 'ERR_LIAISON_PROTOCOL',
  USAGE: 'ERR_LIAISON_USAGE',
  INVALID_STATE: 'ERR_LIAISON_INVALID_STATE',
  INVALID_ARGUMENT: 'ERR_LIAISON_INVALID_ARGUMENT',
  MESSAGE_TOO_LARGE: 'ERR_LIAISON_MESSAGE_TOO_LARGE',
  UNIT_NOT_SELECTED: 'ERR_LIAISON_UNIT_NOT_SELECTED',
  WOULD_BLOCK: 'ERR_LIAISON_WOULD_BLOCK',
  /** The command needs a token (data, minor, major/activity, release) this side does not hold. */
  TOKEN_NOT_HELD: 'ERR_LIAISON_TOKEN_NOT_HELD',
  /** A major sync point's confirmation will not come: a resynchronization or activity stop cancelled it. */
  SYNC_ABANDONED: 'ERR_LIAISON_SYNC_ABANDONED',
  /** This side's resynchronization lost a collision (or an activity stop overrode it). */
  RESYNC_SUPERSEDED: 'ERR_LIAISON_RESYNC_SUPERSEDED',
  /** A send still waiting when a resynchronization or activity stop purged unsent data. */
  PURGED: 'ERR_LIAISON_PURGED',
  SESSION_CLOSED: 'ERR_LIAISON_SESSION_CLOSED',
  SESSION_REFUSED: 'ERR_LIAISON_SESSION_REFUSED',
  SESSION_ABORTED: 'ERR_LIAISON_SESSION_ABORTED',
  TIMEOUT: 'ERR_LIAISON_TIMEOUT',
  TRANSPORT: 'ERR_LIAISON_TRANSPORT',
  INTERNAL: 'ERR_LIAISON_INTERNAL',
  /** A named-token request was refused (limits, cancelled); `refuseCode` says why. */
  NAMED_TOKEN_REFUSED: 'ERR_LIAISON_NAMED_TOKEN_REFUSED',
  /** The peer offers no named tokens (its ACCEPT had no NAMED_TOKENS extension), or this side is not the initiator. */
  NAMED_TOKENS_UNAVAILABLE: 'ERR_LIAISON_NAMED_TOKENS_UNAVAILABLE',
  /** releaseToken() of a name neither held nor requested. */
  NAMED_TOKEN_NOT_HELD: 'ERR_LIAISON_NAMED_TOKEN_NOT_HELD',
  /** The server did not accept renewed credentials (the session goes on until the old ones expire). */
  RENEWAL_REFUSED: 'ERR_LIAISON_RENEWAL_REFUSED',
  /** A session record of an unknown version, or malformed (the message names the field). */
  INVALID_RECORD: 'ERR_LIAISON_INVALID_RECORD',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class LiaisonError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The peer sent something the protocol forbids. `wireCode` is the abort code sent back. */
export class ProtocolError extends LiaisonError {
  readonly wireCode: AbortCode;
  constructor(wireCode: AbortCode, message: string, options?: { cause?: unknown }) {
    super(ErrorCode.PROTOCOL, message, options);
    this.wireCode = wireCode;
  }
}

/** The caller asked for something not allowed now or with these arguments. Never caused by peer bytes. */
export class UsageError extends LiaisonError {}

/** The session is closed (released, refused or aborted); `reason` says how. */
export class SessionClosedError extends LiaisonError {
  readonly reason: CloseReason;
  constructor(reason: CloseReason, message?: string) {
    const code =
      reason.kind === 'refused'
        ? ErrorCode.SESSION_REFUSED
        : reason.kind === 'released'
          ? ErrorCode.SESSION_CLOSED
          : ErrorCode.SESSION_ABORTED;
    super(code, message ?? describeCloseReason(reason));
    this.reason = reason;
  }
}

export class TimeoutError extends LiaisonError {
  constructor(message: string) {
    super(ErrorCode.TIMEOUT, message);
  }
}

export class TransportError extends LiaisonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.TRANSPORT, message, options);
  }
}

export class InternalError extends LiaisonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.INTERNAL, message, options);
  }
}

/**
 * Why a session ended. Delivered by the `closed` promise and close events; never thrown by core.
 * - released: orderly release completed; everything sent by both sides was delivered.
 * - refused: the peer refused the connect request.
 * - aborted: the local user (`origin: 'local'`) or the peer (`origin: 'peer'`) aborted,
 *   or a provider (protocol error, timeout, transport loss) ended it.
 * `undelivered` counts messages accepted by send() that the peer is not known to have received.
 */
export type CloseReason =
  | { kind: 'released'; userData: Uint8Array; undelivered: 0 }
  | { kind: 'refused'; code: RefuseCode; userData: Uint8Array; undelivered: number }
  | {
      kind: 'aborted';
      origin: 'local' | 'peer';
      /** user: an application called abort(); provider: the protocol machinery ended the session. */
      by: 'user' | 'provider';
      code: AbortCode;
      message: string;
      userData: Uint8Array;
      undelivered: number;
    };

export function describeCloseReason(reason: CloseReason): string {
  switch (reason.kind) {
    case 'released':
      return 'session released';
    case 'refused':
      return `session refused: ${refuseCodeName(reason.code)}`;
    case 'aborted': {
      const who = reason.origin === 'local' ? 'locally' : 'by peer';
      const what = reason.by === 'user' ? 'user abort' : `provider abort (${abortCodeName(reason.code)})`;
      const detail = reason.message ? `: ${reason.message}` : '';
      const lost = reason.undelivered > 0 ? ` (${reason.undelivered} messages not known delivered)` : '';
      return `session aborted ${who}, ${what}${detail}${lost}`;
    }
  }
}

export function abortCodeName(code: number): string {
  for (const [name, value] of Object.entries(AbortCode)) if (value === code) return name;
  return `UNKNOWN_${code}`;
}

export function refuseCodeName(code: number): string {
  for (const [name, value] of Object.entries(RefuseCode)) if (value === code) return name;
  return `UNKNOWN_${code}`;
}
