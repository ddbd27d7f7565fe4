/**
 * Why a client's transport connection ended, named from what happened on the wire: the TLS alert
 * or OpenSSL reason, whether the server sent a single byte, and the Noise handshake stage. The
 * result is a TransportFailureError whose `failure` says which case it is (stable, for programs)
 * and whose message says it in one line (for people): no OpenSSL error dump, no stack.
 * docs/ERRORS.md lists the cases.
 */
import { TransportError } from '@liaison/core';
import type { TransportKind } from './transport.js';

export const TransportFailure = {
  /** The transport closed after an exchange, or a server's accepted connection ended. */
  CLOSED: 'CLOSED',
  /** A socket error not named more precisely below (refused, reset, unreachable...). */
  FAILED: 'FAILED',
  /** Plain TCP: the server closed without sending a byte in answer to the preface (a TLS server does). */
  NO_ANSWER: 'NO_ANSWER',
  /** TLS: the server answered the TLS hello with something that is not TLS. */
  TLS_UNAVAILABLE: 'TLS_UNAVAILABLE',
  /** TLS: the server requires a client certificate and none was given (alert 116). */
  TLS_CLIENT_CERTIFICATE_REQUIRED: 'TLS_CLIENT_CERTIFICATE_REQUIRED',
  /** TLS: the server rejected the client certificate (unknown CA, bad, expired, revoked...). */
  TLS_CLIENT_CERTIFICATE_REJECTED: 'TLS_CLIENT_CERTIFICATE_REJECTED',
  /** TLS: this side did not accept the server's certificate (untrusted, wrong name, expired...). */
  TLS_SERVER_CERTIFICATE_REJECTED: 'TLS_SERVER_CERTIFICATE_REJECTED',
  /** TLS: another alert or handshake failure. */
  TLS_FAILED: 'TLS_FAILED',
  /** Noise IK: the server closed without answering the first handshake message: its key is not the pinned one. */
  NOISE_KEY_MISMATCH: 'NOISE_KEY_MISMATCH',
} as const;
export type TransportFailure = (typeof TransportFailure)[keyof typeof TransportFailure];

export class TransportFailureError extends TransportError {
  readonly failure: TransportFailure;

  constructor(failure: TransportFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.failure = failure;
  }
}

/** What the driver and the transport know when the transport closed. */
export interface CloseFacts {
  /** This side opened the connection (a client). */
  initiator: boolean;
  kind: TransportKind;
  /** The transport had opened (TCP connected, TLS handshake complete). */
  opened: boolean;
  /** Bytes received over the transport (after TLS), all of them. */
  bytesReceived: number;
  /** TLS: this side presented a client certificate. */
  clientCertificate: boolean;
  /** Noise: 'pending' while the handshake is not complete; 'ik' marks a pinned-key IK handshake. */
  noise: 'none' | 'pending' | 'pending-ik' | 'done';
}

interface NodeError extends Error {
  code?: string;
  /** OpenSSL's reason, e.g. "wrong version number" (Node sets it on TLS errors). */
  reason?: string;
}

// Node's codes for a server certificate the client's checks refused.
const SERVER_CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

// TLS alerts a server sends about the client's certificate (RFC 8446 6.2).
const CLIENT_CERTIFICATE_ALERTS = new Set([
  'BAD_CERTIFICATE',
  'UNSUPPORTED_CERTIFICATE',
  'CERTIFICATE_REVOKED',
  'CERTIFICATE_EXPIRED',
  'CERTIFICATE_UNKNOWN',
  'UNKNOWN_CA',
  'ACCESS_DENIED',
]);

export function classifyClose(error: Error | undefined, f: CloseFacts): TransportFailureError {
  const e = error as NodeError | undefined;
  const code = e?.code ?? '';
  const silent = f.opened && f.bytesReceived === 0 && (e === undefined || code === 'ECONNRESET');
  if (f.initiator && silent && f.noise === 'pending-ik') {
    // The responder drops an IK message it cannot decrypt without a word (PROTOCOL.md 20.3).
    return new TransportFailureError(
      TransportFailure.NOISE_KEY_MISMATCH,
      "the server's Noise key does not match the pinned key (or it is not a liaison Noise server): it closed the connection",
      { cause: e },
    );
  }
  if (f.initiator && silent && f.kind === 'tls' && f.clientCertificate) {
    // A Node TLS server that does not accept the certificate ends the connection after the
    // handshake without an alert: the first thing the client sees is the close.
    return new TransportFailureError(
      TransportFailure.TLS_CLIENT_CERTIFICATE_REJECTED,
      'the server closed the connection after the TLS handshake without answering: it did not accept the client certificate',
      { cause: e },
    );
  }
  if (f.initiator && silent && f.kind === 'tcp') {
    // A liaison server always answers a preface, even to refuse; a TLS server closes silently.
    return new TransportFailureError(
      TransportFailure.NO_ANSWER,
      'the server closed the connection without answering: it may speak TLS (use tls://)',
      { cause: e },
    );
  }
  if (e === undefined) return new TransportFailureError(TransportFailure.CLOSED, 'transport closed');
  if (f.initiator && f.kind === 'tls') {
    const tls = tlsFailure(e, code);
    if (tls) return tls;
  }
  return new TransportFailureError(TransportFailure.FAILED, `transport failed: ${e.reason ?? e.message}`, { cause: e });
}

function tlsFailure(e: NodeError, code: string): TransportFailureError | null {
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return new TransportFailureError(
      TransportFailure.TLS_UNAVAILABLE,
      'the server does not speak TLS (it answered in plaintext): use tcp://',
      { cause: e },
    );
  }
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code)?.[1];
  if (alert === 'CERTIFICATE_REQUIRED') {
    return new TransportFailureError(
      TransportFailure.TLS_CLIENT_CERTIFICATE_REQUIRED,
      'the server requires a client certificate (TLS alert: certificate required)',
      { cause: e },
    );
  }
  if (alert !== undefined && CLIENT_CERTIFICATE_ALERTS.has(alert)) {
    return new TransportFailureError(
      TransportFailure.TLS_CLIENT_CERTIFICATE_REJECTED,
      `the server rejected the client certificate (TLS alert: ${alertName(alert)})`,
      { cause: e },
    );
  }
  if (alert !== undefined) {
    return new TransportFailureError(TransportFailure.TLS_FAILED, `TLS failed: alert ${alertName(alert)}`, {
      cause: e,
    });
  }
  if (SERVER_CERTIFICATE_CODES.has(code)) {
    return new TransportFailureError(
      TransportFailure.TLS_SERVER_CERTIFICATE_REJECTED,
      `the server's certificate was not accepted: ${e.message}`,
      { cause: e },
    );
  }
  if (code.startsWith('ERR_SSL_')) {
    return new TransportFailureError(TransportFailure.TLS_FAILED, `TLS failed: ${e.reason ?? code}`, { cause: e });
  }
  return null;
}

/** OpenSSL's words for an alert: UNKNOWN_CA is "unknown ca". */
const alertName = (alert: string): string => alert.toLowerCase().replace(/_/g, ' ');
