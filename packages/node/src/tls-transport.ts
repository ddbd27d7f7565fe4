/**
 * TLS under a connection: the same byte pipe as TCP (a TLSSocket is a Socket), opened only once the
 * TLS handshake is complete, plus what TLS adds for authentication: the peer's certificate when
 * the peer presented one (mutual TLS on a server, always on a client).
 */
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { TcpTransport, type TransportKind } from './transport.js';

/** The parts of a peer certificate an authorisation decision or a log needs. */
export interface PeerCertificateInfo {
  /** Subject distinguished name fields (CN, O, ...). */
  subject: Record<string, string | string[]>;
  issuer: Record<string, string | string[]>;
  /** SHA-256 fingerprint, colon-separated hex (as Node prints it). */
  fingerprint256: string;
  serialNumber: string;
  validFrom: string;
  validTo: string;
  /** Whether the certificate chains to a trusted CA (the server's `ca` / the client's `ca`). */
  authorized: boolean;
  /** The DER encoding. */
  raw: Uint8Array;
}

export class TlsTransport extends TcpTransport {
  readonly #tls: TLSSocket;

  /** `connecting`: a client socket, opened at 'secureConnect'; a server's socket is already secure. */
  constructor(socket: TLSSocket, connecting: boolean) {
    super(socket, connecting ? 'secureConnect' : 'connect');
    this.#tls = socket;
  }

  override get kind(): TransportKind {
    return 'tls';
  }

  /** The peer's certificate, or null when it sent none. */
  get peerCertificate(): PeerCertificateInfo | null {
    return certificateInfo(this.#tls);
  }
}

export function certificateInfo(socket: TLSSocket): PeerCertificateInfo | null {
  const c: PeerCertificate = socket.getPeerCertificate();
  if (!c || Object.keys(c).length === 0 || !c.raw) return null;
  return {
    subject: { ...c.subject } as Record<string, string | string[]>,
    issuer: { ...c.issuer } as Record<string, string | string[]>,
    fingerprint256: c.fingerprint256,
    serialNumber: c.serialNumber,
    validFrom: c.valid_from,
    validTo: c.valid_to,
    authorized: socket.authorized,
    raw: new Uint8Array(c.raw),
  };
}
