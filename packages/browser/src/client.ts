/**
 * `connect(url, options)`: a session over the browser's native WebSocket, resumed after breaks.
 *
 * Theory of operation
 * - A Client owns one session and the WebSocket under it (one at a time), a session table where
 *   the session waits while the WebSocket is down, and the reconnect loop: after each backoff
 *   delay (core's ReconnectSchedule) it opens a new WebSocket and hands the suspended session to
 *   a new core Connection with resumeSession().
 * - The page's own signals beat the timers: `online` and the page becoming visible reconnect at
 *   once when a resume is pending; `offline` drops the WebSocket at once (it is dead, the browser
 *   may take minutes to say so), and no attempt is made while the browser says it is offline
 *   except one per maxDelayMs, in case the `online` event never comes.
 * - It gives up when the resume window (the server's, at most the client's own) and one handshake
 *   timeout more have passed (the session table expires the session: RESUME_WINDOW_EXPIRED), or
 *   when the server refuses the resume; undeliveredMessages() then lists what may not have arrived.
 * - window, document and navigator are used only when present (not in Node, not in a worker).
 */
import {
  type BackoffOptions,
  Connection,
  type Session as CoreSession,
  DEFAULT_BACKOFF,
  ErrorCode,
  type Extension,
  ExtensionId,
  type Limits,
  ReconnectSchedule,
  UsageError,
  unitsFromNames,
} from '@liaison/core';
import { now, random } from './clock.js';
import { type ClientSessionEvent, ConnectionDriver } from './driver.js';
import type { NoiseLayer } from './noise.js';
import { Parking } from './parking.js';
import { Session } from './session.js';
import { toBytes } from './session-common.js';
import { connectDialogue, type InitialTokens } from './session-dialogue.js';
import { type WebSocketConstructor, WsTransport } from './ws-transport.js';

export interface ConnectOptions {
  /** The WebSocket class (default globalThis.WebSocket); in Node, the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  limits?: Partial<Limits>;
  /** Resume the session after the WebSocket breaks (default true). */
  resume?: boolean;
  /** Reconnection delays (default: about 5 ms, then 4x per attempt up to 5 s, half of each randomised). */
  backoff?: Partial<BackoffOptions>;
  /** Functional units to propose, by name (default: the server's defaults for a duplex session). */
  units?: readonly string[];
  /** Opaque data for the server's accept decision (a requested resource...). */
  userData?: Uint8Array | string;
  /**
   * A bearer token (or JWT) for the server's authenticate hook, sent in the connect request. A
   * page cannot set headers on a WebSocket; the cookies of the server's origin go with the
   * upgrade request by themselves.
   */
  auth?: { token: string };
  /**
   * Noise inside the WebSocket: `noise({ remoteStaticKey })` from '@liaison/browser/noise' (a
   * module of its own, so that pages without Noise do not carry it). Never falls back to plaintext.
   */
  noise?: NoiseLayer;
  /** Initial token holders (dialogue units; default: this side holds every token the agreed units make available). */
  initialTokens?: InitialTokens;
}

/**
 * Opens a session. Returns it at once (send() and close() may be called right away; they wait
 * for the session to open). `await session.ready` resolves when the server accepted and rejects
 * with a SessionClosedError otherwise: ERR_LIAISON_SESSION_REFUSED with the server's reason, or
 * ERR_LIAISON_SESSION_ABORTED when the WebSocket failed or the handshake timed out.
 * @throws UsageError INVALID_ARGUMENT at once for a URL that is not ws:// or wss://, bad options,
 * or no WebSocket class.
 */
export function connect(url: string | URL, options: ConnectOptions = {}): Session {
  return new Client(parseUrl(url), options).session;
}

/** The page-level signals the client listens to (absent outside a window). */
interface PageSignals {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

class Client {
  readonly session: Session;
  readonly #url: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #limits: Partial<Limits> | undefined;
  readonly #noise: NoiseLayer | null;
  readonly #schedule: ReconnectSchedule;
  readonly #parking: Parking | null;
  readonly #core: CoreSession;
  #driver: ConnectionDriver;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #gone = false;
  readonly #onOnline = () => this.#reconnectNow();
  readonly #onOffline = () => this.#offline();
  readonly #onVisibility = () => {
    if (pageDocument()?.visibilityState === 'visible') this.#reconnectNow();
  };

  constructor(url: string, options: ConnectOptions) {
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof WebSocketClass !== 'function') {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'no WebSocket class: pass options.WebSocket');
    }
    this.#url = url;
    this.#WebSocket = WebSocketClass;
    this.#limits = options.limits;
    if (options.noise !== undefined && typeof options.noise !== 'function') {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, "noise must be made by noise() from '@liaison/browser/noise'");
    }
    this.#noise = options.noise ?? null;
    this.#schedule = new ReconnectSchedule(resolveBackoff(options.backoff));
    const units = parseUnits(options.units);
    const userData = options.userData === undefined ? undefined : toBytes(options.userData);
    const conn = this.#newConnection(null); // validates the limits
    if (userData && userData.byteLength > conn.limits.userDataBytesMax) {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, `user data exceeds ${conn.limits.userDataBytesMax} bytes`);
    }
    this.#parking = options.resume === false ? null : new Parking(conn.limits, (e) => this.#event(e, null));
    const resumable = this.#parking ? this.#newConnection(this.#parking) : conn;
    this.#core = resumable.openSession(now(), {
      units,
      userData,
      credentials: tokenCredentials(options.auth),
      dialogue: connectDialogue(options.initialTokens),
    });
    this.#driver = this.#newDriver(resumable);
    this.session = new Session(this.#driver, this.#core, this.#parking);
    this.session.addEventListener('close', () => this.#retire());
    this.#listen(true);
    this.#driver.start();
  }

  #newConnection(parking: Parking | null): Connection {
    return new Connection({ role: 'initiator', limits: this.#limits, random, table: parking?.table });
  }

  #newDriver(conn: Connection): ConnectionDriver {
    const io = this.#noise ? this.#noise(conn) : conn;
    const driver: ConnectionDriver = new ConnectionDriver(new WsTransport(this.#url, this.#WebSocket), conn, io, {
      onSessionEvent: (e) => this.#event(e, driver),
      onClosed: () => this.#transportClosed(driver),
      onPeerReached: () => this.#schedule.reached(),
    });
    return driver;
  }

  #event(e: ClientSessionEvent, driver: ConnectionDriver | null): void {
    if (e.type === 'resumed') this.#schedule.succeeded();
    if (e.type === 'suspended' || e.type === 'resumed' || e.type === 'closed')
      queueMicrotask(() => this.#parking?.update());
    this.session.handleEvent(e, driver);
  }

  #transportClosed(driver: ConnectionDriver): void {
    this.#parking?.update();
    if (driver !== this.#driver || this.#gone || !this.#resumePending()) return;
    let delay = this.#schedule.nextDelay(Math.random());
    // The browser knows it has no network: wait for `online` (with one try per ceiling delay).
    if (pageNavigator()?.onLine === false) delay = Math.max(delay, this.#schedule.options.maxDelayMs);
    this.#timer = setTimeout(() => this.#reconnect(), delay);
  }

  #resumePending(): boolean {
    return this.#core.state !== 'closed' && this.#core.link === 'suspended';
  }

  /** A page signal says the network may be back: a pending resume goes now instead of after its delay. */
  #reconnectNow(): void {
    if (this.#timer === null) return;
    clearTimeout(this.#timer);
    this.#reconnect();
  }

  #offline(): void {
    if (this.#gone || this.#driver.transportClosed) return;
    this.#driver.drop();
  }

  #reconnect(): void {
    this.#timer = null;
    if (this.#gone || !this.#resumePending()) return;
    const conn = this.#newConnection(this.#parking);
    conn.resumeSession(now(), this.#core);
    this.#parking?.update();
    const driver = this.#newDriver(conn);
    this.#driver = driver;
    this.session.moveTo(driver);
    driver.start();
  }

  #retire(): void {
    if (this.#gone) return;
    this.#gone = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#listen(false);
    // The table may still owe its expiry timer: nothing is left to expire.
    queueMicrotask(() => this.#parking?.stop());
  }

  #listen(on: boolean): void {
    const win = pageWindow();
    const doc = pageDocument();
    const method = on ? 'addEventListener' : 'removeEventListener';
    win?.[method]('online', this.#onOnline);
    win?.[method]('offline', this.#onOffline);
    doc?.[method]('visibilitychange', this.#onVisibility);
  }
}

function pageWindow(): PageSignals | undefined {
  return (globalThis as { window?: PageSignals }).window;
}

function pageDocument(): (PageSignals & { visibilityState?: string }) | undefined {
  return (globalThis as { document?: PageSignals & { visibilityState?: string } }).document;
}

function pageNavigator(): { onLine?: boolean } | undefined {
  return (globalThis as { navigator?: { onLine?: boolean } }).navigator;
}

function parseUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch (e) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `invalid URL ${String(url)}`, { cause: e });
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new UsageError(
      ErrorCode.INVALID_ARGUMENT,
      `a browser session needs a ws:// or wss:// URL, got ${parsed.href}`,
    );
  }
  return parsed.href;
}

function tokenCredentials(auth: { token: string } | undefined): Extension[] | undefined {
  if (auth === undefined) return undefined;
  if (typeof auth.token !== 'string' || auth.token === '') {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'auth.token must be a non-empty string');
  }
  return [{ id: ExtensionId.AUTH_TOKEN, value: new TextEncoder().encode(auth.token) }];
}

function parseUnits(names: readonly string[] | undefined): number | undefined {
  if (names === undefined) return undefined;
  try {
    return unitsFromNames(names);
  } catch (e) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, (e as Error).message, { cause: e });
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
