/**
 * The reference model's rules for an SPDU arriving at one side (X.225 Annex A, the SPDU events):
 * what the side's user is told, how its variables move, and what the side answers by itself
 * (AIA, ADA, a DN in a release collision). Both sides of the model follow the rules, so an SPDU
 * that breaks one means the model let a side send what it may not: `ModelViolation`, a test failure.
 */

import type { SideModel } from './side.js';
import { PASS_WHILE_PURGING, type ResyncType, type Spdu } from './spdu.js';

export class ModelViolation extends Error {}

/** X.225 resynchronize collisions: abandon beats set beats restart. */
const RANK: Record<ResyncType, number> = { restart: 0, set: 1, abandon: 2 };

/** Applies `f` arriving at `s`; returns the SPDUs `s` sends back by itself. */
export function receive(s: SideModel, f: Spdu): Spdu[] {
  const purging = s.resyncOut !== null || s.stopOut !== null;
  if (purging && !PASS_WHILE_PURGING.has(f.t) && f.t !== 'FN') {
    // Data in transit when this side asked for a resynchronize or activity stop: discarded.
    if (f.t === 'DT') s.told.push(`discarded:${f.text}`);
    // A sync point purged still takes its serial (an engine rule, docs/TESTING.md): a FINISH may
    // yet supersede the resynchronize, and after an interrupt or discard the engine lets sync
    // points go on outside activities; either way V(M) must agree with the peer's.
    if (f.t === 'MIP' || f.t === 'MAP' || f.t === 'AE') s.va = s.vm = f.serial + 1;
    return [];
  }
  const violation = (why: string): never => {
    throw new ModelViolation(`${s.initiator ? 'initiator' : 'responder'} receives ${JSON.stringify(f)}: ${why}`);
  };
  switch (f.t) {
    case 'DT':
      s.told.push(`msg:${f.text}`);
      return [];
    case 'GT':
    case 'GTC':
      if ((f.tokens & s.owned) !== 0) violation('a token given is already owned here');
      s.owned |= f.tokens;
      s.told.push(`tokens-given:${f.tokens}`);
      return [];
    case 'PT': {
      // The engine tells only of the tokens still held here (one given meanwhile is on its way).
      const tokens = f.tokens & s.owned;
      if (tokens !== 0) s.told.push(`tokens-requested:${tokens}`);
      return [];
    }
    case 'MIP':
    case 'MAP':
    case 'AE': {
      if (f.serial !== s.vm) violation(`serial ${f.serial}, V(M) is ${s.vm}`);
      s.takeSerial(true);
      if (f.t === 'MIP') s.told.push(`sync-minor:${f.serial}:${f.confirm ? 'c' : '-'}`);
      else {
        s.majorIn = { serial: f.serial, end: f.t === 'AE' };
        s.told.push(f.t === 'AE' ? `activity-end:${f.serial}` : `sync-major:${f.serial}`);
      }
      return [];
    }
    case 'MIA': {
      // A confirmation below V(A), or of an earlier numbering, crossed what moved V(A) on (an
      // activity start or resume, a major sync point confirmed): stale, dropped (an engine rule,
      // docs/TESTING.md). Otherwise Table A-4 asks Vsc false and V(M) > sn >= V(A).
      const minor = s.majorOut === null || f.serial < s.majorOut.serial;
      if (s.vsc || f.serial < s.va || f.serial >= s.vm || !minor) {
        const old = s.stale;
        if (old !== null && f.serial >= old.low && f.serial <= old.high) return [];
        if (f.serial >= s.numberingStart && f.serial < s.va) return [];
        violation(`V(A) ${s.va}, V(M) ${s.vm}, Vsc ${s.vsc}`);
      }
      s.va = f.serial + 1;
      s.told.push(`sync-minor-confirmed:${f.serial}`);
      return [];
    }
    case 'MAA': {
      const pending = s.majorOut;
      if (pending === null || pending.serial !== f.serial) violation('no such major sync point pending');
      s.majorOut = null;
      s.va = s.vr = s.vm;
      if (pending?.end) s.activity = null;
      s.told.push(`sync-major-confirmed:${f.serial}:${pending?.end ? 'end' : '-'}`);
      return [];
    }
    case 'RS':
      return receiveResync(s, f, violation);
    case 'RA': {
      const rs = s.resyncOut;
      if (rs === null) violation('no resynchronize pending');
      s.resyncOut = null;
      s.resynced(rs?.type ?? 'set', f.serial, f.tokens);
      s.told.push(`resynchronized:${f.serial}`);
      return [];
    }
    case 'AS':
    case 'AR':
      if (s.activity !== null) violation('an activity is in progress');
      if (f.t === 'AS') {
        s.beginActivity(f.id, 1, 1);
        s.told.push(`activity-start:${f.id}`);
      } else {
        s.beginActivity(f.id, f.serial + 1, f.serial + 1);
        s.told.push(`activity-resume:${f.id}:${f.oldId}:${f.serial}`);
      }
      return [];
    case 'AI':
    case 'AD': {
      if (s.activity === null) violation('no activity');
      if (s.resyncOut !== null) s.told.push('resync-superseded');
      s.majorOut = s.majorIn = s.resyncOut = s.resyncIn = null;
      s.dropConfirmations();
      s.activity = null;
      s.told.push(f.t === 'AI' ? `activity-interrupt:${f.reason}` : `activity-discard:${f.reason}`);
      return [{ t: f.t === 'AI' ? 'AIA' : 'ADA' }];
    }
    case 'AIA':
    case 'ADA':
      if (s.stopOut !== (f.t === 'AIA' ? 'interrupt' : 'discard')) violation('no such activity stop pending');
      s.stopOut = null;
      s.activity = null;
      s.told.push(f.t === 'AIA' ? 'activity-interrupted' : 'activity-discarded');
      return [];
    case 'FN':
      if (s.phase === 'releasing') {
        // Release collision: each answers DN; neither user is asked.
        s.phase = 'closing';
        return [{ t: 'DN' }];
      }
      if (s.resyncOut !== null) {
        // The FN crossed this side's RS, which the releaser discarded (PROTOCOL.md 18.4).
        s.resyncOut = null;
        s.told.push('resync-superseded');
      }
      s.phase = 'release-requested';
      s.told.push('release-requested');
      return [];
    case 'DN':
      if (s.phase !== 'releasing' && s.phase !== 'closing') violation('no release pending');
      s.phase = s.phase === 'releasing' ? 'closed' : 'closing';
      return [];
    case 'NF':
      if (s.phase !== 'releasing') violation('no release pending');
      s.phase = 'open';
      s.told.push('release-refused');
      return [];
  }
}

function receiveResync(s: SideModel, f: Extract<Spdu, { t: 'RS' }>, violation: (why: string) => never): Spdu[] {
  // A release or an activity stop of this side beats the peer's resynchronize.
  if (s.phase === 'releasing' || s.stopOut !== null) return [];
  const mine = s.resyncOut;
  if (mine !== null) {
    const mineWins =
      RANK[mine.type] !== RANK[f.type]
        ? RANK[mine.type] > RANK[f.type]
        : mine.type === 'restart' && mine.serial !== f.serial
          ? mine.serial < f.serial
          : s.initiator;
    if (mineWins) return [];
    s.resyncOut = null;
    s.told.push('resync-superseded');
  }
  if (f.type === 'restart' && f.serial < s.vr) violation(`restart to ${f.serial} below V(R) ${s.vr}`);
  // Table A-4, RS SPDU abandon: V(M) becomes max(sn, V(M)), the serial the RA carries (the model
  // moves V(M) at the response, as the engine does: no sync point can be taken in between).
  const serial = f.type === 'abandon' ? Math.max(f.serial, s.vm) : f.serial;
  s.majorOut = s.majorIn = null;
  s.resyncIn = { type: f.type, serial, tokens: f.tokens };
  s.told.push(`resynchronize:${f.type}:${f.serial}:${f.tokens}`);
  return [];
}
