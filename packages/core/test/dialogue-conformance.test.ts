/**
 * X.225 / X.215 rules found in a conformance review of the dialogue machine: S-CONTROL-GIVE
 * belongs to the activity management unit, and of two colliding restarts the lower serial wins.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortCode,
  type DialogueEvent,
  ErrorCode,
  encodeFrame,
  FrameType,
  Token,
  Unit,
  UsageError,
} from '@liaison/core';
import { eventsOf, openDialogue, Pair, type Side } from './harness.js';

const EMPTY = new Uint8Array(0);

const open = openDialogue;

function dialogue(side: Side): DialogueEvent[] {
  return eventsOf(side, 'dialogue').map((e) => e.event);
}

function refused(p: Pair, code: string, command: () => unknown): void {
  p.pump();
  assert.throws(command, (e: unknown) => e instanceof UsageError && e.code === code);
  assert.equal(p.a.conn.pollTransmit(), null, 'nothing on the wire');
}

describe('S-CONTROL-GIVE (X.215: activity management unit, outside activities, nothing pending)', () => {
  const HALF = Unit.KERNEL | Unit.HALF_DUPLEX | Unit.MAJOR_SYNCHRONIZE | Unit.NEGOTIATED_RELEASE;

  test('without ACTIVITY_MANAGEMENT it is UNIT_NOT_SELECTED, and from the peer a provider abort', () => {
    const p = new Pair();
    const { a, b, channel } = open(p, HALF);
    refused(p, ErrorCode.UNIT_NOT_SELECTED, () => a.dialogue!.giveControl(EMPTY));
    assert.equal(a.dialogue!.mine, a.dialogue!.available, 'nothing moved');
    // b holds nothing; a forged GIVE_CONTROL from b's side reaches a without the unit.
    p.a.conn.handleBytes(
      p.now,
      encodeFrame({
        type: FrameType.GIVE_CONTROL,
        channel,
        tokens: Token.data,
        code: 0,
        serial: 0,
        id: EMPTY,
        oldId: EMPTY,
        userData: EMPTY,
      }),
    );
    p.pump();
    assert.equal(a.closeReason?.kind === 'aborted' && a.closeReason.code, AbortCode.UNEXPECTED_FRAME);
    assert.notEqual(b.state, 'open');
  });

  test('refused inside an activity and while a major sync point is unconfirmed; allowed after', () => {
    const p = new Pair();
    const { a, b } = open(p, HALF | Unit.ACTIVITY_MANAGEMENT);
    const d = a.dialogue!;
    d.syncMajor(EMPTY);
    refused(p, ErrorCode.INVALID_STATE, () => d.giveControl(EMPTY));
    b.dialogue!.confirmMajor(EMPTY);
    p.pump();
    d.startActivity(new Uint8Array([1]), EMPTY);
    p.pump();
    refused(p, ErrorCode.INVALID_STATE, () => d.giveControl(EMPTY));
    d.endActivity(EMPTY);
    p.pump();
    b.dialogue!.confirmMajor(EMPTY);
    p.pump();
    d.giveControl(EMPTY);
    p.pump();
    assert.equal(d.mine, 0);
    assert.equal(b.dialogue!.mine, b.dialogue!.available);
  });
});

describe('resynchronize collisions (X.225): of two restarts the lower serial wins', () => {
  const UNITS = Unit.KERNEL | Unit.DUPLEX | Unit.MINOR_SYNCHRONIZE | Unit.RESYNCHRONIZE;

  for (const [sa, sb, winner] of [
    [2, 1, 'b'],
    [1, 2, 'a'],
    [1, 1, 'a'],
  ] as const) {
    test(`initiator restarts to ${sa}, responder to ${sb}: ${winner === 'a' ? 'initiator' : 'responder'} wins`, () => {
      const p = new Pair();
      const { a, b } = open(p, UNITS);
      a.dialogue!.syncMinor({ confirm: false, separation: false, userData: EMPTY });
      a.dialogue!.syncMinor({ confirm: false, separation: false, userData: EMPTY });
      p.pump();
      assert.equal(b.dialogue!.serial, 2, 'V(M) is 2 on both sides');
      a.dialogue!.resynchronize('restart', { serial: sa, userData: EMPTY });
      b.dialogue!.resynchronize('restart', { serial: sb, userData: EMPTY });
      p.pump();
      const [loser, winSide, loseSide] = winner === 'a' ? [b, p.a, p.b] : [a, p.b, p.a];
      assert.ok(
        dialogue(loseSide).some((e) => e.kind === 'resync-superseded'),
        'the loser is told',
      );
      assert.ok(!dialogue(winSide).some((e) => e.kind === 'resynchronize'), 'the winner sees no indication');
      loser.dialogue!.confirmResynchronize(EMPTY);
      p.pump();
      assert.ok(dialogue(winSide).some((e) => e.kind === 'resynchronized'));
      const expected = winner === 'a' ? sa : sb;
      assert.equal(a.dialogue!.serial, expected);
      assert.equal(b.dialogue!.serial, expected);
      assert.ok(a.state === 'open' && b.state === 'open');
    });
  }
});

describe('a resynchronize crossing a release', () => {
  test('the releaser discards the peer’s RS: no indication it could not answer; the release completes', () => {
    const p = new Pair();
    const units = Unit.KERNEL | Unit.HALF_DUPLEX | Unit.RESYNCHRONIZE | Unit.NEGOTIATED_RELEASE;
    const { a, b } = open(p, units);
    a.dialogue!.giveTokens(a.dialogue!.mine, EMPTY);
    p.pump();
    // b releases while a, not yet knowing, resynchronizes: the two frames cross.
    b.release(p.now, EMPTY);
    a.dialogue!.resynchronize('abandon', { userData: EMPTY });
    p.pump();
    assert.ok(!dialogue(p.b).some((e) => e.kind === 'resynchronize'), 'the releaser is not asked to confirm');
    assert.equal(b.dialogue!.resyncIndicated, false);
    assert.equal(a.state, 'release-requested');
    a.respondRelease(p.now, true, EMPTY);
    p.pump();
    assert.equal(a.closeReason?.kind, 'released');
    assert.equal(b.closeReason?.kind, 'released');
  });
});
