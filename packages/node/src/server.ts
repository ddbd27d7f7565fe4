/**
 * `listen(url, options)`: a session server, on one URL or several at once (tcp://, tls://, ws://,
 * wss://: listeners.ts, ws-listener.ts). Each accepted transport connection gets its own core
 * Connection and driver; all share one session table, so a session may resume on any listener; each session the application accepts comes out of the server as a
 * Session, by the 'session' event or by async iteration (`for await (const s of server)`).
 */

import { EventEmitter, once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TlsOptions } from 'node:tls';
import {
  AbortCode,
  Connection,
  type ConnectRequest,
  type Session as CoreSession,
  ErrorCode,
  type Limits,
  type NamedTokenLimits,
  type NoiseConfig,
  ProtocolError,
  RefuseCode,
  SessionClosedError,
  TimeoutError,
  UsageError,
  unitNames,
  unitsFromNames,
} from '@liaison/core';
import { untilSettled } from './abort.js';
import {
  type Authenticator,
  acceptCredentials,
  type ConnectionFacts,
  isRefusal,
  type Principal,
  principalProblem,
  type Refusal,
  readCredentials,
} from './auth.js';
import { nativeKeyAgreement, random } from './clock.js';
import { publish } from './diagnostics.js';
import { type InitialTokens, wantedTokens } from './dialogue.js';
import { ConnectionDriver, now } from './driver.js';
import { type Listener, type ListenerHooks, tcpListener, tlsListener } from './listeners.js';
import { ServerTokens } from './named-tokens.js';
import { type NoiseOptions, resolveNoise, secureIfConfigured } from './noise.js';
import { Parking } from './parking.js';
import { AddressGuard, type AttackLimits, DEFAULT_ATTACK_LIMITS } from './rate-limit.js';
import { ServerSessions } from './server-sessions.js';
import { type ReleaseDecider, Session } from './session.js';
import { TlsTransport } from './tls-transport.js';
import type { Transport } from './transport.js';
import { type Endpoint, formatEndpoint, parseEndpoint } from './url.js';
import { wsListener } from './ws-listener.js';
import { WsTransport } from './ws-transport.js';

/** What the server learns about a connect request before deciding. */
export interface IncomingRequest extends ConnectRequest {
  remoteAddress: string;
  remotePort: number;
  /** Who `authenticate` let in; null without an authenticate hook. */
  principal: Principal | null;
}

export type AcceptDecision =
  | boolean
  | { accept: true; userData?: Uint8Array }
  | { accept: false; code?: RefuseCode; userData?: Uint8Array };

export interface ListenOptions {
  limits?: Partial<Limits>;
  /** Functional units this server agrees to (names such as 'duplex', 'expedited'); default: all implemented. */
  units?: readonly string[];
  /** Decides each connect request; default accepts all. A throw or rejection refuses it. */
  onConnect?: (request: IncomingRequest) => AcceptDecision | Promise<AcceptDecision>;
  /** Decides release requests of every session (see Session); default accepts. */
  onReleaseRequest?: ReleaseDecider;
  /**
   * Runs once for each accepted session: the safe place for per-session code (an echo loop).
   * Its rejection never becomes an unhandled rejection: a SessionClosedError thrown because this
   * session ended (the peer aborted, the connection was lost for good) is the normal end of a
   * conversation, its reason on `session.closeReason` and the session's 'close' event; any
   * other error aborts the session if it is still open and is emitted as 'session-error'.
   * Sessions handled here are not queued for `for await (const s of server)`.
   */
  onSession?: (session: Session) => unknown;
  /**
   * Keep sessions whose transport broke, for their clients to resume (default true). The resume
   * window and memory budget are `limits.resumeWindowMs` and `limits.suspendedBytesMax`.
   */
  resume?: boolean;
  /**
   * Application-named tokens: the limits of the server's registry (`server.tokens`), or false to
   * offer none. Default: offered, with DEFAULT_NAMED_TOKEN_LIMITS.
   */
  namedTokens?: Partial<NamedTokenLimits> | false;
  /**
   * TLS for a `tls://` or `wss://` URL, with tls.createServer's option names: `cert` and `key`
   * (required), `ca`, `requestCert` and `rejectUnauthorized` for mutual TLS, and the rest.
   */
  tls?: TlsOptions;
  /**
   * For the ws:// (or wss://) URL: take WebSocket upgrades from this existing node:http (or
   * node:https) server instead of binding the URL's port. Only upgrades to `path` are taken;
   * other requests and upgrades stay the application's, and the server is not closed with this one.
   */
  httpServer?: HttpServer | HttpsServer;
  /** The WebSocket upgrade path (default: the ws:// URL's path, '/' when it has none). */
  path?: string;
  /**
   * ws:// and wss://: the page origins allowed to open a WebSocket (`'https://app.example'`). A
   * browser upgrade whose `Origin` is not listed is answered 403, so that another site's page
   * cannot ride the user's cookies into a session (cross-site WebSocket hijacking). Requests
   * without an `Origin` (not from a browser) are let through. Default: every origin.
   */
  origins?: readonly string[];
  /**
   * Checks each connect request's credentials before anything else decides on it (auth.ts).
   * Without it every request is let in with principal null. A refusal answers REFUSE
   * (UNAUTHENTICATED unless the hook names another code) and keeps nothing of the request.
   */
  authenticate?: Authenticator;
  /** Per remote address: connections held at once, and failed logins/resumes (a token bucket). */
  attackLimits?: Partial<AttackLimits>;
  /** Tokens this server takes at the start when the client leaves them to it (see ConnectOptions.initialTokens). */
  initialTokens?: InitialTokens;
  /**
   * Session-level encryption with Noise: `staticKey` is the server's X25519 private key. Plaintext
   * clients are refused unless `require: false`.
   */
  noise?: NoiseOptions;
  /** Closes the server when it aborts (`server.close()`); an abort before it listens rejects listen(). */
  signal?: AbortSignal;
}

export interface ServerCloseOptions {
  /**
   * Orderly shutdown: every open session is released (what was sent is delivered first) and the
   * server waits up to this long for them to end; what is left then is aborted with SHUTDOWN.
   * Default 0: abort every session at once.
   */
  timeoutMs?: number;
}

export interface ServerEventMap {
  session: [session: Session];
  /**
   * `onSession` threw or rejected for a reason other than its session's end; the session was
   * aborted. Without a listener the error becomes a process warning, never a crash.
   */
  'session-error': [error: Error, session: Session];
  /** A transport connection failed or sent bytes that are not liaison; others are unaffected. */
  'connection-error': [error: Error];
  /** A connect request was refused by `authenticate` (the reason is for logs, never sent). */
  'auth-failed': [info: { remoteAddress: string; remotePort: number; code: RefuseCode; reason: string }];
  /** A connection was turned away at once: too many from its address, or too many failures. */
  'connection-refused': [info: { remoteAddress: string; code: AbortCode; reason: string }];
  close: [];
}

/**
 * Listens on one URL or several (`listen(['tcp://0.0.0.0:7000', 'ws://0.0.0.0:7001/liaison'])`),
 * all serving the same sessions.
 * @throws (rejects) UsageError for a bad URL or options, TransportError when a port cannot be bound.
 */
export async function listen(
  url: string | URL | readonly (string | URL)[],
  options: ListenOptions = {},
): Promise<Server> {
  const urls = Array.isArray(url) ? url : [url as string | URL];
  if (urls.length === 0) throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'listen() needs at least one URL');
  const endpoints = urls.map((u) => parseEndpoint(u));
  const web = endpoints.filter((e) => e.scheme === 'ws' || e.scheme === 'wss');
  if ((options.httpServer || options.path !== undefined) && web.length !== 1) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'httpServer and path need exactly one ws:// or wss:// URL');
  }
  const { signal } = options;
  if (signal?.aborted) throw signal.reason;
  const server = new Server(endpoints, options);
  await server.start();
  if (signal?.aborted) {
    await server.close();
    throw signal.reason;
  }
  untilSettled(signal, once(server, 'close'), () => void server.close());
  return server;
}

export class Server extends EventEmitter<ServerEventMap> {
  readonly #options: ListenOptions;
  readonly #listeners: Listener[];
  readonly #guard: AddressGuard;
  readonly #resumeRefusals = new WeakMap<ConnectionDriver, number>();
  /** Per connection: the end of its queue of authentications (one verified at a time). */
  readonly #authTurns = new WeakMap<ConnectionDriver, Promise<void>>();
  readonly #drivers = new Set<ConnectionDriver>();
  readonly #waiting: Session[] = [];
  /** Sockets refused at the door whose refusal is still being written: close() ends them. */
  readonly #turnedAway = new Set<Socket>();
  /** Every session accepted and not ended yet, for an orderly shutdown. */
  readonly #sessions = new Set<Session>();
  #readers: ((r: IteratorResult<Session>) => void)[] = [];
  #closing = false;
  #closed: Promise<void> | null = null;
  readonly #acceptableUnits: number | undefined;
  readonly #parking: Parking | null;
  readonly #noise: NoiseConfig | null;
  /**
   * The named-token registry shared by all the server's sessions and local code (holder,
   * waiting, acquire, release; 'grant' events); null when `namedTokens: false`.
   */
  readonly tokens: ServerTokens | null;

  /** @internal use listen() */
  constructor(endpoints: Endpoint[], options: ListenOptions) {
    super();
    this.#options = options;
    this.#acceptableUnits = options.units ? parseUnits(options.units) : undefined;
    const probe = new Connection({ role: 'responder', limits: options.limits }); // validates the limits now
    this.#parking = options.resume === false ? null : new Parking(probe.limits);
    this.#noise = resolveNoise(options.noise, 'responder');
    this.tokens = options.namedTokens === false ? null : new ServerTokens(options.namedTokens ?? {});
    this.#guard = new AddressGuard(resolveAttackLimits(options.attackLimits));
    const hooks: ListenerHooks = {
      admit: (socket, plain) => this.#admit(socket, plain),
      accept: (transport) => this.#onSocket(transport),
      failedAttempt: (address) => this.#guard.fail(address, Date.now()),
      error: (e) => this.emit('connection-error', e),
    };
    // The TLS and HTTP handshakes get a deadline as long as the liaison handshake that follows them.
    const handshakeTimeoutMs = probe.limits.handshakeTimeoutMs;
    this.#listeners = endpoints.map((e) => {
      if (e.scheme === 'tcp') return tcpListener(e, hooks);
      if (e.scheme === 'tls') return tlsListener(e, options.tls, handshakeTimeoutMs, hooks);
      const { tls, httpServer, path, origins } = options;
      return wsListener(e, { tls, httpServer, path, origins, handshakeTimeoutMs }, hooks);
    });
  }

  /** @internal */
  async start(): Promise<void> {
    const started = await Promise.allSettled(this.#listeners.map((l) => l.start()));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await Promise.all(this.#listeners.map((l) => l.close()));
      throw failed.reason;
    }
  }

  /** The first listener's bound address (the real port when listening on port 0). */
  get address(): { host: string; port: number } {
    return (this.#listeners[0] as Listener).address;
  }

  /** The first listener's URL, with the real port. */
  get url(): string {
    return this.urls[0] as string;
  }

  /** Every listener's URL, in the order given to listen(), with the real ports. */
  get urls(): string[] {
    return this.#listeners.map((l) => formatEndpoint({ ...l.endpoint, ...l.address }));
  }

  /**
   * Sessions the server keeps state for, for resume: established ones and suspended ones. A
   * refused or unauthenticated request never counts here.
   */
  /**
   * The sessions this server holds (open, releasing or suspended), for operations and for code
   * that addresses a session by its `id`: `server.sessions.get(id)?.send(...)`.
   */
  get sessions(): ServerSessions {
    return this.#sessionView;
  }
  readonly #sessionView = new ServerSessions(this.#sessions);

  get resumableSessions(): number {
    return this.#parking?.table.registeredCount ?? 0;
  }

  /** Transport connections currently open. */
  get connectionCount(): number {
    return this.#drivers.size;
  }

  /**
   * Stops accepting and closes every connection. With `timeoutMs`, an orderly shutdown first:
   * every open session is released in order and the server waits up to `timeoutMs` for the
   * sessions to end; sessions still open then (and suspended ones, which cannot be released) are
   * aborted with SHUTDOWN. Without it they are aborted at once. Resolves once the server closed.
   */
  close(options: ServerCloseOptions = {}): Promise<void> {
    // Every call gets the same promise: a call after the server closed must not wait for a
    // 'close' event that was already emitted.
    const timeoutMs = options.timeoutMs ?? 0;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'timeoutMs must be a finite number >= 0');
    }
    if (this.#closed) return this.#closed;
    this.#closing = true;
    for (const read of this.#readers) read({ done: true, value: undefined });
    this.#readers = [];
    const stopped = Promise.all(this.#listeners.map((l) => l.close()));
    this.#closed = this.#releaseAll(timeoutMs).then(async () => {
      this.#abortAll();
      await stopped;
      this.emit('close');
    });
    return this.#closed;
  }

  /** `await using server = await listen(url)`: closed at the end of the block (close()). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Releases the open sessions and waits for them to end, at most `timeoutMs`. */
  async #releaseAll(timeoutMs: number): Promise<void> {
    if (timeoutMs === 0) return;
    const ending: Promise<unknown>[] = [];
    for (const s of this.#sessions) {
      if (s.link !== 'attached' || (s.state !== 'open' && s.state !== 'release-requested')) continue;
      ending.push(s.close().catch(() => s.abort()));
      ending.push(s.closed);
    }
    if (ending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.all(ending), deadline]);
    clearTimeout(timer);
  }

  #abortAll(): void {
    for (const socket of this.#turnedAway) socket.destroy();
    this.tokens?.close();
    for (const d of this.#drivers) d.close();
    // Sessions waiting to be resumed end too, so every `closed` promise resolves.
    this.#parking?.table.expireAll(now(), AbortCode.SHUTDOWN, 'server closed');
    this.#parking?.update();
    this.#parking?.stop();
  }

  [Symbol.asyncIterator](): AsyncIterator<Session> {
    return {
      next: () => {
        const s = this.#waiting.shift();
        if (s) return Promise.resolve({ done: false, value: s });
        if (this.#closing) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => this.#readers.push(resolve));
      },
      return: async () => ({ done: true, value: undefined }),
    };
  }

  /**
   * Counts a new socket against its address; a socket over a limit is turned away at once: on TCP
   * (`plain`) with a preface and CONNECTION_CLOSE saying why, on TLS by closing it before the handshake.
   */
  #admit(socket: Socket, plain: Socket | null): boolean {
    const address = socket.remoteAddress ?? '';
    const verdict = this.#closing ? 'closing' : this.#guard.admit(address, Date.now());
    if (verdict === null) {
      socket.once('close', () => this.#guard.release(address));
      return true;
    }
    if (verdict === 'closing') {
      socket.destroy();
      return false;
    }
    const code = verdict === 'rate-limited' ? AbortCode.RATE_LIMITED : AbortCode.TOO_MANY_CONNECTIONS;
    const reason =
      verdict === 'rate-limited'
        ? 'too many failed attempts from this address; try again later'
        : verdict === 'server-full'
          ? `the server holds its maximum of ${this.#guard.limits.connectionsMax} connections`
          : `at most ${this.#guard.limits.connectionsPerAddressMax} connections per address`;
    this.emit('connection-refused', { remoteAddress: address, code, reason });
    if (plain) {
      const refusal = new Connection({ role: 'responder' });
      refusal.handleTransportUp(now());
      refusal.close(now(), code, reason);
      const bytes = refusal.pollTransmit();
      // Read and drop what it sends, so that its end is seen; close() destroys what is left.
      this.#turnedAway.add(plain);
      plain.once('close', () => this.#turnedAway.delete(plain));
      plain.resume();
      if (bytes) plain.end(bytes);
      else plain.destroy();
      setTimeout(() => plain.destroy(), 1_000).unref();
    }
    return false;
  }

  #onSocket(transport: Transport): void {
    if (this.#closing) {
      transport.destroy();
      return;
    }
    const conn = new Connection({
      role: 'responder',
      limits: this.#options.limits,
      acceptableUnits: this.#acceptableUnits,
      random,
      keyAgreement: nativeKeyAgreement,
      table: this.#parking?.table,
    });
    const driver: ConnectionDriver = new ConnectionDriver(transport, secureIfConfigured(conn, this.#noise), {
      onResumeRefused: () => {
        // A pool whose server restarted legitimately sees every one of its resumes refused on one
        // connection: the first refusal costs a token, the others 1/256 each. Guessing ids or
        // proofs at scale then needs new connections, each counted.
        const n = (this.#resumeRefusals.get(driver) ?? 0) + 1;
        this.#resumeRefusals.set(driver, n);
        this.#failed(driver, n === 1 ? 1 : 1 / 256);
      },
      onConnectRequest: (core, request) => this.#decide(driver, core, request),
      onParkingChanged: () => this.#parking?.update(),
      onClosed: () => this.#drivers.delete(driver),
      onConnectionClosed: (origin, code, message) => {
        // The peer sent what is not liaison, broke the protocol, or went silent: say so, once.
        if (origin !== 'local' || code === AbortCode.SHUTDOWN) return;
        const from = `connection from ${transport.remoteAddress}:${transport.remotePort}`;
        const timedOut = code === AbortCode.IDLE_TIMEOUT || code === AbortCode.HANDSHAKE_TIMEOUT;
        const error = timedOut
          ? new TimeoutError(`${from}: ${message}`)
          : new ProtocolError(code as AbortCode, `${from}: ${message}`);
        if (!timedOut) {
          publish('protocolError', () => ({ session: null, error, remoteAddress: transport.remoteAddress }));
        }
        this.emit('connection-error', error);
      },
    });
    this.#drivers.add(driver);
    driver.start();
  }

  /**
   * A failed login or resume from the driver's address; once the address used its burst the
   * connection is closed (RATE_LIMITED) and new ones from there are turned away at the door.
   */
  #failed(driver: ConnectionDriver, weight = 1): void {
    if (!this.#guard.fail(driver.transport.remoteAddress, Date.now(), weight)) {
      driver.close(AbortCode.RATE_LIMITED, 'too many failed attempts from this address; try again later');
    }
  }

  #decide(driver: ConnectionDriver, core: CoreSession, request: ConnectRequest): void {
    const authenticate = this.#options.authenticate;
    if (!authenticate) return this.#decideAuthenticated(driver, core, request, null);
    // One verification at a time per connection, each after the failures of the ones before it
    // were counted: a burst of CONNECTs cannot have more credentials verified than its address
    // has attempts left (they would all pass the check below while the first ones are pending).
    const previous = this.#authTurns.get(driver) ?? Promise.resolve();
    this.#authTurns.set(
      driver,
      previous.then(() => this.#authenticate(driver, core, request, authenticate)),
    );
  }

  /** Settles one request's authentication (never rejects): refused, or on to the accept decision. */
  #authenticate(
    driver: ConnectionDriver,
    core: CoreSession,
    request: ConnectRequest,
    authenticate: Authenticator,
  ): Promise<void> {
    if (core.state !== 'awaiting-response') return Promise.resolve(); // aborted, or the connection closed
    const transport = driver.transport;
    if (!this.#guard.mayTry(transport.remoteAddress, Date.now())) {
      // Out of attempts: refused without verifying anything.
      this.#refuseUnauthenticated(driver, core, {
        refuse: true,
        code: RefuseCode.RATE_LIMITED,
        reason: 'rate limited',
      });
      return Promise.resolve();
    }
    const facts: ConnectionFacts = {
      remoteAddress: transport.remoteAddress,
      remotePort: transport.remotePort,
      transport: transport.kind,
      headers: transport instanceof WsTransport ? transport.headers : undefined,
      peerCertificate: transport instanceof TlsTransport ? transport.peerCertificate : null,
      requestedUnits: unitNames(request.proposedUnits),
      versionMin: request.versionMin,
      versionMax: request.versionMax,
      channel: core.channel,
      proposedUnits: request.proposedUnits,
      challenge: request.challenge,
      keyShare: request.keyShare,
      renewal: false,
    };
    const credentials = readCredentials(request.credentials);
    let settled = false;
    const settle = (r: Principal | Refusal | null, counted = true) => {
      if (settled) return;
      settled = true;
      if (core.state !== 'awaiting-response') return; // timed out or aborted meanwhile
      if (isRefusal(r)) return this.#refuseUnauthenticated(driver, core, r, counted);
      const problem = r ? principalProblem(r) : null;
      // The hook's fault, not the client's: not counted against its address.
      if (problem) return this.#refuseUnauthenticated(driver, core, { refuse: true, reason: problem }, false);
      this.#decideAuthenticated(driver, core, request, r);
    };
    const fail = (e: unknown) => settle({ refuse: true, reason: `authenticate threw: ${(e as Error)?.message ?? e}` });
    // A hook that never answers must not hold the connection's later requests: after the
    // handshake timeout the request is refused (the server's fault: not counted against the address).
    const ms = driver.conn.limits.handshakeTimeoutMs;
    return new Promise<void>((done) => {
      const timer = setTimeout(() => {
        settle({ refuse: true, reason: `authenticate did not answer within ${ms} ms` }, false);
        done();
      }, ms);
      const finish = (r: Principal | Refusal | null) => {
        clearTimeout(timer);
        settle(r);
        done();
      };
      try {
        Promise.resolve(authenticate(credentials, facts)).then(finish, (e: unknown) => {
          clearTimeout(timer);
          fail(e);
          done();
        });
      } catch (e) {
        clearTimeout(timer);
        fail(e);
        done();
      }
    });
  }

  /** Refuses a request that did not authenticate: REFUSE, a failure counted (unless `counted` is false), nothing kept. */
  #refuseUnauthenticated(driver: ConnectionDriver, core: CoreSession, r: Refusal | null, counted = true): void {
    const code = r?.code ?? RefuseCode.UNAUTHENTICATED;
    const transport = driver.transport;
    core.refuse(now(), code, EMPTY);
    driver.scheduleFlush();
    const reason = r?.reason ?? 'credentials missing or not accepted';
    publish('refused', () => ({ session: null, role: 'server', code, remoteAddress: transport.remoteAddress, reason }));
    this.emit('auth-failed', {
      remoteAddress: transport.remoteAddress,
      remotePort: transport.remotePort,
      code,
      reason,
    });
    if (counted && code !== RefuseCode.FORBIDDEN) this.#failed(driver);
  }

  #decideAuthenticated(
    driver: ConnectionDriver,
    core: CoreSession,
    request: ConnectRequest,
    principal: Principal | null,
  ): void {
    const session = new Session(driver, core, {
      onReleaseRequest: this.#options.onReleaseRequest,
      parking: this.#parking,
      tokens: this.tokens,
    });
    this.#sessions.add(session);
    session.once('close', () => this.#sessions.delete(session));
    if (principal) {
      session.authenticated(principal, this.#options.authenticate ?? null, {
        mayTry: (d) => this.#guard.mayTry(d.transport.remoteAddress, Date.now()),
        failed: (d) => this.#failed(d),
      });
    }
    const incoming: IncomingRequest = {
      ...request,
      remoteAddress: driver.transport.remoteAddress,
      remotePort: driver.transport.remotePort,
      principal,
    };
    const finish = (d: AcceptDecision) => {
      if (core.state !== 'awaiting-response') return; // timed out or aborted meanwhile
      const decision: { accept: boolean; code?: RefuseCode; userData?: Uint8Array } =
        typeof d === 'boolean' ? { accept: d } : d;
      try {
        if (decision.accept) {
          core.accept(now(), decision.userData ?? EMPTY, [], wantedTokens(this.#options.initialTokens), {
            ...(this.tokens ? { namedTokens: this.tokens.offer } : {}),
            credentials: acceptCredentials(principal, request.agreed),
          });
          session.opened(request.userData);
          this.#deliver(session);
        } else {
          core.refuse(now(), decision.code ?? RefuseCode.REJECTED, decision.userData ?? EMPTY);
        }
      } catch (e) {
        // A decision the engine cannot carry out (user data over the limit, an unknown code): the
        // request is refused and the application told, instead of an exception in a socket handler.
        if (core.state === 'awaiting-response') core.refuse(now(), RefuseCode.REJECTED, EMPTY);
        this.emit('connection-error', e instanceof Error ? e : new Error(String(e)));
      }
      driver.scheduleFlush();
    };
    const hook = this.#options.onConnect;
    if (!hook) return finish(true);
    let result: AcceptDecision | Promise<AcceptDecision>;
    try {
      result = hook(incoming);
    } catch {
      return finish(false);
    }
    if (typeof result === 'object' && result !== null && 'then' in result) {
      result.then(finish, () => finish(false));
    } else {
      finish(result);
    }
  }

  #deliver(session: Session): void {
    const handler = this.#options.onSession;
    if (handler) this.#handle(session, handler);
    else {
      const read = this.#readers.shift();
      if (read) read({ done: false, value: session });
      else if (this.listenerCount('session') === 0) this.#waiting.push(session);
    }
    this.emit('session', session);
  }

  /** Runs `onSession` for one session and catches what it throws (see ListenOptions.onSession). */
  #handle(session: Session, handler: (session: Session) => unknown): void {
    const failed = (e: unknown) => {
      // The session ended under the handler (a read or a send after the peer's abort): not a fault.
      if (e instanceof SessionClosedError && session.closeReason !== null) return;
      const error = e instanceof Error ? e : new Error(String(e));
      if (session.closeReason === null) session.abort();
      if (this.listenerCount('session-error') > 0) this.emit('session-error', error, session);
      else
        process.emitWarning(error, {
          type: 'LiaisonSessionError',
          detail: 'from onSession; see server.on("session-error")',
        });
    };
    try {
      Promise.resolve(handler(session)).catch(failed);
    } catch (e) {
      failed(e);
    }
  }
}

function parseUnits(names: readonly string[]): number {
  try {
    return unitsFromNames(names);
  } catch (e) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, (e as Error).message);
  }
}

const EMPTY = new Uint8Array(0);

function resolveAttackLimits(partial: Partial<AttackLimits> = {}): AttackLimits {
  const l = { ...DEFAULT_ATTACK_LIMITS, ...partial };
  const positive = (n: number) => Number.isFinite(n) && n > 0;
  for (const name of ['connectionsPerAddressMax', 'connectionsMax'] as const) {
    if (!Number.isInteger(l[name]) || l[name] < 1) {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, `attackLimits.${name} must be a positive integer`);
    }
  }
  if (!(l.failuresBurst >= 1) || !positive(l.failuresPerSecond)) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'attackLimits: failuresBurst must be ≥ 1, failuresPerSecond > 0');
  }
  return l;
}

export { parseUnits };
