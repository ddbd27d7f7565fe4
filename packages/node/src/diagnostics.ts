/**
 * Diagnostics through node:diagnostics_channel: logs, metrics and tracing subscribe here instead of
 * to private hooks, and `NODE_DEBUG=liaison` prints every message on stderr (util.debuglog).
 *
 *   import { subscribe } from 'node:diagnostics_channel';
 *   subscribe('liaison:session:close', ({ session, reason }) => log(session.channel, reason.kind));
 *
 * Channels (docs/ARCHITECTURE.md, "Diagnostics"):
 * - `liaison:session:open`     { session, role, handshakeMs }: the session is open (accepted);
 *   handshakeMs runs from connect() on a client, from the connect request on a server.
 * - `liaison:session:suspend`  { session, role, reason }: its transport broke; it waits to resume.
 * - `liaison:session:resume`   { session, role, stats }: it resumed on a new transport.
 * - `liaison:session:close`    { session, role, reason }: it ended, however it ended.
 * - `liaison:session:refused`  { session | null, role, code, remoteAddress, reason }: a connect
 *   request was refused (by onConnect, by authenticate: then no session object exists, or, on the
 *   client, by the server).
 * - `liaison:protocol-error`   { error, remoteAddress, session | null }: a peer broke the
 *   protocol (the connection or the session was closed for it).
 * Publishing costs nothing while nobody subscribes (hasSubscribers is checked first).
 */
import { channel } from 'node:diagnostics_channel';
import { debuglog } from 'node:util';
import { AbortCode, type CloseReason, describeCloseReason, type RefuseCode, refuseCodeName } from '@liaison/core';

export const CHANNELS = {
  open: channel('liaison:session:open'),
  suspend: channel('liaison:session:suspend'),
  resume: channel('liaison:session:resume'),
  close: channel('liaison:session:close'),
  refused: channel('liaison:session:refused'),
  protocolError: channel('liaison:protocol-error'),
} as const;

export type Role = 'client' | 'server';

/** What a channel message says of its session (the Session itself is passed too). */
interface SessionLike {
  readonly channel: number;
}

export function publish(name: keyof typeof CHANNELS, message: () => object): void {
  const ch = CHANNELS[name];
  if (ch.hasSubscribers) ch.publish(message());
}

/** Provider aborts that mean the peer broke the protocol (not a timeout, a shutdown or a user). */
const PROTOCOL_CODES: ReadonlySet<number> = new Set([
  AbortCode.PROTOCOL_ERROR,
  AbortCode.MALFORMED_FRAME,
  AbortCode.UNKNOWN_FRAME_TYPE,
  AbortCode.FRAME_TOO_LARGE,
  AbortCode.MESSAGE_TOO_LARGE,
  AbortCode.FLOW_CONTROL,
  AbortCode.UNEXPECTED_FRAME,
  AbortCode.BAD_PREFACE,
  AbortCode.UNSUPPORTED_VERSION,
  AbortCode.TOKEN_VIOLATION,
  AbortCode.SYNC_VIOLATION,
  AbortCode.NAMED_TOKEN_VIOLATION,
]);

export function isProtocolAbort(reason: CloseReason): boolean {
  return reason.kind === 'aborted' && reason.by === 'provider' && PROTOCOL_CODES.has(reason.code);
}

const debug = debuglog('liaison');
if (debug.enabled) {
  const line = (name: string, m: Record<string, unknown>): string => {
    const s = m.session as SessionLike | null | undefined;
    const who = s ? ` ${String(m.role)} ch${s.channel}` : m.role ? ` ${String(m.role)}` : '';
    const reason = m.reason as CloseReason | string | undefined;
    const why = typeof reason === 'string' ? `: ${reason}` : reason ? `: ${describeCloseReason(reason)}` : '';
    const code = typeof m.code === 'number' ? ` ${refuseCodeName(m.code as RefuseCode)}` : '';
    const error = m.error instanceof Error ? `: ${m.error.message}` : '';
    return `${name}${who}${code}${why}${error}`;
  };
  for (const ch of Object.values(CHANNELS)) {
    ch.subscribe((m, name) => debug('%s', line(String(name), m as Record<string, unknown>)));
  }
}
