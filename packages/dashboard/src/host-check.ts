/**
 * Which Host headers the dashboard answers (DNS rebinding): a page on another site whose name is
 * made to resolve to 127.0.0.1 reaches a loopback dashboard with its own name in `Host`, and must
 * not read who is connected. Bound to a loopback address, the dashboard answers only loopback
 * names and the bound host unless told otherwise; bound elsewhere, it answers any name unless
 * given a list (the operator chose to expose it, behind their own access control).
 */
import { isIP } from 'node:net';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);

export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase();
  if (LOOPBACK_NAMES.has(name) || name.endsWith('.localhost')) return true;
  return isIP(name) === 4 && name.startsWith('127.');
}

/** The host name of a Host header, without its port and brackets, lower-cased; null when malformed. */
export function hostName(header: string | undefined): string | null {
  if (header === undefined || header === '') return null;
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 1 ? h.slice(1, end) : null;
  }
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/** A predicate over Host headers for a dashboard bound to `boundHost`; `allowed` overrides the default. */
export function hostFilter(
  boundHost: string,
  allowed: readonly string[] | undefined,
): (header: string | undefined) => boolean {
  if (allowed === undefined && !isLoopbackHost(boundHost)) return () => true;
  const names = new Set((allowed ?? []).map((n) => n.toLowerCase()));
  names.add(boundHost.toLowerCase());
  return (header) => {
    const name = hostName(header);
    if (name === null) return false;
    return names.has(name) || (allowed === undefined && isLoopbackHost(name));
  };
}
