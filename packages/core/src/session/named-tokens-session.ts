/**
 * Named tokens on one session: the initiator's requests to the responder's registry (acquire,
 * release) and the responder's answers (grant, refuse), sequenced in order with the data.
 * Owns `tokens`: the initiator's NamedTokenRequests, or the offer the responder made. The
 * registry itself is the application's (NamedTokenService); this side only carries the frames.
 */
import { AbortCode, ErrorCode, ProtocolError, UsageError } from '../errors.js';
import { namedTokenPayload } from '../wire/codec.js';
import {
  type Extension,
  ExtensionId,
  FrameType,
  frameTypeName,
  NAMED_TOKEN_NAME_BYTES_CEILING,
  type NamedTokenFrame,
  type NamedTokenRefuseFrame,
} from '../wire/frame.js';
import { countReceived } from './ack.js';
import { canSendData, enqueue, invalid, type SessionContext } from './context.js';
import type { NamedTokenOffer, NamedTokenRequests } from './named-token-requests.js';
import { checkTokenName, tokenNameBytes } from './named-tokens.js';

/** Initiator: names held now (granted by the responder's registry and not released). */
export function heldNamedTokens(c: SessionContext): string[] {
  if (c.phase.state.name === 'closed') return []; // a closed session holds nothing
  return c.tokens.requests?.held ?? [];
}

/** What the responder offered (initiator) or this side offered (responder); null when none. */
export function namedTokenOffer(c: SessionContext): Readonly<NamedTokenOffer> | null {
  return c.tokens.requests?.offer ?? c.tokens.offer;
}

/** Initiator: asks the responder's registry for `name` (NAMED_TOKEN_ACQUIRE, in order with data). */
export function acquireNamedToken(c: SessionContext, name: string): void {
  const requests = tokenRequests(c, 'acquire a named token');
  checkTokenName(name, requests.offer.nameBytesMax);
  requests.request(name);
  sendNamedToken(c, { type: FrameType.NAMED_TOKEN_ACQUIRE, channel: c.channel, name });
}

/** Initiator: gives `name` back, or withdraws the request for it still unanswered. */
export function releaseNamedToken(c: SessionContext, name: string): 'released' | 'withdrawn' {
  const outcome = tokenRequests(c, 'release a named token').release(name);
  sendNamedToken(c, { type: FrameType.NAMED_TOKEN_RELEASE, channel: c.channel, name });
  return outcome;
}

/**
 * Responder: the registry's answer for `name`, a grant or (with `code`) a refusal. False, sending
 * nothing, when the session can no longer send. @throws UsageError NAMED_TOKENS_UNAVAILABLE.
 */
export function answerNamedToken(c: SessionContext, name: string, refuseCode: number | null): boolean {
  if (c.tokens.offer === null) throw new UsageError(ErrorCode.NAMED_TOKENS_UNAVAILABLE, 'no named tokens offered');
  if (!canSendData(c)) return false;
  if (refuseCode === null) sendNamedToken(c, { type: FrameType.NAMED_TOKEN_GRANT, channel: c.channel, name });
  else sendNamedToken(c, { type: FrameType.NAMED_TOKEN_REFUSE, channel: c.channel, name, code: refuseCode });
  return true;
}

/** Responder: a request for its registry. Initiator: the registry's answer. */
export function receiveNamedToken(c: SessionContext, now: number, f: NamedTokenFrame | NamedTokenRefuseFrame): void {
  const channel = c.channel;
  const session = c.session;
  if (f.type === FrameType.NAMED_TOKEN_ACQUIRE || f.type === FrameType.NAMED_TOKEN_RELEASE) {
    const offer = c.tokens.offer;
    if (offer === null) {
      throw new ProtocolError(AbortCode.UNEXPECTED_FRAME, `${frameTypeName(f.type)} but no named tokens offered`);
    }
    if (tokenNameBytes(f.name) > offer.nameBytesMax) {
      throw new ProtocolError(AbortCode.LIMIT_EXCEEDED, `token name over the offered ${offer.nameBytesMax} bytes`);
    }
    countReceived(c, now);
    const type = f.type === FrameType.NAMED_TOKEN_ACQUIRE ? 'named-token-acquire' : 'named-token-release';
    c.live.host.emit({ type, channel, session, name: f.name });
    return;
  }
  const requests = c.tokens.requests;
  if (requests === null) {
    throw new ProtocolError(AbortCode.UNEXPECTED_FRAME, `${frameTypeName(f.type)} but no named tokens offered`);
  }
  const outcome = f.type === FrameType.NAMED_TOKEN_GRANT ? requests.granted(f.name) : requests.refused(f.name);
  countReceived(c, now);
  if (outcome === 'granted') c.live.host.emit({ type: 'named-token-granted', channel, session, name: f.name });
  else if (outcome === 'refused' && f.type === FrameType.NAMED_TOKEN_REFUSE) {
    c.live.host.emit({ type: 'named-token-refused', channel, session, name: f.name, code: f.code });
  }
}

/** The NAMED_TOKENS extension value a responder's ACCEPT carries for its offer. */
export function namedTokensExtension(offer: NamedTokenOffer): Extension {
  const value = new Uint8Array(4);
  const view = new DataView(value.buffer);
  view.setUint16(0, offer.nameBytesMax);
  view.setUint16(2, offer.tokensPerSessionMax);
  return { id: ExtensionId.NAMED_TOKENS, value };
}

/** The responder's NAMED_TOKENS offer in an ACCEPT, or null (absent, or unusable values). */
export function namedTokenOfferFrom(extensions: Extension[]): NamedTokenOffer | null {
  const value = extensions.find((e) => e.id === ExtensionId.NAMED_TOKENS)?.value;
  if (value?.byteLength !== 4) return null;
  const view = new DataView(value.buffer, value.byteOffset, 4);
  const nameBytesMax = Math.min(view.getUint16(0), NAMED_TOKEN_NAME_BYTES_CEILING);
  const tokensPerSessionMax = view.getUint16(2);
  return nameBytesMax > 0 && tokensPerSessionMax > 0 ? { nameBytesMax, tokensPerSessionMax } : null;
}

function tokenRequests(c: SessionContext, what: string): NamedTokenRequests {
  const requests = c.tokens.requests;
  if (requests === null) {
    throw new UsageError(
      ErrorCode.NAMED_TOKENS_UNAVAILABLE,
      `cannot ${what}: the peer offers no named tokens (only an initiator asks, and only a server with a registry offers them)`,
    );
  }
  if (!canSendData(c)) throw invalid(c, what);
  return requests;
}

function sendNamedToken(c: SessionContext, f: NamedTokenFrame | NamedTokenRefuseFrame): void {
  enqueue(c, { kind: 'named-token', type: f.type, body: namedTokenPayload(f) });
}
