/**
 * `connect(url, options)`: opens a transport connection and one session over it. Returns the
 * Session at once (send() and close() may be called right away; they wait for the session to
 * open). `await session.ready` resolves when the peer accepted and rejects with a
 * SessionClosedError otherwise: ERR_LIAISON_SESSION_REFUSED with the peer's reason, or
 * ERR_LIAISON_SESSION_ABORTED when the transport failed or the handshake timed out.
 */
import { connect as netConnect } from 'node:net';
import { Connection, ErrorCode, type Extension, type Limits, UsageError } from '@liaison/core';
import { ConnectionDriver, now } from './driver.js';
import { parseUnits } from './server.js';
import { type ReleaseDecider, Session } from './session.js';
import { TcpTransport } from './transport.js';
import { parseEndpoint } from './url.js';

export interface ConnectOptions {
  limits?: Partial<Limits>;
  /** Functional units to propose, by name ('duplex', 'expedited', 'typed-data', 'negotiated-release'...). */
  units?: readonly string[];
  /** Opaque data for the server's accept decision (credentials, a requested resource...). */
  userData?: Uint8Array | string;
  extensions?: Extension[];
  onReleaseRequest?: ReleaseDecider;
}

/** @throws UsageError at once for a bad URL, options or oversized user data. */
export function connect(url: string | URL, options: ConnectOptions = {}): Session {
  const endpoint = parseEndpoint(url);
  const units = options.units ? parseUnits(options.units) : undefined;
  const userData = typeof options.userData === 'string' ? new TextEncoder().encode(options.userData) : options.userData;
  const conn = new Connection({ role: 'initiator', limits: options.limits });
  if (userData && userData.byteLength > conn.limits.userDataBytesMax) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `user data exceeds ${conn.limits.userDataBytesMax} bytes`);
  }
  const core = conn.openSession(now(), { units, userData, extensions: options.extensions });
  const socket = netConnect({ host: endpoint.host, port: endpoint.port });
  const driver = new ConnectionDriver(new TcpTransport(socket), conn);
  driver.endWhenIdle = true;
  const session = new Session(driver, core, { onReleaseRequest: options.onReleaseRequest });
  driver.start();
  return session;
}
