/**
 * The X.225 dialogue machine of one session: tokens, synchronization points, resynchronization,
 * exception reports and activities (docs/ARCHITECTURE.md, "Dialogue").
 *
 * Theory of operation
 * - Every dialogue frame is sequenced in the session's reliable stream, like data: a resume
 *   replays it exactly once, so the token and serial state of both sides never diverges.
 * - A token is held by exactly one side or unavailable (not selected by the agreed units). This
 *   side's view: `#mine` are the tokens it holds; every other available token is the peer's (held,
 *   or on its way there in a GIVE frame). Giving moves a token out of `#mine` when the frame is
 *   queued; receiving moves it in when the frame arrives: at no instant do both sides hold it.
 * - Commands check their X.225 preconditions and throw a UsageError (TOKEN_NOT_HELD,
 *   INVALID_STATE, UNIT_NOT_SELECTED) before anything is queued. Frames from the peer are checked
 *   against the same rules from the peer's side; a violation is a ProtocolError (provider abort).
 * - Serial numbers: one counter V(M) shared by both directions; with symmetric synchronization
 *   each direction has its own. A major sync (or activity end) must be confirmed before either
 *   side sends normal data or another sync point. `#floor` is the lowest serial a resynchronize
 *   restart may go back to: one past the last confirmed major sync point.
 * - Resynchronize, activity interrupt and discard purge data in transit: the requester drops its
 *   unsent normal data and discards what arrives until the answer; the responder drops its unsent
 *   normal data when the request arrives. Counted in the session's stats.
 * The machine holds no clock and does no I/O; the session supplies the host below.
 */
import { AbortCode, ErrorCode, ProtocolError, UsageError } from '../errors.js';
import { hasUnit, Unit } from '../units.js';
import { ACTIVITY_ID_BYTES_MAX, type DialogueFrame, type DialogueFrameType, FrameType } from '../wire/frame.js';

export const Token = { data: 0x01, minor: 0x02, major: 0x04, release: 0x08 } as const;
export type TokenName = keyof typeof Token;
export const TOKEN_NAMES: readonly TokenName[] = ['data', 'minor', 'major', 'release'];
/** Serial numbers are u32 on the wire. */
export const SERIAL_MAX = 0xffff_ffff;

export type ResyncKind = 'abandon' | 'restart' | 'set';
const RESYNC_KINDS: readonly ResyncKind[] = ['restart', 'set', 'abandon'];
/**
 * Collision rule (X.225 resynchronize collisions): abandon beats set beats restart; of two
 * restarts the lower serial wins; otherwise (equal kinds and serials) the initiator wins.
 */
const RESYNC_RANK: Record<ResyncKind, number> = { restart: 0, set: 1, abandon: 2 };

/** The frames that take a serial number (X.225 MIP, MAP, AE). */
const SYNC_POINTS: ReadonlySet<number> = new Set([FrameType.MINOR_SYNC, FrameType.MAJOR_SYNC, FrameType.ACTIVITY_END]);

/** MINOR_SYNC code bits. */
const MINOR_CONFIRM = 0x01;
const MINOR_SEPARATION = 0x02;

export function tokenMask(names: readonly TokenName[]): number {
  let m = 0;
  for (const n of names) {
    const bit = Token[n];
    if (bit === undefined) throw new UsageError(ErrorCode.INVALID_ARGUMENT, `unknown token: ${String(n)}`);
    m |= bit;
  }
  return m;
}

export function tokenNames(mask: number): TokenName[] {
  return TOKEN_NAMES.filter((n) => (mask & Token[n]) !== 0);
}

/** X.225 availability: data iff half-duplex, minor iff minor sync (not symmetric), major iff major sync or activities, release iff negotiated release. */
export function availableTokens(units: number): number {
  let t = 0;
  if (hasUnit(units, Unit.HALF_DUPLEX)) t |= Token.data;
  if (hasUnit(units, Unit.MINOR_SYNCHRONIZE) && !hasUnit(units, Unit.SYMMETRIC_SYNCHRONIZE)) t |= Token.minor;
  if (hasUnit(units, Unit.MAJOR_SYNCHRONIZE) || hasUnit(units, Unit.ACTIVITY_MANAGEMENT)) t |= Token.major;
  if (hasUnit(units, Unit.NEGOTIATED_RELEASE)) t |= Token.release;
  return t;
}

/** What the dialogue machine tells the application, in order with the session's messages. */
export type DialogueEvent =
  | { kind: 'tokens-given'; tokens: number; userData: Uint8Array }
  | { kind: 'tokens-requested'; tokens: number; userData: Uint8Array }
  | { kind: 'sync-minor'; serial: number; userData: Uint8Array; confirmRequested: boolean; separation: boolean }
  | { kind: 'sync-minor-confirmed'; serial: number; userData: Uint8Array }
  | { kind: 'sync-major'; serial: number; userData: Uint8Array }
  | { kind: 'sync-major-confirmed'; serial: number; userData: Uint8Array; activityEnd: boolean }
  | { kind: 'resynchronize'; resync: ResyncKind; serial: number; tokens: number; userData: Uint8Array }
  | { kind: 'resynchronized'; serial: number; userData: Uint8Array }
  /** This side's resynchronize lost a collision (or an activity interrupt/discard overrode it). */
  | { kind: 'resync-superseded' }
  | { kind: 'exception'; reason: number; byProvider: boolean; userData: Uint8Array }
  | { kind: 'activity-start'; id: Uint8Array; userData: Uint8Array }
  | { kind: 'activity-resume'; id: Uint8Array; oldId: Uint8Array; serial: number; userData: Uint8Array }
  | { kind: 'activity-interrupt'; reason: number; userData: Uint8Array }
  | { kind: 'activity-interrupted'; userData: Uint8Array }
  | { kind: 'activity-discard'; reason: number; userData: Uint8Array }
  | { kind: 'activity-discarded'; userData: Uint8Array }
  | { kind: 'activity-end'; serial: number; userData: Uint8Array }
  /** S-CAPABILITY-DATA from the peer: answer with confirmCapability(). */
  | { kind: 'capability-data'; userData: Uint8Array }
  | { kind: 'capability-data-confirmed'; userData: Uint8Array }
  /** This side dropped these unsent normal messages (resynchronize, activity interrupt or discard). */
  | { kind: 'purged'; messages: Uint8Array[] }
  /** A normal message from the peer was discarded on arrival (data in transit); `head` is its first fragment. */
  | { kind: 'discarded'; head: Uint8Array };

export interface DialogueHost {
  /** Queues a sequenced dialogue frame behind everything queued so far. */
  queue(f: Omit<DialogueFrame, 'channel'>): void;
  emit(e: DialogueEvent): void;
  /** Drops unsent normal data (and a partly received normal message): resync and interrupt purge. */
  purge(): void;
  /** Whether the session is open for dialogue commands (X.225 data transfer phase). */
  open(): boolean;
}

/** What the negotiation decided for one session. */
export interface DialogueSetup {
  units: number;
  initiator: boolean;
  /** Tokens the responder holds at the start (the initiator holds the other available ones). */
  responderTokens: number;
  initialSerial: number;
}

interface PendingMajor {
  serial: number;
  mine: boolean;
  activityEnd: boolean;
}

type Awaiting =
  | { what: 'resync-ack'; kind: ResyncKind; serial: number; tokens: number }
  | { what: 'interrupt-ack' }
  | { what: 'discard-ack' }
  | null;

export interface ActivityInfo {
  id: Uint8Array;
  /** The last confirmed major sync point in the activity (its start or resume serial before any). */
  serial: number;
}

/**
 * The dialogue machine's whole state as plain data (a session record's `dialogue`): what
 * `Dialogue.snapshot()` returns and `Dialogue.restore()` takes. The units and the role are the
 * session's; everything else is here.
 */
export interface DialogueSnapshot {
  /** Tokens this side holds (a Token mask). */
  mine: number;
  /** Next serial of this side's sync points, and of the peer's (the same slot unless symmetric). */
  next: [number, number];
  /** One past the last confirmed major sync point: the lowest serial a restart may go back to. */
  floor: number;
  pendingMajor: { serial: number; mine: boolean; activityEnd: boolean } | null;
  lastMinorSent: number;
  minorStart: number;
  staleMinor: { low: number; high: number } | null;
  minorConfirmedByPeer: number;
  lastMinorReceived: number;
  minorConfirmedByMe: number;
  /** This side's resynchronize, interrupt or discard waiting for its answer. */
  awaiting:
    | { what: 'resync-ack'; kind: ResyncKind; serial: number; tokens: number }
    | { what: 'interrupt-ack' }
    | { what: 'discard-ack' }
    | null;
  /** The peer's resynchronize not yet confirmed. */
  indicated: { kind: ResyncKind; serial: number; tokens: number } | null;
  exception: boolean;
  activity: { id: Uint8Array; serial: number } | null;
  capability: 'mine' | 'peer' | null;
}

const EMPTY = new Uint8Array(0);

export class Dialogue {
  readonly units: number;
  readonly available: number;
  readonly #initiator: boolean;
  readonly #host: DialogueHost;
  #mine: number;
  /** Next serial per direction: [0] this side's sync points, [1] the peer's (the same slot unless symmetric). */
  readonly #next: [number, number];
  readonly #peerSlot: 0 | 1;
  #floor: number;
  #pendingMajor: PendingMajor | null = null;
  #lastMinorSent = -1;
  /** The first serial of the current numbering (establishment, resynchronize, activity start or resume). */
  #minorStart = 0;
  /** This side's minor sync points of the previous numbering still unconfirmed when it ended. */
  #staleMinor: { low: number; high: number } | null = null;
  #minorConfirmedByPeer = -1;
  #lastMinorReceived = -1;
  #minorConfirmedByMe = -1;
  #awaiting: Awaiting = null;
  /** A resynchronize from the peer this side has not confirmed yet. */
  #indicated: { kind: ResyncKind; serial: number; tokens: number } | null = null;
  #exception = false;
  #activity: ActivityInfo | null = null;
  /** Capability data sent and not yet confirmed ('mine'), or received and not yet answered ('peer'). */
  #capability: 'mine' | 'peer' | null = null;

  constructor(host: DialogueHost, setup: DialogueSetup) {
    this.#host = host;
    this.units = setup.units;
    this.#initiator = setup.initiator;
    this.available = availableTokens(setup.units);
    const responder = setup.responderTokens & this.available;
    this.#mine = setup.initiator ? this.available & ~responder : responder;
    this.#next = [setup.initialSerial, setup.initialSerial];
    this.#peerSlot = hasUnit(setup.units, Unit.SYMMETRIC_SYNCHRONIZE) ? 1 : 0;
    this.#floor = setup.initialSerial;
    this.#minorNumbering(setup.initialSerial);
  }

  /** The machine's state as plain data (copies), for a session record. */
  snapshot(): DialogueSnapshot {
    return {
      mine: this.#mine,
      next: [this.#next[0], this.#next[1]],
      floor: this.#floor,
      pendingMajor: this.#pendingMajor && { ...this.#pendingMajor },
      lastMinorSent: this.#lastMinorSent,
      minorStart: this.#minorStart,
      staleMinor: this.#staleMinor && { ...this.#staleMinor },
      minorConfirmedByPeer: this.#minorConfirmedByPeer,
      lastMinorReceived: this.#lastMinorReceived,
      minorConfirmedByMe: this.#minorConfirmedByMe,
      awaiting: this.#awaiting && { ...this.#awaiting },
      indicated: this.#indicated && { ...this.#indicated },
      exception: this.#exception,
      activity: this.#activity && { ...this.#activity },
      capability: this.#capability,
    };
  }

  /** A machine in the state `snapshot` recorded, for a session restored from its record. */
  static restore(host: DialogueHost, units: number, initiator: boolean, snapshot: DialogueSnapshot): Dialogue {
    const d = new Dialogue(host, { units, initiator, responderTokens: 0, initialSerial: snapshot.next[0] });
    d.#mine = snapshot.mine;
    d.#next[0] = snapshot.next[0];
    d.#next[1] = snapshot.next[1];
    d.#floor = snapshot.floor;
    d.#pendingMajor = snapshot.pendingMajor && { ...snapshot.pendingMajor };
    d.#lastMinorSent = snapshot.lastMinorSent;
    d.#minorStart = snapshot.minorStart;
    d.#staleMinor = snapshot.staleMinor && { ...snapshot.staleMinor };
    d.#minorConfirmedByPeer = snapshot.minorConfirmedByPeer;
    d.#lastMinorReceived = snapshot.lastMinorReceived;
    d.#minorConfirmedByMe = snapshot.minorConfirmedByMe;
    d.#awaiting = snapshot.awaiting && { ...snapshot.awaiting };
    d.#indicated = snapshot.indicated && { ...snapshot.indicated };
    d.#exception = snapshot.exception;
    d.#activity = snapshot.activity && { ...snapshot.activity };
    d.#capability = snapshot.capability;
    return d;
  }

  // ---------------------------------------------------------------- queries

  get mine(): number {
    return this.#mine;
  }

  owns(t: TokenName): boolean {
    return (this.#mine & Token[t]) !== 0;
  }

  /** The serial number the next sync point of this side takes (V(M)). */
  get serial(): number {
    return this.#next[0];
  }

  get activity(): ActivityInfo | null {
    return this.#activity;
  }

  get inException(): boolean {
    return this.#exception;
  }

  /** A major sync or activity end waits for its confirmation (this side's, or the peer's to answer). */
  get majorPending(): { serial: number; mine: boolean; activityEnd: boolean } | null {
    return this.#pendingMajor;
  }

  /** Whether the peer's minor sync point `serial` waits for this side's confirmation. */
  minorUnconfirmed(serial: number): boolean {
    return serial <= this.#lastMinorReceived && serial > this.#minorConfirmedByMe && this.#indicated === null;
  }

  /** Whether the peer's resynchronize waits for this side's confirmation. */
  get resyncIndicated(): boolean {
    return this.#indicated !== null;
  }

  /** Whether this side's resynchronize, interrupt or discard waits for its answer. */
  get awaiting(): 'resync-ack' | 'interrupt-ack' | 'discard-ack' | null {
    return this.#awaiting?.what ?? null;
  }

  /**
   * Why normal data may not be sent now, or null: a token error (permanent until tokens move)
   * or a wait (a major sync to be confirmed, a resynchronize in progress).
   */
  normalDataBlock(): { code: 'token' | 'wait' | 'state'; message: string } | null {
    if ((this.available & Token.data) !== 0 && !this.owns('data')) {
      return { code: 'token', message: 'sending normal data needs the data token' };
    }
    if (this.#exception) return { code: 'state', message: 'the session is in the exception state' };
    if (this.#pendingMajor !== null || this.#awaiting !== null || this.#indicated !== null) {
      return { code: 'wait', message: 'a major sync point or resynchronization is not confirmed yet' };
    }
    return null;
  }

  /**
   * Incoming normal data while this side waits for its resynchronize/interrupt/discard answer, or
   * is in the exception state, is data in transit that X.225 purges: the session discards it.
   */
  discardsNormalData(): boolean {
    return this.#awaiting !== null || this.#exception;
  }

  /** @throws ProtocolError when the peer sends normal data it may not send. */
  checkPeerNormalData(): void {
    if ((this.available & Token.data) !== 0 && this.owns('data')) {
      throw new ProtocolError(AbortCode.TOKEN_VIOLATION, 'peer sent normal data without the data token');
    }
    if (this.#pendingMajor !== null && !this.#pendingMajor.mine) {
      throw new ProtocolError(AbortCode.SYNC_VIOLATION, 'peer sent normal data before its major sync was confirmed');
    }
  }

  /**
   * With the exceptions unit, X.225 answers a peer's protocol error in the data flow with a
   * provider exception report instead of an abort: the offending data is discarded, both sides
   * enter the exception state and the data token holder resolves it (resynchronize, give the
   * data token, activity interrupt or discard, abort). Returns false when it must be an abort.
   */
  providerException(e: ProtocolError): boolean {
    if (!hasUnit(this.units, Unit.EXCEPTIONS) || e.wireCode !== AbortCode.TOKEN_VIOLATION) return false;
    if (!this.#exception) {
      this.#exception = true;
      this.#send(FrameType.EXCEPTION_REPORT, { code: e.wireCode });
      this.#host.emit({ kind: 'exception', reason: e.wireCode, byProvider: true, userData: EMPTY });
    }
    return true;
  }

  /** S-RELEASE needs every available token and no activity or confirmation in progress. */
  checkRelease(): void {
    this.#needTokens(this.available, 'release');
    if (this.#activity !== null) throw invalid('release inside an activity');
    this.#needQuiet('release');
  }

  /** @throws ProtocolError when the peer's FINISH breaks the same rule. */
  checkPeerRelease(): void {
    if ((this.#mine & this.available) !== 0) {
      throw new ProtocolError(AbortCode.TOKEN_VIOLATION, 'peer released without holding every available token');
    }
    if (this.#activity !== null || this.#pendingMajor !== null || this.#indicated !== null) {
      throw new ProtocolError(AbortCode.SYNC_VIOLATION, 'peer released inside an activity or a pending sync');
    }
  }

  /**
   * The peer's FINISH arrived. If this side's resynchronize waits for its answer, the FINISH
   * crossed it and the releaser discards it (`#receiveResync`): no answer will come, so the
   * request is superseded now. Without this a refused release left this side waiting forever and
   * discarding every normal message of the peer (issue 18 audit).
   */
  peerFinished(): void {
    if (this.#awaiting?.what !== 'resync-ack') return;
    this.#awaiting = null;
    this.#host.emit({ kind: 'resync-superseded' });
  }

  // ---------------------------------------------------------------- commands

  giveTokens(tokens: number, userData: Uint8Array): void {
    this.#needOpen('give tokens');
    if (tokens === 0) throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'give at least one token');
    this.#needAvailable(tokens);
    this.#needTokens(tokens, 'give tokens');
    if (this.#pendingMajor?.mine || this.#awaiting !== null || this.#indicated !== null) {
      throw invalid('give tokens while a sync point or resynchronization is not confirmed');
    }
    this.#mine &= ~tokens;
    if ((tokens & Token.data) !== 0) this.#exception = false;
    this.#send(FrameType.GIVE_TOKENS, { tokens, userData });
  }

  pleaseTokens(tokens: number, userData: Uint8Array): void {
    this.#needOpen('ask for tokens');
    if (tokens === 0) throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'ask for at least one token');
    this.#needAvailable(tokens);
    if ((tokens & this.#mine) !== 0) throw invalid('ask for a token this side holds');
    this.#send(FrameType.PLEASE_TOKENS, { tokens, userData });
  }

  /** S-CONTROL-GIVE (activity management unit): every available token, outside an activity. */
  giveControl(userData: Uint8Array): void {
    this.#needOpen('give control');
    if (!hasUnit(this.units, Unit.ACTIVITY_MANAGEMENT)) throw unitMissing('give control', 'ACTIVITY_MANAGEMENT');
    if (this.#activity !== null) throw invalid('give control inside an activity');
    this.#needQuiet('give control');
    // X.215: S-CONTROL-GIVE surrenders every available token. With fewer, the peer may hold the major
    // token and start an activity that crosses the GIVE_CONTROL: it would arrive inside the activity.
    if (this.#mine !== this.available) {
      throw new UsageError(ErrorCode.TOKEN_NOT_HELD, 'give control needs every available token');
    }
    const tokens = this.#mine;
    this.#mine = 0;
    this.#exception = false;
    this.#send(FrameType.GIVE_CONTROL, { tokens, userData });
  }

  syncMinor(opts: { confirm: boolean; separation: boolean; userData: Uint8Array }): number {
    this.#needOpen('take a minor sync point');
    const symmetric = this.#peerSlot === 1;
    if (!hasUnit(this.units, Unit.MINOR_SYNCHRONIZE) && !symmetric) {
      throw unitMissing('a minor sync point', 'MINOR_SYNCHRONIZE or SYMMETRIC_SYNCHRONIZE');
    }
    if (opts.separation && !hasUnit(this.units, Unit.DATA_SEPARATION)) {
      throw unitMissing('data separation', 'DATA_SEPARATION');
    }
    this.#needTokens(Token.data | (symmetric ? 0 : Token.minor), 'take a minor sync point');
    this.#needQuiet('take a minor sync point');
    const serial = this.#takeSerial();
    this.#lastMinorSent = serial;
    const code = (opts.confirm ? MINOR_CONFIRM : 0) | (opts.separation ? MINOR_SEPARATION : 0);
    this.#send(FrameType.MINOR_SYNC, { code, serial, userData: opts.userData });
    return serial;
  }

  /** Confirms the peer's minor sync points up to `serial` (cumulative). */
  confirmMinor(serial: number, userData: Uint8Array): void {
    this.#needOpen('confirm a minor sync point');
    if (!hasUnit(this.units, Unit.MINOR_SYNCHRONIZE) && this.#peerSlot !== 1) {
      throw unitMissing('a minor sync point', 'MINOR_SYNCHRONIZE or SYMMETRIC_SYNCHRONIZE');
    }
    if (serial > this.#lastMinorReceived || serial <= this.#minorConfirmedByMe) {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, `no unconfirmed minor sync point ${serial} to confirm`);
    }
    if (this.#indicated !== null) throw invalid('confirm a minor sync point during a resynchronization');
    this.#minorConfirmedByMe = serial;
    this.#send(FrameType.MINOR_SYNC_ACK, { serial, userData });
  }

  syncMajor(userData: Uint8Array): number {
    this.#needOpen('take a major sync point');
    // X.215: S-SYNC-MAJOR belongs to the major synchronize unit; activity management alone gives
    // activity end (a major sync point of its own kind) but not this service.
    if (!hasUnit(this.units, Unit.MAJOR_SYNCHRONIZE)) throw unitMissing('a major sync point', 'MAJOR_SYNCHRONIZE');
    return this.#major(false, userData);
  }

  /** Answers the peer's major sync point or activity end. */
  confirmMajor(userData: Uint8Array): number {
    this.#needOpen('confirm a major sync point');
    const p = this.#pendingMajor;
    if (p === null || p.mine) throw invalid('confirm a major sync point: none from the peer waits');
    if (this.#indicated !== null) throw invalid('confirm a major sync point during a resynchronization');
    this.#majorConfirmed(p);
    this.#send(FrameType.MAJOR_SYNC_ACK, { serial: p.serial, userData });
    return p.serial;
  }

  resynchronize(kind: ResyncKind, opts: { serial?: number; tokens?: number; userData: Uint8Array }): number {
    this.#needOpen('resynchronize');
    if (!hasUnit(this.units, Unit.RESYNCHRONIZE)) throw unitMissing('resynchronize', 'RESYNCHRONIZE');
    if (hasUnit(this.units, Unit.ACTIVITY_MANAGEMENT) && this.#activity === null) {
      throw invalid('resynchronize outside an activity (activity management is selected)');
    }
    if (this.#awaiting !== null) throw invalid('resynchronize while an earlier request waits for its answer');
    if (this.#indicated !== null) throw invalid('resynchronize before confirming the peer’s resynchronization');
    this.#needActivityEndFinal('resynchronize');
    const vm = Math.max(this.#next[0], this.#next[1]);
    let serial: number;
    if (kind === 'abandon') {
      serial = opts.serial ?? vm;
      if (serial < vm) throw new UsageError(ErrorCode.INVALID_ARGUMENT, `abandon needs a serial of at least ${vm}`);
    } else if (kind === 'restart') {
      if (this.#pendingMajor?.mine) throw invalid('restart while this side’s major sync point is unconfirmed');
      serial = opts.serial ?? this.#floor;
      if (serial < this.#floor || serial > vm) {
        throw new UsageError(ErrorCode.INVALID_ARGUMENT, `restart goes back to a serial in ${this.#floor}..${vm}`);
      }
    } else if (kind === 'set') {
      serial = opts.serial ?? vm;
    } else {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, `unknown resynchronize kind ${String(kind)}`);
    }
    checkSerial(serial);
    const tokens = opts.tokens ?? this.#mine;
    this.#needAvailable(tokens);
    this.#cancelPending();
    this.#host.purge();
    this.#awaiting = { what: 'resync-ack', kind, serial, tokens };
    this.#send(FrameType.RESYNC, { code: RESYNC_KINDS.indexOf(kind), serial, tokens, userData: opts.userData });
    return serial;
  }

  confirmResynchronize(userData: Uint8Array): number {
    this.#needOpen('confirm a resynchronization');
    const r = this.#indicated;
    if (r === null) throw invalid('confirm a resynchronization: none was requested');
    this.#indicated = null;
    this.#resynced(r.kind, r.serial, this.available & ~r.tokens);
    this.#send(FrameType.RESYNC_ACK, { serial: r.serial, tokens: r.tokens, userData });
    return r.serial;
  }

  /** S-U-EXCEPTION-REPORT: by the side without the data token, in a half-duplex session. */
  reportException(reason: number, userData: Uint8Array): void {
    this.#needOpen('report an exception');
    if (!hasUnit(this.units, Unit.EXCEPTIONS)) throw unitMissing('an exception report', 'EXCEPTIONS');
    if ((this.available & Token.data) === 0) throw invalid('report an exception without a data token (half-duplex)');
    if (this.owns('data')) throw invalid('report an exception while holding the data token');
    checkCode(reason);
    this.#exception = true;
    this.#send(FrameType.EXCEPTION_DATA, { code: reason, userData });
  }

  startActivity(id: Uint8Array, userData: Uint8Array): void {
    this.#activityCommand('start an activity', id);
    this.#beginActivity(id, 0);
    this.#send(FrameType.ACTIVITY_START, { id, userData });
  }

  resumeActivity(id: Uint8Array, oldId: Uint8Array, serial: number, userData: Uint8Array): void {
    this.#activityCommand('resume an activity', id);
    checkId(oldId);
    checkSerial(serial);
    if (serial === SERIAL_MAX) throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'no serial number after that one');
    this.#beginActivity(id, serial);
    this.#send(FrameType.ACTIVITY_RESUME, { id, oldId, serial, userData });
  }

  interruptActivity(reason: number, userData: Uint8Array): void {
    this.#stopActivity('interrupt', reason);
    this.#send(FrameType.ACTIVITY_INTERRUPT, { code: reason, userData });
  }

  discardActivity(reason: number, userData: Uint8Array): void {
    this.#stopActivity('discard', reason);
    this.#send(FrameType.ACTIVITY_DISCARD, { code: reason, userData });
  }

  /** S-ACTIVITY-END: a major sync point that ends the activity once confirmed. */
  endActivity(userData: Uint8Array): number {
    this.#needOpen('end an activity');
    if (!hasUnit(this.units, Unit.ACTIVITY_MANAGEMENT)) throw unitMissing('an activity', 'ACTIVITY_MANAGEMENT');
    if (this.#activity === null) throw invalid('end an activity: none is in progress');
    return this.#major(true, userData);
  }

  /**
   * S-CAPABILITY-DATA: user data exchanged outside activities, confirmed by the peer. Needs the
   * CAPABILITY_DATA and ACTIVITY_MANAGEMENT units and every available token but release.
   */
  sendCapability(userData: Uint8Array): void {
    this.#needOpen('send capability data');
    if (!hasUnit(this.units, Unit.CAPABILITY_DATA)) throw unitMissing('capability data', 'CAPABILITY_DATA');
    if (this.#activity !== null) throw invalid('send capability data inside an activity');
    this.#needTokens(Token.data | Token.minor | Token.major, 'send capability data');
    this.#needQuiet('send capability data');
    if (this.#capability !== null) throw invalid('send capability data before the last exchange was confirmed');
    this.#capability = 'mine';
    this.#send(FrameType.CAPABILITY_DATA, { userData });
  }

  confirmCapability(userData: Uint8Array): void {
    this.#needOpen('confirm capability data');
    if (this.#capability !== 'peer') throw invalid('confirm capability data: none from the peer waits');
    this.#capability = null;
    this.#send(FrameType.CAPABILITY_DATA_ACK, { userData });
  }

  // ---------------------------------------------------------------- frames from the peer

  /** One dialogue frame from the peer, in stream order. @throws ProtocolError on a violation. */
  receive(f: DialogueFrame): void {
    const awaiting = this.#awaiting;
    if (awaiting !== null && !this.#passesWhileAwaiting(f)) {
      // Purged in transit (X.225). A sync point still takes its serial, so V(M) agrees with the
      // peer's whatever happens next: the peer's FINISH may supersede the resynchronize (the
      // releaser discards it), and after an interrupt or discard sync points go on outside
      // activities (PROTOCOL.md 18.5) with no RA to set V(M).
      if (SYNC_POINTS.has(f.type)) {
        this.#next[this.#peerSlot] = f.serial + 1;
        // Purged, it is not this side's to confirm, nor is any point of the peer's before it.
        this.#minorConfirmedByMe = Math.max(this.#minorConfirmedByMe, f.serial);
      }
      return;
    }
    switch (f.type) {
      case FrameType.GIVE_TOKENS:
      case FrameType.GIVE_CONTROL: {
        const tokens = f.tokens;
        if (f.type === FrameType.GIVE_CONTROL && !hasUnit(this.units, Unit.ACTIVITY_MANAGEMENT)) {
          throw unitViolation(f.type);
        }
        if ((tokens & ~this.available) !== 0 || tokens === 0) {
          throw new ProtocolError(AbortCode.TOKEN_VIOLATION, 'peer gave a token that is not available');
        }
        if ((tokens & this.#mine) !== 0) {
          throw new ProtocolError(AbortCode.TOKEN_VIOLATION, 'peer gave a token it does not hold');
        }
        if (f.type === FrameType.GIVE_CONTROL && this.#activity !== null) {
          throw new ProtocolError(AbortCode.TOKEN_VIOLATION, 'peer gave control inside an activity');
        }
        // The giver may not give while its own major sync point or resynchronize waits for this
        // side (one of this side's own crossing the GIVE is no violation).
        if ((this.#pendingMajor !== null && !this.#pendingMajor.mine) || this.#indicated !== null) {
          throw new ProtocolError(AbortCode.SYNC_VIOLATION, 'peer gave tokens before its sync point was confirmed');
        }
        this.#mine |= tokens;
        if ((tokens & Token.data) !== 0 || f.type === FrameType.GIVE_CONTROL) this.#exception = false;
        return this.#host.emit({ kind: 'tokens-given', tokens, userData: f.userData });
      }
      case FrameType.PLEASE_TOKENS: {
        if ((f.tokens & ~this.available) !== 0 || f.tokens === 0) {
          throw new ProtocolError(AbortCode.TOKEN_VIOLATION, 'peer asked for a token that is not available');
        }
        // A request crossing a give asks for tokens already on their way: only the rest is news.
        const tokens = f.tokens & this.#mine;
        if (tokens !== 0) this.#host.emit({ kind: 'tokens-requested', tokens, userData: f.userData });
        return;
      }
      case FrameType.MINOR_SYNC: {
        const symmetric = this.#peerSlot === 1;
        if (!hasUnit(this.units, Unit.MINOR_SYNCHRONIZE) && !symmetric) throw unitViolation(f.type);
        if ((f.code & MINOR_SEPARATION) !== 0 && !hasUnit(this.units, Unit.DATA_SEPARATION)) {
          throw unitViolation(f.type);
        }
        this.#peerNeeds(Token.data | (symmetric ? 0 : Token.minor), 'a minor sync point');
        this.#peerQuiet('a minor sync point');
        this.#peerSerial(f.serial);
        this.#lastMinorReceived = f.serial;
        return this.#host.emit({
          kind: 'sync-minor',
          serial: f.serial,
          userData: f.userData,
          confirmRequested: (f.code & MINOR_CONFIRM) !== 0,
          separation: (f.code & MINOR_SEPARATION) !== 0,
        });
      }
      case FrameType.MINOR_SYNC_ACK:
        if (f.serial > this.#lastMinorSent || f.serial <= this.#minorConfirmedByPeer) {
          // A confirmation the peer sent before it saw what confirmed, cancelled or renumbered
          // these sync points (a major sync point confirmed, an activity start, resume, interrupt
          // or discard) is stale: dropped. Any other is a violation.
          if (this.#staleMinorAck(f.serial)) return;
          throw new ProtocolError(AbortCode.SYNC_VIOLATION, `peer confirmed minor sync point ${f.serial}, not pending`);
        }
        this.#minorConfirmedByPeer = f.serial;
        return this.#host.emit({ kind: 'sync-minor-confirmed', serial: f.serial, userData: f.userData });
      case FrameType.MAJOR_SYNC:
      case FrameType.ACTIVITY_END: {
        const end = f.type === FrameType.ACTIVITY_END;
        if (!hasUnit(this.units, end ? Unit.ACTIVITY_MANAGEMENT : Unit.MAJOR_SYNCHRONIZE)) throw unitViolation(f.type);
        if (end && this.#activity === null) {
          throw new ProtocolError(AbortCode.SYNC_VIOLATION, 'peer ended an activity that was not started');
        }
        this.#peerNeeds(Token.data | Token.minor | Token.major, 'a major sync point');
        this.#peerQuiet('a major sync point');
        this.#peerSerial(f.serial);
        this.#pendingMajor = { serial: f.serial, mine: false, activityEnd: end };
        return this.#host.emit(
          end
            ? { kind: 'activity-end', serial: f.serial, userData: f.userData }
            : { kind: 'sync-major', serial: f.serial, userData: f.userData },
        );
      }
      case FrameType.MAJOR_SYNC_ACK: {
        const p = this.#pendingMajor;
        if (p === null || !p.mine || p.serial !== f.serial) {
          throw new ProtocolError(AbortCode.SYNC_VIOLATION, `peer confirmed major sync point ${f.serial}, not pending`);
        }
        this.#majorConfirmed(p);
        return this.#host.emit({
          kind: 'sync-major-confirmed',
          serial: f.serial,
          userData: f.userData,
          activityEnd: p.activityEnd,
        });
      }
      case FrameType.RESYNC:
        return this.#receiveResync(f);
      case FrameType.RESYNC_ACK: {
        if (awaiting?.what !== 'resync-ack' || f.tokens !== awaiting.tokens || !resyncAnswered(awaiting, f.serial)) {
          throw new ProtocolError(AbortCode.SYNC_VIOLATION, 'peer confirmed a resynchronization not requested');
        }
        this.#awaiting = null;
        this.#resynced(awaiting.kind, f.serial, awaiting.tokens & this.available);
        return this.#host.emit({ kind: 'resynchronized', serial: f.serial, userData: f.userData });
      }
      case FrameType.EXCEPTION_DATA:
      case FrameType.EXCEPTION_REPORT: {
        if (!hasUnit(this.units, Unit.EXCEPTIONS)) throw unitViolation(f.type);
        if (f.type === FrameType.EXCEPTION_DATA && (!this.owns('data') || (this.available & Token.data) === 0)) {
          throw new ProtocolError(AbortCode.TOKEN_VIOLATION, 'exception report from the data token holder');
        }
        this.#exception = true;
        return this.#host.emit({
          kind: 'exception',
          reason: f.code,
          byProvider: f.type === FrameType.EXCEPTION_REPORT,
          userData: f.userData,
        });
      }
      case FrameType.ACTIVITY_START:
      case FrameType.ACTIVITY_RESUME: {
        if (!hasUnit(this.units, Unit.ACTIVITY_MANAGEMENT)) throw unitViolation(f.type);
        this.#peerNeeds(Token.data | Token.minor | Token.major, 'an activity');
        if (this.#activity !== null) {
          throw new ProtocolError(AbortCode.SYNC_VIOLATION, 'peer started an activity inside an activity');
        }
        this.#peerQuiet('an activity');
        if (f.id.byteLength === 0) throw new ProtocolError(AbortCode.MALFORMED_FRAME, 'activity without an id');
        const resume = f.type === FrameType.ACTIVITY_RESUME;
        if (resume && f.serial === SERIAL_MAX) {
          throw new ProtocolError(AbortCode.MALFORMED_FRAME, 'activity resumed at the last serial number');
        }
        this.#beginActivity(f.id, resume ? f.serial : 0);
        return this.#host.emit(
          resume
            ? { kind: 'activity-resume', id: f.id, oldId: f.oldId, serial: f.serial, userData: f.userData }
            : { kind: 'activity-start', id: f.id, userData: f.userData },
        );
      }
      case FrameType.ACTIVITY_INTERRUPT:
      case FrameType.ACTIVITY_DISCARD: {
        const interrupt = f.type === FrameType.ACTIVITY_INTERRUPT;
        if (!hasUnit(this.units, Unit.ACTIVITY_MANAGEMENT)) throw unitViolation(f.type);
        if (this.#activity === null) {
          throw new ProtocolError(AbortCode.SYNC_VIOLATION, `peer stopped an activity that was not started`);
        }
        this.#peerNeeds(Token.major, 'an activity interrupt or discard');
        if (this.#awaiting?.what === 'resync-ack') this.#host.emit({ kind: 'resync-superseded' });
        this.#awaiting = null;
        this.#cancelPending();
        this.#host.purge();
        this.#activity = null;
        this.#send(interrupt ? FrameType.ACTIVITY_INTERRUPT_ACK : FrameType.ACTIVITY_DISCARD_ACK, {});
        return this.#host.emit({
          kind: interrupt ? 'activity-interrupt' : 'activity-discard',
          reason: f.code,
          userData: f.userData,
        });
      }
      case FrameType.ACTIVITY_INTERRUPT_ACK:
      case FrameType.ACTIVITY_DISCARD_ACK: {
        const interrupt = f.type === FrameType.ACTIVITY_INTERRUPT_ACK;
        if (awaiting?.what !== (interrupt ? 'interrupt-ack' : 'discard-ack')) {
          throw new ProtocolError(AbortCode.SYNC_VIOLATION, 'peer acknowledged an activity stop not requested');
        }
        this.#awaiting = null;
        return this.#host.emit({
          kind: interrupt ? 'activity-interrupted' : 'activity-discarded',
          userData: f.userData,
        });
      }
      case FrameType.CAPABILITY_DATA: {
        if (!hasUnit(this.units, Unit.CAPABILITY_DATA)) throw unitViolation(f.type);
        this.#peerNeeds(Token.data | Token.minor | Token.major, 'capability data');
        if (this.#activity !== null || this.#capability !== null) {
          throw new ProtocolError(
            AbortCode.SYNC_VIOLATION,
            'peer sent capability data inside an activity or unconfirmed',
          );
        }
        this.#capability = 'peer';
        return this.#host.emit({ kind: 'capability-data', userData: f.userData });
      }
      case FrameType.CAPABILITY_DATA_ACK:
        if (this.#capability !== 'mine') {
          throw new ProtocolError(AbortCode.SYNC_VIOLATION, 'peer confirmed capability data not sent');
        }
        this.#capability = null;
        return this.#host.emit({ kind: 'capability-data-confirmed', userData: f.userData });
      default:
        throw new ProtocolError(
          AbortCode.UNEXPECTED_FRAME,
          `dialogue frame 0x${(f as DialogueFrame).type.toString(16)}`,
        );
    }
  }

  /**
   * While this side waits for its resynchronize (or interrupt, discard) answer, X.225 discards
   * what the peer sent before it saw the request, except the answer and what overrides it.
   */
  #passesWhileAwaiting(f: DialogueFrame): boolean {
    const what = (this.#awaiting as NonNullable<Awaiting>).what;
    if (what === 'resync-ack') {
      return (
        f.type === FrameType.RESYNC_ACK ||
        f.type === FrameType.RESYNC ||
        f.type === FrameType.ACTIVITY_INTERRUPT ||
        f.type === FrameType.ACTIVITY_DISCARD
      );
    }
    return f.type === FrameType.ACTIVITY_INTERRUPT_ACK || f.type === FrameType.ACTIVITY_DISCARD_ACK;
  }

  #receiveResync(f: DialogueFrame): void {
    if (!hasUnit(this.units, Unit.RESYNCHRONIZE)) throw unitViolation(f.type);
    const kind = RESYNC_KINDS[f.code];
    if (kind === undefined) throw new ProtocolError(AbortCode.MALFORMED_FRAME, `resynchronize kind ${f.code}`);
    if ((f.tokens & ~this.available) !== 0) {
      throw new ProtocolError(AbortCode.TOKEN_VIOLATION, 'resynchronize assigns a token that is not available');
    }
    if (hasUnit(this.units, Unit.ACTIVITY_MANAGEMENT) && this.#activity === null) {
      throw new ProtocolError(AbortCode.SYNC_VIOLATION, 'peer resynchronized outside an activity');
    }
    if (this.#indicated !== null) {
      throw new ProtocolError(AbortCode.SYNC_VIOLATION, 'peer resynchronized again before the first was confirmed');
    }
    // Releasing: the peer's RS crossed this side's FINISH. The release wins (this side could
    // never confirm the RS, and holds every token): the RS is discarded.
    if (!this.#host.open()) return;
    const mine = this.#awaiting;
    if (mine?.what === 'resync-ack') {
      const rank = RESYNC_RANK[kind] - RESYNC_RANK[mine.kind];
      const lowerRestart = kind === 'restart' && mine.kind === 'restart' ? mine.serial - f.serial : 0;
      const peerWins = rank > 0 || (rank === 0 && (lowerRestart > 0 || (lowerRestart === 0 && !this.#initiator)));
      if (!peerWins) return; // the peer discards its own when ours arrives
      this.#awaiting = null;
      this.#host.emit({ kind: 'resync-superseded' });
    }
    const vm = Math.max(this.#next[0], this.#next[1]);
    if (kind === 'restart' && (f.serial < this.#floor || f.serial > vm)) {
      throw new ProtocolError(AbortCode.SYNC_VIOLATION, `peer resynchronized (${kind}) to serial ${f.serial}`);
    }
    // X.225 Table A-4: an abandon below V(M) crossed sync points of this side; the answer carries
    // max(sn, V(M)) so that no serial already used here is used again.
    const serial = kind === 'abandon' ? Math.max(f.serial, vm) : f.serial;
    this.#cancelPending();
    this.#host.purge();
    this.#indicated = { kind, serial, tokens: f.tokens };
    this.#host.emit({ kind: 'resynchronize', resync: kind, serial: f.serial, tokens: f.tokens, userData: f.userData });
  }

  // ---------------------------------------------------------------- helpers

  #major(activityEnd: boolean, userData: Uint8Array): number {
    this.#needTokens(
      Token.data | Token.minor | Token.major,
      activityEnd ? 'end an activity' : 'take a major sync point',
    );
    this.#needQuiet(activityEnd ? 'end an activity' : 'take a major sync point');
    const serial = this.#takeSerial();
    this.#pendingMajor = { serial, mine: true, activityEnd };
    this.#send(activityEnd ? FrameType.ACTIVITY_END : FrameType.MAJOR_SYNC, { serial, userData });
    return serial;
  }

  #majorConfirmed(p: PendingMajor): void {
    this.#pendingMajor = null;
    this.#floor = p.serial + 1;
    // Minor sync points before a confirmed major one are confirmed with it, and the major one's
    // serial is not a minor sync point to confirm (X.225 Table A-4: V(A) = V(M)).
    if (p.mine) this.#minorConfirmedByPeer = Math.max(this.#lastMinorSent, p.serial);
    else this.#minorConfirmedByMe = Math.max(this.#lastMinorReceived, p.serial);
    if (p.activityEnd) this.#activity = null;
    else if (this.#activity !== null) this.#activity = { id: this.#activity.id, serial: p.serial };
  }

  #takeSerial(): number {
    const serial = this.#next[0];
    if (serial >= SERIAL_MAX) throw invalid('take a sync point: serial numbers are used up (resynchronize with set)');
    this.#next[0] = serial + 1;
    // X.225 Vsc: with one numbering for both directions, a side taking a sync point gives up
    // confirming the peer's earlier ones (a late MIA would confirm a serial the peer moved past).
    // Nor may it confirm its own: every serial up to this one is out of its reach.
    if (this.#peerSlot === 0) this.#minorConfirmedByMe = serial;
    return serial;
  }

  #peerSerial(serial: number): void {
    const expected = this.#next[this.#peerSlot];
    if (serial !== expected) {
      throw new ProtocolError(AbortCode.SYNC_VIOLATION, `peer sync point ${serial}, expected serial ${expected}`);
    }
    this.#next[this.#peerSlot] = serial + 1;
    // X.225 Vsc, the other way: the peer gave up confirming this side's earlier sync points.
    if (this.#peerSlot === 0) this.#minorConfirmedByPeer = this.#lastMinorSent;
  }

  #resynced(kind: ResyncKind, serial: number, mine: number): void {
    this.#next[0] = serial;
    this.#next[1] = serial;
    // A restart keeps the floor. After abandon or set the floor is the new serial on both sides
    // (X.225 Table A-4 puts V(R) to 0; here a confirmed major sync point stays final, PROTOCOL.md
    // 18.3). Each side keeping its own let them disagree: a major sync point confirmed by the peer
    // whose MAJOR_SYNC_ACK this side purged (its abandon crossed it) raised one floor only.
    if (kind !== 'restart') this.#floor = serial;
    this.#mine = mine;
    this.#exception = false;
    this.#minorNumbering(serial);
  }

  #staleMinorAck(serial: number): boolean {
    const old = this.#staleMinor;
    if (old !== null && serial >= old.low && serial <= old.high) return true;
    return serial >= this.#minorStart && serial <= this.#minorConfirmedByPeer;
  }

  /**
   * A new numbering starts at `first` (establishment, resynchronize, activity start or resume): no
   * minor sync point below it exists to be confirmed (X.225 Table A-4, V(A) = V(M) = first).
   */
  #minorNumbering(first: number): void {
    const outstanding = this.#lastMinorSent > this.#minorConfirmedByPeer;
    this.#staleMinor = outstanding ? { low: this.#minorConfirmedByPeer + 1, high: this.#lastMinorSent } : null;
    this.#minorStart = first;
    this.#lastMinorSent = this.#minorConfirmedByPeer = first - 1;
    this.#lastMinorReceived = this.#minorConfirmedByMe = first - 1;
  }

  #cancelPending(): void {
    this.#pendingMajor = null;
    this.#exception = false;
    this.#minorConfirmedByPeer = this.#lastMinorSent;
    // No sync point taken so far is left to confirm: not the peer's minor ones, not its major
    // sync point or activity end just cancelled, not one this side took (X.225 Vsc).
    this.#minorConfirmedByMe = Math.max(
      this.#minorConfirmedByMe,
      this.#lastMinorReceived,
      this.#next[this.#peerSlot] - 1,
    );
  }

  #beginActivity(id: Uint8Array, serial: number): void {
    // X.225: an activity starts its numbering at 1; a resumed one continues after `serial`.
    const next = serial + 1;
    this.#next[0] = next;
    this.#next[1] = next;
    this.#floor = next;
    this.#minorNumbering(next);
    this.#activity = { id, serial };
  }

  #activityCommand(what: string, id: Uint8Array): void {
    this.#needOpen(what);
    if (!hasUnit(this.units, Unit.ACTIVITY_MANAGEMENT)) throw unitMissing('an activity', 'ACTIVITY_MANAGEMENT');
    if (this.#activity !== null) throw invalid(`${what} inside an activity`);
    checkId(id);
    if (id.byteLength === 0) throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'an activity id has at least one byte');
    this.#needTokens(Token.data | Token.minor | Token.major, what);
    this.#needQuiet(what);
  }

  #stopActivity(how: 'interrupt' | 'discard', reason: number): void {
    const what = `${how} an activity`;
    this.#needOpen(what);
    if (!hasUnit(this.units, Unit.ACTIVITY_MANAGEMENT)) throw unitMissing('an activity', 'ACTIVITY_MANAGEMENT');
    if (this.#activity === null) throw invalid(`${what}: none is in progress`);
    if (this.#awaiting !== null) throw invalid(`${what} while an earlier request waits for its answer`);
    if (this.#indicated !== null) throw invalid(`${what} before confirming the peer’s resynchronization`);
    this.#needActivityEndFinal(what);
    this.#needTokens(Token.major, what);
    checkCode(reason);
    this.#cancelPending();
    this.#host.purge();
    this.#activity = null;
    this.#awaiting = { what: how === 'interrupt' ? 'interrupt-ack' : 'discard-ack' };
  }

  /**
   * Once this side's activity end is sent, the peer may confirm it and leave the activity at any
   * moment: an interrupt, discard or resynchronize sent now could reach it outside the activity.
   */
  #needActivityEndFinal(what: string): void {
    if (this.#pendingMajor?.mine && this.#pendingMajor.activityEnd) {
      throw invalid(`${what} while this side's activity end waits for its confirmation`);
    }
  }

  #send(type: DialogueFrameType, f: Partial<Omit<DialogueFrame, 'type' | 'channel'>>): void {
    this.#host.queue({
      type,
      tokens: f.tokens ?? 0,
      code: f.code ?? 0,
      serial: f.serial ?? 0,
      id: f.id ?? EMPTY,
      oldId: f.oldId ?? EMPTY,
      userData: f.userData ?? EMPTY,
    });
  }

  #needOpen(what: string): void {
    if (!this.#host.open()) throw new UsageError(ErrorCode.INVALID_STATE, `cannot ${what}: the session is not open`);
  }

  #needAvailable(tokens: number): void {
    if ((tokens & ~this.available) !== 0) {
      throw new UsageError(
        ErrorCode.INVALID_ARGUMENT,
        `token ${tokenNames(tokens & ~this.available).join(', ')} is not available with the agreed units`,
      );
    }
  }

  #needTokens(tokens: number, what: string): void {
    const missing = tokens & this.available & ~this.#mine;
    if (missing !== 0) {
      throw new UsageError(ErrorCode.TOKEN_NOT_HELD, `${what} needs the ${tokenNames(missing).join(', ')} token(s)`);
    }
  }

  /** No confirmation or resynchronization in progress, not in the exception state. */
  #needQuiet(what: string): void {
    if (this.#exception) throw invalid(`${what} in the exception state`);
    if (this.#pendingMajor !== null) throw invalid(`${what} while a major sync point is unconfirmed`);
    if (this.#awaiting !== null || this.#indicated !== null) throw invalid(`${what} during a resynchronization`);
  }

  #peerNeeds(tokens: number, what: string): void {
    if ((tokens & this.available & this.#mine) !== 0) {
      throw new ProtocolError(AbortCode.TOKEN_VIOLATION, `peer sent ${what} without the tokens it needs`);
    }
  }

  #peerQuiet(what: string): void {
    if (this.#pendingMajor !== null || this.#indicated !== null) {
      throw new ProtocolError(AbortCode.SYNC_VIOLATION, `peer sent ${what} while a major sync point is unconfirmed`);
    }
  }
}

function invalid(what: string): UsageError {
  return new UsageError(ErrorCode.INVALID_STATE, `cannot ${what}`);
}

/** An RA answers with the RS serial; an abandon's may be higher (X.225 Table A-4: max(sn, V(M))). */
function resyncAnswered(rs: { kind: ResyncKind; serial: number }, serial: number): boolean {
  return rs.kind === 'abandon' ? serial >= rs.serial : serial === rs.serial;
}

function unitMissing(what: string, unit: string): UsageError {
  return new UsageError(ErrorCode.UNIT_NOT_SELECTED, `${what} needs the ${unit} functional unit, not selected`);
}

function unitViolation(type: number): ProtocolError {
  return new ProtocolError(
    AbortCode.UNEXPECTED_FRAME,
    `dialogue frame 0x${type.toString(16)} without its functional unit`,
  );
}

function checkSerial(serial: number): void {
  if (!Number.isInteger(serial) || serial < 0 || serial > SERIAL_MAX) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `serial number ${serial} is not in 0..${SERIAL_MAX}`);
  }
}

function checkCode(code: number): void {
  if (!Number.isInteger(code) || code < 0 || code > 255) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `reason ${code} is not in 0..255`);
  }
}

function checkId(id: Uint8Array): void {
  if (id.byteLength > ACTIVITY_ID_BYTES_MAX) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `an activity id has at most ${ACTIVITY_ID_BYTES_MAX} bytes`);
  }
}
