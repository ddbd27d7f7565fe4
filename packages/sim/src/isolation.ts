/**
 * The isolation check: one end of a group's session stops consuming until the rest of its group
 * is over, and the others must finish meanwhile whenever the connection window leaves them room.
 */
import { FRAME_CHARGE_BYTES, type Limits, type Session } from '@liaison/core';
import type { Client } from './clients.js';
import type { Network } from './network.js';
import { type AppEnd, planClosed, type SessionPlan } from './plan.js';
import type { Rng } from './random.js';
import { InvariantViolation } from './violation.js';
import type { WorldOptions } from './world-options.js';
import type { WorldStats } from './world-stats.js';

/** How long a stuck reader may wait for the rest of its group before that counts as blocking it. */
const ISOLATION_BOUND_MS = 300_000;
/**
 * A session of the group that delivered a message this recently is making progress of its own
 * (a small session window on a slow link can take a minute per large message: sim seed 982260,
 * one 1 KiB frame per 300 ms round trip), so it is slow, not blocked by the stuck reader.
 */
const ISOLATION_PROGRESS_MS = 100_000;

/** What the isolation check reads and calls of its world. */
export interface IsolationHost {
  readonly now: number;
  readonly options: WorldOptions;
  readonly limits: Readonly<Limits>;
  readonly stats: WorldStats;
  readonly network: Network;
  readonly clients: readonly Client[];
  /** The world's plan stream (the delay before a stuck end consumes again). */
  readonly rng: Rng;
  trace(now: number, what: string): void;
  /** The application's next move once a stuck end consumed what it held. */
  maybeFinish(end: AppEnd): void;
}

export class Isolation {
  readonly #w: IsolationHost;
  /** Ends that stopped consuming (see stick). */
  #stuck: AppEnd[] = [];

  constructor(host: IsolationHost) {
    this.#w = host;
  }

  /** Checks the stuck ends against the bound, after every step. */
  check(): void {
    if (this.#stuck.length > 0) this.#checkIsolation();
  }

  /**
   * `end` stops consuming: what arrives for it stays unconsumed (holding its session's window and
   * its share of the connection's) until every other session of its group has closed. If they
   * cannot finish in ISOLATION_BOUND_MS although the connection's window leaves them room, one
   * session's slow reader blocks the others: a violation.
   */
  stick(end: AppEnd): void {
    end.stuck = true;
    this.#w.stats.stuckEnds++;
    const since = this.#w.now;
    this.#w.trace(since, `${end.role} s${end.plan.id} stops consuming`);
    const group = (this.#w.clients[end.plan.clientId] as Client).groups[end.plan.group] as SessionPlan[];
    end.stuckSince = since;
    this.checkStuck(group);
    this.#stuck.push(end);
  }

  /** Whether another end of the same role on this end's connection has stopped consuming. */
  groupStuck(end: AppEnd): boolean {
    const group = (this.#w.clients[end.plan.clientId] as Client).groups[end.plan.group] as SessionPlan[];
    return group.some((p) => p !== end.plan && (end.role === 'client' ? p.client : p.server)?.stuck === true);
  }

  /** A stuck end past ISOLATION_BOUND_MS: a violation if the others could have finished, else it consumes again. */
  #checkIsolation(): void {
    for (const end of this.#stuck) {
      if (!end.stuck || this.#w.now - end.stuckSince < ISOLATION_BOUND_MS) continue;
      const group = (this.#w.clients[end.plan.clientId] as Client).groups[end.plan.group] as SessionPlan[];
      const since = (p: SessionPlan) => Math.max(end.stuckSince, p.c2s.lastDeliveryAt ?? 0, p.s2c.lastDeliveryAt ?? 0);
      const open = group.filter((p) => p !== end.plan && !planClosed(p));
      const blocked = open.filter((p) => this.#w.now - since(p) >= ISOLATION_PROGRESS_MS);
      if (blocked.length > 0 && this.#isolationGuaranteed()) {
        const p = blocked[0] as SessionPlan;
        throw new InvariantViolation(
          'isolated',
          `${end.role} s${end.plan.id} has held ${end.heldCredit} bytes unconsumed for ${this.#w.now - end.stuckSince} ms ` +
            `and s${p.id} of the same connection is still ${p.client.session?.state ?? 'unopened'}/` +
            `${p.client.session?.link ?? '-'} (connection window ${this.#w.limits.connectionWindowBytes})`,
        );
      }
      this.#w.trace(this.#w.now, `${end.role} s${end.plan.id} consumes again (bound reached)`);
      this.#unstick(end);
    }
    this.#stuck = this.#stuck.filter((e) => e.stuck);
  }

  /** Other sessions of a group all closed: stuck ends consume what they held and go on. */
  checkStuck(group: SessionPlan[]): void {
    for (const p of group) {
      for (const end of [p.client, p.server]) {
        if (!end?.stuck) continue;
        if (!group.every((o) => o === p || planClosed(o))) continue;
        this.#w.stats.isolationMaxMs = Math.max(this.#w.stats.isolationMaxMs, this.#w.now - end.stuckSince);
        this.#w.trace(this.#w.now, `${end.role} s${p.id} consumes again: the rest of its group is over`);
        this.#w.network.schedule(this.#w.now + this.#w.rng.int(0, 50), () => this.#unstick(end));
      }
    }
  }

  /** The end consumes what it held and goes on, unless it is already closed. */
  #unstick(end: AppEnd): void {
    if (!end.stuck) return;
    end.stuck = false;
    const s = end.session as Session;
    const held = end.heldCredit;
    end.heldCredit = 0;
    end.unconsumedBytes -= held;
    if (s.state === 'closed') return;
    if (held > 0) s.consume(this.#w.now, held);
    this.#w.maybeFinish(end);
  }

  /**
   * Whether the connection's window leaves the others room while one end holds what its session
   * window lets it hold (plus one whole message): the held bytes must stay under half the
   * connection window, since the receiver re-advertises only once half of it is free again.
   */
  #isolationGuaranteed(): boolean {
    const l = this.#w.limits;
    return this.heldCreditMax() + 2 * l.frameBytesMax < l.connectionWindowBytes / 2;
  }

  /** The most credit one end may hold unconsumed: its session window, one whole largest message, their frame charges. */
  heldCreditMax(): number {
    const l = this.#w.limits;
    const largest = this.#w.options.largeBytesMax;
    const fragmentMin = Math.max(
      1,
      Math.min(4096, l.frameBytesMax - 10, Math.floor(l.receiveWindowBytes / 2) - FRAME_CHARGE_BYTES),
    );
    return l.receiveWindowBytes + largest + (Math.ceil(largest / fragmentMin) + 1) * FRAME_CHARGE_BYTES;
  }
}
