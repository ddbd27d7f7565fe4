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
 * - A resumable responder session that ends (released, aborted, expired) leaves a tombstone: its
 *   final received count and resume key, bounded by count (`tombstonesMax`, oldest first) and
 *   time (`tombstoneMs`). A late resume that proves the key is told that count (a proven
 *   RESUME_REFUSE), so its initiator learns exactly which messages arrived instead of guessing.
 *   All tombstones live equally long, so insertion order is expiry order: pruning is O(1) each.
 * The table does no I/O; a driver calls handleTimeout at pollTimeout.
 */
import { AbortCode, InternalError } from '../errors.js';
import { DEFAULT_LIMITS } from '../limits.js';
import type { ConnectionEvent } from '../session/events.js';
import type { Session, SessionHost } from '../session/session.js';

export interface SessionTableOptions {
  /** How long a suspended session is kept for its peer to resume it. */
  resumeWindowMs: number;
  /** Bytes all parked sessions may retain together before the oldest are dropped. */
  suspendedBytesMax: number;
  /** Ended sessions remembered for a late resume (default DEFAULT_LIMITS.tombstonesMax; 0: none). */
  tombstonesMax?: number;
  /** How long each is remembered (default DEFAULT_LIMITS.tombstoneMs). */
  tombstoneMs?: number;
}

/** What a late resume of an ended session is told, and the key it must prove first. */
export interface Tombstone {
  key: Uint8Array;
  /** Frames the session had received when it ended. */
  received: number;
  expires: number;
}

export class SessionTable {
  readonly options: Readonly<SessionTableOptions>;
  readonly #byId = new Map<string, Session>();
  /** Parked sessions, their expiry and cost, in parking order (oldest first). */
  readonly #parked = new Map<Session, { deadline: number; cost: number }>();
  #parkedBytes = 0;
  /** Ended sessions by id, oldest first (insertion order is expiry order); keys as hex: ~250 B each. */
  readonly #tombstones = new Map<string, { key: string; received: number; expires: number }>();
  readonly #tombstonesMax: number;
  readonly #tombstoneMs: number;
  readonly #events: ConnectionEvent[] = [];
  readonly host: SessionHost;

  constructor(options: SessionTableOptions) {
    this.options = Object.freeze({ ...options });
    this.#tombstonesMax = options.tombstonesMax ?? DEFAULT_LIMITS.tombstonesMax;
    this.#tombstoneMs = options.tombstoneMs ?? DEFAULT_LIMITS.tombstoneMs;
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

  get tombstoneCount(): number {
    return this.#tombstones.size;
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
    const window = Math.min(this.options.resumeWindowMs, session.parkWindowMs ?? Infinity);
    const deadline = since + window + session.resumeGraceMs;
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

  /** The session ended: it leaves the table, and a tombstone if it was a resumable responder session. */
  forget(session: Session): void {
    this.unpark(session);
    const id = session.sessionId;
    if (!id || this.#byId.get(key(id)) !== session) return;
    this.#byId.delete(key(id));
    const final = session.finalCount;
    if (final === null || this.#tombstonesMax === 0) return;
    const now = final.closedAt;
    this.#pruneTombstones(now);
    while (this.#tombstones.size >= this.#tombstonesMax) {
      this.#tombstones.delete(this.#tombstones.keys().next().value as string);
    }
    this.#tombstones.set(key(id), {
      key: key(final.key),
      received: final.received,
      expires: now + this.#tombstoneMs,
    });
  }

  /** The tombstone of an ended session, if still kept. */
  tombstone(now: number, sessionId: Uint8Array): Tombstone | undefined {
    this.#pruneTombstones(now);
    const t = this.#tombstones.get(key(sessionId));
    return t && { key: bytesOf(t.key), received: t.received, expires: t.expires };
  }

  #pruneTombstones(now: number): void {
    for (const [id, t] of this.#tombstones) {
      if (t.expires > now) return;
      this.#tombstones.delete(id);
    }
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

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** Hex of an id or key, built with join: a flat string (`+=` would keep a rope of 2-char pieces). */
function key(bytes: Uint8Array): string {
  const parts: string[] = new Array(bytes.byteLength);
  for (let i = 0; i < bytes.byteLength; i++) parts[i] = HEX[bytes[i] as number] as string;
  return parts.join('');
}

function bytesOf(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.byteLength; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
