/**
 * The client side: `connect(url, options)` opens a session, over a transport connection of its
 * own or, with `pool`, over a connection shared with other sessions to the same server.
 *
 * Theory of operation
 * - A ClientConnection owns one endpoint's transport connection at a time, a session table where
 *   its sessions wait when that transport breaks, and the reconnect loop: after each backoff delay
 *   it opens a new transport connection (TCP, TLS or WebSocket) and hands every suspended session to a new core Connection with
 *   resumeSession(). All sessions of a connection suspend and resume together.
 * - It gives up on a session when its resume window (the server's, at most the client's own)
 *   and one handshake timeout more have passed: the session ends with RESUME_WINDOW_EXPIRED, or
 *   RESUME_REFUSED when the server no longer has it, and `undeliveredMessages()` lists what is
 *   not known to have arrived (exactly what did not, when the server's tombstone answered).
 * - A connection whose last session ended closes its transport; a pool then forgets it.
 */
import { isIP, connect as netConnect } from 'node:net';
import { type ConnectionOptions as TlsConnectionOptions, connect as tlsConnect } from 'node:tls';
import {
  AbortCode,
  type BackoffOptions,
  type CloseReason,
  Connection,
  type Session as CoreSession,
  DEFAULT_BACKOFF,
  DEFAULT_LIMITS,
  ErrorCode,
  type Extension,
  type Limits,
  type NoiseConfig,
  ReconnectSchedule,
  UsageError,
} from '@liaison/core';
import { untilSettled } from './abort.js';
import { type ClientAuth, credentialsFor } from './auth.js';
import { nativeKeyAgreement, random } from './clock.js';
import { connectDialogue, type InitialTokens } from './dialogue.js';
import { ConnectionDriver, now } from './driver.js';
import { type NoiseOptions, noisePoolKey, resolveNoise, secureIfConfigured } from './noise.js';
import { Parking } from './parking.js';
import { parseUnits } from './server.js';
import { type ReleaseDecider, Session } from './session.js';
import { TlsTransport } from './tls-transport.js';
import { TcpTransport, type Transport } from './transport.js';
import { type Endpoint, formatEndpoint, parseEndpoint } from './url.js';
import { WsTransport } from './ws-transport.js';

/** Options of the transport connection (for a pooled session: of the connection it creates, if any). */
export interface ConnectionOptions {
  limits?: Partial<Limits>;
  /** Resume sessions after transport breaks (default true). */
  resume?: boolean;
  /** Reconnection delays (default: about 5 ms, then 4x per attempt up to 5 s, half of each randomised). */
  backoff?: Partial<BackoffOptions>;
  /**
   * How long a session may take to be established, from connect(), across the transports it is
   * retried on (default 10,000 ms). A transport that opened and broke before the server's answer
   * is replaced after the backoff delay and the connect request sent again; past this deadline
   * `ready` rejects (SESSION_ABORTED, code HANDSHAKE_TIMEOUT, or the last transport's failure).
   * Retried only once the server answered on some transport: a transport that never opens
   * (nothing listens) or closes before the server sent a byte (a Noise handshake the server
   * rejected) fails at once.
   */
  establishmentTimeoutMs?: number;
  /** Session-level encryption with Noise (XX, or IK with the server's key); never falls back to plaintext. */
  noise?: NoiseOptions;
  /**
   * TLS for a `tls://` or `wss://` URL, with tls.connect's option names: `ca` (trust this CA instead of the
   * system's), `cert` and `key` (mutual TLS), `servername` (default: the URL's host name),
   * `rejectUnauthorized` (default true; false is for tests only, it lets anyone in the middle).
   */
  tls?: TlsConnectionOptions;
  /**
   * ws:// and wss://: extra headers of the HTTP upgrade request (a cookie, `authorization`); the
   * server's authenticate hook sees them in `facts.headers`.
   */
  headers?: Record<string, string>;
  /**
   * Where to reconnect after the transport breaks, one URL per attempt in turn (default: the
   * connect URL). A server listening on several URLs keeps one session table, so a session that
   * started over tcp:// may resume over ws:// (or the other way round).
   */
  resumeUrls?: readonly (string | URL)[];
}

/** Options of one session. */
export interface SessionOptions {
  /** Functional units to propose, by name ('duplex', 'expedited', 'typed-data', 'negotiated-release'...). */
  units?: readonly string[];
  /** Opaque data for the server's accept decision (credentials, a requested resource...). */
  userData?: Uint8Array | string;
  extensions?: Extension[];
  onReleaseRequest?: ReleaseDecider;
  /** Credentials for the server's authenticate hook: `{ token }` (bearer or JWT) or `{ psk: { identity, key } }`. */
  auth?: ClientAuth;
  /** Initial token holders (default: the initiator holds every token the agreed units make available). */
  initialTokens?: InitialTokens;
  /** The first synchronization point serial number (default 0). */
  initialSerial?: number;
  /**
   * Bounds the establishment (retries included): when it aborts before the server accepted, the
   * session ends (a user abort) and `ready` rejects with the signal's reason. No effect once open.
   */
  signal?: AbortSignal;
}

export interface ConnectOptions extends ConnectionOptions, SessionOptions {
  /**
   * Carry the session over a connection shared with other sessions to the same server: a Pool,
   * or true for the default pool. Without it the session has a transport connection of its own.
   */
  pool?: Pool | boolean;
}

/**
 * Opens a session. Returns it at once (send() and close() may be called right away; they wait
 * for the session to open). `await session.ready` resolves when the peer accepted and rejects
 * with a SessionClosedError otherwise: ERR_LIAISON_SESSION_REFUSED with the peer's reason, or
 * ERR_LIAISON_SESSION_ABORTED when the transport failed or the handshake timed out.
 * @throws UsageError at once for a bad URL, options or oversized user data.
 */
export function connect(url: string | URL, options: ConnectOptions = {}): Session {
  const endpoint = parseEndpoint(url);
  const pool = options.pool === true ? defaultPool : options.pool || null;
  if (pool) return pool.connect(endpoint, options);
  return new ClientConnection(endpoint, options).open(options);
}

/**
 * Shares transport connections among sessions to the same server: a session opened through the
 * pool goes over an existing connection to its endpoint while that one has room
 * (`sessionsPerConnection`), else over a new one.
 */
export class Pool {
  readonly sessionsPerConnection: number;
  readonly #connections = new Map<string, Set<ClientConnection>>();

  constructor(options: { sessionsPerConnection?: number } = {}) {
    const n = options.sessionsPerConnection ?? 1024;
    if (!Number.isInteger(n) || n < 1) {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'sessionsPerConnection must be a positive integer');
    }
    this.sessionsPerConnection = n;
  }

  /** Transport connections open (or reconnecting) in this pool. */
  get connectionCount(): number {
    let n = 0;
    for (const set of this.#connections.values()) n += set.size;
    return n;
  }

  /** @internal use connect(url, { pool }) */
  connect(endpoint: Endpoint, options: ConnectOptions): Session {
    // Connections are shared only between sessions that asked for the same protection.
    const resumeKey = (options.resumeUrls ?? []).map((u) => formatEndpoint(parseEndpoint(u))).join(' ');
    const key = `${formatEndpoint(endpoint)} ${noisePoolKey(options.noise)} ${resumeKey}`;
    let set = this.#connections.get(key);
    if (!set) {
      set = new Set();
      this.#connections.set(key, set);
    }
    for (const c of set) if (c.canOpen(this.sessionsPerConnection)) return c.open(options);
    const created = new ClientConnection(endpoint, options, () => {
      set.delete(created);
      if (set.size === 0) this.#connections.delete(key);
    });
    set.add(created);
    return created.open(options);
  }

  /**
   * Releases every session of the pool in order (S-RELEASE: what was sent before is delivered
   * first) and resolves once all of them ended and their last frames reached the operating
   * system, so a process may exit right after. A session with no transport at that moment
   * (suspended or resuming) cannot release and is aborted. Each connection closes with its last
   * session. Never rejects; each session's `closed` says how it ended.
   */
  async close(): Promise<void> {
    const closing: Promise<unknown>[] = [];
    for (const set of this.#connections.values()) for (const c of set) closing.push(c.releaseAll());
    this.#connections.clear();
    await Promise.all(closing);
  }

  /** Aborts every session of the pool at once (S-U-ABORT); resolves once all of them ended. */
  async destroy(): Promise<void> {
    const ending: Promise<unknown>[] = [];
    for (const set of this.#connections.values()) for (const c of set) ending.push(c.abortAll());
    this.#connections.clear();
    await Promise.all(ending);
  }

  /** `await using pool = new Pool()`: close() at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const defaultPool = new Pool();

/** One endpoint's transport connection (replaced on each reconnection) and its sessions. */
class ClientConnection {
  readonly #resumeEndpoints: Endpoint[];
  readonly #headers: Record<string, string> | undefined;
  /** Where the current transport goes: the connect URL, then the resume URLs in turn. */
  #current: Endpoint;
  #reconnects = 0;
  readonly #limits: Partial<Limits> | undefined;
  readonly #tls: TlsConnectionOptions | undefined;
  readonly #parking: Parking | null;
  readonly #schedule: ReconnectSchedule;
  readonly #onGone: () => void;
  readonly #noise: NoiseConfig | null;
  readonly #sessions = new Map<CoreSession, Session>();
  readonly #establishmentTimeoutMs: number;
  /** Sessions not yet accepted: their deadline and how to send their connect request again. */
  readonly #opening = new Map<Session, { deadline: number; reopen: (conn: Connection) => CoreSession }>();
  /** Sessions whose connect request was lost with its transport, waiting for the next one. */
  #lost: Session[] = [];
  /** The server answered on a transport of this connection once: a failure is a fault to retry. */
  #reachedPeer = false;
  #conn: Connection;
  #driver: ConnectionDriver;
  #timer: NodeJS.Timeout | null = null;
  #gone = false;

  constructor(endpoint: Endpoint, options: ConnectionOptions, onGone: () => void = () => {}) {
    this.#current = endpoint;
    this.#resumeEndpoints = (options.resumeUrls ?? []).map((u) => parseEndpoint(u));
    this.#headers = options.headers;
    this.#limits = options.limits;
    this.#tls = options.tls;
    this.#schedule = new ReconnectSchedule(resolveBackoff(options.backoff));
    this.#establishmentTimeoutMs = resolveEstablishmentTimeout(options.establishmentTimeoutMs);
    const probe = new Connection({ role: 'initiator', limits: options.limits }); // validates the limits now
    this.#parking = options.resume === false ? null : new Parking(probe.limits);
    this.#onGone = onGone;
    this.#noise = resolveNoise(options.noise, 'initiator');
    this.#conn = this.#newConnection();
    this.#driver = this.#newDriver(this.#conn);
    this.#driver.start();
  }

  canOpen(sessionsMax: number): boolean {
    return !this.#gone && !this.#conn.isClosed && this.#sessions.size < sessionsMax;
  }

  open(options: SessionOptions): Session {
    const units = options.units ? parseUnits(options.units) : undefined;
    const userData =
      typeof options.userData === 'string' ? new TextEncoder().encode(options.userData) : options.userData;
    if (userData && userData.byteLength > this.#conn.limits.userDataBytesMax) {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, `user data exceeds ${this.#conn.limits.userDataBytesMax} bytes`);
    }
    const plan = options.auth ? credentialsFor(options.auth) : null;
    const reopen = (conn: Connection) =>
      conn.openSession(now(), {
        units,
        userData,
        extensions: options.extensions,
        credentials: plan?.credentials,
        dialogue: connectDialogue(options.initialTokens, options.initialSerial),
      });
    const core = reopen(this.#conn);
    const session: Session = new Session(this.#driver, core, {
      onReleaseRequest: options.onReleaseRequest,
      parking: this.#parking,
      checkAccept: plan?.checkAccept ?? null,
      onEstablishmentLost: (reason) => this.#establishmentLost(session, reason),
      role: 'client',
    });
    this.#sessions.set(core, session);
    this.#opening.set(session, { deadline: now() + this.#establishmentTimeoutMs, reopen });
    const opened = () => this.#opening.delete(session);
    session.ready.then(opened, opened);
    session.on('resumed', () => {
      this.#schedule.succeeded();
    });
    session.once('close', () => {
      this.#sessions.delete(session.engine);
      this.#opening.delete(session);
      if (this.#sessions.size === 0) this.#retire();
    });
    this.#driver.scheduleFlush();
    untilSettled(options.signal, session.ready, (why) => session.abortEstablishment(why));
    return session;
  }

  abortAll(): Promise<unknown> {
    const sessions = [...this.#sessions.values()];
    for (const s of sessions) s.abort();
    this.#parking?.update();
    if (this.#sessions.size === 0) this.#retire();
    return Promise.all(sessions.map((s) => s.closed));
  }

  /** Releases the attached sessions, aborts the others; resolves when every one has closed. */
  releaseAll(): Promise<unknown> {
    const closing: Promise<unknown>[] = [];
    for (const s of [...this.#sessions.values()]) {
      if (s.link === 'attached') closing.push(s.close().catch(() => s.abort()));
      else s.abort();
      closing.push(s.closed);
    }
    this.#parking?.update(); // suspended sessions' close events wait there
    if (this.#sessions.size === 0) this.#retire();
    return Promise.all(closing);
  }

  #newConnection(limits = this.#limits): Connection {
    return new Connection({
      role: 'initiator',
      limits,
      random,
      keyAgreement: nativeKeyAgreement,
      table: this.#parking?.table,
    });
  }

  #newDriver(conn: Connection): ConnectionDriver {
    const driver = new ConnectionDriver(this.#transport(), secureIfConfigured(conn, this.#noise), {
      onParkingChanged: () => this.#parking?.update(),
      onClosed: () => this.#transportClosed(driver),
      onPeerReached: () => this.#schedule.reached(),
      noiseIk: this.#noise?.remoteStaticKey !== undefined && this.#noise.pattern !== 'XX',
      clientCertificate:
        (this.#current.scheme === 'tls' || this.#current.scheme === 'wss') && this.#tls?.cert !== undefined,
    });
    driver.endWhenIdle = true;
    return driver;
  }

  #transport(): Transport {
    const { host, port, scheme } = this.#current;
    if (scheme === 'tcp') return new TcpTransport(netConnect({ host, port }));
    if (scheme === 'ws' || scheme === 'wss')
      return WsTransport.connect(formatEndpoint(this.#current), scheme, this.#tls, this.#headers);
    // SNI carries names only; an IP address is checked against the certificate's IP entries.
    const servername = isIP(host) === 0 ? host : undefined;
    return new TlsTransport(tlsConnect({ host, port, servername, ...this.#tls }), true);
  }

  #suspended(): CoreSession[] {
    return [...this.#sessions.keys()].filter((s) => s.state !== 'closed' && s.link === 'suspended');
  }

  /**
   * A session's connect request went down with its transport (its engine session ended). When the
   * server answered on a transport of this connection and the session's deadline is ahead, it is
   * sent again on the next connection (true); otherwise the session ends with that reason.
   */
  #establishmentLost(session: Session, reason: CloseReason): boolean {
    const opening = this.#opening.get(session);
    const lost = reason.kind === 'aborted' && reason.code === AbortCode.TRANSPORT_LOST;
    if (this.#driver.peerAnswered) this.#reachedPeer = true;
    if (!opening || !lost || !this.#reachedPeer || this.#gone || now() >= opening.deadline) return false;
    this.#lost.push(session);
    return true;
  }

  #transportClosed(driver: ConnectionDriver): void {
    if (driver !== this.#driver || this.#gone) return;
    if (this.#suspended().length === 0 && this.#lost.length === 0) {
      if (this.#sessions.size === 0) this.#retire();
      return;
    }
    let delay = this.#schedule.nextDelay(Math.random());
    // A session still to be established is not kept waiting past its deadline.
    for (const s of this.#lost) delay = Math.min(delay, Math.max(0, (this.#opening.get(s)?.deadline ?? 0) - now()));
    this.#timer = setTimeout(() => this.#reconnect(), delay);
  }

  /**
   * A new transport connection that resumes every suspended session, all together, and sends the
   * connect requests lost with the previous one again.
   */
  #reconnect(): void {
    this.#timer = null;
    if (this.#gone) return;
    const waiting = this.#suspended();
    const t = now();
    const reopening: { session: Session; reopen: (conn: Connection) => CoreSession }[] = [];
    let deadline = Number.POSITIVE_INFINITY;
    for (const session of this.#lost.splice(0)) {
      const opening = this.#opening.get(session);
      if (!session.reestablishing || !opening) continue; // aborted meanwhile
      if (t >= opening.deadline) {
        session.giveUp(establishmentExpired(this.#establishmentTimeoutMs));
        continue;
      }
      deadline = Math.min(deadline, opening.deadline);
      reopening.push({ session, reopen: opening.reopen });
    }
    if (waiting.length === 0 && reopening.length === 0) {
      if (this.#sessions.size === 0) this.#retire();
      return;
    }
    // The new connection's handshake deadline ends with the earliest establishment deadline.
    const conn =
      reopening.length === 0
        ? this.#newConnection()
        : this.#newConnection({ ...this.#limits, handshakeTimeoutMs: handshakeWithin(this.#limits, deadline - t) });
    for (const core of waiting) conn.resumeSession(t, core);
    this.#parking?.update();
    const resumeAt = this.#resumeEndpoints;
    if (resumeAt.length > 0) this.#current = resumeAt[this.#reconnects++ % resumeAt.length] as Endpoint;
    const driver = this.#newDriver(conn);
    this.#conn = conn;
    this.#driver = driver;
    for (const core of waiting) this.#sessions.get(core)?.moveTo(driver);
    for (const { session, reopen } of reopening) {
      this.#sessions.delete(session.engine);
      const core = reopen(conn);
      session.reestablish(driver, core);
      this.#sessions.set(core, session);
    }
    driver.start();
  }

  #retire(): void {
    if (this.#gone) return;
    this.#gone = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#parking?.stop();
    this.#onGone();
  }
}

/** The reason a session ends with when it could not be established within its deadline. */
function establishmentExpired(timeoutMs: number): CloseReason {
  return {
    kind: 'aborted',
    origin: 'local',
    by: 'provider',
    code: AbortCode.HANDSHAKE_TIMEOUT,
    message: `not established within establishmentTimeoutMs (${timeoutMs} ms)`,
    userData: new Uint8Array(0),
    undelivered: 0,
  };
}

/** The handshake timeout of a retry connection: the configured one, cut to what is left (at least 1 ms). */
function handshakeWithin(limits: Partial<Limits> | undefined, leftMs: number): number {
  const configured = limits?.handshakeTimeoutMs ?? DEFAULT_LIMITS.handshakeTimeoutMs;
  return Math.max(1, Math.min(configured, Math.ceil(leftMs)));
}

function resolveEstablishmentTimeout(ms: number | undefined): number {
  if (ms === undefined) return DEFAULT_ESTABLISHMENT_TIMEOUT_MS;
  if (!(Number.isFinite(ms) && ms > 0)) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `establishmentTimeoutMs must be a positive number, got ${ms}`);
  }
  return ms;
}

/** Default of `establishmentTimeoutMs`: the default handshake timeout, now across retries. */
const DEFAULT_ESTABLISHMENT_TIMEOUT_MS = 10_000;

function resolveBackoff(partial: Partial<BackoffOptions> = {}): BackoffOptions {
  const b = { ...DEFAULT_BACKOFF, ...partial };
  const bad =
    !(b.initialDelayMs >= 0) ||
    !(b.maxDelayMs >= b.initialDelayMs) ||
    !(b.multiplier >= 1) ||
    !(b.jitter >= 0 && b.jitter <= 1);
  if (bad) throw new UsageError(ErrorCode.INVALID_ARGUMENT, `invalid backoff ${JSON.stringify(partial)}`);
  return b;
}
