/**
 * The listeners of a Server: one per URL it listens on. Each turns incoming connections into
 * transports for the one Server, which keeps every session in one table, so a session that
 * started on one listener can resume on another. TCP and TLS are here; WebSocket is in ws-listener.ts.
 */
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { ErrorCode, TransportError, UsageError } from '@liaison/core';
import { TlsTransport } from './tls-transport.js';
import { TcpTransport, type Transport } from './transport.js';
import { type Endpoint, formatEndpoint } from './url.js';

/** What a listener asks of its Server. */
export interface ListenerHooks {
  /** Counts a new raw socket against its address; false: turned away (on `plain` with a refusal). */
  admit(socket: Socket, plain: Socket | null): boolean;
  accept(transport: Transport): void;
  /** A failed attempt of an address (a TLS handshake that failed on its merits). */
  failedAttempt(address: string): void;
  error(e: Error): void;
}

export interface Listener {
  readonly endpoint: Endpoint;
  start(): Promise<void>;
  /** The bound address (the real port when listening on port 0). */
  readonly address: { host: string; port: number };
  /** Stops accepting; the connections already accepted are the Server's to close. */
  close(): Promise<void>;
}

/** Binds `net.Server` (or a tls.Server) to an endpoint: the common part of the TCP, TLS and WebSocket listeners. */
export class NetListener implements Listener {
  readonly endpoint: Endpoint;
  readonly #net: NetServer;
  readonly #hooks: ListenerHooks;

  constructor(endpoint: Endpoint, net: NetServer, hooks: ListenerHooks) {
    this.endpoint = endpoint;
    this.#net = net;
    this.#hooks = hooks;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) =>
        reject(new TransportError(`cannot listen on ${formatEndpoint(this.endpoint)}: ${e.message}`, { cause: e }));
      this.#net.once('error', onError);
      this.#net.listen(this.endpoint.port, this.endpoint.host, () => {
        this.#net.off('error', onError);
        this.#net.on('error', (e) => this.#hooks.error(e));
        resolve();
      });
    });
  }

  get address(): { host: string; port: number } {
    const a = this.#net.address();
    if (a === null || typeof a === 'string') return { host: this.endpoint.host, port: this.endpoint.port };
    return { host: a.address, port: a.port };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#net.listening) return resolve();
      this.#net.close(() => resolve());
    });
  }
}

/** A tcp:// listener; a socket turned away gets a CONNECTION_CLOSE saying why. */
export function tcpListener(endpoint: Endpoint, hooks: ListenerHooks): Listener {
  const net = createServer((socket) => {
    if (hooks.admit(socket, socket)) hooks.accept(new TcpTransport(socket));
  });
  return new NetListener(endpoint, net, hooks);
}

/** A tls:// listener: `tls.cert` and `tls.key` are required. */
export function tlsListener(
  endpoint: Endpoint,
  tls: TlsOptions | undefined,
  handshakeTimeoutMs: number,
  hooks: ListenerHooks,
): Listener {
  const server = createTlsServer({ handshakeTimeout: handshakeTimeoutMs, ...requireCertificate(endpoint, tls) });
  // The door is checked on the raw socket, before any TLS work is spent on it.
  server.on('connection', (raw: Socket) => {
    if (!hooks.admit(raw, null)) raw.destroy();
  });
  server.on('secureConnection', (socket: TLSSocket) => hooks.accept(new TlsTransport(socket, false)));
  server.on('tlsClientError', (e, socket) => tlsClientError(e, socket, hooks));
  return new NetListener(endpoint, server, hooks);
}

/** @throws UsageError when a tls:// or wss:// listener has no certificate. */
export function requireCertificate(endpoint: Endpoint, tls: TlsOptions | undefined): TlsOptions {
  if (!tls?.cert || !tls.key) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `a ${endpoint.scheme}:// server needs tls.cert and tls.key`);
  }
  return tls;
}

export function tlsClientError(e: Error, socket: Socket, hooks: ListenerHooks): void {
  const from = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
  // A TLS handshake that failed on its merits (no or a bad client certificate under mutual
  // TLS, a protocol error, a handshake timeout) is a failed attempt of its address, like a
  // refused token: mutual TLS is authentication too, and each try costs the server a
  // handshake. A socket reset (or one this server turned away at the door) is not counted.
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (socket.remoteAddress && (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS'))) {
    hooks.failedAttempt(socket.remoteAddress);
  }
  hooks.error(new TransportError(`TLS handshake with ${from} failed: ${e.message}`, { cause: e }));
}
