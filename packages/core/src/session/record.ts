/**
 * The session's resumable state as one plain, versioned record: what a store keeps so that a
 * suspended session can be resumed by its peer in another process (issue 11). Only numbers,
 * strings, booleans, null, arrays, plain objects and Uint8Array, so a store can encode it as JSON
 * (bytes as base64) or msgpack.
 *
 * Theory of operation
 * - `captureRecord` reads a SessionContext; `restoreContext` writes one, in the suspended link
 *   state (as after a transport break), ready for the peer's RESUME. Nothing else is kept: the
 *   host, timers, backpressure, the pacing of a resumed link and the duplicates to drop are reset
 *   by the next resume, and a resume attempt's challenge belongs to that attempt only.
 * - Times (`state.since`, `suspendedSince`, `credentialsExpireAt`) are on the engine clock of the
 *   process that recorded them (the `now` its driver passes); a store moving a record to another
 *   process shifts them to that clock. "Never" is null (JSON has no Infinity).
 * - Version rule: `v` changes whenever a field is added, removed or changes meaning; a reader
 *   refuses a version it does not know (INVALID_RECORD) rather than guess, and a newer reader
 *   migrates older versions explicitly.
 * - Bytes in a captured record are views of the session's own buffers, which are never written
 *   to: encode the record, never mutate it. A restored session copies nothing either.
 */
import type { SentFrame } from '../recovery/retransmit.js';
import type { FrameType } from '../wire/frame.js';
import type { SessionContext } from './context.js';
import type { DialogueSnapshot } from './dialogue.js';
import { restoreDialogue } from './dialogue-port.js';
import { type NamedTokenOffer, NamedTokenRequests } from './named-token-requests.js';
import { ResumeCredentials } from './resume-credentials.js';
import type { Outgoing } from './send-queue.js';
import type { AgreedParameters, SessionStats } from './types.js';

export const SESSION_RECORD_VERSION = 1;

/** The phases a record can hold: an established session. */
export type RecordState =
  | { name: 'open' }
  | { name: 'releasing'; since: number; answeredCollision: boolean }
  | { name: 'release-requested'; since: number }
  | { name: 'disconnecting'; since: number };

/** A sequenced frame sent and not acknowledged; `message` 'body' when the frame is the whole message. */
export interface RecordSentFrame {
  seq: number;
  type: number;
  end: boolean;
  body: Uint8Array;
  message: Uint8Array | 'body' | null;
}

export interface SessionRecord {
  /** The record's version (SESSION_RECORD_VERSION). */
  v: 1;
  /** This side opened the session. */
  initiator: boolean;
  /** The phase (established only) and what it carries. */
  state: RecordState;
  /** The number of the DISCONNECT sent, once sent (-1 before). */
  disconnectSeq: number;
  /** Values both sides agreed at establishment. */
  agreed: AgreedParameters;
  send: {
    /** Sequenced items accepted and not yet sent, in order (`offset`: bytes of a message already sent). */
    queue: Outgoing[];
    /** Expedited messages not yet sent, oldest first. */
    expedited: Uint8Array[];
    /** Sequenced frames sent (the number of the last one). */
    sentSeq: number;
    /** The peer's acknowledged count. */
    peerReceived: number;
    /** Charged bytes of flow-controlled frames sent. */
    sentFlowBytes: number;
    /** The highest window limit the peer advertised. */
    peerWindowLimit: number;
    /** The retransmit buffer's acknowledged count. */
    acked: number;
    /** Sent and unacknowledged frames, oldest first: what a resume sends again. */
    sent: RecordSentFrame[];
    /** The peer proved how much it received. */
    deliveryKnown: boolean;
  };
  receive: {
    /** The window this side grants, in charged bytes (receiveWindowBytes when it was established). */
    windowBytes: number;
    /** Sequenced frames received. */
    receivedSeq: number;
    /** The count the last ACK carried. */
    ackedReceived: number;
    /** Charged bytes of flow-controlled frames received. */
    receivedFlowBytes: number;
    /** Charged bytes the application consumed. */
    consumedBytes: number;
    /** The highest window limit advertised to the peer. */
    advertisedLimit: number;
    /** Charged bytes received since the last ACK. */
    unackedBytes: number;
    /** Credit reported to the connection. */
    reportedCredit: number;
    /** A normal message is being discarded (X.225 purge). */
    discardRest: boolean;
    /** Fragments of messages being reassembled, and the window credit they hold; null if never any. */
    assembling: Record<'normal' | 'typed', { parts: Uint8Array[]; credit: number }> | null;
  };
  recovery: {
    /** The session id a RESUME names (16 bytes). */
    sessionId: Uint8Array;
    /** The resume key agreed at establishment (secret: a store encrypts it). */
    key: Uint8Array;
    /** The responder's resume window as announced, or null. */
    resumeWindowMs: number | null;
    /** When the current suspension began, or null when the session was attached. */
    suspendedSince: number | null;
    /** When the credentials expire, or null for never. */
    credentialsExpireAt: number | null;
    /** Responder: the initiator was heard after the ACCEPT. */
    peerHeard: boolean;
  };
  /** Tokens, sync points and activities. */
  dialogue: DialogueSnapshot;
  namedTokens: {
    /** Responder: what this side offered, or null. */
    offer: NamedTokenOffer | null;
    /** Initiator: the responder's offer and each name held or asked for, or null when none was offered. */
    requests: {
      offer: NamedTokenOffer;
      names: { name: string; held: boolean; unanswered: boolean[] }[];
    } | null;
  };
  /** The session's counters. */
  stats: SessionStats;
}

/** The record of an established session's context (the caller checked the phase). */
export function captureRecord(c: SessionContext, state: RecordState): SessionRecord {
  const credentials = c.recovery.credentials as ResumeCredentials;
  const tx = c.send.tx;
  const rx = c.rx;
  const queued = c.send.queue.snapshot();
  const sent = tx.sent.snapshot();
  const link = c.recovery.link;
  const requests = c.tokens.requests;
  return {
    v: SESSION_RECORD_VERSION,
    initiator: c.phase.initiator,
    state: { ...state } as RecordState,
    disconnectSeq: c.phase.disconnectSeq,
    agreed: { ...(c.agreed as AgreedParameters) },
    send: {
      queue: queued.items.map((item) => ({ ...item })),
      expedited: queued.expedited,
      sentSeq: tx.sentSeq,
      peerReceived: tx.peerReceived,
      sentFlowBytes: tx.sentFlowBytes,
      peerWindowLimit: tx.peerWindowLimit,
      acked: sent.acked,
      sent: sent.frames.map((f) => ({
        seq: f.seq,
        type: f.type,
        end: f.end,
        body: f.body,
        message: f.message !== null && sameBytes(f.message, f.body) ? 'body' : f.message,
      })),
      deliveryKnown: c.send.deliveryKnown,
    },
    receive: {
      windowBytes: rx.windowBytes,
      receivedSeq: rx.receivedSeq,
      ackedReceived: rx.ackedReceived,
      receivedFlowBytes: rx.receivedFlowBytes,
      consumedBytes: rx.consumedBytes,
      advertisedLimit: rx.advertisedLimit,
      unackedBytes: rx.unackedBytes,
      reportedCredit: rx.reportedCredit,
      discardRest: rx.discardRest,
      assembling: rx.assemblySnapshot(),
    },
    recovery: {
      sessionId: credentials.sessionId,
      key: credentials.key,
      resumeWindowMs: credentials.resumeWindowMs,
      suspendedSince: link.name === 'attached' ? null : link.since,
      credentialsExpireAt: finiteOrNull(c.recovery.credentialsExpireAt),
      peerHeard: c.recovery.peerHeard,
    },
    dialogue: (c.dialogue as NonNullable<SessionContext['dialogue']>).snapshot(),
    namedTokens: {
      offer: c.tokens.offer && { ...c.tokens.offer },
      requests: requests && { offer: { ...requests.offer }, names: requests.snapshot() },
    },
    stats: { ...c.stats },
  };
}

/**
 * Writes a checked record into a fresh context (created in the record's state, attached to the
 * table's host): the session is then suspended since `suspendedSince`, or since `now`.
 */
export function restoreContext(c: SessionContext, r: SessionRecord, now: number): void {
  c.agreed = { ...r.agreed };
  c.phase.disconnectSeq = r.disconnectSeq;
  c.send.queue.restore(
    r.send.queue.map((item) => ({ ...item })),
    r.send.expedited,
  );
  const tx = c.send.tx;
  tx.sentSeq = r.send.sentSeq;
  tx.peerReceived = r.send.peerReceived;
  tx.sentFlowBytes = r.send.sentFlowBytes;
  tx.peerWindowLimit = r.send.peerWindowLimit;
  tx.sent.restore(
    r.send.acked,
    r.send.sent.map(
      (f): SentFrame => ({
        seq: f.seq,
        type: f.type as FrameType,
        end: f.end,
        body: f.body,
        message: f.message === 'body' ? f.body : f.message,
      }),
    ),
  );
  c.send.deliveryKnown = r.send.deliveryKnown;
  const rx = c.rx;
  rx.receivedSeq = r.receive.receivedSeq;
  rx.ackedReceived = r.receive.ackedReceived;
  rx.receivedFlowBytes = r.receive.receivedFlowBytes;
  rx.consumedBytes = r.receive.consumedBytes;
  rx.advertisedLimit = r.receive.advertisedLimit;
  rx.unackedBytes = r.receive.unackedBytes;
  rx.reportedCredit = r.receive.reportedCredit;
  rx.discardRest = r.receive.discardRest;
  rx.restoreAssembly(r.receive.assembling);
  const rec = r.recovery;
  c.recovery.credentials = new ResumeCredentials(rec.sessionId, rec.key, rec.resumeWindowMs);
  c.recovery.link = { name: 'suspended', since: rec.suspendedSince ?? now };
  c.recovery.credentialsExpireAt = rec.credentialsExpireAt ?? Number.POSITIVE_INFINITY;
  c.recovery.peerHeard = rec.peerHeard;
  restoreDialogue(c, r.dialogue);
  c.tokens.offer = r.namedTokens.offer && { ...r.namedTokens.offer };
  const req = r.namedTokens.requests;
  c.tokens.requests = req && NamedTokenRequests.restore({ ...req.offer }, req.names);
  Object.assign(c.stats, r.stats);
}

function finiteOrNull(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;
}
