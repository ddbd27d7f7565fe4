/**
 * Checks that a value read from a store is a SessionRecord this version knows, field by field,
 * before anything is built from it: a foreign, garbled or newer record is refused with
 * INVALID_RECORD naming the first field that is wrong. Checks shape and types (and that counts
 * are non-negative integers), not the protocol's arithmetic between fields.
 */
import { ErrorCode, UsageError } from '../errors.js';
import { SESSION_RECORD_VERSION, type SessionRecord } from './record.js';

type Check = (v: unknown, path: string) => void;

/** @throws UsageError INVALID_RECORD naming the field. */
export function checkRecord(value: unknown): SessionRecord {
  if (!isObject(value)) throw bad('record', 'not an object');
  if (value.v !== SESSION_RECORD_VERSION) throw bad('v', `version ${String(value.v)} is not ${SESSION_RECORD_VERSION}`);
  RECORD(value, 'record');
  return value as unknown as SessionRecord;
}

function bad(path: string, why: string): UsageError {
  return new UsageError(ErrorCode.INVALID_RECORD, `invalid session record: ${path}: ${why}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

const count: Check = (v, p) => {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw bad(p, 'not a non-negative integer');
};
const int: Check = (v, p) => {
  if (!Number.isSafeInteger(v)) throw bad(p, 'not an integer');
};
const num: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(p, 'not a finite number');
};
const bool: Check = (v, p) => {
  if (typeof v !== 'boolean') throw bad(p, 'not a boolean');
};
const str: Check = (v, p) => {
  if (typeof v !== 'string') throw bad(p, 'not a string');
};
const bytes: Check = (v, p) => {
  if (!(v instanceof Uint8Array)) throw bad(p, 'not bytes (Uint8Array)');
};
const sized =
  (n: number): Check =>
  (v, p) => {
    bytes(v, p);
    if ((v as Uint8Array).byteLength !== n) throw bad(p, `not ${n} bytes`);
  };
const nullable =
  (c: Check): Check =>
  (v, p) => {
    if (v !== null) c(v, p);
  };
const oneOf =
  (...values: unknown[]): Check =>
  (v, p) => {
    if (!values.includes(v)) throw bad(p, `not one of ${values.join(', ')}`);
  };
const array =
  (c: Check): Check =>
  (v, p) => {
    if (!Array.isArray(v)) throw bad(p, 'not an array');
    for (const [i, x] of v.entries()) c(x, `${p}[${i}]`);
  };
const shape =
  (fields: Record<string, Check>): Check =>
  (v, p) => {
    if (!isObject(v)) throw bad(p, 'not an object');
    for (const [k, c] of Object.entries(fields)) {
      if (!(k in v)) throw bad(`${p}.${k}`, 'missing');
      c(v[k], `${p}.${k}`);
    }
  };
/** A union told apart by one field. */
const tagged =
  (tag: string, variants: Record<string, Record<string, Check>>): Check =>
  (v, p) => {
    if (!isObject(v)) throw bad(p, 'not an object');
    const fields = variants[String(v[tag])];
    if (fields === undefined) throw bad(`${p}.${tag}`, `not one of ${Object.keys(variants).join(', ')}`);
    shape(fields)(v, p);
  };

const RESYNC = oneOf('abandon', 'restart', 'set');
const OFFER = shape({ nameBytesMax: count, tokensPerSessionMax: count });
const ASSEMBLY = shape({ parts: array(bytes), credit: count });

const RECORD: Check = shape({
  initiator: bool,
  state: tagged('name', {
    open: {},
    releasing: { since: num, answeredCollision: bool },
    'release-requested': { since: num },
    disconnecting: { since: num },
  }),
  disconnectSeq: int,
  agreed: shape({
    version: count,
    units: count,
    peerFrameBytesMax: count,
    peerMessageBytesMax: count,
    peerInboundStreamBytes: count,
    keepaliveIntervalMs: count,
    idleTimeoutMs: count,
    retransmitBufferBytes: count,
  }),
  send: shape({
    queue: array(
      tagged('kind', {
        normal: { data: bytes, offset: count },
        typed: { data: bytes, offset: count },
        finish: { userData: bytes },
        disconnect: { userData: bytes },
        'not-finished': { userData: bytes },
        dialogue: { type: count, body: bytes },
        'named-token': { type: count, body: bytes },
      }),
    ),
    expedited: array(bytes),
    sentSeq: count,
    peerReceived: count,
    sentFlowBytes: count,
    peerWindowLimit: count,
    acked: count,
    sent: array(
      shape({
        seq: count,
        type: count,
        end: bool,
        body: bytes,
        message: (v, p) => {
          if (v !== null && v !== 'body') bytes(v, p);
        },
      }),
    ),
    deliveryKnown: bool,
  }),
  receive: shape({
    windowBytes: count,
    receivedSeq: count,
    ackedReceived: count,
    receivedFlowBytes: count,
    consumedBytes: count,
    advertisedLimit: count,
    unackedBytes: count,
    reportedCredit: count,
    discardRest: bool,
    assembling: nullable(shape({ normal: ASSEMBLY, typed: ASSEMBLY })),
  }),
  recovery: shape({
    sessionId: sized(16),
    key: sized(32),
    resumeWindowMs: nullable(count),
    suspendedSince: nullable(num),
    credentialsExpireAt: nullable(num),
    peerHeard: bool,
  }),
  dialogue: shape({
    mine: count,
    next: (v, p) => {
      array(count)(v, p);
      if ((v as unknown[]).length !== 2) throw bad(p, 'not two serials');
    },
    floor: count,
    pendingMajor: nullable(shape({ serial: count, mine: bool, activityEnd: bool })),
    lastMinorSent: int,
    minorStart: count,
    staleMinor: nullable(shape({ low: int, high: int })),
    minorConfirmedByPeer: int,
    lastMinorReceived: int,
    minorConfirmedByMe: int,
    awaiting: nullable(
      tagged('what', {
        'resync-ack': { kind: RESYNC, serial: count, tokens: count },
        'interrupt-ack': {},
        'discard-ack': {},
      }),
    ),
    indicated: nullable(shape({ kind: RESYNC, serial: count, tokens: count })),
    exception: bool,
    activity: nullable(shape({ id: bytes, serial: count })),
    capability: oneOf('mine', 'peer', null),
  }),
  namedTokens: shape({
    offer: nullable(OFFER),
    requests: nullable(
      shape({
        offer: OFFER,
        names: array(shape({ name: str, held: bool, unanswered: array(bool) })),
      }),
    ),
  }),
  stats: shape({
    messagesSent: count,
    messagesReceived: count,
    bytesSent: count,
    bytesReceived: count,
    resumes: count,
    framesRetransmitted: count,
    bytesRetransmitted: count,
    duplicatesSuppressed: count,
    messagesPurged: count,
    messagesDiscarded: count,
  }),
});
