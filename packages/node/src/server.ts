/**
 * `listen(url, options)`: a session server. Each accepted TCP connection gets its own core
 * Connection and driver; each session the application accepts comes out of the server as a
 * Session, by the 'session' event or by async iteration (`for await (const s of server)`).
 */

import { EventEmitter } from 'node:events';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import {
  AbortCode,
  Connection,
  type ConnectRequest,
  type Session as CoreSession,
  ErrorCode,
  type Limits,
  type NamedTokenLimits,
  ProtocolError,
  RefuseCode,
  TimeoutError,
  TransportError,
  UsageError,
  unitsFromNames,
} from '@liaison/core';
import { nativeKeyAgreement, random } from './clock.js';
import { type InitialTokens, wantedTokens } from './dialogue.js';
import { ConnectionDriver, now } from './driver.js';
import { ServerTokens } from './named-tokens.js';
import { Parking } from './parking.js';
import { type ReleaseDecider, Session } from './session.js';
import { TcpTransport } from './transport.js';
import { type Endpoint, formatEndpoint, parseEndpoint } from './url.js';

/** What the server learns about a connect request before deciding. */
export interface IncomingRequest extends ConnectRequest {
  remoteAddress: string;
  remotePort: number;
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
   * Keep sessions whose transport broke, for their clients to resume (default true). The resume
   * window and memory budget are `limits.resumeWindowMs` and `limits.suspendedBytesMax`.
   */
  resume?: boolean;
  /**
   * Application-named tokens: the limits of the server's registry (`server.tokens`), or false to
   * offer none. Default: offered, with DEFAULT_NAMED_TOKEN_LIMITS.
   */
  namedTokens?: Partial<NamedTokenLimits> | false;
  /** Tokens this server takes at the start when the client leaves them to it (see ConnectOptions.initialTokens). */
  initialTokens?: InitialTokens;
}

export interface ServerEventMap {
  session: [session: Session];
  /** A transport connection failed or sent bytes that are not liaison; others are unaffected. */
  'connection-error': [error: Error];
  close: [];
}

/** @throws (rejects) UsageError for a bad URL or options, TransportError when the port cannot be bound. */
export async function listen(url: string | URL, options: ListenOptions = {}): Promise<Server> {
  const endpoint = parseEndpoint(url);
  const server = new Server(endpoint, options);
  await server.start();
  return server;
}

export class Server extends EventEmitter<ServerEventMap> {
  readonly #options: ListenOptions;
  readonly #requested: Endpoint;
  readonly #net: NetServer;
  readonly #drivers = new Set<ConnectionDriver>();
  readonly #waiting: Session[] = [];
  #readers: ((r: IteratorResult<Session>) => void)[] = [];
  #closing = false;
  #closed: Promise<void> | null = null;
  readonly #acceptableUnits: number | undefined;
  readonly #parking: Parking | null;
  /**
   * The named-token registry shared by all the server's sessions and local code (holder,
   * waiting, acquire, release; 'grant' events); null when `namedTokens: false`.
   */
  readonly tokens: ServerTokens | null;

  /** @internal use listen() */
  constructor(endpoint: Endpoint, options: ListenOptions) {
    super();
    this.#requested = endpoint;
    this.#options = options;
    this.#acceptableUnits = options.units ? parseUnits(options.units) : undefined;
    const probe = new Connection({ role: 'responder', limits: options.limits }); // validates the limits now
    this.#parking = options.resume === false ? null : new Parking(probe.limits);
    this.tokens = options.namedTokens === false ? null : new ServerTokens(options.namedTokens ?? {});
    this.#net = createServer((socket) => this.#onSocket(socket));
  }

  /** @internal */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) =>
        reject(new TransportError(`cannot listen on ${formatEndpoint(this.#requested)}: ${e.message}`, { cause: e }));
      this.#net.once('error', onError);
      this.#net.listen(this.#requested.port, this.#requested.host, () => {
        this.#net.off('error', onError);
        this.#net.on('error', (e) => this.emit('connection-error', e));
        resolve();
      });
    });
  }

  /** The bound address (the real port when listening on port 0). */
  get address(): { host: string; port: number } {
    const a = this.#net.address();
    if (a === null || typeof a === 'string') return { host: this.#requested.host, port: this.#requested.port };
    return { host: a.address, port: a.port };
  }

  get url(): string {
    return formatEndpoint({ scheme: 'tcp', ...this.address });
  }

  /** Transport connections currently open. */
  get connectionCount(): number {
    return this.#drivers.size;
  }

  /**
   * Stops accepting and closes every connection; sessions still open are aborted with SHUTDOWN.
   * Release sessions first (session.close()) for an orderly end.
   */
  close(): Promise<void> {
    // Every call gets the same promise: a call after the server closed must not wait for a
    // 'close' event that was already emitted.
    if (this.#closed) return this.#closed;
    this.#closing = true;
    this.tokens?.close();
    for (const d of this.#drivers) d.close();
    // Sessions waiting to be resumed end too, so every `closed` promise resolves.
    this.#parking?.table.expireAll(now(), AbortCode.SHUTDOWN, 'server closed');
    this.#parking?.update();
    this.#parking?.stop();
    for (const read of this.#readers) read({ done: true, value: undefined });
    this.#readers = [];
    this.#closed = new Promise((resolve) => {
      this.#net.close(() => {
        this.emit('close');
        resolve();
      });
    });
    return this.#closed;
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

  #onSocket(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
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
    const transport = new TcpTransport(socket);
    const driver: ConnectionDriver = new ConnectionDriver(transport, conn, {
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
        this.emit('connection-error', error);
      },
    });
    this.#drivers.add(driver);
    driver.start();
  }

  #decide(driver: ConnectionDriver, core: CoreSession, request: ConnectRequest): void {
    const session = new Session(driver, core, {
      onReleaseRequest: this.#options.onReleaseRequest,
      parking: this.#parking,
      tokens: this.tokens,
    });
    const incoming: IncomingRequest = {
      ...request,
      remoteAddress: driver.transport.remoteAddress,
      remotePort: driver.transport.remotePort,
    };
    const finish = (d: AcceptDecision) => {
      if (core.state !== 'awaiting-response') return; // timed out or aborted meanwhile
      const decision: { accept: boolean; code?: RefuseCode; userData?: Uint8Array } =
        typeof d === 'boolean' ? { accept: d } : d;
      try {
        if (decision.accept) {
          core.accept(
            now(),
            decision.userData ?? EMPTY,
            [],
            wantedTokens(this.#options.initialTokens),
            this.tokens ? { namedTokens: this.tokens.offer } : {},
          );
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
    const read = this.#readers.shift();
    if (read) read({ done: false, value: session });
    else if (this.listenerCount('session') === 0) this.#waiting.push(session);
    this.emit('session', session);
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

export { parseUnits };
