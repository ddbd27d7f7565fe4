/**
 * `liaison serve --listen URL [--listen URL...] [--echo | --receive-dir DIR]`: accepts sessions on
 * every URL (tcp://, tls://, ws://, wss://; one session table, so a session may resume on
 * another of them) and logs them. With --echo every
 * message is sent back on its session; without it, messages are printed one per line on stdout.
 * With --receive-dir DIR it receives files from `liaison send` instead (@liaison/transfer).
 * stdout starts with one line `listening URL` per --listen, in order (with the real port when PORT is 0).
 * With --dashboard HOST:PORT it also serves @liaison/dashboard there (the page, /metrics, /healthz)
 * and prints `dashboard URL` after the listening lines.
 */
import { type Dashboard, startDashboard } from '@liaison/dashboard';
import {
  type CloseReason,
  describeCloseReason,
  ErrorCode,
  listen,
  readNoiseKeyFile,
  type Session,
  UsageError,
} from '@liaison/node';
import { Receiver, type ReceiverEvent } from '@liaison/transfer';
import { hex, type NoiseServeFlags, noiseForServe } from '../noise-options.js';
import { type LimitFlags, limitsFrom, unitsFrom } from '../options.js';
import { LineWriter, makeReporter, type Reporter, reasonJson, unitsJson } from '../output.js';
import { type ServeSecurityFlags, serverAttackLimits, serverAuthenticator, serverTls } from '../security-options.js';
import { onStop } from '../stop.js';

export interface ServeFlags extends LimitFlags, ServeSecurityFlags, NoiseServeFlags {
  /** One URL, or several (--listen is repeatable). */
  listen: string | string[];
  echo?: boolean;
  json?: boolean;
  quiet?: boolean;
  receiveDir?: string;
  shutdownTimeout?: number;
  /** HOST:PORT of the dashboard (page, /metrics, /healthz); none without it. */
  dashboard?: string;
  /** The dashboard's admin token (or LIAISON_DASHBOARD_TOKEN): enables aborting sessions from it. */
  dashboardToken?: string;
}

export async function serve(flags: ServeFlags): Promise<number> {
  const report = makeReporter(flags.json ?? false, flags.quiet);
  const limits = limitsFrom(flags);
  if (flags.maxSessionsPerConnection !== undefined) limits.sessionsPerConnectionMax = flags.maxSessionsPerConnection;
  if (flags.noiseRekeyBytes !== undefined) limits.noiseRekeyBytes = flags.noiseRekeyBytes;
  const urls = [flags.listen].flat();
  const dashboardAt = flags.dashboard === undefined ? null : parseHostPort(flags.dashboard);
  const server = await listen(urls, {
    limits,
    units: unitsFrom(flags),
    resume: flags.resume !== false,
    tls: serverTls(urls, flags),
    authenticate: serverAuthenticator(flags),
    attackLimits: serverAttackLimits(flags),
    noise: noiseForServe(flags),
    // A receiver says so in its acceptance, so that `send` to a plain server stops at once.
    ...(flags.receiveDir ? { onConnect: Receiver.accept } : {}),
  });
  const noiseKey = flags.noiseKey ? hex(readNoiseKeyFile(flags.noiseKey).publicKey) : null;
  const out = new LineWriter(process.stdout);
  const receiver = flags.receiveDir ? await openReceiver(flags.receiveDir, report) : null;
  const dashboard: Dashboard | null = dashboardAt
    ? await startDashboard(server, { ...dashboardAt, adminToken: flags.dashboardToken, title: server.url }).catch(
        async (e: unknown) => {
          await server.close();
          throw e;
        },
      )
    : null;

  // Installed before the listening line is printed: a supervisor may signal as soon as it reads it.
  // A signal is the normal way to stop a server (exit 0); a closed stdout is not (exit 141).
  onStop(async (s) => {
    report.event('stopping', { signal: s.cause }, `stopping: ${s.why}`);
    // A signal asks for an orderly end (sessions released, what was sent delivered); a closed
    // stdout cannot print what still arrives, so it aborts at once.
    await server.close({ timeoutMs: s.cause === 'EPIPE' ? 0 : (flags.shutdownTimeout ?? 5_000) });
    await dashboard?.close();
    await out.end();
    process.exit(s.cause === 'EPIPE' ? s.code : 0);
  });

  for (const url of server.urls) process.stdout.write(`listening ${url}\n`);
  if (dashboard) process.stdout.write(`dashboard ${dashboard.url}\n`);
  report.event(
    'listening',
    { url: server.url, urls: server.urls, echo: flags.echo ?? false, noiseKey },
    `listening on ${server.urls.join(' and ')}${flags.echo ? ' (echo)' : ''}${noiseKey ? `, noise key ${noiseKey}` : ''}`,
  );
  if (dashboard) {
    const admin = flags.dashboardToken !== undefined;
    report.event('dashboard', { url: dashboard.url, admin }, `dashboard on ${dashboard.url}`);
  }
  server.on('connection-error', (e) => report.error(`connection error: ${e.message}`));
  server.on('auth-failed', (f) =>
    report.event(
      'auth-failed',
      { remote: `${f.remoteAddress}:${f.remotePort}`, code: f.code, reason: f.reason },
      `authentication failed from ${f.remoteAddress}:${f.remotePort}: ${f.reason}`,
    ),
  );
  server.on('connection-refused', (f) =>
    report.event(
      'connection-refused',
      { remote: f.remoteAddress, code: f.code, reason: f.reason },
      `connection from ${f.remoteAddress} turned away: ${f.reason}`,
    ),
  );

  for await (const session of server) void handle(session);
  return 0;

  async function handle(session: Session): Promise<void> {
    const id = `${session.remoteAddress}:${session.remotePort}/${session.channel}`;
    const agreed = session.agreed;
    const principal = session.principal;
    const cert = session.peerCertificate;
    report.event(
      'session-open',
      {
        session: id,
        units: agreed ? unitsJson(agreed.units) : [],
        version: agreed?.version,
        noise: session.noisePattern,
        peerKey: session.peerStaticKey ? hex(session.peerStaticKey) : null,
        transport: session.transport,
        ...(principal ? { principal: principal.id } : {}),
        ...(principal?.expiresAt !== undefined ? { expiresAt: new Date(principal.expiresAt).toISOString() } : {}),
        ...(cert ? { peerCertificate: { subject: cert.subject, fingerprint256: cert.fingerprint256 } } : {}),
      },
      `session ${id} open${session.noisePattern ? ` (noise ${session.noisePattern})` : ''}${principal ? ` for ${principal.id}` : ''}${cert ? ` (certificate ${String(cert.subject.CN ?? cert.fingerprint256)})` : ''}`,
    );
    session.on('suspended', (why) =>
      report.event('session-suspended', { session: id, reason: why }, `session ${id} suspended: ${why}`),
    );
    session.on('resumed', (stats) =>
      report.event(
        'session-resumed',
        { session: id, ...stats },
        `session ${id} resumed after ${Math.round(stats.downtimeMs)} ms`,
      ),
    );
    session.on('credentials-renewed', (p) =>
      report.event(
        'credentials-renewed',
        {
          session: id,
          principal: p.id,
          ...(p.expiresAt !== undefined ? { expiresAt: new Date(p.expiresAt).toISOString() } : {}),
        },
        `session ${id}: credentials of ${p.id} renewed`,
      ),
    );
    if (receiver) await receiver.handle(session, id);
    else await exchange(session);
    const reason: CloseReason = await session.closed;
    const s = session.stats;
    report.event(
      'session-closed',
      {
        session: id,
        reason: reasonJson(reason),
        messagesIn: s.messagesReceived,
        messagesOut: s.messagesSent,
        bytesIn: s.bytesReceived,
        bytesOut: s.bytesSent,
      },
      `session ${id} ${describeCloseReason(reason)} (${s.messagesReceived} messages in, ${s.messagesSent} out)`,
    );
  }

  /** Without --receive-dir: print each message, or echo it with --echo. */
  async function exchange(session: Session): Promise<void> {
    session.on('typed', (data) => (flags.echo ? void session.sendTyped(data).catch(() => {}) : out.line(data)));
    session.on('expedited', (data) => (flags.echo ? void session.sendExpedited(data).catch(() => {}) : out.line(data)));
    try {
      for await (const message of session) {
        if (flags.echo) await session.send(message);
        else {
          out.line(message);
          await out.wait();
        }
      }
    } catch {
      // The session aborted; `closed` says why, below.
    }
  }
}

/** With --receive-dir: every session may send files into DIR; the receiver's events are logged. */
async function openReceiver(dir: string, report: Reporter): Promise<Receiver> {
  return Receiver.open(dir, {
    onEvent: (e) => {
      const { type, ...fields } = e;
      report.event(type, fields, describeReceiverEvent(e));
    },
  });
}

function describeReceiverEvent(e: ReceiverEvent): string {
  switch (e.type) {
    case 'offer':
      return `${e.session}: ${e.file}: ${e.action === 'resume' ? `resuming from byte ${e.fromByte}` : e.action === 'done' ? 'already received' : 'receiving'}`;
    case 'refused':
      return `${e.session}: refused ${JSON.stringify(e.file)}: ${e.message}`;
    case 'resumed':
      return `${e.session}: ${e.file}: resumed from byte ${e.fromByte} (sync point ${e.serial})`;
    case 'checkpoint':
      return `${e.session}: ${e.file}: ${e.offset} bytes on disk (sync point ${e.serial})`;
    case 'file-done':
      return `${e.session}: ${e.file}: received, ${e.size} bytes, SHA-256 ${e.sha256} verified`;
    case 'file-failed':
      return `${e.session}: ${e.file}: failed: ${e.message}`;
    case 'session-error':
      return `${e.session}: aborted: ${e.message}`;
  }
}

/** `--dashboard HOST:PORT` (`[::1]:PORT` for IPv6; `:PORT` for 127.0.0.1). */
function parseHostPort(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || port > 65_535) {
    throw new UsageError(
      ErrorCode.INVALID_ARGUMENT,
      `--dashboard must be HOST:PORT (e.g. 127.0.0.1:9090), not ${value}`,
    );
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}
