/**
 * The outbox of a Node session: one FIFO of outgoing work (sends waiting for room, release
 * requests and responses). A send the core cannot take yet waits here, and a release queued
 * after it waits behind it, so everything sent before close() is on the wire before the release.
 */
import { ErrorCode, LiaisonError, type MessageKind, SessionClosedError, Unit, UsageError } from '@liaison/core';
import { untilSettled } from './abort.js';
import { now } from './driver.js';
import { endOf, RESOLVED, type SessionView, stateOf, toBytes } from './session-common.js';
import type { SessionEmitter } from './session-types.js';

type Op =
  | {
      op: 'send';
      kind: MessageKind;
      data: Uint8Array;
      resolve: () => void;
      reject: (e: unknown) => void;
      /** Its signal aborted while it waited: skipped, never handed to the core. */
      cancelled?: boolean;
    }
  | { op: 'release'; userData: Uint8Array }
  | { op: 'respond'; accept: boolean; userData: Uint8Array };

export class Outbox {
  readonly #live: SessionView;
  /** Where 'drain' goes (the Session). */
  readonly #events: Pick<SessionEmitter, 'emit'>;
  readonly #ops: Op[] = [];
  #opsHead = 0;
  /** write() returned false: emit 'drain' once the backlog is taken. */
  #needDrain = false;

  constructor(live: SessionView, events: Pick<SessionEmitter, 'emit'>) {
    this.#live = live;
    this.#events = events;
  }

  /** Bytes of the sends waiting here (not yet in the core's queue). */
  get waitingBytes(): number {
    let waiting = 0;
    for (let i = this.#opsHead; i < this.#ops.length; i++) {
      const op = this.#ops[i] as Op;
      if (op.op === 'send' && !op.cancelled) waiting += op.data.byteLength;
    }
    return waiting;
  }

  /** Sends waiting here and not withdrawn: what a session aborted before its connect request loses. */
  get waitingSends(): number {
    return this.#ops.slice(this.#opsHead).filter((op) => op.op === 'send' && !op.cancelled).length;
  }

  /** write(): queues one normal message and says whether to go on writing (false: wait for 'drain'). */
  write(data: Uint8Array | string): boolean {
    const sent = this.send('normal', data, undefined, true);
    if (sent !== RESOLVED) {
      sent.catch((e: unknown) => {
        if (!(e instanceof SessionClosedError)) process.emitWarning(e as Error);
      });
    }
    // Go on while nothing waits for room: what this call queued may already be in the core.
    const more = this.#opsHead === this.#ops.length && this.#live.core.writable;
    if (!more) this.#needDrain = true;
    return more;
  }

  /** `throwNow`: a refusal known at once throws instead of rejecting (write()). */
  send(kind: MessageKind, data: Uint8Array | string, signal?: AbortSignal, throwNow = false): Promise<void> {
    const core = this.#live.core;
    // The core may have closed in this turn (abort()) before its `closed` event was dispatched.
    const reason = endOf(this.#live);
    if (reason) {
      if (throwNow) throw new SessionClosedError(reason);
      return Promise.reject(new SessionClosedError(reason));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const bytes = toBytes(data);
    // Fast path: nothing waiting and the core takes it now.
    if (this.#opsHead === this.#ops.length && core.writable) {
      try {
        core.send(now(), kind, bytes);
      } catch (e) {
        if (throwNow) throw e;
        return Promise.reject(e);
      }
      this.#live.driver.commandFlush();
      return RESOLVED;
    }
    const refusal = this.#refusal(kind);
    if (refusal) {
      if (throwNow) throw refusal;
      return Promise.reject(refusal);
    }
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const queued = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const op: Op & { op: 'send' } = { op: 'send', kind, data: bytes, resolve, reject };
    untilSettled(signal, queued, (why) => {
      op.cancelled = true;
      reject(why);
    });
    this.#enqueue(op);
    return queued;
  }

  /** Why a send that would wait here is refused now instead (null: it may wait). */
  #refusal(kind: MessageKind): UsageError | null {
    const core = this.#live.core;
    const state = stateOf(this.#live);
    if (state !== 'connecting' && state !== 'open' && state !== 'release-requested') {
      return new UsageError(ErrorCode.INVALID_STATE, `cannot send in state ${state}`);
    }
    // A send without the data token fails now, never later (a wait for a confirmation is fine).
    const block = kind === 'normal' ? core.dialogue?.normalDataBlock() : null;
    if (block && block.code !== 'wait') {
      const code = block.code === 'token' ? ErrorCode.TOKEN_NOT_HELD : ErrorCode.INVALID_STATE;
      return new UsageError(code, block.message);
    }
    return null;
  }

  /** Queues this side's release request behind the sends before it. */
  release(userData: Uint8Array): void {
    this.#enqueue({ op: 'release', userData });
  }

  /** Queues the answer to the peer's release request behind the sends before it. */
  respond(accept: boolean, userData: Uint8Array): void {
    this.#enqueue({ op: 'respond', accept, userData });
  }

  #enqueue(op: Op): void {
    this.#ops.push(op);
    this.pump();
  }

  /** Hands waiting operations to the core in order, as far as it takes them. */
  pump(): void {
    const core = this.#live.core;
    const state = stateOf(this.#live);
    if (state === 'connecting' || state === 'awaiting-response') return;
    while (this.#opsHead < this.#ops.length) {
      const op = this.#ops[this.#opsHead] as Op;
      if (op.op === 'send' && op.cancelled) {
        // Withdrawn by its signal: nothing to hand over.
      } else if (op.op === 'send') {
        if (!core.writable && (core.state === 'open' || core.state === 'release-requested')) return;
        try {
          core.send(now(), op.kind, op.data);
          op.resolve();
        } catch (e) {
          const reason = this.#live.reason;
          op.reject(reason ? new SessionClosedError(reason) : (e as Error));
        }
      } else {
        try {
          if (op.op === 'release') core.release(now(), op.userData);
          else if (op.accept || this.#canRefuseRelease()) core.respondRelease(now(), op.accept, op.userData);
          // Refusing needs the negotiated-release unit; without it the release can only be accepted.
          else core.respondRelease(now(), true, op.userData);
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
        }
      }
      this.#ops[this.#opsHead++] = undefined as unknown as Op;
    }
    this.#ops.length = 0;
    this.#opsHead = 0;
    this.#live.driver.scheduleFlush();
    if (this.#needDrain && core.writable) {
      this.#needDrain = false;
      this.#events.emit('drain');
    }
  }

  /** Sends waiting for room go into the core now (beyond its queue limit: the memory is held anyway). */
  force(): void {
    while (this.#opsHead < this.#ops.length) {
      const op = this.#ops[this.#opsHead] as Op;
      if (op.op !== 'send') throw new UsageError(ErrorCode.INVALID_STATE, 'the session is releasing');
      try {
        this.#live.core.send(now(), op.kind, op.data, true);
        op.resolve();
      } catch (e) {
        op.reject(e as Error);
      }
      this.#ops[this.#opsHead++] = undefined as unknown as Op;
    }
    this.#ops.length = 0;
    this.#opsHead = 0;
  }

  /** Normal data still waiting here is purged like the core's unsent data (X.225). */
  purge(): void {
    const kept: Op[] = [];
    for (let i = this.#opsHead; i < this.#ops.length; i++) {
      const op = this.#ops[i] as Op;
      if (op.op === 'send' && op.kind === 'normal') {
        op.reject(new LiaisonError(ErrorCode.PURGED, 'purged by a resynchronization or activity stop'));
      } else kept.push(op);
    }
    this.#ops.length = 0;
    this.#opsHead = 0;
    this.#ops.push(...kept);
  }

  /** The session ended: every waiting send rejects with `error`, and nothing more goes out. */
  fail(error: Error): void {
    for (let i = this.#opsHead; i < this.#ops.length; i++) {
      const op = this.#ops[i] as Op;
      if (op.op === 'send' && !op.cancelled) op.reject(error);
    }
    this.#ops.length = 0;
    this.#opsHead = 0;
  }

  #canRefuseRelease(): boolean {
    const agreed = this.#live.core.agreed;
    return agreed !== null && (agreed.units & Unit.NEGOTIATED_RELEASE) !== 0;
  }
}
