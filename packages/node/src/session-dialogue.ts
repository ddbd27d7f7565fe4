/**
 * The dialogue side of a Node session (tokens, sync points, resynchronization, activities,
 * capability data): runs the commands on the engine's dialogue, keeps the promises waiting for
 * the peer's confirmations (`Confirmations`), and turns the engine's dialogue events into the
 * session's events: confirmations settle at once, the peer's stream events wait their turn in
 * the inbox behind the messages before them.
 */
import {
  type CloseReason,
  type Dialogue,
  type DialogueEvent,
  ErrorCode,
  type ResyncKind,
  TOKEN_NAMES,
  type TokenName,
  tokenMask,
  tokenNames,
  UsageError,
} from '@liaison/core';
import { Confirmations, type SyncResult } from './dialogue.js';
import type { PeerEventSink } from './inbox.js';
import type { Parking } from './parking.js';
import { EMPTY, RESOLVED, type SessionView, toBytes } from './session-common.js';
import type { SessionEmitter } from './session-types.js';

/** The outbox as the dialogue uses it. */
export interface DialogueOutbox {
  /** Sends waiting for room go into the core now (a command of the data stream follows them). */
  force(): void;
  /** X.225 purge of the normal data waiting to be sent. */
  purge(): void;
  /** Goes on handing waiting work to the core (a confirmation lifted the wait of normal data). */
  pump(): void;
}

/** The inbox as the dialogue uses it. */
export interface DialogueInbox {
  /** X.225 purge of the normal data received and not yet taken. */
  purge(): void;
  /** Queues a peer stream event behind the messages before it. */
  dialogue(event: DialogueEvent, sink: PeerEventSink): void;
}

export type TokenOwners = Readonly<Record<TokenName, 'mine' | 'peer' | 'unavailable'>>;

export class SessionDialogue implements PeerEventSink {
  readonly #live: SessionView;
  readonly #events: Pick<SessionEmitter, 'emit'>;
  readonly #outbox: DialogueOutbox;
  readonly #inbox: DialogueInbox;
  readonly #parking: Parking | null;
  readonly #confirmations = new Confirmations();

  constructor(
    live: SessionView,
    events: Pick<SessionEmitter, 'emit'>,
    outbox: DialogueOutbox,
    inbox: DialogueInbox,
    parking: Parking | null,
  ) {
    this.#live = live;
    this.#events = events;
    this.#outbox = outbox;
    this.#inbox = inbox;
    this.#parking = parking;
  }

  tokenOwners(): TokenOwners {
    const d = this.#live.core.dialogue;
    const out = {} as Record<TokenName, 'mine' | 'peer' | 'unavailable'>;
    for (const t of TOKEN_NAMES) {
      const bit = tokenMask([t]);
      out[t] = d === null || (d.available & bit) === 0 ? 'unavailable' : (d.mine & bit) !== 0 ? 'mine' : 'peer';
    }
    return out;
  }

  /** The tokens this side holds now, as the 'tokens' event reports them. */
  emitTokens(): void {
    this.#events.emit('tokens', { mine: this.#mine() });
  }

  #mine(): TokenName[] {
    return tokenNames(this.#live.core.dialogue?.mine ?? 0);
  }

  /**
   * Runs a dialogue command on the core. `ordered`: it belongs to the data stream, so sends still
   * waiting in the outbox (send queue full) go into the core first, keeping the order the
   * application called them in. @throws UsageError as the core does; nothing is queued then.
   */
  command<T>(ordered: boolean, run: (d: Dialogue) => T): T {
    const d = this.#live.core.dialogue;
    if (d === null || this.#live.reason !== null) {
      throw new UsageError(ErrorCode.INVALID_STATE, `cannot do that in state ${this.#live.core.state}`);
    }
    if (ordered) this.#outbox.force();
    const out = run(d);
    this.#live.driver.commandFlush();
    this.#parking?.update();
    return out;
  }

  /** A major sync point or activity end: resolves when the peer confirms it. */
  major(run: (d: Dialogue) => number): Promise<SyncResult> {
    try {
      let promise: Promise<SyncResult> = RESOLVED as unknown as Promise<SyncResult>;
      this.command(true, (d) => {
        promise = this.#confirmations.waitMajor(run(d));
      });
      return promise;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** An activity interrupt or discard: purges data in transit, resolves on the peer's acknowledgement. */
  stop(run: (d: Dialogue) => void): Promise<void> {
    try {
      let promise: Promise<void> = RESOLVED;
      this.#outbox.purge();
      this.command(false, (d) => {
        run(d);
        this.#inbox.purge();
        this.#confirmations.abandonMajor('activity stopped');
        this.#confirmations.supersededResync();
        promise = this.#confirmations.waitStop();
      });
      return promise;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** S-RESYNCHRONIZE: purges data in transit both ways; resolves when the peer confirms. */
  resynchronize(
    kind: ResyncKind,
    opts: { serial?: number; tokens?: readonly TokenName[]; userData?: Uint8Array | string },
  ): Promise<SyncResult> {
    let promise: Promise<SyncResult> = RESOLVED as unknown as Promise<SyncResult>;
    this.#outbox.purge();
    this.command(false, (d) => {
      this.#inbox.purge();
      const args: { serial?: number; tokens?: number; userData: Uint8Array } = {
        userData: toBytes(opts.userData ?? EMPTY),
      };
      if (opts.serial !== undefined) args.serial = opts.serial;
      if (opts.tokens !== undefined) args.tokens = tokenMask(opts.tokens);
      d.resynchronize(kind, args);
      this.#confirmations.abandonMajor('resynchronized');
      promise = this.#confirmations.waitResync();
    });
    return promise;
  }

  /** S-CAPABILITY-DATA: resolves with the peer's confirmation's user data. */
  sendCapability(run: (d: Dialogue) => void): Promise<Uint8Array> {
    try {
      let promise: Promise<Uint8Array> = RESOLVED as unknown as Promise<Uint8Array>;
      this.command(true, (d) => {
        run(d);
        promise = this.#confirmations.waitCapability();
      });
      return promise;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The session ended: every promise waiting for the peer rejects with a SessionClosedError. */
  closed(reason: CloseReason): void {
    this.#confirmations.closed(reason);
  }

  /** A dialogue event from the core: confirmations settle at once, the peer's stream events queue. */
  handle(e: DialogueEvent): void {
    const events = this.#events;
    const confirmations = this.#confirmations;
    switch (e.kind) {
      case 'tokens-requested':
        events.emit('tokens-requested', { tokens: tokenNames(e.tokens), userData: e.userData });
        return;
      case 'sync-minor-confirmed':
        events.emit('sync-minor-confirmed', { serial: e.serial, userData: e.userData });
        return;
      case 'sync-major-confirmed':
        confirmations.majorConfirmed({ serial: e.serial, userData: e.userData });
        events.emit('sync-major-confirmed', { serial: e.serial, userData: e.userData });
        this.#outbox.pump();
        return;
      case 'resynchronized':
        confirmations.resynchronized({ serial: e.serial, userData: e.userData });
        events.emit('resynchronized', { serial: e.serial, userData: e.userData });
        this.emitTokens();
        this.#outbox.pump();
        return;
      case 'resync-superseded':
        confirmations.supersededResync();
        return;
      case 'purged':
      case 'discarded':
        return; // counted in `purged`
      case 'capability-data-confirmed':
        confirmations.capabilityConfirmed(e.userData);
        return;
      case 'activity-interrupted':
      case 'activity-discarded':
        confirmations.stopped();
        this.#outbox.pump();
        return;
      case 'resynchronize':
      case 'activity-interrupt':
      case 'activity-discard':
        // X.225 purge: messages received and not yet taken are dropped, and counted.
        this.#inbox.purge();
        this.#outbox.purge();
        confirmations.abandonMajor(e.kind === 'resynchronize' ? 'resynchronized' : 'activity stopped');
        break;
      default:
        break;
    }
    this.#inbox.dialogue(e, this);
  }

  /** Emits a peer stream event in order (after the messages before it were taken). */
  emitPeerEvent(e: DialogueEvent): void {
    const events = this.#events;
    switch (e.kind) {
      case 'tokens-given':
        this.emitTokens();
        return;
      case 'sync-minor':
        events.emit('sync-minor', {
          serial: e.serial,
          userData: e.userData,
          confirmRequested: e.confirmRequested,
          separation: e.separation,
        });
        return;
      case 'sync-major':
        events.emit('sync-major', { serial: e.serial, userData: e.userData });
        return;
      case 'resynchronize':
        events.emit('resynchronize', {
          kind: e.resync,
          serial: e.serial,
          tokens: tokenNames(e.tokens),
          userData: e.userData,
        });
        return;
      case 'exception':
        events.emit('exception', { reason: e.reason, byProvider: e.byProvider, userData: e.userData });
        return;
      case 'activity-start':
        events.emit('activity-start', { id: e.id, userData: e.userData });
        return;
      case 'activity-resume':
        events.emit('activity-resume', { id: e.id, oldId: e.oldId, serial: e.serial, userData: e.userData });
        return;
      case 'activity-interrupt':
        events.emit('activity-interrupt', { reason: e.reason, userData: e.userData });
        return;
      case 'activity-discard':
        events.emit('activity-discard', { reason: e.reason, userData: e.userData });
        return;
      case 'activity-end':
        events.emit('activity-end', { serial: e.serial, userData: e.userData });
        return;
      case 'capability-data':
        events.emit('capability-data', { userData: e.userData });
        return;
      default:
        return;
    }
  }
}
