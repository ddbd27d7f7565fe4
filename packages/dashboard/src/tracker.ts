/**
 * Which sessions belong to the watched server, under their dashboard ids, and what happens to
 * them (open, suspend, resume, close, refusals, protocol errors), from @liaison/node's
 * node:diagnostics_channel channels (packages/node/src/diagnostics.ts).
 *
 * The channels are process-wide: a message counts only if its session is one of
 * `server.sessions` (a session is in that set from its connect request to its close, so at each of
 * its messages). A refusal by `authenticate` has no session: it counts when published by a server,
 * so with several servers in one process each dashboard counts all of their authentication refusals.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  type CloseReason,
  type RefuseCode,
  type ResumeStats,
  refuseCodeName,
  type Server,
  type Session,
} from '@liaison/node';

export interface TrackedSession {
  /** `session.id` (hex, the same across resumes), or `local-N` for a session without recovery. */
  readonly id: string;
  readonly session: Session;
  /** When the dashboard first saw it (ms since the epoch): its open, or the dashboard's start. */
  readonly openedAt: number;
}

/** What the tracker reports, in order, as it happens. */
export type SessionHappening =
  | { type: 'open'; tracked: TrackedSession; handshakeMs: number | null }
  | { type: 'suspend'; tracked: TrackedSession; reason: string }
  | { type: 'resume'; tracked: TrackedSession; stats: ResumeStats }
  | { type: 'close'; tracked: TrackedSession; reason: CloseReason }
  | { type: 'refused'; code: string }
  | { type: 'protocol-error' };

type Message = Record<string, unknown>;

const CHANNEL = {
  open: 'liaison:session:open',
  suspend: 'liaison:session:suspend',
  resume: 'liaison:session:resume',
  close: 'liaison:session:close',
  refused: 'liaison:session:refused',
  protocolError: 'liaison:protocol-error',
} as const;

export class SessionTracker {
  readonly #server: Server;
  readonly #onHappening: (h: SessionHappening) => void;
  readonly #tracked = new WeakMap<Session, TrackedSession>();
  readonly #subscriptions: [string, (m: unknown) => void][] = [];
  #nextLocal = 1;

  constructor(server: Server, onHappening: (h: SessionHappening) => void) {
    this.#server = server;
    this.#onHappening = onHappening;
    const on = (name: string, handle: (m: Message) => void) => {
      // A dashboard fault must never reach the session code that published the message.
      const listener = (m: unknown) => {
        try {
          handle(m as Message);
        } catch {}
      };
      subscribe(name, listener);
      this.#subscriptions.push([name, listener]);
    };
    on(CHANNEL.open, (m) => {
      const tracked = this.#ours(m);
      if (!tracked) return;
      const handshakeMs = typeof m.handshakeMs === 'number' ? m.handshakeMs : null;
      this.#onHappening({ type: 'open', tracked, handshakeMs });
    });
    on(CHANNEL.suspend, (m) => {
      const tracked = this.#ours(m);
      if (tracked) this.#onHappening({ type: 'suspend', tracked, reason: String(m.reason) });
    });
    on(CHANNEL.resume, (m) => {
      const tracked = this.#ours(m);
      if (tracked) this.#onHappening({ type: 'resume', tracked, stats: m.stats as ResumeStats });
    });
    on(CHANNEL.close, (m) => {
      const tracked = this.#ours(m);
      const reason = m.reason as CloseReason;
      // A refused request ends as a session too: it is counted as a refusal, not as a close.
      if (tracked && reason.kind !== 'refused') this.#onHappening({ type: 'close', tracked, reason });
    });
    on(CHANNEL.refused, (m) => {
      if (m.role !== 'server') return;
      if (m.session && !this.#ours(m)) return;
      this.#onHappening({ type: 'refused', code: refuseCodeName(m.code as RefuseCode) });
    });
    on(CHANNEL.protocolError, (m) => {
      // Without a session it is a connection that never carried one (bytes that are not liaison).
      if (m.session && !this.#ours(m)) return;
      if (!m.session && m.role !== undefined && m.role !== 'server') return;
      this.#onHappening({ type: 'protocol-error' });
    });
  }

  /** The server's sessions now: from the connect request to the close (open, releasing, suspended). */
  sessions(): TrackedSession[] {
    const out: TrackedSession[] = [];
    for (const s of this.#server.sessions) if (s.closeReason === null) out.push(this.#track(s));
    return out;
  }

  get(id: string): TrackedSession | null {
    if (!id.startsWith('local-')) {
      const s = this.#server.sessions.get(id);
      return s && s.closeReason === null ? this.#track(s) : null;
    }
    return this.sessions().find((t) => t.id === id) ?? null;
  }

  stop(): void {
    for (const [name, listener] of this.#subscriptions) unsubscribe(name, listener);
    this.#subscriptions.length = 0;
  }

  /** The message's session, tracked, if it is one of the watched server's; else null. */
  #ours(m: Message): TrackedSession | null {
    const session = m.session as Session | null | undefined;
    if (!session || m.role === 'client') return null;
    const known = this.#tracked.get(session);
    if (known) return known;
    if (!this.#holds(session)) return null;
    return this.#track(session);
  }

  #holds(session: Session): boolean {
    const all = this.#server.sessions as unknown as { has?: (s: Session) => boolean };
    // `has` is O(1) where the server offers it; else one pass over its sessions.
    if (typeof all.has === 'function') return all.has(session);
    for (const s of this.#server.sessions) if (s === session) return true;
    return false;
  }

  #track(session: Session): TrackedSession {
    let tracked = this.#tracked.get(session);
    if (!tracked) {
      tracked = { id: session.id ?? `local-${this.#nextLocal++}`, session, openedAt: Date.now() };
      this.#tracked.set(session, tracked);
    }
    return tracked;
  }
}
