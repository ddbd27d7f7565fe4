/**
 * Establishment: the responder's accept (with its extensions: dialogue tokens, named tokens,
 * recovery, credentials) and the initiator's handling of the ACCEPT or REFUSE that answers its
 * CONNECT. Owns `agreed`; creates the dialogue, the named-token requests and the resume
 * credentials. Refusing and the handshake deadline are phase.ts and timers.ts.
 */
import type { RefuseCode } from '../errors.js';
import { resumeKeyFrom } from '../recovery/proof.js';
import { type AcceptFrame, type Extension, ExtensionId, type Frame, FrameType } from '../wire/frame.js';
import { ackNow } from './ack.js';
import { checkUserData, invalid, type SessionContext, unexpected } from './context.js';
import { checkCredentials, credentialsOf, extensionValue, type PskBinding } from './credentials.js';
import { startDialogue } from './dialogue-port.js';
import { acceptedDialogue, dialogueAcceptExtensions } from './dialogue-setup.js';
import { type NamedTokenOffer, NamedTokenRequests } from './named-token-requests.js';
import { namedTokenOfferFrom, namedTokensExtension } from './named-tokens-session.js';
import { APPLICATION_EXTENSION_ID_MIN, agreedFromAccept, buildAccept, checkExtensions } from './negotiation.js';
import { close, opened } from './phase.js';
import { recoveryFromAccept } from './resume.js';
import { ResumeCredentials } from './resume-credentials.js';
import type { AgreedParameters, SessionState } from './types.js';

export interface AcceptOptions {
  namedTokens?: NamedTokenOffer;
  credentials?: Extension[] | ((binding: PskBinding) => Extension[]);
}

/** Responder: accepts the connect request. @throws UsageError unless awaiting a response. */
export function accept(
  c: SessionContext,
  userData: Uint8Array,
  extensions: Extension[],
  wantedTokens: number,
  options: AcceptOptions,
): void {
  const s = c.phase.state;
  if (s.name !== 'awaiting-response') throw invalid(c, 'accept');
  checkUserData(c, userData);
  checkExtensions(extensions);
  const credentials = options.credentials ?? [];
  if (Array.isArray(credentials)) checkCredentials(credentials);
  const all = [...extensions];
  const proposal = s.request.dialogue;
  const responderTokens = proposal.assign | (proposal.choose & wantedTokens);
  if (proposal.present) all.push(...dialogueAcceptExtensions(responderTokens, proposal.serial));
  if (options.namedTokens) {
    // This side answers the initiator's named-token requests (a registry stands behind it).
    c.tokens.offer = { ...options.namedTokens };
    all.push(namedTokensExtension(options.namedTokens));
  }
  const offer = c.recovery.offer;
  if (offer) {
    try {
      const key = resumeKeyFrom(c.live.host.agree(offer.keyShare, offer.peerPublicKey), offer.sessionId);
      c.recovery.credentials = new ResumeCredentials(offer.sessionId, key, offer.resumeWindowMs);
      const resumeWindow = new Uint8Array(4);
      new DataView(resumeWindow.buffer).setUint32(0, offer.resumeWindowMs);
      all.push(
        { id: ExtensionId.KEY_SHARE, value: offer.keyShare.publicKey },
        { id: ExtensionId.SESSION_ID, value: offer.sessionId },
        { id: ExtensionId.RESUME_WINDOW, value: resumeWindow },
      );
    } catch {
      // A peer key that fails the agreement: the session goes on without recovery.
    }
    c.recovery.offer = null;
  }
  if (typeof credentials === 'function') {
    const made = credentials({
      keyShare: extensionValue(all, ExtensionId.KEY_SHARE),
      sessionId: extensionValue(all, ExtensionId.SESSION_ID),
    });
    checkCredentials(made);
    all.push(...made);
  } else {
    all.push(...credentials);
  }
  establish(c, s.request.agreed);
  startDialogue(c, false, responderTokens, proposal.serial);
  c.live.host.sendControl(buildAccept(c.channel, s.request.agreed, c.limits, userData, all));
  opened(c);
}

/** Initiator, connecting: the answer to its CONNECT (ACCEPT or REFUSE); anything else is unexpected. */
export function receiveConnectAnswer(
  c: SessionContext,
  now: number,
  s: Extract<SessionState, { name: 'connecting' }>,
  f: Frame,
): void {
  if (f.type === FrameType.ACCEPT) return accepted(c, now, s, f);
  if (f.type === FrameType.REFUSE) {
    return close(c, now, { kind: 'refused', code: f.code as RefuseCode, userData: f.userData, undelivered: 0 });
  }
  throw unexpected(c, f);
}

function accepted(
  c: SessionContext,
  now: number,
  s: Extract<SessionState, { name: 'connecting' }>,
  f: AcceptFrame,
): void {
  const agreed = agreedFromAccept(s.connect, f);
  c.recovery.credentials = recoveryFromAccept(c, f.extensions);
  const offer = namedTokenOfferFrom(f.extensions);
  if (offer) c.tokens.requests = new NamedTokenRequests(offer);
  const dialogue = acceptedDialogue(s.connect.extensions, f.extensions);
  establish(c, agreed);
  startDialogue(c, true, dialogue.responderTokens, dialogue.serial);
  c.live.host.rttSample(now - s.since);
  opened(c);
  // Confirm the ACCEPT at once when the session can be resumed: until the responder hears
  // from this side it cannot tell a session this side has from a half-open one, and keeps
  // it parked only the handshake timeout after a break (issue 10.4).
  if (c.recovery.credentials) ackNow(c);
  c.live.host.emit({
    type: 'accepted',
    channel: c.channel,
    session: c.session,
    agreed: c.agreed as AgreedParameters,
    extensions: f.extensions.filter((e) => e.id >= APPLICATION_EXTENSION_ID_MIN),
    userData: f.userData,
    credentials: credentialsOf(f.extensions),
    binding: {
      keyShare: extensionValue(f.extensions, ExtensionId.KEY_SHARE),
      sessionId: extensionValue(f.extensions, ExtensionId.SESSION_ID),
    },
  });
}

function establish(c: SessionContext, agreed: AgreedParameters): void {
  c.agreed = agreed;
  c.send.tx.peerWindowLimit = agreed.peerInboundStreamBytes;
  c.live.host.established(c.session, agreed);
}
