/**
 * Server side of a credentials renewal inside a live session: the same `authenticate` hook that
 * let the session in decides, and a renewal may extend the session's life but never change who
 * it belongs to (another principal is FORBIDDEN). A refusal leaves the old expiry in force.
 */
import { type AgreedParameters, type Extension, RefuseCode, unitNames } from '@liaison/core';
import { type Authenticator, isRefusal, type Principal, principalProblem, readCredentials } from './auth.js';
import type { ConnectionDriver } from './driver.js';
import type { PeerCertificateInfo } from './tls-transport.js';
import type { TransportKind } from './transport.js';

/** The server's per-address rate limit, as renewals see it (a failed renewal counts like a failed login). */
export interface RenewalGuard {
  mayTry(driver: ConnectionDriver): boolean;
  failed(driver: ConnectionDriver): void;
}

export interface RenewalContext {
  /** false: the address is out of attempts; refused without asking the hook. */
  mayTry(): boolean;
  failed(): void;
  remoteAddress: string;
  remotePort: number;
  transport: TransportKind;
  peerCertificate: PeerCertificateInfo | null;
  agreed: AgreedParameters | null;
  channel: number;
}

export interface RenewalVerdict {
  /** 0 when accepted (then `principal` is the renewed one), else a RefuseCode. */
  code: number;
  message: string;
  principal: Principal | null;
}

export async function renewalVerdict(
  authenticate: Authenticator | null,
  current: Principal | null,
  credentials: Extension[],
  ctx: RenewalContext,
): Promise<RenewalVerdict> {
  if (!authenticate || !current) {
    return { code: RefuseCode.REJECTED, message: 'this session was not authenticated', principal: null };
  }
  if (!ctx.mayTry()) return { code: RefuseCode.RATE_LIMITED, message: 'too many failed attempts', principal: null };
  const creds = readCredentials(credentials);
  if (creds.type !== 'token')
    return { code: RefuseCode.UNAUTHENTICATED, message: 'a renewal carries a token', principal: null };
  let result: Awaited<ReturnType<Authenticator>>;
  try {
    result = await authenticate(creds, {
      remoteAddress: ctx.remoteAddress,
      remotePort: ctx.remotePort,
      transport: ctx.transport,
      peerCertificate: ctx.peerCertificate,
      requestedUnits: ctx.agreed ? unitNames(ctx.agreed.units) : [],
      versionMin: ctx.agreed?.version ?? 1,
      versionMax: ctx.agreed?.version ?? 1,
      channel: ctx.channel,
      proposedUnits: ctx.agreed?.units ?? 0,
      challenge: null,
      keyShare: null,
      renewal: true,
    });
  } catch {
    result = null;
  }
  if (isRefusal(result)) {
    ctx.failed();
    return { code: RefuseCode.UNAUTHENTICATED, message: 'credentials not accepted', principal: null };
  }
  const problem = principalProblem(result);
  if (problem) return { code: RefuseCode.REJECTED, message: problem, principal: null };
  if (result.id !== current.id) {
    return { code: RefuseCode.FORBIDDEN, message: 'a renewal cannot change the principal', principal: null };
  }
  return { code: 0, message: '', principal: result };
}
