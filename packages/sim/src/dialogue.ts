/**
 * Dialogue scenarios of the simulator (issue #4): half-duplex sessions whose ends pass the
 * tokens back and forth, take minor and major sync points, resynchronize (purging data in
 * transit), and, in some, run everything inside an activity that is ended before the release.
 *
 * The application behaviour is deliberately simple and always makes progress: the holder of
 * the tokens sends its normal messages, sometimes takes a sync point or resynchronizes, and hands
 * every token over when the peer asked for them or when it has no normal data left; an end that
 * needs the tokens asks once per turn. The releaser releases once it holds them all.
 *
 * Invariants checked here:
 * - token-unique (after every step, suspended and resuming sessions included): no token is held
 *   by both ends of a session at once;
 * - serial-monotonic (on every sync point each end takes or sees): serials strictly increase,
 *   except across an explicit resynchronize (restart, set, abandon) or a new activity; a
 *   resynchronize restart never goes back past a confirmed major sync point.
 */
import { type DialogueEvent, type Session, Token, Unit } from '@liaison/core';
import type { Rng } from './random.js';

export const DIALOGUE_UNITS =
  Unit.KERNEL |
  Unit.HALF_DUPLEX |
  Unit.TYPED_DATA |
  Unit.EXPEDITED |
  Unit.MINOR_SYNCHRONIZE |
  Unit.MAJOR_SYNCHRONIZE |
  Unit.RESYNCHRONIZE;

export interface DialoguePlan {
  /** Everything inside one activity, ended (a confirmed major sync) before the release. */
  activity: boolean;
  /** Chances, per turn of the holder, of each action. */
  minorChance: number;
  majorChance: number;
  resyncChance: number;
}

export function drawDialoguePlan(rng: Rng): DialoguePlan {
  return {
    activity: rng.chance(0.4),
    minorChance: rng.pick([0, 0.3, 0.7]),
    majorChance: rng.pick([0.1, 0.3]),
    resyncChance: rng.pick([0, 0.05, 0.15]),
  };
}

export function dialogueUnits(plan: DialoguePlan): number {
  return plan.activity ? DIALOGUE_UNITS | Unit.ACTIVITY_MANAGEMENT : DIALOGUE_UNITS;
}

/** What one end of a dialogue session remembers. */
export class DialogueEnd {
  /** The peer asked for the tokens and this end has not handed them over since. */
  peerAsked = false;
  /** This end asked for the tokens and has not received them since. */
  asked = false;
  /** The last serial this end took or saw, and the highest confirmed major one. */
  lastSerial = -1;
  confirmedMajor = -1;
  syncPoints = 0;
  resyncs = 0;
  activityStarted = false;
  /** A turn is scheduled for when the events now queued were read (world.ts). */
  turnPending = false;
  activityEnded = false;

  constructor(readonly plan: DialoguePlan) {}
}

export interface DialogueContext {
  rng: Rng;
  trace(what: string): void;
  violation(invariant: string, message: string): never;
}

const ALL = Token.data | Token.minor | Token.major;

/** A sync point this end took or saw: strictly after the last one. */
function serialSeen(ctx: DialogueContext, d: DialogueEnd, tag: string, serial: number, what: string): void {
  if (serial <= d.lastSerial) {
    ctx.violation('serial-monotonic', `${tag}: ${what} serial ${serial} after ${d.lastSerial}`);
  }
  d.lastSerial = serial;
  d.syncPoints++;
}

function resyncSeen(ctx: DialogueContext, d: DialogueEnd, tag: string, kind: string, serial: number): void {
  if (kind === 'restart' && serial <= d.confirmedMajor) {
    ctx.violation(
      'serial-monotonic',
      `${tag}: restart to ${serial} rolls back the confirmed major sync point ${d.confirmedMajor}`,
    );
  }
  if (kind === 'abandon' && serial <= d.lastSerial) {
    ctx.violation('serial-monotonic', `${tag}: abandon to ${serial}, not past ${d.lastSerial}`);
  }
  d.lastSerial = serial - 1;
  d.resyncs++;
}

/**
 * The holder's turn, after it sent what it could: maybe a sync point or a resynchronize, then
 * maybe hand the tokens over. Returns true when it did something that waits for the peer.
 * `normalLeft`: normal messages this end still has to send; `releaser`: it releases at the end.
 */
export function holderTurn(
  ctx: DialogueContext,
  d: DialogueEnd,
  s: Session,
  tag: string,
  normalLeft: number,
  releaser: boolean,
): void {
  const dl = s.dialogue;
  if (dl === null || s.state !== 'open' || (dl.mine & ALL) !== ALL) return;
  if (dl.majorPending !== null || dl.awaiting !== null || dl.normalDataBlock()?.code === 'wait') return;
  const rng = ctx.rng;
  if (d.plan.activity && !d.activityStarted && dl.activity === null) {
    d.activityStarted = true;
    dl.startActivity(Uint8Array.of(1, 2, 3), new Uint8Array(0));
    d.lastSerial = 0;
    ctx.trace(`${tag} starts an activity`);
  }
  if (rng.chance(d.plan.minorChance)) {
    const serial = dl.syncMinor({ confirm: rng.chance(0.5), separation: false, userData: new Uint8Array(0) });
    serialSeen(ctx, d, tag, serial, 'own minor sync');
    ctx.trace(`${tag} minor sync ${serial}`);
  }
  if (rng.chance(d.plan.resyncChance) && (!d.plan.activity || dl.activity !== null)) {
    const kind = rng.pick(['abandon', 'restart', 'set'] as const);
    const serial =
      kind === 'set' ? dl.serial + rng.int(0, 5) : kind === 'abandon' ? dl.serial + rng.int(0, 3) : undefined;
    const got = dl.resynchronize(
      kind,
      serial === undefined ? { userData: new Uint8Array(0) } : { serial, userData: new Uint8Array(0) },
    );
    resyncSeen(ctx, d, tag, kind, got);
    ctx.trace(`${tag} resynchronizes (${kind} ${got})`);
    return; // waits for the confirmation
  }
  if (rng.chance(d.plan.majorChance)) {
    const serial = dl.syncMajor(new Uint8Array(0));
    serialSeen(ctx, d, tag, serial, 'own major sync');
    ctx.trace(`${tag} major sync ${serial}`);
    return; // waits for the confirmation
  }
  const done = normalLeft === 0;
  if (done && releaser && !d.peerAsked) {
    if (d.plan.activity && dl.activity !== null && !d.activityEnded) {
      d.activityEnded = true;
      const serial = dl.endActivity(new Uint8Array(0));
      serialSeen(ctx, d, tag, serial, 'activity end');
      ctx.trace(`${tag} ends the activity at ${serial}`);
    }
    return; // the releaser keeps the tokens and releases
  }
  if (d.peerAsked || done) {
    d.peerAsked = false;
    dl.giveTokens(dl.mine & ALL, new Uint8Array(0));
    ctx.trace(`${tag} gives the tokens`);
  }
}

/** An end that needs the tokens (normal data to send, or the release) asks once per turn. */
export function askTokens(ctx: DialogueContext, d: DialogueEnd, s: Session, tag: string): void {
  const dl = s.dialogue;
  if (dl === null || s.state !== 'open' || d.asked || (dl.mine & ALL) === ALL) return;
  if (dl.awaiting !== null || dl.majorPending !== null) return;
  d.asked = true;
  dl.pleaseTokens(ALL & ~dl.mine, new Uint8Array(0));
  ctx.trace(`${tag} asks for the tokens`);
}

/** A dialogue event at one end. `indexOf` reads a message's index from its first bytes. */
export function onDialogueEvent(ctx: DialogueContext, d: DialogueEnd, s: Session, tag: string, e: DialogueEvent): void {
  const dl = s.dialogue;
  switch (e.kind) {
    case 'tokens-requested':
      d.peerAsked = true;
      return;
    case 'tokens-given':
      d.asked = false;
      return;
    case 'sync-minor':
      serialSeen(ctx, d, tag, e.serial, 'minor sync');
      // The engine may be past this point already (a resynchronize in the same batch): confirm if still pending.
      if (e.confirmRequested && s.state === 'open' && dl?.minorUnconfirmed(e.serial)) {
        dl.confirmMinor(e.serial, new Uint8Array(0));
      }
      return;
    case 'sync-major':
    case 'activity-end':
      serialSeen(ctx, d, tag, e.serial, e.kind);
      if (s.state === 'open' && dl?.majorPending?.mine === false && dl.majorPending.serial === e.serial) {
        d.confirmedMajor = e.serial;
        dl.confirmMajor(new Uint8Array(0));
      }
      return;
    case 'sync-major-confirmed':
      d.confirmedMajor = Math.max(d.confirmedMajor, e.serial);
      return;
    case 'resynchronize':
      resyncSeen(ctx, d, tag, e.resync, e.serial);
      if (s.state === 'open' && dl?.resyncIndicated) dl.confirmResynchronize(new Uint8Array(0));
      return;
    case 'activity-start':
      d.activityStarted = true;
      d.lastSerial = 0;
      return;
    default:
      return;
  }
}

/** token-unique: the two ends of a session never hold the same token. */
export function checkTokens(ctx: DialogueContext, tag: string, a: Session | null, b: Session | null): void {
  const da = a?.dialogue;
  const db = b?.dialogue;
  if (!da || !db || a?.state === 'closed' || b?.state === 'closed') return;
  const both = da.mine & db.mine;
  if (both !== 0) ctx.violation('token-unique', `${tag}: both ends hold token mask 0x${both.toString(16)}`);
}
