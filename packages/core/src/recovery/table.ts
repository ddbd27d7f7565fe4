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
  /** Parked sessions and their expiry, in parking order (oldest first). */
  readonly #parked = new Map<Session, number>();
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
    this.#parked.delete(session);
    // The window runs from the start of the suspension: failed resume attempts do not extend it.
    const since = session.suspendedSince ?? now;
    const deadline = since + Math.min(this.options.resumeWindowMs, session.resumeWindowMs ?? Infinity);
    this.#parked.set(session, deadline);
    session.resumeDeadline = deadline;
    let retained = 0;
    for (const s of this.#parked.keys()) retained += s.retainedBytes;
    for (const s of [...this.#parked.keys()]) {
      if (retained <= this.options.suspendedBytesMax) break;
      retained -= s.retainedBytes;
      s.expire(now, AbortCode.RESUME_BUDGET_EXCEEDED, 'suspended sessions exceeded their memory budget');
    }
  }

  /** A connection adopted the session again. */
  unpark(session: Session): void {
    this.#parked.delete(session);
  }

  isParked(session: Session): boolean {
    return this.#parked.has(session);
  }

  forget(session: Session): void {
    this.#parked.delete(session);
    const id = session.sessionId;
    if (id && this.#byId.get(key(id)) === session) this.#byId.delete(key(id));
  }

  /** Ends every parked session (its server is shutting down) with a provider abort carrying `code`. */
  expireAll(now: number, code: AbortCode, message: string): void {
    for (const s of [...this.#parked.keys()]) s.expire(now, code, message);
  }

  handleTimeout(now: number): void {
    for (const [s, expiry] of [...this.#parked]) {
      if (now >= expiry) s.expire(now, AbortCode.RESUME_WINDOW_EXPIRED, 'not resumed within the resume window');
    }
  }

  pollTimeout(): number | null {
    let next = Number.POSITIVE_INFINITY;
    for (const expiry of this.#parked.values()) if (expiry < next) next = expiry;
    return next === Number.POSITIVE_INFINITY ? null : next;
  }

  pollEvent(): ConnectionEvent | null {
    return this.#events.shift() ?? null;
  }
}

function key(id: Uint8Array): string {
  let s = '';
  for (const b of id) s += b.toString(16).padStart(2, '0');
  return s;
}
