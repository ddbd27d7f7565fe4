/**
 * What the browser client's tests share: a real @liaison/node server on ws://, attached to an
 * http.Server of the test's own so that the test can cut every transport from the server side
 * (destroy the sockets) and serve a page and the client's bundle on the same origin.
 */
import { once } from 'node:events';
import { createServer, type Server as HttpServer, type RequestListener } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { type Server as LiaisonServer, type ListenOptions, listen, type Session as NodeSession } from '@liaison/node';

/** Debian's chromium, and the flags that keep it off this machine's closed network. */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const text = (b: Uint8Array): string => new TextDecoder().decode(b);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface EchoServer {
  liaison: LiaisonServer;
  http: HttpServer;
  /** ws://127.0.0.1:<port>/liaison */
  url: string;
  /** http://127.0.0.1:<port> */
  origin: string;
  /** Messages the server received, per server-side session, in arrival order. */
  received: string[][];
  /** Server-side sessions, in accept order. */
  sessions: NodeSession[];
  /** Destroys every TCP socket of the HTTP server: each WebSocket under a session breaks. */
  cutAll(): number;
}

export interface EchoServerOptions {
  /** Answers the HTTP server's plain requests (default: 404). */
  onRequest?: RequestListener;
  /** Options of the liaison server (authenticate, limits...). */
  listen?: ListenOptions;
}

/** Starts an echo server (every message sent back) on ws://127.0.0.1:0/liaison; closed after the test. */
export async function startEchoServer(t: TestContext, options: EchoServerOptions = {}): Promise<EchoServer> {
  const http = createServer(options.onRequest ?? ((_req, res) => res.writeHead(404).end()));
  const sockets = new Set<Socket>();
  http.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const liaison = await listen('ws://127.0.0.1/liaison', { ...options.listen, httpServer: http });
  const port = (http.address() as AddressInfo).port;
  const received: string[][] = [];
  const sessions: NodeSession[] = [];
  liaison.on('session', (session) => {
    const mine: string[] = [];
    received.push(mine);
    sessions.push(session);
    void (async () => {
      try {
        for await (const m of session) {
          mine.push(text(m));
          await session.send(m);
        }
      } catch {
        // aborted: the test looks at `closed`
      }
    })();
  });
  t.after(async () => {
    await liaison.close({ timeoutMs: 1_000 });
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return {
    liaison,
    http,
    url: `ws://127.0.0.1:${port}/liaison`,
    origin: `http://127.0.0.1:${port}`,
    received,
    sessions,
    cutAll() {
      const n = sockets.size;
      for (const socket of sockets) socket.destroy();
      return n;
    },
  };
}
