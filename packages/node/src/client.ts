/**
 * `connect(url, options)`: opens a transport connection and one session over it. Returns the
 * Session at once (send() and close() may be called right away; they wait for the session to
 * open). `await session.ready` resolves when the peer accepted and rejects with a
 * SessionClosedError otherwise: ERR_LIAISON_SESSION_REFUSED with the peer's reason, or
 * ERR_LIAISON_SESSION_ABORTED when the transport failed or the handshake timed out.
 *
 * Recovery: when the transport breaks, the session is suspended (not closed) and the client
 * reconnects with capped exponential backoff and jitter, then resumes it; delivery stays exactly
 * once and in order. It gives up when the resume window (the server's, at most the client's own)
 * passes, and the session then ends with RESUME_WINDOW_EXPIRED, or RESUME_REFUSED when the
 * server no longer knows it; `undeliveredMessages()` then lists what never arrived.
 */
import { connect as netConnect } from 'node:net';
import {
  type BackoffOptions,
  backoffDelay,
  Connection,
  DEFAULT_BACKOFF,
  ErrorCode,
  type Extension,
  type Limits,
  UsageError,
} from '@liaison/core';
import { random } from './clock.js';
import { ConnectionDriver, now } from './driver.js';
import { Parking } from './parking.js';
import { parseUnits } from './server.js';
import { type ReleaseDecider, Session } from './session.js';
import { TcpTransport } from './transport.js';
import { type Endpoint, parseEndpoint } from './url.js';

export interface ConnectOptions {
  limits?: Partial<Limits>;
  /** Functional units to propose, by name ('duplex', 'expedited', 'typed-data', 'negotiated-release'...). */
  units?: readonly string[];
  /** Opaque data for the server's accept decision (credentials, a requested resource...). */
  userData?: Uint8Array | string;
  extensions?: Extension[];
  onReleaseRequest?: ReleaseDecider;
  /** Resume the session after transport breaks (default true). */
  resume?: boolean;
  /** Reconnection delays (default: 50 ms doubling to 5 s, half of each randomised). */
  backoff?: Partial<BackoffOptions>;
}

/** @throws UsageError at once for a bad URL, options or oversized user data. */
export function connect(url: string | URL, options: ConnectOptions = {}): Session {
  const endpoint = parseEndpoint(url);
  const units = options.units ? parseUnits(options.units) : undefined;
  const userData = typeof options.userData === 'string' ? new TextEncoder().encode(options.userData) : options.userData;
  const probe = new Connection({ role: 'initiator', limits: options.limits });
  if (userData && userData.byteLength > probe.limits.userDataBytesMax) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `user data exceeds ${probe.limits.userDataBytesMax} bytes`);
  }
  const backoff = resolveBackoff(options.backoff);
  const parking = options.resume === false ? null : new Parking(probe.limits);
  const conn = new Connection({ role: 'initiator', limits: options.limits, random, table: parking?.table });
  const core = conn.openSession(now(), { units, userData, extensions: options.extensions });
  const reconnector = new Reconnector(endpoint, options.limits, parking, backoff);
  const driver = reconnector.driverFor(conn);
  const session = new Session(driver, core, { onReleaseRequest: options.onReleaseRequest });
  reconnector.watch(session, core);
  driver.start();
  return session;
}

/** Reconnects a client's suspended session until it resumes or is lost. */
class Reconnector {
  readonly #endpoint: Endpoint;
  readonly #limits: Partial<Limits> | undefined;
  readonly #parking: Parking | null;
  readonly #backoff: BackoffOptions;
  #session: Session | null = null;
  #core: ReturnType<Connection['openSession']> | null = null;
  #attempt = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    endpoint: Endpoint,
    limits: Partial<Limits> | undefined,
    parking: Parking | null,
    backoff: BackoffOptions,
  ) {
    this.#endpoint = endpoint;
    this.#limits = limits;
    this.#parking = parking;
    this.#backoff = backoff;
  }

  /** A driver over a new TCP connection to the endpoint, for `conn`. */
  driverFor(conn: Connection): ConnectionDriver {
    const socket = netConnect({ host: this.#endpoint.host, port: this.#endpoint.port });
    const driver = new ConnectionDriver(new TcpTransport(socket), conn, {
      onParkingChanged: () => this.#parking?.update(),
      onClosed: () => this.#transportClosed(),
    });
    driver.endWhenIdle = true;
    return driver;
  }

  watch(session: Session, core: ReturnType<Connection['openSession']>): void {
    this.#session = session;
    this.#core = core;
    session.on('resumed', () => {
      this.#attempt = 0;
    });
    session.once('close', () => {
      if (this.#timer) clearTimeout(this.#timer);
      this.#parking?.stop();
    });
  }

  #transportClosed(): void {
    const core = this.#core;
    if (!core || core.state === 'closed' || core.link !== 'suspended') return;
    const delay = backoffDelay(this.#attempt++, this.#backoff, Math.random());
    this.#timer = setTimeout(() => this.#attemptResume(), delay);
  }

  #attemptResume(): void {
    this.#timer = null;
    const core = this.#core;
    const session = this.#session;
    if (!core || !session || core.state === 'closed' || core.link !== 'suspended' || !this.#parking) return;
    const conn = new Connection({ role: 'initiator', limits: this.#limits, random, table: this.#parking.table });
    conn.resumeSession(now(), core);
    this.#parking.update();
    const driver = this.driverFor(conn);
    session.moveTo(driver);
    driver.start();
  }
}

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
