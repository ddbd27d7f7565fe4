/** Endpoint URLs: `tcp://host:port` and `tls://host:port`; `ws://` joins them in a later issue. */
import { ErrorCode, UsageError } from '@liaison/core';

export interface Endpoint {
  scheme: 'tcp' | 'tls';
  host: string;
  port: number;
}

/** @throws UsageError (ERR_LIAISON_INVALID_ARGUMENT) for an unsupported scheme or a bad port. */
export function parseEndpoint(input: string | URL): Endpoint {
  let url: URL;
  try {
    url = typeof input === 'string' ? new URL(input) : input;
  } catch (cause) {
    throw new UsageError(
      ErrorCode.INVALID_ARGUMENT,
      `not a URL: ${String(input)} (expected tcp://HOST:PORT or tls://HOST:PORT)`,
      {
        cause,
      },
    );
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'tls:') {
    throw new UsageError(
      ErrorCode.INVALID_ARGUMENT,
      `unsupported scheme "${url.protocol}" (supported: tcp://, tls://)`,
    );
  }
  const scheme = url.protocol === 'tls:' ? 'tls' : 'tcp';
  const port = url.port === '' ? Number.NaN : Number(url.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(
      ErrorCode.INVALID_ARGUMENT,
      `missing or invalid port in ${url.href} (expected ${scheme}://HOST:PORT)`,
    );
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new UsageError(ErrorCode.INVALID_ARGUMENT, `missing host in ${url.href}`);
  return { scheme, host, port };
}

export function formatEndpoint(e: Endpoint): string {
  const host = e.host.includes(':') ? `[${e.host}]` : e.host;
  return `${e.scheme}://${host}:${e.port}`;
}
