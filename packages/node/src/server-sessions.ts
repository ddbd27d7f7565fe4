/**
 * The read-only view of a server's sessions that applications and operations tools get
 * (`server.sessions`): iterate them, count them, find one by its id.
 */
import type { Session } from './session.js';

export class ServerSessions implements Iterable<Session> {
  readonly #all: ReadonlySet<Session>;

  /** @internal */
  constructor(all: ReadonlySet<Session>) {
    this.#all = all;
  }

  /** Sessions held now: open, releasing, or suspended waiting for their client to resume. */
  get size(): number {
    return this.#all.size;
  }

  /** The session with this `session.id` (hex), if this server holds it. */
  get(id: string): Session | undefined {
    for (const s of this.#all) if (s.id === id) return s;
    return undefined;
  }

  /** Whether this server holds `session`. */
  has(session: Session): boolean {
    return this.#all.has(session);
  }

  [Symbol.iterator](): Iterator<Session> {
    return this.#all.values();
  }
}
