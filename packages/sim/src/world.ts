/**
 * A world: one server and N clients on a simulated network, driven on virtual time.
 *
 * Theory of operation
 * - The server is responder Connections sharing one SessionTable; each client is an initiator
 *   with its own SessionTable, behaving like the Node client driver. A client runs groups of
 *   sessions, one group per connection: a serial client's groups hold one session each; a
 *   multiplexing client (a seeded share, `multiplexShare`) opens 2-6 sessions over one connection
 *   like a Pool (bulk, chatty, early-releasing), some of them later, on the live connection or,
 *   when it is broken, on the next one beside the resumes. When its sessions are suspended it
 *   reconnects once with `backoffDelay` and resumes all of them on the new Connection.
 * - Isolation: one end of a group's session may stop consuming until the rest of its group is
 *   over; the others must finish meanwhile (within ISOLATION_BOUND_MS of virtual time) whenever
 *   the connection window leaves them room. The connection-level window is checked from the
 *   wire (wire-meter.ts) on every connection, both directions.
 * - Applications follow a seeded plan per session: send K messages each way (small, large
 *   multi-fragment, typed, a few expedited), consume what arrives (sometimes slowly), then an
 *   orderly release from a chosen side; the peer answers after sending and consuming everything.
 * - Scenarios drawn from their own stream (`scenarios`, so that plans without one run as before):
 *   in a share of sessions (`userAbortShare`) one end calls abort(userData) once it has sent a
 *   drawn number of its messages and a drawn delay has passed (before, during or after its sends,
 *   possibly while suspended or resuming), and meanwhile neither releases nor answers a release;
 *   in another share (`refusedReleaseShare`) the client proposes NEGOTIATED_RELEASE, the peer of
 *   the one releasing end refuses the first release (respondRelease(false)), the releaser sends a
 *   few more messages and releases again, and that release is accepted.
 * - The loop always advances to the earliest of: network happenings and world timers (one heap),
 *   every Connection's and SessionTable's pollTimeout. After each step it drains pollTransmit
 *   (while the pipe has room) and pollEvent until nothing moves.
 * - Everything observable goes into a trace: a running hash of every record (replay must give
 *   the same hash) and the last records (printed when an invariant fails).
 * - No Date, no Math.random, no real timers: a world is a pure function of its seed and options.
 *
 * This file is the face and the loop, and drives the engines; the parts it delegates to each get
 * a narrow host object: world-options.ts (options), plan.ts (plans and ends), clients.ts,
 * app-end.ts (the application at each end), isolation.ts, faults.ts, checks.ts (bounds),
 * trace.ts, messages.ts.
 */
import {
  Connection,
  type ConnectionOptions,
  keyPairFrom,
  type Limits,
  resolveLimits,
  SecureConnection,
  type Session,
  SessionTable,
} from '@liaison/core';
import { Application } from './app-end.js';
import { type BoundsHost, checkBounds } from './checks.js';
import { type Client, Clients, type Driven, planClients } from './clients.js';
import type { DialogueContext } from './dialogue.js';
import { Faults } from './faults.js';
import { Isolation } from './isolation.js';
import { NamedTokenScenario } from './named-tokens.js';
import { type Endpoint, Network, type SimLink } from './network.js';
import { type AppEnd, type EndRole, Planner, type SessionPlan } from './plan.js';
import { Rng } from './random.js';
import { Trace } from './trace.js';
import { InvariantViolation } from './violation.js';
import { WindowMeter } from './wire-meter.js';
import { CHAOS_NETWORK, type WorldOptions } from './world-options.js';
import { newWorldStats, type WorldStats } from './world-stats.js';

// The world's public names, where they always were (index.ts, invariants.ts, named-tokens.ts).
export { indexOf, messageBytes, type SentMessage, type Stream } from './messages.js';
export { AppEnd, type EndRole, type Profile, type SessionPlan } from './plan.js';
export { InvariantViolation } from './violation.js';
export {
  CHAOS,
  CHAOS_FAULTS,
  CHAOS_NETWORK,
  type ChaosOptions,
  type WorldOptions,
  worldOptionsFor,
} from './world-options.js';
export type { WorldStats } from './world-stats.js';

export class World {
  readonly options: WorldOptions;
  readonly limits: Readonly<Limits>;
  readonly network: Network;
  readonly serverTable: SessionTable;
  /** The server's named-token registry and the sessions contending for it. */
  readonly tokens: NamedTokenScenario;
  readonly clients: Client[];
  readonly plans: SessionPlan[] = [];
  readonly stats: WorldStats = newWorldStats();
  now = 0;
  /** Every Connection ever made, in creation order (the loop's iteration order). */
  readonly #driven: Driven[] = [];
  readonly #ends = new Map<Session, AppEnd>();
  readonly #rng: Rng;
  readonly #faultRng: Rng;
  /** Draws user aborts and refused releases (a stream of its own: other draws stay as they were). */
  readonly #scenarioRng: Rng;
  /** Draws dialogue sessions (their own stream: the other draws stay as they were). */
  readonly #dialogueRng: Rng;
  readonly #dialogueCtx: DialogueContext;
  /**
   * Events are being drained: the engine may already be past the ones not read yet (a sync point
   * further on), so a dialogue end acts (sync points, tokens) only once all were read.
   */
  #draining = false;
  readonly #random: ReturnType<Rng['randomSource']>;
  /** Noise keys come from streams of their own, so plaintext connections draw exactly as before. */
  readonly #noiseRandom: ReturnType<Rng['randomSource']>;
  readonly #noiseServerKey: Uint8Array;
  readonly #noiseRng: Rng;
  readonly #trace: Trace;
  readonly #app: Application;
  readonly #clients: Clients;
  readonly #isolation: Isolation;
  readonly #faults: Faults;
  readonly #bounds: BoundsHost;

  constructor(seed: number, options: WorldOptions) {
    const root = new Rng(seed);
    this.options = options;
    this.#trace = new Trace(options.onTrace);
    this.limits = resolveLimits(options.limits);
    this.#rng = root.fork('world');
    this.#faultRng = root.fork('faults');
    this.#scenarioRng = root.fork('scenarios');
    this.#random = root.fork('crypto').randomSource();
    // From a root of their own: forking `root` would advance it and shift every later stream.
    const noiseRoot = new Rng(seed).fork('noise');
    this.#noiseRandom = noiseRoot.fork('crypto').randomSource();
    this.#noiseServerKey = this.#noiseRandom(32);
    this.#noiseRng = noiseRoot.fork('draws');
    // The chaos world runs on its own link: fast, as on loopback, and 1 MiB/s.
    const network = options.chaos ? { ...options.network, ...CHAOS_NETWORK } : options.network;
    this.network = new Network(root.fork('network'), network);
    // Forked last: the streams forked before it are what they were before dialogue sessions existed.
    this.#dialogueRng = root.fork('dialogue');
    this.#dialogueCtx = {
      rng: this.#dialogueRng,
      trace: (what) => this.trace(this.now, what),
      violation: (invariant, message) => {
        throw new InvariantViolation(invariant, message);
      },
    };
    this.network.tracer = (now, what) => this.trace(now, what);
    this.network.acceptor = (now, link) => this.#accept(now, link);
    this.tokens = new NamedTokenScenario(root.fork('tokens'), options.namedTokenShare, {
      now: () => this.now,
      schedule: (at, fn) => this.network.schedule(at, fn),
      trace: (now, what) => this.trace(now, what),
      doubleGrant: options.doubleGrant,
    });
    this.serverTable = new SessionTable({
      resumeWindowMs: this.limits.resumeWindowMs,
      suspendedBytesMax: this.limits.suspendedBytesMax,
      tombstonesMax: this.limits.tombstonesMax,
      tombstoneMs: this.limits.tombstoneMs,
    });
    const rngs = { world: this.#rng, scenarios: this.#scenarioRng, dialogue: this.#dialogueRng };
    const planner = new Planner(options, rngs, this.plans, this.stats);
    this.clients = planClients(options, this.#rng, this.#noiseRng, planner, this.stats);
    this.#faults = this.#newFaults();
    this.#isolation = this.#newIsolation();
    this.#clients = this.#newClients();
    this.#app = this.#newApplication(planner);
    this.#bounds = this.#newBounds();
  }

  /** The trace's hash so far (two FNV-1a lanes): equal for equal runs. */
  get traceHash(): string {
    return this.#trace.hash;
  }

  /** The last trace records, oldest first. */
  recentTrace(): string[] {
    return this.#trace.recent();
  }

  trace(now: number, what: string): void {
    this.#trace.record(now, what);
  }

  /** Runs the world to its end. @throws InvariantViolation on deadlock, livelock or a bound crossed. */
  run(): void {
    for (const c of this.clients) this.network.schedule(this.#rng.int(0, 50), (t) => this.#clients.startGroup(t, c));
    if (this.options.faultEveryMs > 0) this.#faults.scheduleFault(0);
    for (;;) {
      this.#step();
      const t = this.#nextTime();
      if (t === null) break;
      if (t > this.options.timeLimitMs) {
        throw new InvariantViolation('terminates', `virtual time passed ${this.options.timeLimitMs} ms`);
      }
      if (++this.stats.events > this.options.eventLimit) {
        throw new InvariantViolation('terminates', `more than ${this.options.eventLimit} steps (livelock?)`);
      }
      this.now = Math.max(this.now, t);
      // Each happening's events are read before the next one runs, as a driver does after every
      // input (packages/node: driver.ts): an application timer due at the same instant must not
      // act on an engine already past events not read yet (sim seed 905648: it took the tokens
      // a GIVE had just brought and numbered sync points before reading the peer's earlier one).
      this.network.runDue(this.now, () => this.#step());
      for (const d of this.#driven) {
        const due = d.io.pollTimeout();
        if (due !== null && due <= this.now) d.io.handleTimeout(this.now);
      }
      this.#tableTimeout(this.serverTable);
      for (const c of this.clients) this.#tableTimeout(c.table);
    }
    this.stats.virtualMs = this.now;
    for (const p of this.plans) {
      for (const end of [p.client, p.server]) {
        this.stats.syncPoints += end?.dialogue?.syncPoints ?? 0;
        this.stats.resyncs += end?.dialogue?.resyncs ?? 0;
      }
    }
    const alive = this.plans.filter((p) => p.client.closeReason === null || (p.server && !p.server.closeReason));
    if (alive.length > 0) {
      const p = alive[0] as SessionPlan;
      throw new InvariantViolation(
        'terminates',
        `deadlock: nothing scheduled at ${this.now} ms but session ${p.id} is ` +
          `client=${p.client.session?.state ?? 'unopened'}/${p.client.session?.link ?? '-'} ` +
          `server=${p.server?.session?.state ?? 'none'}/${p.server?.session?.link ?? '-'}`,
      );
    }
    this.tokens.checkEnd();
  }

  #tableTimeout(table: SessionTable): void {
    const due = table.pollTimeout();
    if (due !== null && due <= this.now) table.handleTimeout(this.now);
  }

  #nextTime(): number | null {
    let next = this.network.nextTime() ?? Number.POSITIVE_INFINITY;
    for (const d of this.#driven) {
      const t = d.io.pollTimeout();
      if (t !== null && t < next) next = t;
    }
    for (const table of [this.serverTable, ...this.clients.map((c) => c.table)]) {
      const t = table.pollTimeout();
      if (t !== null && t < next) next = t;
    }
    return next === Number.POSITIVE_INFINITY ? null : next;
  }

  // ---------------------------------------------------------------- driving the engines

  /** Settles, then checks what must hold after every step. */
  #step(): void {
    this.#settle();
    checkBounds(this.#bounds);
    this.tokens.check();
  }

  /** Drains transmit and events everywhere until nothing moves. */
  #settle(): void {
    for (let round = 0; ; round++) {
      if (round > 10_000) throw new InvariantViolation('terminates', 'settle did not quiesce (livelock?)');
      let moved = false;
      for (let i = 0; i < this.#driven.length; i++) {
        const d = this.#driven[i] as Driven;
        if (d.transportClosed) {
          // Nothing can be written; still deliver what the engine has to say.
          while (d.io.pollTransmit() !== null) {}
        } else if (d.link) {
          const link = d.link;
          while (this.network.writable(link, d.side)) {
            const bytes = d.io.pollTransmit();
            if (bytes === null) break;
            d.meter?.out.push(bytes);
            this.network.write(this.now, link, d.side, bytes);
            moved = true;
          }
          if (d.io.isClosed && this.network.writable(link, d.side)) {
            // Everything the closed engine had to say is written: close the transport in order.
            d.transportClosed = true;
            this.network.close(this.now, link, d.side);
            this.trace(this.now, `${d.side} ${d.clientId} link ${link.id} transport closed`);
          }
        }
        this.#draining = true;
        for (let e = d.io.pollEvent(); e !== null; e = d.io.pollEvent()) {
          moved = true;
          this.#app.onEvent(d.side, d.clientId, e, d);
        }
        this.#draining = false;
      }
      for (let e = this.serverTable.pollEvent(); e !== null; e = this.serverTable.pollEvent()) {
        moved = true;
        this.#app.onEvent('server', -1, e, null);
      }
      for (const c of this.clients) {
        for (let e = c.table.pollEvent(); e !== null; e = c.table.pollEvent()) {
          moved = true;
          this.#app.onEvent('client', c.id, e, null);
        }
      }
      if (!moved) return;
    }
  }

  #drive(conn: Connection, side: EndRole, link: SimLink | null, clientId: number): Driven {
    const name = side === 'server' ? `server link ${link?.id}` : `client ${clientId} link ${link?.id}`;
    const noise = (this.clients[clientId] as Client | undefined)?.noise ?? null;
    const io = noise
      ? new SecureConnection({
          connection: conn,
          random: this.#noiseRandom,
          ...(side === 'server'
            ? { staticKey: this.#noiseServerKey }
            : noise === 'IK'
              ? { remoteStaticKey: keyPairFrom(this.#noiseServerKey).publicKey }
              : {}),
        })
      : conn;
    if (noise) this.stats.noiseConnections++;
    const meter = noise
      ? null
      : new WindowMeter(name, this.limits.connectionWindowBytes, this.stats.window, (message) => {
          throw new InvariantViolation('connection-window', message);
        });
    const d: Driven = { conn, io, side, link, transportClosed: false, clientId, meter };
    this.#driven.push(d);
    return d;
  }

  /** The server's end of a new link: a responder Connection on the shared table. */
  #accept(now: number, link: SimLink): Endpoint {
    const conn = new Connection({
      role: 'responder',
      limits: this.options.limits,
      random: this.#random,
      table: this.serverTable,
      ...this.#frameTracer(`server link ${link.id}`),
    });
    const d = this.#drive(conn, 'server', link, link.clientId);
    d.io.handleTransportUp(now);
    return this.#endpoint(d, `server link ${link.id}`);
  }

  #endpoint(d: Driven, name: string): Endpoint {
    return {
      onBytes: (now, bytes) => {
        this.trace(now, `${name} <- ${bytes.byteLength}B`);
        d.meter?.in.push(bytes);
        d.io.handleBytes(now, bytes);
      },
      onDown: (now, why) => {
        this.trace(now, `${name} transport down (${why})`);
        d.transportClosed = true;
        d.io.handleTransportDown(now, why);
      },
    };
  }
  /** With --verbose, every frame received is shown too (not hashed: the trace hash stays comparable). */
  #frameTracer(name: string): { tracer?: ConnectionOptions['tracer'] } {
    const onTrace = this.options.onTrace;
    if (!onTrace) return {};
    return {
      tracer: (r) => {
        if (r.kind === 'frame-in')
          onTrace(`${this.now.toFixed(0).padStart(7)}   ${name} frame ${r.frame} ch${r.channel}`);
      },
    };
  }

  // ---------------------------------------------------------------- the parts' hosts

  #newFaults(): Faults {
    return new Faults({
      options: this.options,
      limits: this.limits,
      network: this.network,
      clients: this.clients,
      faultRng: this.#faultRng,
    });
  }

  #newIsolation(): Isolation {
    const world = this;
    return new Isolation({
      get now() {
        return world.now;
      },
      options: this.options,
      limits: this.limits,
      stats: this.stats,
      network: this.network,
      clients: this.clients,
      rng: this.#rng,
      trace: (now, what) => this.trace(now, what),
      maybeFinish: (end) => this.#app.maybeFinish(end),
    });
  }

  #newClients(): Clients {
    return new Clients({
      options: this.options,
      stats: this.stats,
      network: this.network,
      ends: this.#ends,
      rng: this.#rng,
      random: this.#random,
      trace: (now, what) => this.trace(now, what),
      drive: (conn, side, link, clientId) => this.#drive(conn, side, link, clientId),
      endpoint: (d, name) => this.#endpoint(d, name),
      frameTracer: (name) => this.#frameTracer(name),
      armAbort: (end) => this.#app.armAbort(end),
      abort: (now, end) => this.#app.abort(now, end),
      scheduleChaosCut: (now, clientId, link, chaos) => this.#faults.scheduleChaosCut(now, clientId, link, chaos),
    });
  }

  #newApplication(planner: Planner): Application {
    const world = this;
    return new Application({
      get now() {
        return world.now;
      },
      get draining() {
        return world.#draining;
      },
      options: this.options,
      stats: this.stats,
      network: this.network,
      tokens: this.tokens,
      clients: this.clients,
      plans: this.plans,
      ends: this.#ends,
      rng: this.#rng,
      scenarioRng: this.#scenarioRng,
      dialogueCtx: this.#dialogueCtx,
      trace: (now, what) => this.trace(now, what),
      messages: (profile) => planner.messages(profile),
      stick: (end) => this.#isolation.stick(end),
      groupStuck: (end) => this.#isolation.groupStuck(end),
      checkStuck: (group) => this.#isolation.checkStuck(group),
      scheduleReconnect: (now, c) => this.#clients.scheduleReconnect(now, c),
      suspendedOf: (c) => this.#clients.suspendedOf(c),
      startGroup: (now, c) => this.#clients.startGroup(now, c),
    });
  }

  #newBounds(): BoundsHost {
    return {
      options: this.options,
      limits: this.limits,
      network: this.network,
      plans: this.plans,
      ends: this.#ends,
      dialogueCtx: this.#dialogueCtx,
      isolation: this.#isolation,
    };
  }
}
