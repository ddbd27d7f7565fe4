/**
 * The (dialogue state, frame) walk: every dialogue frame, with the fields a peer would write,
 * injected into the responder in each dialogue state (who holds the tokens, an activity, the
 * peer's major sync point unconfirmed, the peer's resynchronize unconfirmed, the exception state,
 * releasing) gives the outcome X.225 asks for: accepted ('ok', the session stays in its state), or
 * a provider abort with TOKEN_VIOLATION ('T') or SYNC_VIOLATION ('S'). Every unit is selected, so
 * no outcome is a missing unit. A second session on the connection is never affected.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortCode, encodeFrame, FrameType, type Session, Unit } from '@liaison/core';
import { DIALOGUE_FRAMES, Pair } from './harness.js';

const EMPTY = new Uint8Array(0);
const UNITS =
  Unit.KERNEL |
  Unit.HALF_DUPLEX |
  Unit.TYPED_DATA |
  Unit.MINOR_SYNCHRONIZE |
  Unit.MAJOR_SYNCHRONIZE |
  Unit.RESYNCHRONIZE |
  Unit.EXCEPTIONS |
  Unit.ACTIVITY_MANAGEMENT |
  Unit.CAPABILITY_DATA |
  Unit.NEGOTIATED_RELEASE;

const FRAMES = DIALOGUE_FRAMES;

type Outcome = 'ok' | 'T' | 'S';
/** The responder's dialogue state, reached with real commands on both engines. */
type DialogueState =
  | 'peer-holds'
  | 'holds'
  | 'activity'
  | 'peer-major-pending'
  | 'peer-resync-pending'
  | 'exception'
  | 'releasing';

// Columns in FRAMES order:       GT  PT  GTC MIN MIA MAP MAA RS  RA  ER  ED  AS  AR  AI  AIA AD  ADA AE  CD  CDA
const TABLE: Record<DialogueState, string> = {
  'peer-holds': /*            */ 'ok  ok  ok  ok  S   ok  S   S   S   ok  T   ok  ok  S   S   S   S   S   ok  S',
  holds: /*                   */ 'T   ok  T   T   S   T   S   S   S   ok  ok  T   T   S   S   S   S   S   T   S',
  activity: /*                */ 'ok  ok  T   ok  S   ok  S   ok  S   ok  T   S   S   ok  S   ok  S   ok  S   S',
  'peer-major-pending': /*    */ 'S   ok  T   S   S   S   S   ok  S   ok  T   S   S   ok  S   ok  S   S   S   S',
  'peer-resync-pending': /*   */ 'S   ok  T   S   S   S   S   S   S   ok  T   S   S   ok  S   ok  S   S   S   S',
  exception: /*               */ 'ok  ok  ok  ok  S   ok  S   S   S   ok  T   ok  ok  S   S   S   S   S   ok  S',
  releasing: /*               */ 'T   ok  T   T   S   T   S   S   S   ok  ok  T   T   S   S   S   S   S   T   S',
};

function reach(state: DialogueState): { p: Pair; b: Session; other: Session; channel: number } {
  const p = new Pair();
  const a = p.a.conn.openSession(p.now, { units: UNITS });
  const other = p.a.conn.openSession(p.now, { units: UNITS });
  p.pump();
  const b = p.b.conn.session(a.channel)!;
  b.accept(p.now, EMPTY, []);
  p.b.conn.session(other.channel)!.accept(p.now, EMPTY, []);
  p.pump();
  const da = a.dialogue!;
  const db = b.dialogue!;
  const id = new Uint8Array([7]);
  if (state === 'holds' || state === 'releasing') {
    da.giveControl(EMPTY);
    p.pump();
    if (state === 'releasing') b.release(p.now, EMPTY);
  } else if (state === 'exception') {
    db.reportException(3, EMPTY);
  } else if (state !== 'peer-holds') {
    da.startActivity(id, EMPTY);
    if (state === 'peer-major-pending') da.syncMajor(EMPTY);
    if (state === 'peer-resync-pending') da.resynchronize('abandon', { userData: EMPTY });
  }
  p.pump();
  // The engines agree on the state reached.
  assert.equal(db.majorPending !== null, state === 'peer-major-pending', state);
  assert.equal(db.resyncIndicated, state === 'peer-resync-pending', state);
  assert.equal(db.inException, state === 'exception', state);
  assert.equal(db.mine === db.available, state === 'holds' || state === 'releasing', state);
  assert.equal(b.state, state === 'releasing' ? 'releasing' : 'open');
  return { p, b, other, channel: a.channel };
}

function inject(p: Pair, b: Session, channel: number, name: (typeof FRAMES)[number]): void {
  const d = b.dialogue!;
  const type = FrameType[name];
  const serialOf: Partial<Record<typeof name, number>> = {
    MINOR_SYNC: d.serial,
    MAJOR_SYNC: d.serial,
    ACTIVITY_END: d.serial,
    RESYNC: d.serial,
    ACTIVITY_RESUME: 3,
  };
  const tokens = name === 'GIVE_TOKENS' || name === 'PLEASE_TOKENS' || name === 'GIVE_CONTROL' ? d.available : 0;
  const frame = {
    type,
    channel,
    tokens,
    code: name === 'RESYNC' ? 2 : 0,
    serial: serialOf[name] ?? 0,
    id: name === 'ACTIVITY_START' || name === 'ACTIVITY_RESUME' ? new Uint8Array([8]) : EMPTY,
    oldId: name === 'ACTIVITY_RESUME' ? new Uint8Array([7]) : EMPTY,
    userData: EMPTY,
  };
  // Forged on the responder's side only: its answers (an AIA, say) must not reach an initiator
  // that never sent the frame.
  p.linkUp = false;
  p.b.conn.handleBytes(p.now, encodeFrame(frame as never));
  p.pump();
}

test('every dialogue frame in every dialogue state gives the X.225 outcome', () => {
  const mismatches: string[] = [];
  for (const [state, row] of Object.entries(TABLE) as [DialogueState, string][]) {
    const expected = row.split(/\s+/) as Outcome[];
    assert.equal(expected.length, FRAMES.length, `${state}: one outcome per frame`);
    FRAMES.forEach((name, i) => {
      const { p, b, other, channel } = reach(state);
      const before = b.state;
      inject(p, b, channel, name);
      const r = b.closeReason;
      const got: string =
        r === null
          ? b.state === before
            ? 'ok'
            : `state ${b.state}`
          : r.kind === 'aborted' && r.code === AbortCode.TOKEN_VIOLATION
            ? 'T'
            : r.kind === 'aborted' && r.code === AbortCode.SYNC_VIOLATION
              ? 'S'
              : `closed ${JSON.stringify(r)}`;
      if (got !== expected[i]) mismatches.push(`${state} × ${name}: expected ${expected[i]}, got ${got}`);
      assert.equal(other.state, 'open', `${state} × ${name}: the other session is unaffected`);
    });
  }
  assert.deepEqual(mismatches, []);
});
