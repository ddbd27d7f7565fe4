/**
 * Where sessions wait while their transport is gone, and where a responder finds a session by
 * its id when a resume arrives (on any of its connections).
 *
 * Theory of operation
 * - Established resumable sessions are registered by id (responder side), attached or not.
 * - A suspended session is parked here: the table is its host until a connection adopts it again,
 *   so its events (lost) come out of `pollEvent()` and its deadline out of `pollTimeout()`.
 * - Parked sessions are bounded twice: by time (the resume window) and by memory (the bytes
 *   they retain for retransmission, `suspendedBytesMax`; the oldest go first). A session that
 *   leaves by either bound ends with a provider abort saying why and what was not delivered.
 * The table does no I/O; a driver calls handleTimeout at pollTimeout.
 */
import { AbortCode, InternalError } from '../errors.js';
import type { ConnectionEvent } from '../session/events.js';
import type { Session, SessionHost } from '../session/session.js';

export interface SessionTableOptions {
  /** How long a suspended session is kept for its peer to resume it. */
  resumeWindowMs: number;
  /** Bytes all parked sessions may retain together before the oldest are dropped. */
  suspendedBytesMax: number;
}

export class SessionTable {
  readonly options: Readonly<SessionTableOptions>;
  readonly #byId = new Map<string, Session>();
  /** Parked sessions, their expiry and cost, in parking order (oldest first). */
  readonly #parked = new Map<Session, { deadline: number; cost: number }>();
  #parkedBytes = 0;
  readonly #events: ConnectionEvent[] = [];
  readonly host: SessionHost;

  constructor(options: SessionTableOptions) {
    this.options = Object.freeze({ ...options });
    this.host = {
      emit: (e) => this.#events.push(e),
      wake: () => {},
      sendControl: () => {}, // nothing can be sent while parked; a resume replays what matters
      released: (s) => this.forget(s),
      rttSample: () => {},
      established: () => {},
      detach: (s) => this.unpark(s),
      agree: () => {
        throw new InternalError('no key agreement while parked');
      },
      timer: () => {}, // the table keeps its own deadline for parked sessions
      sendRoom: () => 0, // nothing is sent while parked
      inflightCap: () => Number.POSITIVE_INFINITY,
      sentData: () => {},
      credit: () => {},
    };
  }

  get parkedCount(): number {
    return this.#parked.size;
  }

  get registeredCount(): number {
    return this.#byId.size;
  }

  register(session: Session): void {
    const id = session.sessionId;
    if (id) this.#byId.set(key(id), session);
  }

  find(sessionId: Uint8Array): Session | undefined {
    return this.#byId.get(key(sessionId));
  }

  /** Parks a session that was just suspended (it already uses `this.host`). */
  park(now: number, session: Session): void {
    this.unpark(session);
    // The window runs from the start of the suspension: failed resume attempts do not extend it.
    const since = session.suspendedSince ?? now;
    const deadline = since + Math.min(this.options.resumeWindowMs, session.parkWindowMs ?? Infinity);
    // What a parked session costs: what it retains, plus the session itself (an empty one is not free).
    const cost = session.retainedBytes + PARKED_SESSION_OVERHEAD_BYTES;
    this.#parked.set(session, { deadline, cost });
    this.#parkedBytes += cost;
    session.resumeDeadline = deadline;
    // Over budget: the oldest go first. A running total keeps parking O(1), not O(parked).
    for (const s of this.#parked.keys()) {
      if (this.#parkedBytes <= this.options.suspendedBytesMax) break;
      s.expire(now, AbortCode.RESUME_BUDGET_EXCEEDED, 'suspended sessions exceeded their memory budget');
    }
  }

  /** A connection adopted the session again. */
  unpark(session: Session): void {
    const entry = this.#parked.get(session);
    if (entry === undefined) return;
    this.#parkedBytes -= entry.cost;
    this.#parked.delete(session);
  }

  forget(session: Session): void {
    this.unpark(session);
    const id = session.sessionId;
    if (id && this.#byId.get(key(id)) === session) this.#byId.delete(key(id));
  }

  /** Ends every parked session (its server is shutting down) with a provider abort carrying `code`. */
  expireAll(now: number, code: AbortCode, message: string): void {
    for (const s of [...this.#parked.keys()]) s.expire(now, code, message);
  }

  handleTimeout(now: number): void {
    for (const [s, { deadline }] of [...this.#parked]) {
      if (now >= deadline) s.expire(now, AbortCode.RESUME_WINDOW_EXPIRED, 'not resumed within the resume window');
    }
  }

  pollTimeout(): number | null {
    let next = Number.POSITIVE_INFINITY;
    for (const { deadline } of this.#parked.values()) if (deadline < next) next = deadline;
    return next === Number.POSITIVE_INFINITY ? null : next;
  }

  pollEvent(): ConnectionEvent | null {
    return this.#events.shift() ?? null;
  }
}

/** What a parked session is counted for beyond the bytes it retains (its engine state). */
const PARKED_SESSION_OVERHEAD_BYTES = 2048;

function key(id: Uint8Array): string {
  let s = '';
  for (const b of id) s += b.toString(16).padStart(2, '0');
  return s;
}
