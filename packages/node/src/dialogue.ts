/**
 * The public side of tokens, sync points, resynchronization and activities (issue #4): option
 * parsing, the events the Session emits, and the promises waiting for confirmations.
 *
 * The Session keeps the ordering rule: events from the peer's data stream (sync points,
 * resynchronize, activities, given tokens) wait in its inbox behind earlier messages, so they
 * fire only once the application took every message sent before them. Confirmations of this
 * side's own requests settle their promises at once.
 */
import {
  type CloseReason,
  type DialogueOptions,
  ErrorCode,
  LiaisonError,
  type ResyncKind,
  SessionClosedError,
  Token,
  type TokenName,
  tokenMask,
  UsageError,
} from '@liaison/core';

export type { TokenName };
export type TokenOwner = 'initiator' | 'responder';
/** Who holds each token at the start; tokens left out stay with the initiator unless the responder asks for them. */
export type InitialTokens = Partial<Record<TokenName, TokenOwner>>;

export interface SyncResult {
  serial: number;
  userData: Uint8Array;
}

/** Events of the dialogue units, as a Session emits them. */
export interface DialogueEventMap {
  tokens: [e: { mine: TokenName[] }];
  'tokens-requested': [e: { tokens: TokenName[]; userData: Uint8Array }];
  'sync-minor': [e: { serial: number; userData: Uint8Array; confirmRequested: boolean; separation: boolean }];
  'sync-minor-confirmed': [e: { serial: number; userData: Uint8Array }];
  'sync-major': [e: { serial: number; userData: Uint8Array }];
  'sync-major-confirmed': [e: { serial: number; userData: Uint8Array }];
  resynchronize: [e: { kind: ResyncKind; serial: number; tokens: TokenName[]; userData: Uint8Array }];
  resynchronized: [e: { serial: number; userData: Uint8Array }];
  exception: [e: { reason: number; byProvider: boolean; userData: Uint8Array }];
  'activity-start': [e: { id: Uint8Array; userData: Uint8Array }];
  'activity-resume': [e: { id: Uint8Array; oldId: Uint8Array; serial: number; userData: Uint8Array }];
  'activity-interrupt': [e: { reason: number; userData: Uint8Array }];
  'activity-discard': [e: { reason: number; userData: Uint8Array }];
  'activity-end': [e: { serial: number; userData: Uint8Array }];
  /** Capability data from the peer (outside activities): answer with confirmCapability(). */
  'capability-data': [e: { userData: Uint8Array }];
}

/** Connect side: the INITIAL_TOKENS proposal (tokens not named: the responder may choose them). */
export function connectDialogue(initialTokens: InitialTokens | undefined, initialSerial?: number): DialogueOptions {
  const named = initialTokens ?? {};
  let responder = 0;
  let mentioned = 0;
  for (const [name, owner] of Object.entries(named) as [TokenName, TokenOwner | undefined][]) {
    const bit = tokenMask([name]);
    if (owner === undefined) continue;
    if (owner !== 'initiator' && owner !== 'responder') {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, `token ${name}: owner must be 'initiator' or 'responder'`);
    }
    mentioned |= bit;
    if (owner === 'responder') responder |= bit;
  }
  const out: DialogueOptions = { responderTokens: responder, responderChooses: ALL & ~mentioned };
  if (initialSerial !== undefined) out.initialSerial = initialSerial;
  return out;
}

/** Listen side: the tokens this server takes when the initiator lets it choose. */
export function wantedTokens(initialTokens: InitialTokens | undefined): number {
  let m = 0;
  for (const [name, owner] of Object.entries(initialTokens ?? {}) as [TokenName, TokenOwner | undefined][]) {
    if (owner === 'responder') m |= tokenMask([name]);
  }
  return m;
}

const ALL = Token.data | Token.minor | Token.major | Token.release;

/** A major sync (or activity end) whose confirmation was cancelled by a resynchronization or an activity stop. */
export class SyncAbandonedError extends LiaisonError {
  constructor(message: string) {
    super(ErrorCode.SYNC_ABANDONED, message);
  }
}

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
}

/** Promises waiting for the peer: one per outstanding request (X.225 allows one of each at a time). */
export class Confirmations {
  major: (Waiter<SyncResult> & { serial: number }) | null = null;
  resync: Waiter<SyncResult> | null = null;
  stop: Waiter<void> | null = null;
  capability: Waiter<Uint8Array> | null = null;

  waitCapability(): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      this.capability = { resolve, reject };
    });
  }

  capabilityConfirmed(userData: Uint8Array): void {
    const w = this.capability;
    this.capability = null;
    w?.resolve(userData);
  }

  waitMajor(serial: number): Promise<SyncResult> {
    return new Promise<SyncResult>((resolve, reject) => {
      this.major = { serial, resolve, reject };
    });
  }

  waitResync(): Promise<SyncResult> {
    return new Promise<SyncResult>((resolve, reject) => {
      this.resync = { resolve, reject };
    });
  }

  waitStop(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.stop = { resolve, reject };
    });
  }

  majorConfirmed(r: SyncResult): void {
    const w = this.major;
    if (w === null || w.serial !== r.serial) return;
    this.major = null;
    w.resolve(r);
  }

  resynchronized(r: SyncResult): void {
    const w = this.resync;
    this.resync = null;
    w?.resolve(r);
  }

  stopped(): void {
    const w = this.stop;
    this.stop = null;
    w?.resolve();
  }

  /** A resynchronization or activity stop cancels the outstanding major sync. */
  abandonMajor(why: string): void {
    const w = this.major;
    this.major = null;
    w?.reject(new SyncAbandonedError(why));
  }

  supersededResync(): void {
    const w = this.resync;
    this.resync = null;
    w?.reject(new LiaisonError(ErrorCode.RESYNC_SUPERSEDED, 'the peer’s resynchronization or activity stop won'));
  }

  closed(reason: CloseReason): void {
    const error = new SessionClosedError(reason);
    for (const w of [this.major, this.resync, this.stop, this.capability]) w?.reject(error);
    this.major = this.resync = this.stop = this.capability = null;
  }
}
