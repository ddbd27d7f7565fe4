/**
 * The events a browser Session dispatches (it is an EventTarget): one class per event, each
 * carrying its value as a named property, and the map that types addEventListener.
 */
import type { CloseReason, ResumeStats, TokenName } from '@liaison/core';

/** A message of the peer (normal data), to a 'message' listener (otherwise iterate the session). */
export class SessionMessageEvent extends Event {
  readonly data: Uint8Array;
  constructor(data: Uint8Array) {
    super('message');
    this.data = data;
  }
}

/** The transport broke; the session waits to be resumed (sends are kept and go out on resume). */
export class SessionSuspendedEvent extends Event {
  readonly reason: string;
  constructor(reason: string) {
    super('suspended');
    this.reason = reason;
  }
}

/** The session resumed on a new WebSocket: what it cost, in numbers. */
export class SessionResumedEvent extends Event {
  readonly stats: ResumeStats;
  constructor(stats: ResumeStats) {
    super('resumed');
    this.stats = stats;
  }
}

/** The session ended, however it ended (also resolves `closed`). */
export class SessionCloseEvent extends Event {
  readonly reason: CloseReason;
  constructor(reason: CloseReason) {
    super('close');
    this.reason = reason;
  }
}

/** The server's registry granted a named token this session asked for (acquire() resolved too). */
export class SessionTokenGrantedEvent extends Event {
  readonly name: string;
  constructor(name: string) {
    super('named-token-granted');
    this.name = name;
  }
}

/**
 * 'tokens': the peer gave tokens (`tokens`: those this side holds now, also after this side gave
 * some). 'tokens-requested': the peer asks for `tokens` (give them with giveTokens(), or not).
 */
export class SessionTokensEvent extends Event {
  readonly tokens: TokenName[];
  readonly userData: Uint8Array;
  constructor(type: 'tokens' | 'tokens-requested', tokens: TokenName[], userData: Uint8Array) {
    super(type);
    this.tokens = tokens;
    this.userData = userData;
  }
}

/**
 * A sync point: the peer's ('sync-minor', 'sync-major': answer with confirmMinor() or
 * confirmMajor()), or the peer's confirmation of this side's ('sync-minor-confirmed',
 * 'sync-major-confirmed').
 */
export class SessionSyncEvent extends Event {
  readonly serial: number;
  readonly userData: Uint8Array;
  /** 'sync-minor': the peer asked for a confirmation. */
  readonly confirmRequested: boolean;
  constructor(
    type: 'sync-minor' | 'sync-minor-confirmed' | 'sync-major' | 'sync-major-confirmed',
    serial: number,
    userData: Uint8Array,
    confirmRequested = false,
  ) {
    super(type);
    this.serial = serial;
    this.userData = userData;
    this.confirmRequested = confirmRequested;
  }
}

export interface SessionEventMap {
  /** The session is open (also resolves `ready`). */
  open: Event;
  message: SessionMessageEvent;
  /** write() returned false earlier and everything written has been taken: write again. */
  drain: Event;
  suspended: SessionSuspendedEvent;
  resumed: SessionResumedEvent;
  'named-token-granted': SessionTokenGrantedEvent;
  tokens: SessionTokensEvent;
  'tokens-requested': SessionTokensEvent;
  'sync-minor': SessionSyncEvent;
  'sync-minor-confirmed': SessionSyncEvent;
  'sync-major': SessionSyncEvent;
  'sync-major-confirmed': SessionSyncEvent;
  close: SessionCloseEvent;
}
