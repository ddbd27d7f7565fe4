/**
 * Credential renewal in a live Node session. Client: renewCredentials() sends a new token and
 * waits for the server's answer. Server: the principal the `authenticate` hook let in, its
 * expiry as an engine deadline, and the answer to the client's renewals (renewal.ts decides).
 */
import { ErrorCode, type Extension, LiaisonError, RefuseCode, SessionClosedError, UsageError } from '@liaison/core';
import { type Authenticator, type Principal, tokenCredentials } from './auth.js';
import { now } from './driver.js';
import { type RenewalGuard, renewalVerdict } from './renewal.js';
import type { SessionView } from './session-common.js';
import type { SessionEmitter } from './session-types.js';
import type { PeerCertificateInfo } from './tls-transport.js';

/** What renewal needs of its session (the Session itself): the peer's certificate and the renewed event. */
export interface RenewalSession extends Pick<SessionEmitter, 'emit'> {
  readonly peerCertificate: PeerCertificateInfo | null;
}

export class SessionRenewal {
  readonly #live: SessionView;
  readonly #session: RenewalSession;
  /** Whether the session is open (its lifecycle). */
  readonly #lifecycle: { readonly isOpen: boolean };
  #principal: Principal | null = null;
  /** Server: the hook that let this session in, asked again for renewals. */
  #authenticate: Authenticator | null = null;
  /** Server: the per-address rate limit renewals count against. */
  #guard: RenewalGuard | null = null;
  /** Server: a renewal is being checked (another one meanwhile is answered CONGESTION). */
  #inFlight = false;
  /** Client: renewals sent and not answered yet, by request id. */
  readonly #pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  #nextId = 1;

  constructor(live: SessionView, session: RenewalSession, lifecycle: { readonly isOpen: boolean }) {
    this.#live = live;
    this.#session = session;
    this.#lifecycle = lifecycle;
  }

  get principal(): Principal | null {
    return this.#principal;
  }

  /** Server: the session was authenticated; its credentials' expiry becomes a core deadline. */
  authenticated(principal: Principal, authenticate: Authenticator | null, guard: RenewalGuard | null): void {
    this.#principal = principal;
    this.#authenticate = authenticate;
    this.#guard = guard;
    this.#live.core.credentialsExpireAt = expiryDeadline(principal);
    this.#live.driver.scheduleFlush();
  }

  /** Client: sends `token` as the session's new credentials; resolves when the server accepts them. */
  renew(token: string): Promise<void> {
    const { core, reason } = this.#live;
    if (reason) return Promise.reject(new SessionClosedError(reason));
    if (!this.#lifecycle.isOpen || core.link !== 'attached') {
      return Promise.reject(
        new UsageError(ErrorCode.INVALID_STATE, 'renew credentials once the session is open and attached'),
      );
    }
    try {
      const credentials = tokenCredentials(token);
      const id = this.#nextId++;
      core.renewCredentials(now(), id, credentials);
      const answer = new Promise<void>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
      this.#live.driver.scheduleFlush();
      return answer;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Client: the server answered renewal `requestId` (code 0: accepted). */
  answered(requestId: number, code: number, message: string): void {
    const pending = this.#pending.get(requestId);
    this.#pending.delete(requestId);
    if (code === 0) pending?.resolve();
    else pending?.reject(new LiaisonError(ErrorCode.RENEWAL_REFUSED, `renewal refused: ${message}`));
  }

  /** Server: checks renewed credentials with the hook that let the session in, then answers. */
  async requested(requestId: number, credentials: Extension[]): Promise<void> {
    if (this.#inFlight) {
      // One verification at a time per session: a flood of renewals holds no more than one.
      this.#live.core.answerRenewal(now(), requestId, RefuseCode.CONGESTION, 'a renewal is already being checked');
      this.#live.driver.scheduleFlush();
      return;
    }
    this.#inFlight = true;
    try {
      await this.#check(requestId, credentials);
    } finally {
      this.#inFlight = false;
    }
  }

  async #check(requestId: number, credentials: Extension[]): Promise<void> {
    const driver = this.#live.driver;
    const t = driver.transport;
    const guard = this.#guard;
    const verdict = await renewalVerdict(this.#authenticate, this.#principal, credentials, {
      mayTry: guard ? () => guard.mayTry(driver) : () => true,
      failed: () => guard?.failed(driver),
      remoteAddress: t.remoteAddress,
      remotePort: t.remotePort,
      transport: t.kind,
      peerCertificate: this.#session.peerCertificate,
      agreed: this.#live.core.agreed,
      channel: this.#live.core.channel,
    });
    const core = this.#live.core;
    if (core.state === 'closed' || core.link !== 'attached') return; // the client renews again
    if (verdict.principal) {
      this.#principal = verdict.principal;
      core.credentialsExpireAt = expiryDeadline(verdict.principal);
    }
    core.answerRenewal(now(), requestId, verdict.code, verdict.message);
    this.#live.driver.scheduleFlush();
    if (verdict.principal) this.#session.emit('credentials-renewed', verdict.principal);
  }

  /** Client: renewals not answered yet reject with `error` (the connection broke, or the session ended). */
  fail(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
  }
}

/** A principal's wall-clock expiry as a deadline on the driver's monotonic clock (the core has no clock). */
function expiryDeadline(principal: Principal): number {
  return principal.expiresAt === undefined ? Number.POSITIVE_INFINITY : now() + (principal.expiresAt - Date.now());
}
