/**
 * Runs a core SessionTable in Node: its one timer (resume-window expiry) and its events
 * (sessions lost while suspended). A server has one for all its connections; a client one per
 * connect().
 */
import { type Limits, SessionTable } from '@liaison/core';
import { now } from './clock.js';
import { dispatchSessionEvent } from './registry.js';

export class Parking {
  readonly table: SessionTable;
  #timer: NodeJS.Timeout | null = null;

  constructor(limits: Pick<Limits, 'resumeWindowMs' | 'suspendedBytesMax' | 'tombstonesMax' | 'tombstoneMs'>) {
    this.table = new SessionTable({
      resumeWindowMs: limits.resumeWindowMs,
      suspendedBytesMax: limits.suspendedBytesMax,
      tombstonesMax: limits.tombstonesMax,
      tombstoneMs: limits.tombstoneMs,
    });
  }

  /** Call after anything that may have parked, unparked or expired a session. */
  update(): void {
    for (let e = this.table.pollEvent(); e !== null; e = this.table.pollEvent()) {
      if (e.type !== 'connect-request' && e.type !== 'rtt' && e.type !== 'connection-closed')
        dispatchSessionEvent(e, null);
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const at = this.table.pollTimeout();
    if (at === null) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.table.handleTimeout(now());
        this.update();
      },
      Math.max(0, Math.ceil(at - now())),
    );
    // A parked session must not keep a process alive that has nothing else to do.
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
