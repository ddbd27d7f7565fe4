/**
 * The ws:// and wss:// listener: WebSocket upgrades on one path, served by an HTTP(S) server of
 * its own (bound to the URL's port) or by one the application already has (`httpServer`), where
 * only upgrades to that path are taken and every other request and upgrade is left to the
 * application.
 */
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TlsOptions } from 'node:tls';
import { ErrorCode, TransportError, UsageError } from '@liaison/core';
import { WebSocketServer } from 'ws';
import { type Listener, type ListenerHooks, NetListener, requireCertificate, tlsClientError } from './listeners.js';
import type { Endpoint } from './url.js';
import { WS_MESSAGE_BYTES_MAX, WsTransport } from './ws-transport.js';

export interface WsListenerOptions {
  /** wss:// on a server of its own: tls.createServer's options (cert and key required). */
  tls?: TlsOptions;
  /** An existing node:http or node:https server to take the upgrades from (it is not closed with the listener). */
  httpServer?: HttpServer | HttpsServer;
  /** The upgrade path (default: the URL's path). */
  path?: string;
  /** Browser origins allowed to upgrade (others get 403); undefined: any. */
  origins?: readonly string[] | undefined;
  handshakeTimeoutMs: number;
}

/** @throws UsageError when `httpServer` does not match the scheme (wss:// needs a node:https server). */
export function wsListener(endpoint: Endpoint, options: WsListenerOptions, hooks: ListenerHooks): Listener {
  const kind = endpoint.scheme === 'wss' ? 'wss' : 'ws';
  if (options.httpServer && options.httpServer instanceof HttpsServer !== (kind === 'wss')) {
    throw new UsageError(
      ErrorCode.INVALID_ARGUMENT,
      `httpServer: a ${kind}:// listener needs a node:${kind === 'wss' ? 'https' : 'http'} server`,
    );
  }
  const path = pathOf(options.path ?? endpoint.path ?? '/');
  const allowed = options.origins ? new Set(options.origins) : null;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: WS_MESSAGE_BYTES_MAX,
    perMessageDeflate: false,
    clientTracking: false,
  });
  wss.on('error', (e) => hooks.error(e));
  const upgrade = (own: boolean) => (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (pathOf(req.url ?? '/') !== path) {
      // Another path on the application's server is the application's; on our own it does not exist.
      if (own) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    // On our own server the door was checked when the socket connected.
    if (!own && !hooks.admit(socket, null)) return void socket.destroy();
    const origin = req.headers.origin;
    if (allowed !== null && origin !== undefined && !allowed.has(origin)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    socket.on('error', () => {}); // reported by the transport once it exists
    wss.handleUpgrade(req, socket, head, (ws) => {
      const refused = (reason: string) => {
        const from = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
        hooks.error(new TransportError(`connection from ${from}: ${reason}; closed`));
      };
      hooks.accept(new WsTransport(ws, kind, socket, req.headers, refused));
    });
  };
  if (options.httpServer) return new AttachedWsListener(endpoint, options.httpServer, upgrade(false));
  const http =
    kind === 'wss'
      ? createHttpsServer({
          handshakeTimeout: options.handshakeTimeoutMs,
          ...requireCertificate(endpoint, options.tls),
        })
      : createHttpServer();
  http.requestTimeout = options.handshakeTimeoutMs;
  http.headersTimeout = options.handshakeTimeoutMs;
  http.on('connection', (raw: Socket) => {
    if (!hooks.admit(raw, null)) raw.destroy();
  });
  if (kind === 'wss') http.on('tlsClientError', (e: Error, socket: Socket) => tlsClientError(e, socket, hooks));
  http.on('request', (_req, res) => {
    res.writeHead(426, { Connection: 'close', Upgrade: 'websocket' }).end('liaison: WebSocket only\n');
  });
  http.on('upgrade', upgrade(true));
  return new NetListener(endpoint, http, hooks);
}

type UpgradeHandler = (req: IncomingMessage, socket: Socket, head: Buffer) => void;

/** A request target without its query. */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/** Upgrades on the application's own server: listening and closing that server stay the application's. */
class AttachedWsListener implements Listener {
  readonly endpoint: Endpoint;
  readonly #http: HttpServer | HttpsServer;
  readonly #onUpgrade: UpgradeHandler;

  constructor(endpoint: Endpoint, http: HttpServer | HttpsServer, onUpgrade: UpgradeHandler) {
    this.endpoint = endpoint;
    this.#http = http;
    this.#onUpgrade = onUpgrade;
  }

  start(): Promise<void> {
    this.#http.on('upgrade', this.#onUpgrade);
    return Promise.resolve();
  }

  get address(): { host: string; port: number } {
    const a = this.#http.address();
    if (a === null || typeof a === 'string') return { host: this.endpoint.host, port: this.endpoint.port };
    return { host: a.address, port: a.port };
  }

  close(): Promise<void> {
    this.#http.off('upgrade', this.#onUpgrade);
    return Promise.resolve();
  }
}
