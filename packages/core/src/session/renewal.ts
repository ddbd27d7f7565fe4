/**
 * Credential renewal on an established session: the initiator sends new credentials
 * (RENEW_CREDENTIALS), the responder's application checks them and answers (CREDENTIALS_RENEWED),
 * moving `recovery.credentialsExpireAt` when it accepts. Expiry itself is enforced by timers.ts.
 * Both frames are control frames, outside the reliable stream.
 */

import { type CredentialsRenewedFrame, type Extension, FrameType, type RenewCredentialsFrame } from '../wire/frame.js';
import { invalid, isEstablished, type SessionContext, unexpected, wake } from './context.js';
import { checkCredentials, credentialsOf } from './credentials.js';

/** Initiator: sends new credentials. @throws UsageError unless the initiator and established, or bad credentials. */
export function renewCredentials(c: SessionContext, requestId: number, credentials: Extension[]): void {
  if (!c.phase.initiator || !isEstablished(c)) throw invalid(c, 'renew credentials');
  checkCredentials(credentials);
  c.live.host.sendControl({ type: FrameType.RENEW_CREDENTIALS, channel: c.channel, requestId, credentials });
  wake(c);
}

/** Responder: answers a `renewal-requested` event. @throws UsageError unless the responder and established. */
export function answerRenewal(c: SessionContext, requestId: number, code: number, message: string): void {
  if (c.phase.initiator || !isEstablished(c)) throw invalid(c, 'answer a renewal');
  c.live.host.sendControl({ type: FrameType.CREDENTIALS_RENEWED, channel: c.channel, requestId, code, message });
  wake(c);
}

/** RENEW_CREDENTIALS reaches the responder, CREDENTIALS_RENEWED the initiator, on an established session. */
export function receiveRenewal(c: SessionContext, f: RenewCredentialsFrame | CredentialsRenewedFrame): void {
  const toInitiator = f.type === FrameType.CREDENTIALS_RENEWED;
  if (!isEstablished(c) || toInitiator !== c.phase.initiator) throw unexpected(c, f);
  if (f.type === FrameType.RENEW_CREDENTIALS) {
    const credentials = credentialsOf(f.credentials);
    c.live.host.emit({
      type: 'renewal-requested',
      channel: c.channel,
      session: c.session,
      requestId: f.requestId,
      credentials,
    });
  } else {
    const { requestId, code, message } = f;
    c.live.host.emit({ type: 'renewal-answered', channel: c.channel, session: c.session, requestId, code, message });
  }
}
