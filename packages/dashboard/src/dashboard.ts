/**
 * `startDashboard(server, options)`: one node:http server beside a liaison Server, serving the
 * dashboard page, its JSON API and event stream, Prometheus metrics and a health check (routes
 * below). It only reads the server and its sessions, except for the admin abort; a fault in a
 * request is that request's 500, never the liaison server's problem.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeCloseReason, ErrorCode, type Server, UsageError } from '@liaison/node';
import { checkAdmin } from './admin.js';
import { EventHub } from './events.js';
import { hostFilter } from './host-check.js';
import { methodNotAllowed, sendError, sendJson } from './http.js';
import { DashboardMetrics, displayState, SESSION_STATES } from './metrics.js';
import { isStaticPath, sendStatic } from './static-files.js';
import { type SessionHappening, SessionTracker } from './tracker.js';
import { describe, summarize } from './views.js';

export interface DashboardOptions {
  /** Where to listen, e.g. '127.0.0.1' (the default; the dashboard shows who is connected). */
  host?: string;
  /** The port; 0 picks a free one (see `url`). */
  port: number;
  /** Enables `POST /api/sessions/:id/abort` for requests with `Authorization: Bearer <adminToken>`. */
  adminToken?: string;
  /** Shown as the page's title. */
  title?: string;
  /** Rows of the live table sent each second (the API lists every session). Default 500. */
  tableRowsMax?: number;
  /**
   * Host names the dashboard answers (others get 403, against DNS rebinding). Default: bound to a
   * loopback address, loopback names and the bound host only; bound elsewhere, any name.
   */
  allowedHosts?: readonly string[];
}

export interface Dashboard {
  /** `http://host:port/`, with the real port. */
  readonly url: string;
  readonly address: { host: string; port: number };
  /** Stops serving: event streams end, the port is released. The liaison server is left as it is. */
  close(): Promise<void>;
}

/** The user data of the abort a dashboard sends: what the client sees as the abort's reason. */
export const ABORT_REASON = 'aborted by an operator from the dashboard';

const SESSION_PATH = /^\/api\/sessions\/([A-Za-z0-9_-]{1,64})(\/abort)?$/;

/**
 * @throws (rejects) UsageError for bad options; the listen error (EADDRINUSE...) when the port
 * cannot be bound.
 */
export async function startDashboard(server: Server, options: DashboardOptions): Promise<Dashboard> {
  const { host = '127.0.0.1', port, title = 'liaison', tableRowsMax = 500 } = options;
  if (typeof host !== 'string' || host === '') throw invalid('host must be a non-empty string');
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw invalid('port must be an integer 0..65535');
  if (options.adminToken !== undefined && (typeof options.adminToken !== 'string' || options.adminToken === '')) {
    throw invalid('adminToken must be a non-empty string when given');
  }
  if (!Number.isInteger(tableRowsMax) || tableRowsMax < 0) throw invalid('tableRowsMax must be an integer >= 0');
  const { allowedHosts } = options;
  if (
    allowedHosts !== undefined &&
    (!Array.isArray(allowedHosts) || allowedHosts.some((h) => typeof h !== 'string' || h === ''))
  ) {
    throw invalid('allowedHosts must be an array of host names');
  }
  const adminToken = options.adminToken ?? null;
  const startedAt = Date.now();
  let serverClosed = false;
  const onServerClose = () => {
    serverClosed = true;
  };
  server.once('close', onServerClose);

  const hub = new EventHub({ snapshot: () => snapshot() });
  let metrics: DashboardMetrics | null = null;
  const tracker = new SessionTracker(server, (h) => {
    metrics?.happened(h);
    broadcast(h);
  });
  metrics = new DashboardMetrics(server, tracker);
  const m = metrics;

  function snapshot() {
    m.tally();
    const sessions = tracker.sessions();
    const byState: Record<string, number> = Object.fromEntries(SESSION_STATES.map((s) => [s, 0]));
    for (const { session } of sessions) {
      const state = displayState(session);
      byState[state] = (byState[state] ?? 0) + 1;
    }
    const now = Date.now();
    return {
      time: now,
      sessions: sessions.length,
      connections: server.connectionCount,
      byState,
      totals: { ...m.totals },
      table: sessions.slice(0, tableRowsMax).map((t) => summarize(t, now)),
    };
  }

  function broadcast(h: SessionHappening): void {
    switch (h.type) {
      case 'open':
        return hub.broadcast('session-open', summarize(h.tracked));
      case 'suspend':
        return hub.broadcast('session-suspend', { id: h.tracked.id, reason: h.reason });
      case 'resume':
        return hub.broadcast('session-resume', {
          id: h.tracked.id,
          downtimeMs: h.stats?.downtimeMs ?? null,
          resumes: h.tracked.session.stats.resumes,
        });
      case 'close':
        return hub.broadcast('session-close', {
          id: h.tracked.id,
          kind: h.reason.kind,
          reason: describeCloseReason(h.reason),
        });
      default:
        return;
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://dashboard').pathname;
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    if (path === '/metrics') {
      if (!get) return methodNotAllowed(res, 'GET');
      const text = await m.registry.metrics();
      res.writeHead(200, { 'content-type': m.registry.contentType, 'cache-control': 'no-store' });
      res.end(text);
      return;
    }
    if (path === '/healthz') {
      if (!get) return methodNotAllowed(res, 'GET');
      const body = {
        status: serverClosed ? 'closed' : 'ok',
        sessions: tracker.sessions().length,
        uptime: Math.round((Date.now() - startedAt) / 1000),
      };
      return sendJson(res, serverClosed ? 503 : 200, body);
    }
    if (path === '/api/sessions') {
      if (!get) return methodNotAllowed(res, 'GET');
      const now = Date.now();
      return sendJson(res, 200, { sessions: tracker.sessions().map((t) => summarize(t, now)) });
    }
    if (path === '/api/events') {
      if (!get) return methodNotAllowed(res, 'GET');
      return hub.accept(res);
    }
    const match = SESSION_PATH.exec(path);
    if (match) {
      const [, id, abort] = match as unknown as [string, string, string | undefined];
      if (abort) return abortSession(req, res, id);
      if (!get) return methodNotAllowed(res, 'GET');
      const tracked = tracker.get(id);
      if (!tracked) return sendError(res, 404, 'SESSION_NOT_FOUND', `no live session ${id}`);
      return sendJson(res, 200, describe(tracked));
    }
    if (isStaticPath(path)) {
      if (!get) return methodNotAllowed(res, 'GET');
      return sendStatic(res, path, title);
    }
    if (path.startsWith('/api/')) return sendError(res, 404, 'NOT_FOUND', `no API at ${path}`);
    return sendError(res, 404, 'NOT_FOUND', `nothing at ${path}`);
  }

  function abortSession(req: IncomingMessage, res: ServerResponse, id: string): void {
    if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
    const check = checkAdmin(req, adminToken);
    if (check === 'not-configured') {
      return sendError(res, 403, 'ADMIN_DISABLED', 'no admin token is configured: aborting is disabled');
    }
    if (check === 'unauthorized') {
      return sendError(res, 401, 'UNAUTHORIZED', 'send Authorization: Bearer <admin token>', {
        'www-authenticate': 'Bearer realm="liaison dashboard"',
      });
    }
    const tracked = tracker.get(id);
    if (!tracked) return sendError(res, 404, 'SESSION_NOT_FOUND', `no live session ${id}`);
    tracked.session.abort(ABORT_REASON);
    sendJson(res, 200, { id, aborted: true, reason: ABORT_REASON });
  }

  const hostAllowed = hostFilter(host, options.allowedHosts);
  const http = createServer((req, res) => {
    // Bodies are never read (no route takes one): drain them so the connection can be reused.
    req.resume();
    if (!hostAllowed(req.headers.host)) {
      return sendError(
        res,
        403,
        'HOST_NOT_ALLOWED',
        `this dashboard does not answer to ${req.headers.host ?? 'no Host'}`,
      );
    }
    route(req, res).catch((e: unknown) =>
      sendError(res, 500, 'INTERNAL', e instanceof Error ? e.message : 'internal error'),
    );
  });
  http.maxConnections = 256;
  http.on('clientError', (_e, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    const failed = (e: Error) => {
      tracker.stop();
      server.off('close', onServerClose);
      reject(e);
    };
    http.once('error', failed);
    http.listen(port, host, () => {
      http.off('error', failed);
      resolve();
    });
  });
  http.on('error', () => {}); // after listening, an error is one connection's, never a crash

  const bound = http.address() as AddressInfo;
  const address = { host, port: bound.port };
  const hostPart = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${hostPart}:${bound.port}/`,
    address,
    close() {
      closing ??= new Promise<void>((resolve) => {
        hub.close();
        tracker.stop();
        server.off('close', onServerClose);
        http.close(() => resolve());
        http.closeAllConnections();
      });
      return closing;
    },
  };
}

function invalid(message: string): UsageError {
  return new UsageError(ErrorCode.INVALID_ARGUMENT, `startDashboard: ${message}`);
}
