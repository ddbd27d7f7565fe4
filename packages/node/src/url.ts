/**
 * Endpoint URLs: `tcp://host:port`, `tls://host:port`, and `ws://host:port/path`,
 * `wss://host:port/path` (path default '/', port default 80 / 443 as on the web).
 */
import { ErrorCode, UsageError } from '@liaison/core';

export interface Endpoint {
  scheme: 'tcp' | 'tls' | 'ws' | 'wss';
  host: string;
  port: number;
  /** ws:// and wss://: the request path with its query ('/' at least); absent for tcp:// and tls://. */
  path?: string;
}

const SCHEMES = ['tcp', 'tls', 'ws', 'wss'] as const;
const EXPECTED = 'tcp://HOST:PORT, tls://HOST:PORT, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH';

/** @throws UsageError (ERR_LIAISON_INVALID_ARGUMENT) for an unsupported scheme or a bad port. */
export function parseEndpoint(input: string | URL): Endpoint {
  let url: URL;
  try {
    url = typeof input === 'string' ? new URL(input) : input;
  } catch (cause) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `not a URL: ${String(input)} (expected ${EXPECTED})`, { cause });
  }
  const scheme = SCHEMES.find((s) => url.protocol === `${s}:`);
  if (scheme === undefined) {
    throw new UsageError(
      ErrorCode.INVALID_ARGUMENT,
      `unsupported scheme "${url.protocol}" (supported: tcp://, tls://, ws://, wss://)`,
    );
  }
  const web = scheme === 'ws' || scheme === 'wss';
  // The WHATWG parser leaves the port empty when it is the scheme's default (80 for ws:, 443 for wss:).
  const port = url.port === '' ? (web ? (scheme === 'ws' ? 80 : 443) : Number.NaN) : Number(url.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(
      ErrorCode.INVALID_ARGUMENT,
      `missing or invalid port in ${url.href} (expected ${scheme}://HOST:PORT)`,
    );
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new UsageError(ErrorCode.INVALID_ARGUMENT, `missing host in ${url.href}`);
  if (!web) return { scheme, host, port };
  return { scheme, host, port, path: `${url.pathname || '/'}${url.search}` };
}

export function formatEndpoint(e: Endpoint): string {
  const host = e.host.includes(':') ? `[${e.host}]` : e.host;
  const web = e.scheme === 'ws' || e.scheme === 'wss';
  return `${e.scheme}://${host}:${e.port}${web ? (e.path ?? '/') : ''}`;
}
