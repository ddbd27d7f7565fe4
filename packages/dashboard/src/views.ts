/**
 * What the dashboard's API says of a session: a summary for the live table (cheap getters only,
 * read every second for every session) and a detail view for one session. Every getter is read
 * inside a guard: a session that ends while it is described gives nulls, never a failed request.
 */
import { type Session, unitNames } from '@liaison/node';
import { displayState } from './metrics.js';
import type { TrackedSession } from './tracker.js';

export interface SessionSummary {
  id: string;
  state: string;
  principal: string | null;
  transport: string | null;
  remote: string | null;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  rttMs: number | null;
  resumes: number;
  ageMs: number;
}

export interface SessionDetail extends SessionSummary {
  channel: number | null;
  link: string | null;
  principalExpiresAt: string | null;
  noise: string | null;
  units: string[];
  tokens: Record<string, string> | null;
  namedTokens: string[];
  serial: number | null;
  activity: { id: string; serial: number } | null;
  rtt: { latestMs: number; smoothedMs: number; variationMs: number } | null;
  stats: Record<string, number>;
  bufferedBytes: number | null;
}

function read<T>(get: () => T, fallback: T): T {
  try {
    return get();
  } catch {
    return fallback;
  }
}

export function summarize({ id, session: s, openedAt }: TrackedSession, now = Date.now()): SessionSummary {
  const stats = read(() => s.stats, null);
  const rtt = read(() => s.rtt, null);
  return {
    id,
    state: read(() => displayState(s), 'closed'),
    principal: read(() => s.principal?.id ?? null, null),
    transport: read(() => s.transport, null),
    remote: read(() => remoteOf(s), null),
    bytesIn: stats?.bytesReceived ?? 0,
    bytesOut: stats?.bytesSent ?? 0,
    messagesIn: stats?.messagesReceived ?? 0,
    messagesOut: stats?.messagesSent ?? 0,
    rttMs: rtt ? round(rtt.smoothedMs) : null,
    resumes: stats?.resumes ?? 0,
    ageMs: Math.max(0, now - openedAt),
  };
}

export function describe(tracked: TrackedSession, now = Date.now()): SessionDetail {
  const s = tracked.session;
  const rtt = read(() => s.rtt, null);
  const activity = read(() => s.activity, null);
  const expiresAt = read(() => s.principal?.expiresAt, undefined);
  return {
    ...summarize(tracked, now),
    channel: read(() => s.channel, null),
    link: read(() => s.link, null),
    principalExpiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(),
    noise: read(() => s.noisePattern, null),
    units: read(() => unitList(s), []),
    tokens: read(() => ({ ...s.tokens }), null),
    namedTokens: read(() => [...s.heldTokens], []),
    serial: read(() => s.serial, null),
    activity: activity ? { id: printable(activity.id), serial: activity.serial } : null,
    rtt: rtt
      ? { latestMs: round(rtt.latestMs), smoothedMs: round(rtt.smoothedMs), variationMs: round(rtt.variationMs) }
      : null,
    stats: read((): Record<string, number> => ({ ...s.stats }), {}),
    bufferedBytes: read(() => s.bufferedAmount, null),
  };
}

function remoteOf(s: Session): string {
  const address = s.remoteAddress;
  return address.includes(':') ? `[${address}]:${s.remotePort}` : `${address}:${s.remotePort}`;
}

function unitList(s: Session): string[] {
  const agreed = s.agreed;
  return agreed ? unitNames(agreed.units) : [];
}

/** An activity id as text when it is printable UTF-8, else as hex. */
function printable(bytes: Uint8Array): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is rejected
  if (!text.includes('\uFFFD') && !/[\u0000-\u001f]/.test(text)) return text;
  return Buffer.from(bytes).toString('hex');
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
