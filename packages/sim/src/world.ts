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
 */
import {
  AbortCode,
  type CloseReason,
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  DEFAULT_BACKOFF,
  DEFAULT_UNITS,
  type DialogueEvent,
  FRAME_CHARGE_BYTES,
  FrameType,
  keyPairFrom,
  type Limits,
  type MessageKind,
  ReconnectSchedule,
  resolveLimits,
  SecureConnection,
  type Session,
  SessionTable,
  Token,
  Unit,
} from '@liaison/core';
import {
  askTokens,
  checkTokens,
  type DialogueContext,
  DialogueEnd,
  type DialoguePlan,
  dialogueUnits,
  drawDialoguePlan,
  holderTurn,
  onDialogueEvent,
} from './dialogue.js';
import { NamedTokenScenario } from './named-tokens.js';
import { type Endpoint, Network, type NetworkOptions, type SimLink } from './network.js';
import { Rng } from './random.js';
import { WindowMeter, type WindowStats } from './wire-meter.js';

/** Thrown inside a run when an invariant fails; the runner turns it into a report. */
export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    message: string,
  ) {
    super(`${invariant}: ${message}`);
  }
}

export interface WorldOptions {
  clients: number;
  sessionsPerClient: number;
  /** Share of clients that multiplex: several sessions at once over one connection (the Pool). */
  multiplexShare: number;
  /** Sessions a multiplexing client opens together, at most (at least 2). */
  multiplexSessionsMax: number;
  /** Chance that one session of a multiplexing group has an end that stops consuming (isolation check). */
  stuckChance: number;
  /** Messages each side sends per session, drawn in [min, max]. */
  messagesMin: number;
  messagesMax: number;
  /** Chance per message of a large, multi-fragment one. */
  largeChance: number;
  largeBytesMax: number;
  typedChance: number;
  expeditedChance: number;
  /** Chance that an application end consumes slowly (holds data for a while before consuming). */
  slowConsumerChance: number;
  limits: Partial<Limits>;
  network: Partial<NetworkOptions>;
  /** Mean time between faults (cut, stall, partition, listener close); 0 disables faults. */
  faultEveryMs: number;
  /** Faults in a run at most: a storm ends, so that the run can finish. */
  faultsMax: number;
  /** Longest partition; partitions longer than the resume window lose sessions on purpose. */
  partitionMsMax: number;
  /**
   * The flapping link of issue 10 (null: off; set by override, e.g. `npm run sim -- --chaos`):
   * every client connection is cut a drawn time after it was established and its client is then
   * partitioned for `downMs`, until `faultsMax` such faults happened.
   */
  chaos: ChaosOptions | null;
  timeLimitMs: number;
  eventLimit: number;
  /** Share of sessions in which one end aborts (S-U-ABORT) at a drawn point. */
  userAbortShare: number;
  /** Share of sessions that negotiate NEGOTIATED_RELEASE and refuse the first release request. */
  refusedReleaseShare: number;
  /**
   * Share of clients whose connections run inside Noise (XX or IK, drawn per client): the server
   * listens with Noise for them. 0 by default, so that the plaintext seeds replay as before.
   */
  noiseShare: number;
  /** Share of sessions that are half-duplex, passing tokens, taking sync points, resynchronizing (dialogue.ts). */
  dialogueShare: number;
  /** Broken on purpose (checker tests only): the client application forgets one delivered message. */
  forgetMessage: boolean;
  /**
   * Broken on purpose (checker tests only): while one reader of a connection is stuck, every end
   * of the same role on that connection stops consuming too, as one read loop per connection would
   * (isolated).
   */
  stuckBlocksGroup: boolean;
  /** Share of sessions that contend for named tokens (named-tokens.ts). */
  namedTokenShare: number;
  /** Broken on purpose (checker tests only): the server grants a held name to a second session. */
  doubleGrant: boolean;
  /**
   * Broken on purpose (checker tests only): once, when a dialogue end receives tokens, the world
   * hands the giver a forged GIVE_TOKENS of the same tokens, so both engines hold them (token-unique).
   */
  forgeTokenGive: boolean;
  /** Broken on purpose (checker tests only): one sync point event reaches the application twice (serial-monotonic). */
  replaySyncEvent: boolean;
  /** Called with every trace record (the CLI's --verbose). */
  onTrace?: (line: string) => void;
}

export interface ChaosOptions {
  /** A connection is cut this long after it was established, drawn in [min, max]. */
  cutAfterMsMin: number;
  cutAfterMsMax: number;
  /** After each cut its client reaches nothing for this long. */
  downMs: number;
}

/** Cuts every 100±50 ms with 500 ms down, on a 1 MiB/s link (with `CHAOS_NETWORK`). */
export const CHAOS: Readonly<ChaosOptions> = Object.freeze({ cutAfterMsMin: 50, cutAfterMsMax: 150, downMs: 500 });
/** Faults per chaos run (the CLI's --chaos): enough cuts to span many resumes, bounded so the run ends. */
export const CHAOS_FAULTS = 40;
// On loopback, as the proxy runs: a resume needs a few round trips within a connection's 100 ms.
export const CHAOS_NETWORK: Readonly<Partial<NetworkOptions>> = Object.freeze({
  delayMsMin: 1,
  delayMsMax: 3,
  jitterMs: 1,
  bytesPerSecond: 1024 * 1024,
});

/** Draws a world's options from a seed: small worlds mostly, a few heavier ones. */
export function worldOptionsFor(rng: Rng, overrides: Partial<WorldOptions> = {}): WorldOptions {
  const heavy = rng.chance(0.03);
  const keepaliveIntervalMs = rng.int(200, 1500);
  const frameBytesMax = rng.pick([1024, 2048, 4096, 16_384]);
  return {
    clients: heavy ? rng.int(3, 5) : rng.pick([1, 1, 2, 2, 3]),
    sessionsPerClient: rng.chance(heavy ? 0.5 : 0.15) ? 2 : 1,
    multiplexShare: 0.5,
    multiplexSessionsMax: heavy ? 4 : 6,
    stuckChance: 0.35,
    messagesMin: 0,
    messagesMax: heavy ? rng.int(60, 150) : rng.int(5, 25),
    largeChance: rng.pick([0, 0.05, 0.1]),
    largeBytesMax: heavy ? 150_000 : 20_000,
    typedChance: rng.pick([0, 0.2, 0.5]),
    expeditedChance: rng.pick([0, 0.05, 0.1]),
    slowConsumerChance: rng.pick([0, 0.3, 0.6]),
    limits: {
      frameBytesMax,
      receiveWindowBytes: rng.pick([2048, 8192, 65_536]),
      sendQueueBytesMax: rng.pick([4096, 16_384, 65_536]),
      retransmitBufferBytes: rng.pick([65_536, 131_072]),
      transmitBatchBytes: rng.pick([4096, 65_536]),
      ackDelayMs: rng.int(0, 20),
      keepaliveIntervalMs,
      idleTimeoutMs: keepaliveIntervalMs * rng.int(3, 5),
      handshakeTimeoutMs: 5_000,
      releaseTimeoutMs: 60_000,
      resumeWindowMs: rng.int(3_000, 15_000),
      suspendedBytesMax: rng.chance(0.1) ? rng.int(10_000, 200_000) : 64 * 1024 * 1024,
      // Small connection windows make several bulk sessions meet the connection's limit.
      connectionWindowBytes: rng.pick([65_536, 131_072, 262_144, 16 * 1024 * 1024]),
      contendedInflightBytes: rng.pick([16_384, 16_384, 65_536]),
    },
    network: {
      delayMsMin: 1,
      delayMsMax: rng.pick([5, 40, 150]),
      jitterMs: rng.pick([0, 5, 30]),
      splitChance: rng.pick([0, 0.3, 0.8]),
      pipeBytesMax: rng.pick([4096, 65_536]),
    },
    faultEveryMs: rng.pick([0, 300, 1_000, 3_000]),
    faultsMax: heavy ? rng.int(10, 60) : rng.int(1, 15),
    partitionMsMax: rng.chance(0.1) ? 30_000 : 3_000,
    chaos: null,
    timeLimitMs: 900_000,
    eventLimit: 2_000_000,
    userAbortShare: 0.1,
    refusedReleaseShare: 0.1,
    noiseShare: 0,
    dialogueShare: 0.15,
    forgetMessage: false,
    stuckBlocksGroup: false,
    namedTokenShare: 0.5,
    doubleGrant: false,
    forgeTokenGive: false,
    replaySyncEvent: false,
    ...overrides,
  };
}

/** One message as the sender recorded it; its bytes are a function of (stream, index, size). */
export interface SentMessage {
  index: number;
  kind: MessageKind;
  bytes: number;
}

/** One direction of one session: what was sent, what arrived. */
export interface Stream {
  name: string;
  sent: SentMessage[];
  /** Indices of delivered messages, in delivery order, per kind class. */
  deliveredData: number[];
  deliveredExpedited: number[];
  /** Normal messages purged unsent by the sender or discarded on arrival (dialogue sessions' resynchronizations). */
  purged: Set<number>;
  /** Virtual time of the latest delivery (isolation: a session still delivering is not blocked). */
  lastDeliveryAt?: number;
}

export type EndRole = 'client' | 'server';

/** One side of one session, with its application's plan and what it saw. */
export class AppEnd {
  session: Session | null = null;
  released = false;
  releaseRequested = false;
  closeReason: CloseReason | null = null;
  /** Messages this side still has to send. */
  remaining: SentMessage[] = [];
  unconsumedBytes = 0;
  unconsumedPeak = 0;
  sendTimerArmed = false;
  /** Consumes nothing until the other sessions of its group have closed (the isolation check). */
  stuck = false;
  /** Credit held while stuck, and since when. */
  heldCredit = 0;
  stuckSince = 0;
  /** The abort is scheduled (its plan's point was reached). */
  abortArmed = false;
  /** The user data this end aborted with, once it called abort(). */
  abortedWith: Uint8Array | null = null;
  /** Releases this end asked for; release requests it refused; refusals of its own it was told of. */
  releaseCalls = 0;
  refusalsMade = 0;
  refusalsSeen = 0;
  /** Tokens, serials and purges of a dialogue session's end. */
  dialogue: DialogueEnd | null = null;

  constructor(
    readonly role: EndRole,
    readonly plan: SessionPlan,
    readonly out: Stream,
    readonly slow: boolean,
  ) {}

  get releases(): boolean {
    return this.plan.releaser === 'both' || this.plan.releaser === this.role;
  }
}

/** plain: the mixed plan; bulk: few, mostly large messages; chatty: many small ones; early: releases soon. */
export type Profile = 'plain' | 'bulk' | 'chatty' | 'early';

export interface SessionPlan {
  id: number;
  clientId: number;
  /** Sessions of one group share the client's connection (one group at a time). */
  group: number;
  profile: Profile;
  /** Opened this long after its group's connection started (0: with the first ones). */
  openAfterMs: number;
  /** Which end of this session stops consuming (isolation check), if any. */
  stuckRole: EndRole | null;
  releaser: EndRole | 'both';
  /** One end aborts once it has sent `afterSent` messages and `delayMs` more have passed. */
  abort: {
    role: EndRole;
    afterSent: number;
    delayMs: number;
    userData: Uint8Array;
    /** Sooner, if it happens first: when the end is suspended, or (a client) as it starts resuming. */
    on: 'suspended' | 'resuming' | null;
  } | null;
  /** Negotiates NEGOTIATED_RELEASE; the first release request is refused, a later one accepted. */
  refuseRelease: boolean;
  /** A half-duplex session with tokens, sync points and resynchronizations (dialogue.ts). */
  dialogue: DialoguePlan | null;
  c2s: Stream;
  s2c: Stream;
  client: AppEnd;
  server: AppEnd | null;
}

interface Client {
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

interface Driven {
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

export interface WorldStats {
  sessionsPlanned: number;
  sessionsOpened: number;
  sessionsReleased: number;
  sessionsLost: number;
  messagesSent: number;
  messagesDelivered: number;
  bytesSent: number;
  resumes: number;
  suspensions: number;
  reconnectAttempts: number;
  /** Messages reported undelivered by a lost session although the peer got them (a lost ack). */
  ambiguousMessages: number;
  events: number;
  virtualMs: number;
  clients: number;
  multiplexedClients: number;
  /** Sessions planned for multiplexing clients. */
  multiplexedSessions: number;
  /** The most sessions one client connection carried at once. */
  sessionsPerConnectionPeak: number;
  /** Reconnects that resumed two or more sessions on one new connection. */
  groupResumes: number;
  /** Sessions opened on a connection that was also resuming others, or while others were suspended. */
  opensBesideResumes: number;
  /** Ends that stopped consuming while the rest of their group went on; and how long the others took. */
  stuckEnds: number;
  isolationMaxMs: number;
  /** Sessions one end aborted (abort() called); release requests refused. */
  userAborts: number;
  releasesRefused: number;
  /** Dialogue sessions; sync points and resynchronizations their ends took or saw; messages purged. */
  dialogueSessions: number;
  syncPoints: number;
  resyncs: number;
  messagesPurged: number;
  window: WindowStats;
  /** Connections (either end) that ran inside Noise. */
  noiseConnections: number;
}

const EMPTY = new Uint8Array(0);
const HEADER_BYTES = 8;
/** How long a stuck reader may wait for the rest of its group before that counts as blocking it. */
const ISOLATION_BOUND_MS = 300_000;
/**
 * A session of the group that delivered a message this recently is making progress of its own
 * (a small session window on a slow link can take a minute per large message: sim seed 982260,
 * one 1 KiB frame per 300 ms round trip), so it is slow, not blocked by the stuck reader.
 */
const ISOLATION_PROGRESS_MS = 100_000;

function planClosed(p: SessionPlan): boolean {
  return p.client.closeReason !== null && (p.server === null || p.server.closeReason !== null);
}
const EXPEDITED_MAX = 14;

export class World {
  readonly options: WorldOptions;
  readonly limits: Readonly<Limits>;
  readonly network: Network;
  readonly serverTable: SessionTable;
  /** The server's named-token registry and the sessions contending for it. */
  readonly tokens: NamedTokenScenario;
  readonly clients: Client[] = [];
  readonly plans: SessionPlan[] = [];
  readonly stats: WorldStats = {
    sessionsPlanned: 0,
    sessionsOpened: 0,
    sessionsReleased: 0,
    sessionsLost: 0,
    messagesSent: 0,
    messagesDelivered: 0,
    bytesSent: 0,
    resumes: 0,
    suspensions: 0,
    reconnectAttempts: 0,
    ambiguousMessages: 0,
    events: 0,
    virtualMs: 0,
    clients: 0,
    multiplexedClients: 0,
    multiplexedSessions: 0,
    sessionsPerConnectionPeak: 0,
    groupResumes: 0,
    opensBesideResumes: 0,
    stuckEnds: 0,
    isolationMaxMs: 0,
    userAborts: 0,
    releasesRefused: 0,
    noiseConnections: 0,
    dialogueSessions: 0,
    syncPoints: 0,
    resyncs: 0,
    messagesPurged: 0,
    window: { windowFrames: 0, windowBoundWrites: 0, peakFill: 0 },
  };
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
  #hashA = 0x811c9dc5;
  #hashB = 0x01000193;
  readonly #recent: string[] = [];
  #recentAt = 0;
  #forgotten = false;
  /** A broken-on-purpose option did its one corruption (forgeTokenGive, replaySyncEvent). */
  #corrupted = false;
  /** Ends that stopped consuming (see #stick). */
  #stuck: AppEnd[] = [];
  #faults = 0;

  constructor(seed: number, options: WorldOptions) {
    const root = new Rng(seed);
    this.options = options;
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
    const rng = this.#rng;
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
        noise: this.#noiseRng.chance(options.noiseShare) ? this.#noiseRng.pick(['XX', 'IK'] as const) : null,
      };
      this.stats.clients++;
      if (multiplexed) {
        this.stats.multiplexedClients++;
        const n = rng.int(2, Math.max(2, options.multiplexSessionsMax));
        const group: SessionPlan[] = [];
        for (let i = 0; i < n; i++) {
          const r = rng.float();
          const profile: Profile = r < 0.35 ? 'bulk' : r < 0.8 ? 'chatty' : 'early';
          // Most open together; some later, maybe while the others are suspended or resuming.
          const openAfterMs = i === 0 || rng.chance(0.6) ? 0 : rng.logInt(5, 3_000);
          group.push(this.#plan(id, 0, profile, openAfterMs));
        }
        if (rng.chance(options.stuckChance))
          (rng.pick(group) as SessionPlan).stuckRole = rng.chance(0.5) ? 'client' : 'server';
        this.stats.multiplexedSessions += n;
        client.groups.push(group);
      } else {
        for (let i = 0; i < options.sessionsPerClient; i++) client.groups.push([this.#plan(id, i, 'plain', 0)]);
      }
      this.clients.push(client);
    }
  }

  /** The trace's hash so far (two FNV-1a lanes): equal for equal runs. */
  get traceHash(): string {
    return (this.#hashA >>> 0).toString(16).padStart(8, '0') + (this.#hashB >>> 0).toString(16).padStart(8, '0');
  }

  /** The last trace records, oldest first. */
  recentTrace(): string[] {
    const n = this.#recent.length;
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.#recent[(this.#recentAt + i) % n] as string);
    return out;
  }

  trace(now: number, what: string): void {
    const line = `${now.toFixed(0).padStart(7)} ${what}`;
    let a = this.#hashA;
    let b = this.#hashB;
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (a >>> 15);
    }
    this.#hashA = a;
    this.#hashB = b;
    if (this.#recent.length < 60) this.#recent.push(line);
    else {
      this.#recent[this.#recentAt] = line;
      this.#recentAt = (this.#recentAt + 1) % 60;
    }
    this.options.onTrace?.(line);
  }

  /** Runs the world to its end. @throws InvariantViolation on deadlock, livelock or a bound crossed. */
  run(): void {
    for (const c of this.clients) this.network.schedule(this.#rng.int(0, 50), (t) => this.#startGroup(t, c));
    if (this.options.faultEveryMs > 0) this.#scheduleFault(0);
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
    this.#checkBounds();
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
          this.#onEvent(d.side, d.clientId, e, d);
        }
        this.#draining = false;
      }
      for (let e = this.serverTable.pollEvent(); e !== null; e = this.serverTable.pollEvent()) {
        moved = true;
        this.#onEvent('server', -1, e, null);
      }
      for (const c of this.clients) {
        for (let e = c.table.pollEvent(); e !== null; e = c.table.pollEvent()) {
          moved = true;
          this.#onEvent('client', c.id, e, null);
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

  // ---------------------------------------------------------------- clients

  /** Starts the client's next group of sessions on a new connection (or finds it has none left). */
  #startGroup(now: number, c: Client): void {
    const group = c.groups[c.group];
    if (!group) {
      c.done = true;
      this.trace(now, `client ${c.id} done`);
      return;
    }
    for (const plan of group) {
      if (plan.openAfterMs === 0) c.waiting.push(plan);
      else this.network.schedule(now + plan.openAfterMs, (t) => this.#openLate(t, c, plan));
    }
    this.trace(
      now,
      `client ${c.id} connects for ${c.waiting.map((p) => `session ${p.id}`).join(', ')} (attempt ${c.reconnect.attempt})`,
    );
    this.#connect(now, c);
  }

  /** The client's sessions that wait for a new connection to resume on. */
  #suspendedOf(c: Client): SessionPlan[] {
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
    this.stats.reconnectAttempts++;
    const pending: { d: Driven | null; reached: boolean } = { d: null, reached: false };
    this.network.connect(
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
          this.#endpoint(pending.d, `client ${c.id}`).onBytes(t, b);
        },
        onDown: (t, why) => pending.d && this.#endpoint(pending.d, `client ${c.id}`).onDown(t, why),
      },
      (t, link) => {
        c.connecting = false;
        const resume = this.#suspendedOf(c);
        if (resume.length === 0 && c.waiting.length === 0) {
          if (link) this.network.close(t, link, 'client');
          return;
        }
        if (!link) return this.#scheduleReconnect(t, c);
        if (resume.length === 0) c.reconnect.succeeded();
        const open = c.waiting;
        c.waiting = [];
        const conn = this.#clientConnection(c);
        pending.d = this.#drive(conn, 'client', link, c.id);
        pending.d.io.handleTransportUp(t);
        c.conn = conn;
        c.link = link;
        if (this.options.chaos) this.#scheduleChaosCut(t, c.id, link, this.options.chaos);
        const items: { plan: SessionPlan; resume: boolean }[] = [
          ...resume.map((plan) => ({ plan, resume: true })),
          ...open.map((plan) => ({ plan, resume: false })),
        ];
        for (let i = items.length - 1; i > 0; i--) {
          const j = this.#rng.int(0, i);
          [items[i], items[j]] = [items[j] as (typeof items)[0], items[i] as (typeof items)[0]];
        }
        if (resume.length >= 2) this.stats.groupResumes++;
        if (resume.length > 0) this.stats.opensBesideResumes += open.length;
        for (const { plan, resume: r } of items) {
          if (r) {
            conn.resumeSession(t, plan.client.session as Session);
            this.trace(t, `client ${c.id} resumes session ${plan.id} on link ${link.id}`);
            if (plan.abort?.role === 'client' && plan.abort.on === 'resuming') this.#abort(t, plan.client);
          } else this.#open(t, c, conn, plan);
        }
      },
    );
  }

  /** A session due later: on the live connection if there is one (as a Pool shares it), else on the next. */
  #openLate(now: number, c: Client, plan: SessionPlan): void {
    const conn = c.conn;
    if (conn && !conn.isClosed) {
      if (this.#suspendedOf(c).length > 0 || this.#resumingOn(c)) this.stats.opensBesideResumes++;
      this.#open(now, c, conn, plan);
      return;
    }
    c.waiting.push(plan);
    this.trace(now, `client ${c.id} session ${plan.id} waits for a connection`);
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
    this.#ends.set(plan.client.session, plan.client);
    this.stats.sessionsOpened++;
    this.trace(now, `client ${c.id} opens session ${plan.id} on channel ${plan.client.session.channel}`);
    if (conn.sessionCount > this.stats.sessionsPerConnectionPeak)
      this.stats.sessionsPerConnectionPeak = conn.sessionCount;
    this.#armAbort(plan.client);
  }

  #clientConnection(c: Client): Connection {
    return new Connection({
      role: 'initiator',
      limits: this.options.limits,
      random: this.#random,
      table: c.table,
      ...this.#frameTracer(`client ${c.id}`),
    });
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

  #backoff(c: Client): number {
    const delay = c.reconnect.nextDelay(this.#rng.float());
    return delay;
  }

  /** The client's sessions are suspended (or their resume failed with its connection): try again later. */
  #scheduleReconnect(now: number, c: Client): void {
    if (c.reconnectPending || c.connecting) return;
    c.reconnectPending = true;
    const delay = this.#backoff(c);
    this.trace(now, `client ${c.id} reconnects in ${delay}ms`);
    this.network.schedule(now + delay, (t) => {
      c.reconnectPending = false;
      if (this.#suspendedOf(c).length === 0 && c.waiting.length === 0) return;
      this.trace(t, `client ${c.id} reconnect attempt ${c.reconnect.attempt}`);
      this.#connect(t, c);
    });
  }

  // ---------------------------------------------------------------- application behaviour

  #plan(clientId: number, group: number, profile: Profile, openAfterMs: number): SessionPlan {
    const id = this.plans.length + 1;
    const o = this.options;
    const rng = this.#rng;
    const c2s: Stream = { name: `s${id} c->s`, sent: [], deliveredData: [], deliveredExpedited: [], purged: new Set() };
    const s2c: Stream = { name: `s${id} s->c`, sent: [], deliveredData: [], deliveredExpedited: [], purged: new Set() };
    let releaser: SessionPlan['releaser'] = rng.chance(0.1) ? 'both' : rng.chance(0.5) ? 'client' : 'server';
    // The scenarios come from their own stream, after the plan's own draws.
    const sr = this.#scenarioRng;
    const scenario = sr.float();
    let abort: SessionPlan['abort'] = null;
    const refuseRelease = scenario >= o.userAbortShare && scenario < o.userAbortShare + o.refusedReleaseShare;
    if (refuseRelease && releaser === 'both') releaser = sr.chance(0.5) ? 'client' : 'server';
    const dr = this.#dialogueRng;
    const dialogue =
      scenario >= o.userAbortShare + o.refusedReleaseShare && dr.chance(o.dialogueShare) ? drawDialoguePlan(dr) : null;
    // Only the holder of every token releases: one releasing end.
    if (dialogue && releaser === 'both') releaser = dr.chance(0.5) ? 'client' : 'server';
    const plan: SessionPlan = {
      id,
      clientId,
      group,
      profile,
      openAfterMs,
      stuckRole: null,
      releaser,
      abort,
      refuseRelease,
      dialogue,
      c2s,
      s2c,
      client: new AppEnd('client', null as unknown as SessionPlan, c2s, rng.chance(o.slowConsumerChance)),
      server: null,
    };
    (plan.client as { plan: SessionPlan }).plan = plan;
    if (dialogue) {
      plan.client.dialogue = new DialogueEnd(dialogue);
      this.stats.dialogueSessions++;
    }
    plan.client.remaining = this.#messages(profile);
    if (scenario < o.userAbortShare) {
      // The point: after some of its sends (none, some, all), then a delay (none, short, long
      // enough to meet a suspension or a resume). The server's count is drawn against the
      // client's plan length, capped by its own when it has its plan.
      const role: EndRole = sr.chance(0.5) ? 'client' : 'server';
      const n = plan.client.remaining.length;
      const w = sr.float();
      // Waiting for a suspension (or a resume): the fallback point is late, so that faults come first.
      const on = w < 0.2 ? 'suspended' : w < 0.4 && role === 'client' ? 'resuming' : null;
      const afterSent = on ? n : sr.chance(0.25) ? 0 : sr.chance(0.3) ? n : sr.int(0, n);
      const d = sr.float();
      const delayMs = on ? sr.logInt(1_000, 8_000) : d < 0.3 ? 0 : d < 0.7 ? sr.int(1, 50) : sr.logInt(50, 8_000);
      abort = { role, afterSent, delayMs, userData: sr.bytes(sr.int(0, 24)), on };
      plan.abort = abort;
    }
    this.plans.push(plan);
    this.stats.sessionsPlanned++;
    return plan;
  }

  #messages(profile: Profile): SentMessage[] {
    const o = this.options;
    const rng = this.#rng;
    // Multiplexed sessions are many: each carries less, so that a seed costs about the same.
    const n =
      profile === 'plain'
        ? rng.int(o.messagesMin, o.messagesMax)
        : profile === 'bulk'
          ? rng.int(Math.min(1, o.messagesMax), Math.max(1, Math.ceil(o.messagesMax / 4)))
          : profile === 'chatty'
            ? rng.int(o.messagesMin, Math.ceil(o.messagesMax / 2))
            : rng.int(0, 2);
    const largeChance = profile === 'bulk' ? 0.6 : profile === 'chatty' ? 0 : o.largeChance;
    const out: SentMessage[] = [];
    for (let i = 0; i < n; i++) {
      const r = rng.float();
      let kind: MessageKind = 'normal';
      let bytes: number;
      if (r < o.expeditedChance) {
        kind = 'expedited';
        bytes = rng.int(HEADER_BYTES, EXPEDITED_MAX);
      } else {
        if (rng.chance(o.typedChance)) kind = 'typed';
        bytes = rng.chance(largeChance)
          ? rng.int(2_000, o.largeBytesMax)
          : rng.chance(0.3)
            ? rng.int(64, 2_000)
            : rng.int(HEADER_BYTES, 64);
      }
      out.push({ index: i, kind, bytes });
    }
    return out;
  }

  #onEvent(side: EndRole, clientId: number, e: ConnectionEvent, d: Driven | null): void {
    const now = this.now;
    if (e.type === 'rtt') return;
    if (side === 'server') this.tokens.onServerEvent(now, e);
    else this.tokens.onClientEvent(now, e);
    if (e.type === 'connection-closed') {
      this.trace(now, `${side} ${clientId} connection closed (${e.origin} ${e.code} ${e.message})`);
      if (side === 'client') {
        const c = this.clients[clientId] as Client;
        if (d?.conn === c.conn && this.#suspendedOf(c).length > 0) this.#scheduleReconnect(now, c);
      }
      return;
    }
    if (e.type === 'connect-request') {
      const id =
        e.request.userData.byteLength === 4
          ? new DataView(e.request.userData.buffer, e.request.userData.byteOffset, 4).getUint32(0)
          : 0;
      const plan = this.plans[id - 1];
      if (!plan || plan.server) throw new InvariantViolation('world', `connect request for unknown plan ${id}`);
      const end = new AppEnd('server', plan, plan.s2c, this.#rng.chance(this.options.slowConsumerChance));
      end.remaining = this.#messages(plan.profile);
      if (plan.dialogue) end.dialogue = new DialogueEnd(plan.dialogue);
      end.session = e.session;
      if (plan.stuckRole === 'server') this.#stick(end);
      plan.server = end;
      this.#ends.set(e.session, end);
      this.trace(now, `server accepts session ${plan.id} on channel ${e.channel}`);
      // The transport may have died since the request was queued: the closed event follows.
      if (e.session.state !== 'awaiting-response') return;
      e.session.accept(now, EMPTY, [], 0, { namedTokens: this.tokens.offer });
      this.#pumpSends(end);
      this.#armAbort(end);
      return;
    }
    const end = this.#ends.get(e.session);
    if (!end) throw new InvariantViolation('world', `${e.type} event for a session the world does not know`);
    const tag = `${end.role} s${end.plan.id}`;
    switch (e.type) {
      case 'accepted':
        this.trace(now, `${tag} accepted`);
        this.tokens.opened(end.plan);
        if (end.role === 'client' && end.plan.stuckRole === 'client') this.#stick(end);
        this.#pumpSends(end);
        return;
      case 'message':
        return this.#onMessage(end, e.kind, e.data, e.credit);
      case 'writable':
        this.#pumpSends(end);
        return;
      case 'dialogue': {
        const d = end.dialogue;
        if (!d) throw new InvariantViolation('world', `${tag}: dialogue event ${e.event.kind} in a plain session`);
        if (e.event.kind === 'purged') this.stats.messagesPurged += e.event.messages.length;
        if (e.event.kind === 'purged' || e.event.kind === 'discarded') {
          const stream = e.event.kind === 'purged' ? end.out : end.role === 'client' ? end.plan.s2c : end.plan.c2s;
          for (const m of e.event.kind === 'purged' ? e.event.messages : [e.event.head]) stream.purged.add(indexOf(m));
          this.trace(now, `${tag} ${e.event.kind} ${e.event.kind === 'purged' ? e.event.messages.length : 1}`);
          return;
        }
        this.trace(now, `${tag} ${e.event.kind}`);
        onDialogueEvent(this.#dialogueCtx, d, e.session, tag, e.event);
        if (!this.#corrupted) this.#corruptDialogue(now, end, d, tag, e.event);
        this.#pumpSends(end);
        this.#maybeFinish(end);
        return;
      }
      case 'release-requested':
        this.trace(now, `${tag} release requested`);
        end.releaseRequested = true;
        this.#maybeFinish(end);
        return;
      case 'release-refused': {
        if (!end.plan.refuseRelease || end.releaseCalls !== 1 || end.refusalsSeen > 0) {
          throw new InvariantViolation(
            'world',
            `${tag}: release refused (plan refuses: ${end.plan.refuseRelease}, releases asked ${end.releaseCalls}, ` +
              `refusals seen ${end.refusalsSeen})`,
          );
        }
        end.refusalsSeen++;
        end.released = false;
        // It goes on exchanging: a few more messages, then it releases again.
        const rng = this.#scenarioRng;
        const more = rng.int(1, 5);
        for (let i = 0; i < more; i++) {
          end.remaining.push({ index: end.out.sent.length + i, kind: 'normal', bytes: rng.int(HEADER_BYTES, 3_000) });
        }
        this.trace(now, `${tag} release refused: sends ${more} more`);
        this.#pumpSends(end);
        return;
      }
      case 'suspended': {
        this.stats.suspensions++;
        this.trace(now, `${tag} suspended (${e.reason})`);
        if (end.plan.abort?.role === end.role && end.plan.abort.on === 'suspended') this.#abort(now, end);
        if (end.role === 'client') this.#scheduleReconnect(now, this.clients[end.plan.clientId] as Client);
        return;
      }
      case 'resumed':
        this.stats.resumes++;
        this.trace(now, `${tag} resumed (replayed ${e.stats.replayedMessages}, peer ${e.stats.peerReplayedMessages})`);
        if (end.role === 'client') (this.clients[end.plan.clientId] as Client).reconnect.succeeded();
        this.#pumpSends(end);
        return;
      case 'closed':
        return this.#onClosed(end, e.reason);
      default:
        return;
    }
  }

  #onMessage(end: AppEnd, kind: MessageKind, data: Uint8Array, credit: number): void {
    const stream = end.role === 'client' ? end.plan.s2c : end.plan.c2s;
    if (this.options.forgetMessage && !this.#forgotten && end.role === 'client' && stream.deliveredData.length === 2) {
      // Broken on purpose: the application "loses" a message it was given.
      this.#forgotten = true;
      (end.session as Session).consume(this.now, credit);
      return;
    }
    const index = checkMessage(stream, kind, data);
    (kind === 'expedited' ? stream.deliveredExpedited : stream.deliveredData).push(index);
    stream.lastDeliveryAt = this.now;
    this.stats.messagesDelivered++;
    this.trace(this.now, `${end.role} s${end.plan.id} got ${kind} #${index} ${data.byteLength}B`);
    if (end.stuck || (this.options.stuckBlocksGroup && this.#groupStuck(end))) {
      end.heldCredit += credit;
      end.unconsumedBytes += credit;
      end.unconsumedPeak = Math.max(end.unconsumedPeak, end.unconsumedBytes);
      return this.#maybeFinish(end);
    }
    if (!end.slow) {
      (end.session as Session).consume(this.now, credit);
      return this.#maybeFinish(end);
    }
    // Unconsumed credit (payload plus the per-frame charge) is what the window bounds.
    end.unconsumedBytes += credit;
    end.unconsumedPeak = Math.max(end.unconsumedPeak, end.unconsumedBytes);
    const n = credit;
    this.network.schedule(this.now + this.#rng.int(1, 200), (t) => {
      end.unconsumedBytes -= n;
      const s = end.session as Session;
      if (s.state === 'closed') return;
      s.consume(t, n);
      this.#maybeFinish(end);
    });
  }

  /** Sends a burst of the plan's messages while the session takes them, then paces the rest. */
  #pumpSends(end: AppEnd): void {
    const s = end.session;
    if (!s || end.sendTimerArmed) return;
    const burst = this.#rng.int(1, 6);
    for (let i = 0; i < burst && end.remaining.length > 0 && s.writable; i++) {
      // A dialogue end sends normal data only with the data token (typed and expedited need none).
      if (end.dialogue && (end.remaining[0] as SentMessage).kind === 'normal' && !canSendNormal(s)) break;
      const m = end.remaining.shift() as SentMessage;
      s.send(this.now, m.kind, messageBytes(end.out, m));
      end.out.sent.push(m);
      this.stats.messagesSent++;
      this.stats.bytesSent += m.bytes;
    }
    if (end.plan.abort) this.#armAbort(end);
    if (end.dialogue && s.state === 'open' && this.#draining) {
      this.#turnSoon(end);
      if (end.remaining.length > 0 && (end.remaining[0] as SentMessage).kind === 'normal' && !canSendNormal(s)) return;
    } else if (end.dialogue && s.state === 'open') {
      const blocked =
        end.remaining.length > 0 && (end.remaining[0] as SentMessage).kind === 'normal' && !canSendNormal(s);
      const tag = `${end.role} s${end.plan.id}`;
      const normalLeft = end.remaining.filter((m) => m.kind === 'normal').length;
      holderTurn(this.#dialogueCtx, end.dialogue, s, tag, normalLeft, end.releases);
      if (blocked && !canSendNormal(s)) {
        // Waits for the tokens (or a confirmation): a dialogue event calls again.
        if (!s.dialogue?.owns('data')) askTokens(this.#dialogueCtx, end.dialogue, s, tag);
        return;
      }
    }
    if (end.remaining.length > 0) {
      if (s.writable) {
        end.sendTimerArmed = true;
        this.network.schedule(this.now + this.#rng.int(0, 40), () => {
          end.sendTimerArmed = false;
          this.#pumpSends(end);
        });
      }
      return; // not writable: the writable (or resumed) event calls again
    }
    this.#maybeFinish(end);
  }

  /** Releases, or answers the peer's release, once everything is sent (and, answering, consumed). */
  #maybeFinish(end: AppEnd): void {
    const s = end.session;
    if (s && end.plan.refuseRelease && end.refusalsMade === 0 && s.state === 'release-requested') {
      // The first release request is refused (as soon as the application sees the state): it goes on.
      end.refusalsMade++;
      this.stats.releasesRefused++;
      this.trace(this.now, `${end.role} s${end.plan.id} refuses the release`);
      s.respondRelease(this.now, false, EMPTY);
      this.#pumpSends(end);
      return;
    }
    if (!s || end.remaining.length > 0 || s.state === 'closed') return;
    if (end.plan.abort?.role === end.role) {
      // An aborting end neither releases nor answers a release: it aborts.
      this.#armAbort(end);
      return;
    }
    if (s.state === 'release-requested' && end.unconsumedBytes === 0) {
      this.trace(this.now, `${end.role} s${end.plan.id} accepts the release`);
      s.respondRelease(this.now, true, EMPTY);
    } else if (s.state === 'open' && end.releases && !end.released) {
      if (end.dialogue && !this.#mayRelease(end, s)) return;
      end.released = true;
      end.releaseCalls++;
      this.trace(this.now, `${end.role} s${end.plan.id} releases`);
      s.release(this.now, EMPTY);
    }
  }

  /** The end's dialogue turn, once the events now queued were all read. */
  #turnSoon(end: AppEnd): void {
    const d = end.dialogue as DialogueEnd;
    if (d.turnPending) return;
    d.turnPending = true;
    this.network.schedule(this.now, () => {
      d.turnPending = false;
      this.#pumpSends(end);
      this.#maybeFinish(end);
    });
  }

  /** A dialogue releaser needs every token, no activity and nothing pending: asks or waits until then. */
  #mayRelease(end: AppEnd, s: Session): boolean {
    const dl = s.dialogue;
    const d = end.dialogue as DialogueEnd;
    if (!dl) return true;
    if (this.#draining) {
      this.#turnSoon(end);
      return false;
    }
    const tag = `${end.role} s${end.plan.id}`;
    if ((dl.mine & dl.available) !== dl.available) {
      askTokens(this.#dialogueCtx, d, s, tag);
      return false;
    }
    if (dl.activity !== null || dl.majorPending !== null || dl.awaiting !== null) {
      holderTurn(this.#dialogueCtx, d, s, tag, 0, true);
      return false;
    }
    return true;
  }

  /** Schedules the end's planned abort once it has sent enough; abort() itself comes after the delay. */
  #armAbort(end: AppEnd): void {
    const a = end.plan.abort;
    if (!a || a.role !== end.role || end.abortArmed || !end.session) return;
    if (end.out.sent.length < a.afterSent && end.remaining.length > 0) return;
    end.abortArmed = true;
    this.network.schedule(this.now + a.delayMs, (t) => this.#abort(t, end));
  }

  /** The end aborts now (once), unless it is already closed. */
  #abort(now: number, end: AppEnd): void {
    const a = end.plan.abort;
    const s = end.session;
    if (!a || !s || end.abortedWith) return;
    const tag = `${end.role} s${end.plan.id}`;
    if (s.state === 'closed') {
      this.trace(now, `${tag} would abort, but it is closed`);
      return;
    }
    this.trace(
      now,
      `${tag} aborts (${s.state}/${s.link}, sent ${end.out.sent.length}, ${a.userData.byteLength}B user data)`,
    );
    end.abortedWith = a.userData;
    this.stats.userAborts++;
    s.abort(now, a.userData);
  }

  #onClosed(end: AppEnd, reason: CloseReason): void {
    end.closeReason = reason;
    const detail =
      reason.kind === 'aborted'
        ? `aborted ${reason.origin} ${reason.by} code=${reason.code} (${reason.message}) undelivered=${reason.undelivered}` +
          (reason.by === 'user' ? ` userData=${reason.userData.byteLength}B` : '')
        : reason.kind;
    this.trace(this.now, `${end.role} s${end.plan.id} closed: ${detail}`);
    if (end.stuck) {
      end.stuck = false;
      end.unconsumedBytes -= end.heldCredit;
      end.heldCredit = 0;
    }
    const c = this.clients[end.plan.clientId] as Client;
    const group = c.groups[end.plan.group] as SessionPlan[];
    this.#checkStuck(group);
    if (end.role !== 'client') return;
    if (reason.kind === 'released') this.stats.sessionsReleased++;
    else this.stats.sessionsLost++;
    if (c.group !== end.plan.group || !group.every((p) => p.client.closeReason !== null)) return;
    // The group is over: its connection goes, the next group gets a new one.
    c.conn?.close(this.now, AbortCode.SHUTDOWN, 'sessions over');
    c.conn = null;
    c.link = null;
    c.reconnect.succeeded();
    c.group++;
    this.network.schedule(this.now + this.#rng.int(0, 100), (t) => this.#startGroup(t, c));
  }

  // ---------------------------------------------------------------- isolation

  /**
   * `end` stops consuming: what arrives for it stays unconsumed (holding its session's window and
   * its share of the connection's) until every other session of its group has closed. If they
   * cannot finish in ISOLATION_BOUND_MS although the connection's window leaves them room, one
   * session's slow reader blocks the others: a violation.
   */
  #stick(end: AppEnd): void {
    end.stuck = true;
    this.stats.stuckEnds++;
    const since = this.now;
    this.trace(since, `${end.role} s${end.plan.id} stops consuming`);
    const group = (this.clients[end.plan.clientId] as Client).groups[end.plan.group] as SessionPlan[];
    end.stuckSince = since;
    this.#checkStuck(group);
    this.#stuck.push(end);
  }

  /** Whether another end of the same role on this end's connection has stopped consuming. */
  #groupStuck(end: AppEnd): boolean {
    const group = (this.clients[end.plan.clientId] as Client).groups[end.plan.group] as SessionPlan[];
    return group.some((p) => p !== end.plan && (end.role === 'client' ? p.client : p.server)?.stuck === true);
  }

  /** A stuck end past ISOLATION_BOUND_MS: a violation if the others could have finished, else it consumes again. */
  #checkIsolation(): void {
    for (const end of this.#stuck) {
      if (!end.stuck || this.now - end.stuckSince < ISOLATION_BOUND_MS) continue;
      const group = (this.clients[end.plan.clientId] as Client).groups[end.plan.group] as SessionPlan[];
      const since = (p: SessionPlan) => Math.max(end.stuckSince, p.c2s.lastDeliveryAt ?? 0, p.s2c.lastDeliveryAt ?? 0);
      const open = group.filter((p) => p !== end.plan && !planClosed(p));
      const blocked = open.filter((p) => this.now - since(p) >= ISOLATION_PROGRESS_MS);
      if (blocked.length > 0 && this.#isolationGuaranteed()) {
        const p = blocked[0] as SessionPlan;
        throw new InvariantViolation(
          'isolated',
          `${end.role} s${end.plan.id} has held ${end.heldCredit} bytes unconsumed for ${this.now - end.stuckSince} ms ` +
            `and s${p.id} of the same connection is still ${p.client.session?.state ?? 'unopened'}/` +
            `${p.client.session?.link ?? '-'} (connection window ${this.limits.connectionWindowBytes})`,
        );
      }
      this.trace(this.now, `${end.role} s${end.plan.id} consumes again (bound reached)`);
      this.#unstick(end);
    }
    this.#stuck = this.#stuck.filter((e) => e.stuck);
  }

  /** Other sessions of a group all closed: stuck ends consume what they held and go on. */
  #checkStuck(group: SessionPlan[]): void {
    for (const p of group) {
      for (const end of [p.client, p.server]) {
        if (!end?.stuck) continue;
        if (!group.every((o) => o === p || planClosed(o))) continue;
        this.stats.isolationMaxMs = Math.max(this.stats.isolationMaxMs, this.now - end.stuckSince);
        this.trace(this.now, `${end.role} s${p.id} consumes again: the rest of its group is over`);
        this.network.schedule(this.now + this.#rng.int(0, 50), () => this.#unstick(end));
      }
    }
  }

  #unstick(end: AppEnd): void {
    if (!end.stuck) return;
    end.stuck = false;
    const s = end.session as Session;
    const held = end.heldCredit;
    end.heldCredit = 0;
    end.unconsumedBytes -= held;
    if (s.state === 'closed') return;
    if (held > 0) s.consume(this.now, held);
    this.#maybeFinish(end);
  }

  /**
   * Whether the connection's window leaves the others room while one end holds what its session
   * window lets it hold (plus one whole message): the held bytes must stay under half the
   * connection window, since the receiver re-advertises only once half of it is free again.
   */
  #isolationGuaranteed(): boolean {
    const l = this.limits;
    return this.#heldCreditMax() + 2 * l.frameBytesMax < l.connectionWindowBytes / 2;
  }

  #heldCreditMax(): number {
    const l = this.limits;
    const largest = this.options.largeBytesMax;
    const fragmentMin = Math.max(
      1,
      Math.min(4096, l.frameBytesMax - 10, Math.floor(l.receiveWindowBytes / 2) - FRAME_CHARGE_BYTES),
    );
    return l.receiveWindowBytes + largest + (Math.ceil(largest / fragmentMin) + 1) * FRAME_CHARGE_BYTES;
  }

  // ---------------------------------------------------------------- faults

  #scheduleFault(now: number): void {
    const every = this.options.faultEveryMs;
    this.network.schedule(now + this.#faultRng.int(1, 2 * every), (t) => {
      // A quiet end, so that the run terminates.
      if (this.clients.every((c) => c.done) || this.#faults >= this.options.faultsMax) return;
      this.#faults++;
      this.#fault(t);
      this.#scheduleFault(t);
    });
  }

  /** Chaos: this connection is cut a drawn time after it was established, then its client is down. */
  #scheduleChaosCut(now: number, clientId: number, link: SimLink, chaos: ChaosOptions): void {
    const after = this.#faultRng.int(chaos.cutAfterMsMin, chaos.cutAfterMsMax);
    this.network.schedule(now + after, (t) => {
      if (link.finished || this.#faults >= this.options.faultsMax) return;
      this.#faults++;
      const rng = this.#faultRng;
      this.network.partition(t, clientId, chaos.downMs, () => ({ clientMs: rng.int(0, 5), serverMs: rng.int(0, 5) }));
    });
  }

  #fault(now: number): void {
    const rng = this.#faultRng;
    const links = this.network.liveLinks;
    const r = rng.float();
    const notice = () => {
      const clientMs = rng.int(0, 300);
      const l = rng.float();
      const idle = this.limits.idleTimeoutMs;
      // The server may linger: it hears late, or never and its idle timeout must find out.
      const serverMs = l < 0.6 ? rng.int(0, 300) : l < 0.85 ? rng.int(idle / 2, 3 * idle) : null;
      return { clientMs, serverMs };
    };
    if (r < 0.5 && links.length > 0) this.network.cut(now, rng.pick(links), notice());
    else if (r < 0.7 && links.length > 0) this.network.stall(now, rng.pick(links), rng.int(10, 2_000));
    else if (r < 0.9) {
      this.network.partition(
        now,
        rng.int(0, this.clients.length - 1),
        rng.logInt(50, this.options.partitionMsMax),
        notice,
      );
    } else this.network.closeListener(now, rng.int(50, 2_000));
  }

  /** The broken-on-purpose dialogue options (checker tests only); each corrupts one thing, once. */
  #corruptDialogue(now: number, end: AppEnd, d: DialogueEnd, tag: string, e: DialogueEvent): void {
    if (this.options.replaySyncEvent && (e.kind === 'sync-minor' || e.kind === 'sync-major')) {
      this.#corrupted = true;
      this.trace(now, `${tag} ${e.kind} ${e.serial} delivered twice (broken on purpose)`);
      onDialogueEvent(this.#dialogueCtx, d, end.session as Session, tag, e);
    }
    const giver = end.role === 'client' ? end.plan.server : end.plan.client;
    const g = giver?.session;
    if (this.options.forgeTokenGive && e.kind === 'tokens-given' && g?.state === 'open' && g.dialogue) {
      this.#corrupted = true;
      g.handleFrame(now, {
        type: FrameType.GIVE_TOKENS,
        channel: g.channel,
        tokens: e.tokens,
        code: 0,
        serial: 0,
        id: new Uint8Array(0),
        oldId: new Uint8Array(0),
        userData: new Uint8Array(0),
      });
      if ((g.dialogue.mine & e.tokens) !== 0) this.trace(now, `${tag}'s peer took a forged give (broken on purpose)`);
    }
  }

  // ---------------------------------------------------------------- bounds

  #checkBounds(): void {
    if (this.#stuck.length > 0) this.#checkIsolation();
    // token-unique, after every step: suspended and resuming sessions keep their tokens.
    for (const p of this.plans) {
      if (p.dialogue) checkTokens(this.#dialogueCtx, `s${p.id}`, p.client.session, p.server?.session ?? null);
    }
    const l = this.limits;
    const peakPipe = this.options.network.pipeBytesMax ?? 64 * 1024;
    // A batch may pass transmitBatchBytes by one frame (docs/PROTOCOL.md), plus small control frames.
    const pipeBound = peakPipe + l.transmitBatchBytes + l.frameBytesMax + 1024;
    if (this.network.stats.pipeBytesPeak > pipeBound) {
      throw new InvariantViolation(
        'bounded',
        `${this.network.stats.pipeBytesPeak} bytes in flight on a pipe (bound ${pipeBound}: pipe + one batch)`,
      );
    }
    for (const [s, end] of this.#ends) {
      if (s.state === 'closed') continue;
      const largest = this.options.largeBytesMax;
      if (s.queuedBytes > l.sendQueueBytesMax + largest) {
        throw new InvariantViolation('bounded', `${end.role} s${end.plan.id} queues ${s.queuedBytes} bytes`);
      }
      const retransmit = s.retainedBytes - s.queuedBytes;
      if (retransmit > l.retransmitBufferBytes) {
        throw new InvariantViolation(
          'bounded',
          `${end.role} s${end.plan.id} holds ${retransmit} bytes for retransmission (limit ${l.retransmitBufferBytes})`,
        );
      }
      // The window bounds unconsumed credit, except that a whole message is always deliverable.
      // Fragments are no smaller than the sender's minimum unless they end a message.
      if (end.unconsumedBytes > this.#heldCreditMax()) {
        throw new InvariantViolation(
          'bounded',
          `${end.role} s${end.plan.id} was given ${end.unconsumedBytes} unconsumed bytes (window ${l.receiveWindowBytes})`,
        );
      }
    }
  }
}

/** A message's bytes: its index, its size, and a pattern that depends on both and on the stream. */
export function messageBytes(stream: Stream, m: SentMessage): Uint8Array {
  const out = new Uint8Array(m.bytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, m.index);
  view.setUint32(4, m.bytes);
  const salt = streamSalt(stream);
  for (let i = HEADER_BYTES; i < m.bytes; i++) out[i] = (m.index * 31 + i * 7 + salt) & 0xff;
  return out;
}

/** Whether a dialogue session may send normal data now (the data token, nothing to confirm first). */
function canSendNormal(s: Session): boolean {
  return s.dialogue?.normalDataBlock() == null;
}

/** A message's index, from its first bytes (messageBytes). */
export function indexOf(data: Uint8Array): number {
  return data.byteLength >= 4 ? new DataView(data.buffer, data.byteOffset, 4).getUint32(0) : -1;
}

function streamSalt(stream: Stream): number {
  return stream.name.length * 7 + (stream.name.charCodeAt(stream.name.length - 1) & 0xff);
}

/** Checks a delivered message against what was sent; returns its index. */
function checkMessage(stream: Stream, kind: MessageKind, data: Uint8Array): number {
  if (data.byteLength < HEADER_BYTES) {
    throw new InvariantViolation(
      'exactly-once',
      `${stream.name}: a ${data.byteLength}-byte ${kind} message was never sent`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const index = view.getUint32(0);
  const sent = stream.sent[index];
  if (!sent || sent.kind !== kind || sent.bytes !== data.byteLength || view.getUint32(4) !== data.byteLength) {
    throw new InvariantViolation(
      'exactly-once',
      `${stream.name}: delivered ${kind} #${index} does not match what was sent`,
    );
  }
  const base = index * 31 + streamSalt(stream);
  for (let i = HEADER_BYTES; i < data.byteLength; i++) {
    if (data[i] !== ((base + i * 7) & 0xff)) {
      throw new InvariantViolation('exactly-once', `${stream.name}: ${kind} #${index} corrupted at byte ${i}`);
    }
  }
  return index;
}
