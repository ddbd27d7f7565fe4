/**
 * One side of the X.225 reference model: its state and the rules for the requests of its user.
 * Written from ITU-T X.225 (Annex A: the state tables and Table A-4, the operations on the serial
 * variables) and X.215 (token restrictions), not from the engine; where the engine departs from
 * X.225 on purpose (docs/PROTOCOL.md 18.7) the rule says so and docs/TESTING.md lists it.
 *
 * State (X.225 5.8 local variables): the tokens this side owns, V(M) the serial number of the next
 * sync point, V(A) the lowest serial that may still be confirmed, V(R) the lowest serial a restart
 * may go back to, Vsc (true: the sync points in [V(A), V(M)) came from the peer, so this side may
 * confirm them), Vact (an activity is in progress, here its id), and what each side waits for.
 *
 * A request is refused with every engine error code a rule it breaks maps to (docs/ERRORS.md); the
 * engine must refuse with one of them. An accepted request returns the SPDUs it puts in flight.
 */
import { ErrorCode, Unit } from '@liaison/core';
import type { ResyncType, Spdu } from './spdu.js';

export const T = { data: 0x01, minor: 0x02, major: 0x04, release: 0x08 } as const;

/** X.225 5.6: a token is available when the functional units that use it are selected. */
export function availableTokens(units: number): number {
  let t = 0;
  if (units & Unit.HALF_DUPLEX) t |= T.data;
  if (units & Unit.MINOR_SYNCHRONIZE) t |= T.minor;
  if (units & (Unit.MAJOR_SYNCHRONIZE | Unit.ACTIVITY_MANAGEMENT)) t |= T.major;
  if (units & Unit.NEGOTIATED_RELEASE) t |= T.release;
  return t;
}

export type SessionPhase = 'open' | 'releasing' | 'release-requested' | 'closing' | 'closed';

export type Outcome = { ok: true; out: Spdu[]; value?: number } | { ok: false; codes: string[] };

/** A deliberately wrong rule, to prove the model-based test can fail. */
export type Mutant = 'sync-point-keeps-serial' | null;

export class SideModel {
  readonly available: number;
  owned: number;
  vm: number;
  va: number;
  vr: number;
  vsc = false;
  activity: string | null = null;
  /** This side's MAP or AE waiting for its MAA. */
  majorOut: { serial: number; end: boolean } | null = null;
  /** The peer's MAP or AE waiting for this side's confirmation. */
  majorIn: { serial: number; end: boolean } | null = null;
  resyncOut: { type: ResyncType; serial: number; tokens: number } | null = null;
  /** The peer's RS; `serial` is the one the RA will carry (abandon: max(sn, V(M)), Table A-4). */
  resyncIn: { type: ResyncType; serial: number; tokens: number } | null = null;
  /** This side's AI or AD waiting for its AIA or ADA. */
  stopOut: 'interrupt' | 'discard' | null = null;
  phase: SessionPhase = 'open';
  /** The first serial of the current numbering (establishment, resynchronize, activity start). */
  numberingStart: number;
  /** This side's sync points of the previous numbering still unconfirmed (a late MIA is stale). */
  stale: { low: number; high: number } | null = null;
  /** What this side's user was told, in order (normalised as the engine observer does). */
  readonly told: string[] = [];

  constructor(
    readonly initiator: boolean,
    readonly units: number,
    owned: number,
    initialSerial: number,
    readonly mutant: Mutant = null,
  ) {
    this.available = availableTokens(units);
    this.owned = owned & this.available;
    // Table A-4, SCONrsp/AC: V(A), V(M) and V(R) start at the initial serial number.
    this.vm = this.va = this.vr = this.numberingStart = initialSerial;
  }

  has(unit: number): boolean {
    return (this.units & unit) !== 0;
  }

  owns(tokens: number): boolean {
    return (this.owned & tokens & this.available) === (tokens & this.available);
  }

  /** Something unconfirmed blocks data and sync points (X.225 STA 3, 4, 15, awaiting AIA/ADA). */
  get busy(): boolean {
    return (
      this.majorOut !== null ||
      this.majorIn !== null ||
      this.resyncOut !== null ||
      this.resyncIn !== null ||
      this.stopOut !== null
    );
  }

  /**
   * This side's AE waits for its MAA: the peer may confirm and leave the activity at any moment, so
   * an AI, AD or RS sent now could reach it outside the activity (a crossing X.225 leaves open).
   */
  get endOut(): boolean {
    return this.majorOut?.end === true;
  }

  /** With activity management, resynchronize only inside an activity (X.215 7.4; PROTOCOL.md 18.4). */
  get outsideActivity(): boolean {
    return this.has(Unit.ACTIVITY_MANAGEMENT) && this.activity === null;
  }

  // ------------------------------------------------------------------ requests

  sendData(text: string): Outcome {
    const c = new Codes();
    c.if(this.phase !== 'open' && this.phase !== 'release-requested', ErrorCode.INVALID_STATE);
    c.if(!this.owns(T.data), ErrorCode.TOKEN_NOT_HELD);
    c.if(this.busy, ErrorCode.INVALID_STATE);
    return c.or(() => ({ ok: true, out: [{ t: 'DT', text }] }));
  }

  giveTokens(tokens: number): Outcome {
    const c = this.#dialogue();
    c.if(tokens === 0 || (tokens & ~this.available) !== 0, ErrorCode.INVALID_ARGUMENT);
    c.if((tokens & ~this.owned) !== 0, ErrorCode.TOKEN_NOT_HELD);
    // Not while this side's own major sync point, resynchronize or activity stop is unconfirmed.
    c.if(this.majorOut !== null || this.resyncOut !== null || this.stopOut !== null, ErrorCode.INVALID_STATE);
    c.if(this.resyncIn !== null, ErrorCode.INVALID_STATE);
    return c.or(() => {
      this.owned &= ~tokens;
      return { ok: true, out: [{ t: 'GT', tokens }] };
    });
  }

  pleaseTokens(tokens: number): Outcome {
    const c = this.#dialogue();
    c.if(tokens === 0 || (tokens & ~this.available) !== 0, ErrorCode.INVALID_ARGUMENT);
    // X.215 S-TOKEN-PLEASE: for tokens the requester does not own.
    c.if((tokens & this.owned) !== 0, ErrorCode.INVALID_ARGUMENT, ErrorCode.INVALID_STATE);
    return c.or(() => ({ ok: true, out: [{ t: 'PT', tokens }] }));
  }

  /** S-CONTROL-GIVE (X.215): every available token, outside activities, nothing unconfirmed. */
  giveControl(): Outcome {
    const c = this.#dialogue(Unit.ACTIVITY_MANAGEMENT);
    c.if(!this.owns(this.available), ErrorCode.TOKEN_NOT_HELD);
    c.if(this.activity !== null || this.busy, ErrorCode.INVALID_STATE);
    return c.or(() => {
      const tokens = this.owned;
      this.owned = 0;
      return { ok: true, out: [{ t: 'GTC', tokens }] };
    });
  }

  syncMinor(confirm: boolean): Outcome {
    const c = this.#dialogue(Unit.MINOR_SYNCHRONIZE);
    c.if(!this.owns(T.data | T.minor), ErrorCode.TOKEN_NOT_HELD);
    // X.215 7.4 keeps sync points inside activities when activity management is selected; the
    // engine allows them outside too (docs/TESTING.md, deviations).
    c.if(this.busy, ErrorCode.INVALID_STATE);
    return c.or(() => {
      const serial = this.takeSerial(false);
      return { ok: true, out: [{ t: 'MIP', serial, confirm }], value: serial };
    });
  }

  /** SSYNmrsp: Vsc true and V(M) > sn >= V(A) (Table A-4); cumulative. */
  confirmMinor(serial: number): Outcome {
    const c = this.#dialogue(Unit.MINOR_SYNCHRONIZE);
    // The engine also lets the peer's pending major sync point wait meanwhile (docs/TESTING.md).
    c.if(
      this.resyncIn !== null || this.resyncOut !== null || this.stopOut !== null,
      ErrorCode.INVALID_STATE,
      ErrorCode.INVALID_ARGUMENT,
    );
    c.if(!this.vsc || serial < this.va || serial >= this.vm, ErrorCode.INVALID_ARGUMENT);
    // A pending major sync point (or activity end) is confirmed only as such.
    c.if(this.majorIn !== null && serial >= this.majorIn.serial, ErrorCode.INVALID_ARGUMENT);
    return c.or(() => {
      this.va = serial + 1;
      return { ok: true, out: [{ t: 'MIA', serial }] };
    });
  }

  syncMajor(): Outcome {
    const c = this.#dialogue(Unit.MAJOR_SYNCHRONIZE);
    c.if(!this.owns(T.data | T.minor | T.major), ErrorCode.TOKEN_NOT_HELD);
    c.if(this.busy, ErrorCode.INVALID_STATE);
    return c.or(() => {
      const serial = this.takeSerial(false);
      this.majorOut = { serial, end: false };
      return { ok: true, out: [{ t: 'MAP', serial }], value: serial };
    });
  }

  /** SSYNMrsp / SACTErsp: V(A) and V(R) become V(M) (Table A-4). */
  confirmMajor(): Outcome {
    const c = this.#dialogue();
    c.if(this.majorIn === null, ErrorCode.INVALID_STATE);
    return c.or(() => {
      const pending = this.majorIn as { serial: number; end: boolean };
      this.majorIn = null;
      this.va = this.vr = this.vm;
      if (pending.end) this.activity = null;
      return { ok: true, out: [{ t: 'MAA', serial: pending.serial }], value: pending.serial };
    });
  }

  startActivity(id: string): Outcome {
    const c = this.#activityBegin();
    return c.or(() => {
      this.beginActivity(id, 1, 1);
      return { ok: true, out: [{ t: 'AS', id }] };
    });
  }

  /** SACTRreq: V(A) = V(M) = sn + 1; V(R) too (X.225 says 1: PROTOCOL.md 18.7). */
  resumeActivity(id: string, oldId: string, serial: number): Outcome {
    const c = this.#activityBegin();
    return c.or(() => {
      this.beginActivity(id, serial + 1, serial + 1);
      return { ok: true, out: [{ t: 'AR', id, oldId, serial }] };
    });
  }

  endActivity(): Outcome {
    const c = this.#dialogue(Unit.ACTIVITY_MANAGEMENT);
    c.if(!this.owns(T.data | T.minor | T.major), ErrorCode.TOKEN_NOT_HELD);
    c.if(this.activity === null || this.busy, ErrorCode.INVALID_STATE);
    return c.or(() => {
      const serial = this.takeSerial(false);
      this.majorOut = { serial, end: true };
      return { ok: true, out: [{ t: 'AE', serial }], value: serial };
    });
  }

  /** AI or AD: the major token; beats any pending major sync point or resynchronize. */
  stopActivity(how: 'interrupt' | 'discard', reason: number): Outcome {
    const c = this.#dialogue(Unit.ACTIVITY_MANAGEMENT);
    c.if(!this.owns(T.major), ErrorCode.TOKEN_NOT_HELD);
    c.if(this.activity === null || this.stopOut !== null || this.endOut, ErrorCode.INVALID_STATE);
    // Not while a resynchronize (this side's or the peer's) is unconfirmed (engine rule, docs/TESTING.md).
    c.if(this.resyncOut !== null || this.resyncIn !== null, ErrorCode.INVALID_STATE);
    return c.or(() => {
      this.majorOut = this.majorIn = this.resyncOut = this.resyncIn = null;
      this.dropConfirmations();
      // X.225 ends the activity at the AIA or ADA; the engine at the request (docs/TESTING.md).
      this.activity = null;
      this.stopOut = how;
      return { ok: true, out: [how === 'interrupt' ? { t: 'AI', reason } : { t: 'AD', reason }] };
    });
  }

  /**
   * SRSYNreq (Table A-4): restart to V(R) <= sn <= V(M), abandon to sn >= V(M) (the engine lets the
   * user pick it, default V(M)), set to any sn. With activity management only inside an activity.
   */
  resynchronize(type: ResyncType, serial: number | undefined, tokens: number | undefined): Outcome {
    const c = this.#dialogue(Unit.RESYNCHRONIZE);
    c.if(this.outsideActivity, ErrorCode.INVALID_STATE);
    c.if(this.resyncOut !== null || this.resyncIn !== null || this.stopOut !== null, ErrorCode.INVALID_STATE);
    c.if(this.endOut, ErrorCode.INVALID_STATE);
    // Engine rule (PROTOCOL.md 18.4): no restart while this side's own major sync point is unconfirmed.
    c.if(type === 'restart' && this.majorOut !== null, ErrorCode.INVALID_STATE);
    c.if(tokens !== undefined && (tokens & ~this.available) !== 0, ErrorCode.INVALID_ARGUMENT);
    const sn = serial ?? this.vm;
    c.if(type === 'restart' && (sn < this.vr || sn > this.vm), ErrorCode.INVALID_ARGUMENT);
    c.if(type === 'abandon' && sn < this.vm, ErrorCode.INVALID_ARGUMENT);
    return c.or(() => {
      const keep = tokens ?? this.owned;
      this.majorOut = this.majorIn = null;
      this.resyncOut = { type, serial: sn, tokens: keep };
      return { ok: true, out: [{ t: 'RS', type, serial: sn, tokens: keep }], value: sn };
    });
  }

  /** SRSYNrsp: V(A) = V(M) = sn; the acceptor holds the available tokens the requester does not keep. */
  confirmResynchronize(): Outcome {
    const c = this.#dialogue();
    c.if(this.resyncIn === null, ErrorCode.INVALID_STATE);
    return c.or(() => {
      const rs = this.resyncIn as { type: ResyncType; serial: number; tokens: number };
      this.resyncIn = null;
      this.resynced(rs.type, rs.serial, this.available & ~rs.tokens);
      return { ok: true, out: [{ t: 'RA', serial: rs.serial, tokens: rs.tokens }], value: rs.serial };
    });
  }

  /** S-RELEASE: every available token, outside activities, nothing unconfirmed. */
  release(): Outcome {
    const c = new Codes();
    c.if(this.phase !== 'open', ErrorCode.INVALID_STATE);
    c.if(!this.owns(this.available), ErrorCode.TOKEN_NOT_HELD);
    c.if(this.activity !== null || this.busy, ErrorCode.INVALID_STATE);
    return c.or(() => {
      this.phase = 'releasing';
      return { ok: true, out: [{ t: 'FN' }] };
    });
  }

  respondRelease(accept: boolean): Outcome {
    const c = new Codes();
    c.if(this.phase !== 'release-requested', ErrorCode.INVALID_STATE);
    c.if(!accept && !this.has(Unit.NEGOTIATED_RELEASE), ErrorCode.UNIT_NOT_SELECTED);
    return c.or(() => {
      this.phase = accept ? 'closing' : 'open';
      return { ok: true, out: [{ t: accept ? 'DN' : 'NF' }] };
    });
  }

  // ------------------------------------------------------------------ shared with receive.ts

  /** After an RA sent or received (Table A-4): V(A) = V(M) = sn; a restart keeps V(R). */
  resynced(type: ResyncType, serial: number, owned: number): void {
    this.renumber(serial);
    this.va = this.vm = serial;
    // A restart keeps V(R). Table A-4 puts it back to 0 after abandon and set; the engine makes it
    // the new serial, so a confirmed major sync point stays final (docs/TESTING.md, deviations).
    if (type !== 'restart') this.vr = serial;
    this.owned = owned;
    this.majorOut = this.majorIn = null;
  }

  /** SSYNmreq / SSYNMreq / SACTEreq, and their SPDUs received: V(M) taken and advanced. */
  takeSerial(fromPeer: boolean): number {
    const serial = this.vm;
    if (this.vsc !== fromPeer) this.va = this.vm;
    this.vsc = fromPeer;
    if (this.mutant !== 'sync-point-keeps-serial' || fromPeer) this.vm++;
    return serial;
  }

  /** A new numbering from `first`: a confirmation the peer sent before it saw this is stale. */
  renumber(first: number): void {
    this.stale = !this.vsc && this.va < this.vm ? { low: this.va, high: this.vm - 1 } : null;
    this.numberingStart = first;
  }

  /** The activity's sync points are gone: none is confirmed any more, either way. */
  dropConfirmations(): void {
    this.va = this.vm;
  }

  beginActivity(id: string, first: number, floor: number): void {
    this.renumber(first);
    this.activity = id;
    this.va = this.vm = first;
    this.vr = floor;
  }

  #activityBegin(): Codes {
    const c = this.#dialogue(Unit.ACTIVITY_MANAGEMENT);
    c.if(!this.owns(T.data | T.minor | T.major), ErrorCode.TOKEN_NOT_HELD);
    c.if(this.activity !== null || this.busy, ErrorCode.INVALID_STATE);
    return c;
  }

  /** Every dialogue request: the session open, the unit (if any) selected. */
  #dialogue(unit = 0): Codes {
    const c = new Codes();
    c.if(this.phase !== 'open', ErrorCode.INVALID_STATE);
    c.if(unit !== 0 && !this.has(unit), ErrorCode.UNIT_NOT_SELECTED);
    return c;
  }
}

/** The codes of the rules a request breaks; none broken: the request is accepted. */
class Codes {
  readonly codes: string[] = [];

  if(broken: boolean, ...codes: string[]): void {
    if (broken) for (const code of codes) if (!this.codes.includes(code)) this.codes.push(code);
  }

  or(accept: () => Outcome): Outcome {
    return this.codes.length > 0 ? { ok: false, codes: this.codes } : accept();
  }
}
