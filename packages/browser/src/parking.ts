/**
 * Where the client's session waits while its transport is down: a core SessionTable, its one
 * timer (the resume window's expiry) and its events (the session lost while suspended).
 */
import { type Limits, SessionTable } from '@liaison/core';
import { now } from './clock.js';
import type { ClientSessionEvent } from './driver.js';

export class Parking {
  readonly table: SessionTable;
  readonly #onEvent: (e: ClientSessionEvent) => void;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    limits: Pick<Limits, 'resumeWindowMs' | 'suspendedBytesMax' | 'tombstonesMax' | 'tombstoneMs'>,
    onEvent: (e: ClientSessionEvent) => void,
  ) {
    this.table = new SessionTable({
      resumeWindowMs: limits.resumeWindowMs,
      suspendedBytesMax: limits.suspendedBytesMax,
      tombstonesMax: limits.tombstonesMax,
      tombstoneMs: limits.tombstoneMs,
    });
    this.#onEvent = onEvent;
  }

  /** Call after anything that may have parked, unparked or expired the session. */
  update(): void {
    for (let e = this.table.pollEvent(); e !== null; e = this.table.pollEvent()) {
      if (e.type !== 'connect-request' && e.type !== 'rtt' && e.type !== 'connection-closed') this.#onEvent(e);
    }
    this.stop();
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
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
