/**
 * The clients: each is an initiator with its own SessionTable, behaving like the Node client
 * driver. It runs its groups of sessions one connection at a time, opens late sessions on the
 * live connection (as a Pool shares it) and, when its sessions are suspended, reconnects once with
 * the driver's backoff and resumes all of them on the new connection.
 */
import {
  Connection,
  type ConnectionOptions,
  DEFAULT_BACKOFF,
  DEFAULT_UNITS,
  ReconnectSchedule,
  type SecureConnection,
  type Session,
  SessionTable,
  Token,
  Unit,
} from '@liaison/core';
import { dialogueUnits } from './dialogue.js';
import type { Endpoint, Network, SimLink } from './network.js';
import type { AppEnd, EndRole, Planner, Profile, SessionPlan } from './plan.js';
import type { Rng } from './random.js';
import type { WindowMeter } from './wire-meter.js';
import type { ChaosOptions, WorldOptions } from './world-options.js';
import type { WorldStats } from './world-stats.js';

export interface Client {
  id: number;
  table: SessionTable;
  /** Several sessions at once over one connection (like a Pool), or one after another. */
  multiplexed: boolean;
  /** Groups of sessions, one group at a time; a serial client's groups have one session each. */
  groups: SessionPlan[][];
  group: number;
  conn: Connection | null;
  link: SimLink | null;
  /** The client driver's reconnection rule (the same as @liaison/node's). */
  reconnect: ReconnectSchedule;
  reconnectPending: boolean;
  /** A connect is in flight: its result takes every suspended and waiting session. */
  connecting: boolean;
  /** Sessions of the current group due to open, waiting for a connection. */
  waiting: SessionPlan[];
  done: boolean;
  /** Its connections run inside Noise with this pattern (null: plaintext). */
  noise: 'XX' | 'IK' | null;
}

/** One Connection the world drives (either end), and what meets its link. */
export interface Driven {
  /** The engine of the sessions. */
  conn: Connection;
  /** What meets the link: `conn`, or the SecureConnection around it. */
  io: Connection | SecureConnection;
  side: EndRole;
  link: SimLink | null;
  /** The transport was closed (or reported down): nothing more to write. */
  transportClosed: boolean;
  clientId: number;
  /** Checks the connection window from the wire; null under Noise (the wire is sealed). */
  meter: WindowMeter | null;
}

/** Draws the clients and their groups of session plans, in the order the world always drew them. */
export function planClients(
  options: WorldOptions,
  rng: Rng,
  noiseRng: Rng,
  planner: Planner,
  stats: WorldStats,
): Client[] {
  const clients: Client[] = [];
  for (let id = 0; id < options.clients; id++) {
    const multiplexed = rng.chance(options.multiplexShare);
    const client: Client = {
      id,
      table: new SessionTable({ resumeWindowMs: 24 * 3_600_000, suspendedBytesMax: Number.MAX_SAFE_INTEGER }),
      multiplexed,
      groups: [],
      group: 0,
      conn: null,
      link: null,
      reconnect: new ReconnectSchedule(DEFAULT_BACKOFF),
      reconnectPending: false,
      connecting: false,
      waiting: [],
      done: false,
      noise: noiseRng.chance(options.noiseShare) ? noiseRng.pick(['XX', 'IK'] as const) : null,
    };
    stats.clients++;
    if (multiplexed) {
      stats.multiplexedClients++;
      const n = rng.int(2, Math.max(2, options.multiplexSessionsMax));
      const group: SessionPlan[] = [];
      for (let i = 0; i < n; i++) {
        const r = rng.float();
        const profile: Profile = r < 0.35 ? 'bulk' : r < 0.8 ? 'chatty' : 'early';
        // Most open together; some later, maybe while the others are suspended or resuming.
        const openAfterMs = i === 0 || rng.chance(0.6) ? 0 : rng.logInt(5, 3_000);
        group.push(planner.plan(id, 0, profile, openAfterMs));
      }
      if (rng.chance(options.stuckChance))
        (rng.pick(group) as SessionPlan).stuckRole = rng.chance(0.5) ? 'client' : 'server';
      stats.multiplexedSessions += n;
      client.groups.push(group);
    } else {
      for (let i = 0; i < options.sessionsPerClient; i++) client.groups.push([planner.plan(id, i, 'plain', 0)]);
    }
    clients.push(client);
  }
  return clients;
}

/** What the clients read and call of their world. */
export interface ClientsHost {
  readonly options: WorldOptions;
  readonly stats: WorldStats;
  readonly network: Network;
  /** Every session's end, by session. */
  readonly ends: Map<Session, AppEnd>;
  /** The world's plan stream (the order of resumes and opens, backoff jitter). */
  readonly rng: Rng;
  /** The engines' random source. */
  readonly random: ConnectionOptions['random'];
  trace(now: number, what: string): void;
  /** The world drives the new connection (World: the engines). */
  drive(conn: Connection, side: EndRole, link: SimLink | null, clientId: number): Driven;
  endpoint(d: Driven, name: string): Endpoint;
  frameTracer(name: string): { tracer?: ConnectionOptions['tracer'] };
  /** The application (app-end.ts). */
  armAbort(end: AppEnd): void;
  abort(now: number, end: AppEnd): void;
  /** The chaos world's cut of a new connection (faults.ts). */
  scheduleChaosCut(now: number, clientId: number, link: SimLink, chaos: ChaosOptions): void;
}

export class Clients {
  readonly #w: ClientsHost;

  constructor(host: ClientsHost) {
    this.#w = host;
  }

  /** Starts the client's next group of sessions on a new connection (or finds it has none left). */
  startGroup(now: number, c: Client): void {
    const group = c.groups[c.group];
    if (!group) {
      c.done = true;
      this.#w.trace(now, `client ${c.id} done`);
      return;
    }
    for (const plan of group) {
      if (plan.openAfterMs === 0) c.waiting.push(plan);
      else this.#w.network.schedule(now + plan.openAfterMs, (t) => this.#openLate(t, c, plan));
    }
    this.#w.trace(
      now,
      `client ${c.id} connects for ${c.waiting.map((p) => `session ${p.id}`).join(', ')} (attempt ${c.reconnect.attempt})`,
    );
    this.#connect(now, c);
  }

  /** The client's sessions that wait for a new connection to resume on. */
  suspendedOf(c: Client): SessionPlan[] {
    const out: SessionPlan[] = [];
    for (const p of c.groups[c.group] ?? []) {
      const s = p.client.session;
      if (s && s.state !== 'closed' && s.link === 'suspended') out.push(p);
    }
    return out;
  }

  /**
   * A new connection for the client: once up, it resumes every suspended session of the group and
   * opens every waiting one, in a seeded order (the Pool reconnects once for all its sessions).
   */
  #connect(now: number, c: Client): void {
    if (c.connecting) return;
    c.connecting = true;
    this.#w.stats.reconnectAttempts++;
    const pending: { d: Driven | null; reached: boolean } = { d: null, reached: false };
    this.#w.network.connect(
      now,
      c.id,
      {
        onBytes: (t, b) => {
          if (!pending.d) return;
          // The peer answered on this connection: the network is back (as the Node driver rules).
          if (!pending.reached) {
            pending.reached = true;
            c.reconnect.reached();
          }
          this.#w.endpoint(pending.d, `client ${c.id}`).onBytes(t, b);
        },
        onDown: (t, why) => pending.d && this.#w.endpoint(pending.d, `client ${c.id}`).onDown(t, why),
      },
      (t, link) => {
        c.connecting = false;
        const resume = this.suspendedOf(c);
        if (resume.length === 0 && c.waiting.length === 0) {
          if (link) this.#w.network.close(t, link, 'client');
          return;
        }
        if (!link) return this.scheduleReconnect(t, c);
        if (resume.length === 0) c.reconnect.succeeded();
        const open = c.waiting;
        c.waiting = [];
        const conn = this.#clientConnection(c);
        pending.d = this.#w.drive(conn, 'client', link, c.id);
        pending.d.io.handleTransportUp(t);
        c.conn = conn;
        c.link = link;
        if (this.#w.options.chaos) this.#w.scheduleChaosCut(t, c.id, link, this.#w.options.chaos);
        const items: { plan: SessionPlan; resume: boolean }[] = [
          ...resume.map((plan) => ({ plan, resume: true })),
          ...open.map((plan) => ({ plan, resume: false })),
        ];
        for (let i = items.length - 1; i > 0; i--) {
          const j = this.#w.rng.int(0, i);
          [items[i], items[j]] = [items[j] as (typeof items)[0], items[i] as (typeof items)[0]];
        }
        if (resume.length >= 2) this.#w.stats.groupResumes++;
        if (resume.length > 0) this.#w.stats.opensBesideResumes += open.length;
        for (const { plan, resume: r } of items) {
          if (r) {
            conn.resumeSession(t, plan.client.session as Session);
            this.#w.trace(t, `client ${c.id} resumes session ${plan.id} on link ${link.id}`);
            if (plan.abort?.role === 'client' && plan.abort.on === 'resuming') this.#w.abort(t, plan.client);
          } else this.#open(t, c, conn, plan);
        }
      },
    );
  }

  /** A session due later: on the live connection if there is one (as a Pool shares it), else on the next. */
  #openLate(now: number, c: Client, plan: SessionPlan): void {
    const conn = c.conn;
    if (conn && !conn.isClosed) {
      if (this.suspendedOf(c).length > 0 || this.#resumingOn(c)) this.#w.stats.opensBesideResumes++;
      this.#open(now, c, conn, plan);
      return;
    }
    c.waiting.push(plan);
    this.#w.trace(now, `client ${c.id} session ${plan.id} waits for a connection`);
    if (!c.reconnectPending) this.#connect(now, c);
  }

  #resumingOn(c: Client): boolean {
    for (const p of c.groups[c.group] ?? []) {
      const l = p.client.session?.link;
      if (l === 'resuming' || l === 'awaiting-resumed') return true;
    }
    return false;
  }

  #open(now: number, c: Client, conn: Connection, plan: SessionPlan): void {
    const userData = new Uint8Array(4);
    new DataView(userData.buffer).setUint32(0, plan.id);
    plan.client.session = conn.openSession(
      now,
      plan.dialogue
        ? { userData, units: dialogueUnits(plan.dialogue) }
        : plan.refuseRelease
          ? {
              userData,
              units: DEFAULT_UNITS | Unit.NEGOTIATED_RELEASE,
              // With negotiated release only the release token's holder releases: the releasing end gets it.
              dialogue: { responderTokens: plan.releaser === 'server' ? Token.release : 0 },
            }
          : { userData },
    );
    this.#w.ends.set(plan.client.session, plan.client);
    this.#w.stats.sessionsOpened++;
    this.#w.trace(now, `client ${c.id} opens session ${plan.id} on channel ${plan.client.session.channel}`);
    if (conn.sessionCount > this.#w.stats.sessionsPerConnectionPeak)
      this.#w.stats.sessionsPerConnectionPeak = conn.sessionCount;
    this.#w.armAbort(plan.client);
  }

  #clientConnection(c: Client): Connection {
    return new Connection({
      role: 'initiator',
      limits: this.#w.options.limits,
      random: this.#w.random,
      table: c.table,
      ...this.#w.frameTracer(`client ${c.id}`),
    });
  }

  #backoff(c: Client): number {
    const delay = c.reconnect.nextDelay(this.#w.rng.float());
    return delay;
  }

  /** The client's sessions are suspended (or their resume failed with its connection): try again later. */
  scheduleReconnect(now: number, c: Client): void {
    if (c.reconnectPending || c.connecting) return;
    c.reconnectPending = true;
    const delay = this.#backoff(c);
    this.#w.trace(now, `client ${c.id} reconnects in ${delay}ms`);
    this.#w.network.schedule(now + delay, (t) => {
      c.reconnectPending = false;
      if (this.suspendedOf(c).length === 0 && c.waiting.length === 0) return;
      this.#w.trace(t, `client ${c.id} reconnect attempt ${c.reconnect.attempt}`);
      this.#connect(t, c);
    });
  }
}
