/**
 * The dialogue units on a browser session, as far as this client offers them: the tokens (give,
 * please, give control) and minor and major sync points. Runs the commands on the engine's
 * dialogue, keeps the promise of the outstanding major sync point, and turns the engine's
 * dialogue events into the session's events: confirmations at once, the peer's data-stream events
 * (tokens given, sync points) in the inbox behind the messages before them.
 * Resynchronization, activities, exceptions and capability data are @liaison/node's only (for now).
 */
import {
  type CloseReason,
  type Dialogue,
  type DialogueEvent,
  type DialogueOptions,
  ErrorCode,
  SessionClosedError,
  TOKEN_NAMES,
  Token,
  type TokenName,
  tokenMask,
  tokenNames,
  UsageError,
} from '@liaison/core';
import { SessionSyncEvent, SessionTokensEvent } from './events.js';
import type { SessionView } from './session-common.js';

/** Who holds each token at the start; tokens left out stay with the initiator unless the server asks for them. */
export type InitialTokens = Partial<Record<TokenName, 'initiator' | 'responder'>>;

export interface SyncResult {
  serial: number;
  userData: Uint8Array;
}

/** What the dialogue needs of its session. */
export interface DialogueOwner {
  dispatchEvent(event: Event): boolean;
  /** Sends waiting for room go into the core now (a command of the data stream follows them). */
  forceSends(): void;
  /** Waiting sends may go on (a major sync point was confirmed). */
  pump(): void;
  /** Fires `fire` once the messages received before it were taken. */
  inOrder(fire: () => void): void;
}

const ALL_TOKENS = Token.data | Token.minor | Token.major | Token.release;

/** The INITIAL_TOKENS proposal of connect(): tokens not named may be taken by the server. */
export function connectDialogue(initial: InitialTokens | undefined): DialogueOptions {
  let responder = 0;
  let mentioned = 0;
  for (const [name, owner] of Object.entries(initial ?? {}) as [TokenName, string | undefined][]) {
    if (owner === undefined) continue;
    if (owner !== 'initiator' && owner !== 'responder') {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, `token ${name}: owner must be 'initiator' or 'responder'`);
    }
    const bit = tokenMask([name]);
    mentioned |= bit;
    if (owner === 'responder') responder |= bit;
  }
  return { responderTokens: responder, responderChooses: ALL_TOKENS & ~mentioned };
}

export class SessionDialogue {
  readonly #live: SessionView;
  readonly #owner: DialogueOwner;
  #major: { serial: number; resolve: (r: SyncResult) => void; reject: (e: Error) => void } | null = null;

  constructor(live: SessionView, owner: DialogueOwner) {
    this.#live = live;
    this.#owner = owner;
  }

  /** Who holds each token: this side, the peer, or not available with the agreed units. */
  owners(): Record<TokenName, 'mine' | 'peer' | 'unavailable'> {
    const d = this.#live.core.dialogue;
    const out = {} as Record<TokenName, 'mine' | 'peer' | 'unavailable'>;
    for (const t of TOKEN_NAMES) {
      const bit = tokenMask([t]);
      out[t] = d === null || (d.available & bit) === 0 ? 'unavailable' : (d.mine & bit) !== 0 ? 'mine' : 'peer';
    }
    return out;
  }

  /** The tokens this side holds now. */
  mine(): TokenName[] {
    return tokenNames(this.#live.core.dialogue?.mine ?? 0);
  }

  /**
   * Runs a dialogue command on the core. `ordered`: it belongs to the data stream, so sends still
   * waiting in the outbox go into the core first, in the order the application called them.
   * @throws UsageError as the core does (nothing is queued then), INVALID_STATE without dialogue.
   */
  command<T>(ordered: boolean, run: (d: Dialogue) => T): T {
    const d = this.#live.core.dialogue;
    if (d === null || this.#live.reason !== null) {
      throw new UsageError(ErrorCode.INVALID_STATE, `cannot do that in state ${this.#live.core.state}`);
    }
    if (ordered) this.#owner.forceSends();
    const out = run(d);
    this.#live.driver.commandFlush();
    return out;
  }

  /** S-SYNC-MAJOR: resolves when the peer confirms. */
  syncMajor(userData: Uint8Array): Promise<SyncResult> {
    if (this.#major)
      return Promise.reject(new UsageError(ErrorCode.INVALID_STATE, 'a major sync point is outstanding'));
    try {
      const serial = this.command(true, (d) => d.syncMajor(userData));
      return new Promise<SyncResult>((resolve, reject) => {
        this.#major = { serial, resolve, reject };
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The session ended: the outstanding major sync point rejects. */
  closed(reason: CloseReason): void {
    const waiter = this.#major;
    this.#major = null;
    waiter?.reject(new SessionClosedError(reason));
  }

  /** A dialogue event from the core. */
  handle(e: DialogueEvent): void {
    const owner = this.#owner;
    switch (e.kind) {
      case 'tokens-requested':
        owner.dispatchEvent(new SessionTokensEvent('tokens-requested', tokenNames(e.tokens), e.userData));
        return;
      case 'sync-minor-confirmed':
        owner.dispatchEvent(new SessionSyncEvent('sync-minor-confirmed', e.serial, e.userData));
        return;
      case 'sync-major-confirmed': {
        const waiter = this.#major;
        if (waiter && waiter.serial === e.serial) {
          this.#major = null;
          waiter.resolve({ serial: e.serial, userData: e.userData });
        }
        owner.dispatchEvent(new SessionSyncEvent('sync-major-confirmed', e.serial, e.userData));
        owner.pump();
        return;
      }
      case 'tokens-given':
        owner.inOrder(() => owner.dispatchEvent(new SessionTokensEvent('tokens', this.mine(), e.userData)));
        return;
      case 'sync-minor':
        owner.inOrder(() =>
          owner.dispatchEvent(new SessionSyncEvent('sync-minor', e.serial, e.userData, e.confirmRequested)),
        );
        return;
      case 'sync-major':
        owner.inOrder(() => owner.dispatchEvent(new SessionSyncEvent('sync-major', e.serial, e.userData)));
        return;
      default:
        // Units this client does not propose: a server cannot start them on this session.
        return;
    }
  }
}
