/**
 * Tokens, sync points, resynchronization, exceptions and activities (X.225 functional units)
 * on two engines back to back: the rules hold for commands (UsageError, nothing on the wire) and
 * for frames from the peer (provider abort with TOKEN_VIOLATION or SYNC_VIOLATION).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortCode,
  type DialogueEvent,
  ErrorCode,
  encodeFrame,
  FrameType,
  type Session,
  Token,
  Unit,
  UsageError,
} from '@liaison/core';
import { eventsOf, messages, openDialogue, Pair, type Side, utf8 } from './harness.js';
import { decodeChunks } from './wire-util.js';

const EMPTY = new Uint8Array(0);
const ACTIVITIES =
  Unit.KERNEL | Unit.DUPLEX | Unit.TYPED_DATA | Unit.ACTIVITY_MANAGEMENT | Unit.MAJOR_SYNCHRONIZE | Unit.RESYNCHRONIZE;
const HALF = Unit.KERNEL | Unit.HALF_DUPLEX | Unit.TYPED_DATA | Unit.EXPEDITED;
const SYNC =
  Unit.KERNEL |
  Unit.HALF_DUPLEX |
  Unit.MINOR_SYNCHRONIZE |
  Unit.MAJOR_SYNCHRONIZE |
  Unit.RESYNCHRONIZE |
  Unit.EXCEPTIONS |
  Unit.NEGOTIATED_RELEASE;

const open = openDialogue;

function dialogue(side: Side): DialogueEvent[] {
  return eventsOf(side, 'dialogue').map((e) => e.event);
}

function kinds(side: Side): string[] {
  return side.events
    .filter((e) => e.type === 'dialogue' || e.type === 'message')
    .map((e) =>
      e.type === 'message' ? `msg:${new TextDecoder().decode(e.data)}` : e.type === 'dialogue' ? e.event.kind : '',
    );
}

const usage = (code: string) => (e: unknown) => e instanceof UsageError && e.code === code;

/** Runs `command`, expecting a UsageError with `code` and nothing written on the wire. */
function refused(p: Pair, code: string, command: () => unknown): void {
  p.pump();
  const before = p.a.wire.length + p.b.wire.length;
  assert.throws(command, usage(code));
  assert.equal(p.a.conn.pollTransmit(), null, 'nothing on the wire (initiator)');
  assert.equal(p.b.conn.pollTransmit(), null, 'nothing on the wire (responder)');
  assert.equal(p.a.wire.length + p.b.wire.length, before);
}

/** Injects a dialogue frame as if the initiator's peer sent it; returns the close code, if it closed. */
function inject(p: Pair, to: Side, channel: number, type: number, fields: Partial<Record<string, unknown>> = {}): void {
  to.conn.handleBytes(
    p.now,
    encodeFrame({
      type,
      channel,
      tokens: 0,
      code: 0,
      serial: 0,
      id: EMPTY,
      oldId: EMPTY,
      userData: EMPTY,
      ...fields,
    } as never),
  );
  p.pump();
}

function abortCode(s: Session): number | null {
  const r = s.closeReason;
  return r?.kind === 'aborted' ? r.code : null;
}

describe('activities and major synchronization', () => {
  test('start, data, major sync confirmed, end confirmed: events in order with the messages', () => {
    const p = new Pair();
    const { a, b } = open(p, ACTIVITIES);
    const d = a.dialogue!;
    assert.equal(d.available, Token.major);
    assert.ok(d.owns('major') && !b.dialogue!.owns('major'));
    d.startActivity(utf8('file-1'), utf8('name'));
    a.send(p.now, 'normal', utf8('one'));
    assert.equal(d.syncMajor(utf8('chk')), 1, 'an activity numbers its sync points from 1');
    p.pump();
    assert.deepEqual(kinds(p.b), ['activity-start', 'msg:one', 'sync-major']);
    assert.deepEqual(b.dialogue!.activity?.id, utf8('file-1'));
    // Until confirmed, the sender sends no normal data and takes no other sync point.
    refused(p, ErrorCode.INVALID_STATE, () => a.send(p.now, 'normal', utf8('early')));
    refused(p, ErrorCode.INVALID_STATE, () => d.syncMajor(EMPTY));
    refused(p, ErrorCode.INVALID_STATE, () => d.endActivity(EMPTY));
    assert.equal(a.writable, false);
    // The receiver neither, until it confirms.
    refused(p, ErrorCode.INVALID_STATE, () => b.send(p.now, 'normal', utf8('reply')));
    b.send(p.now, 'typed', utf8('typed is fine'));
    b.dialogue!.confirmMajor(utf8('ok'));
    p.pump();
    const confirmed = dialogue(p.a).find((e) => e.kind === 'sync-major-confirmed');
    assert.deepEqual(confirmed, { kind: 'sync-major-confirmed', serial: 1, userData: utf8('ok'), activityEnd: false });
    assert.equal(d.activity?.serial, 1);
    assert.equal(eventsOf(p.a, 'writable').length > 0, true, 'writable again after the confirmation');
    a.send(p.now, 'normal', utf8('two'));
    assert.equal(d.endActivity(utf8('bye')), 2);
    p.pump();
    assert.deepEqual(kinds(p.b).slice(-2), ['msg:two', 'activity-end']);
    b.dialogue!.confirmMajor(EMPTY);
    p.pump();
    assert.equal(d.activity, null);
    assert.equal(b.dialogue!.activity, null);
    assert.ok(dialogue(p.a).some((e) => e.kind === 'sync-major-confirmed' && e.activityEnd && e.serial === 2));
  });

  test('invalid sequences: activity inside an activity, end without one, major sync without the token', () => {
    const p = new Pair();
    const { a, b } = open(p, ACTIVITIES);
    refused(p, ErrorCode.INVALID_STATE, () => a.dialogue!.endActivity(EMPTY));
    refused(p, ErrorCode.TOKEN_NOT_HELD, () => b.dialogue!.startActivity(utf8('x'), EMPTY));
    refused(p, ErrorCode.TOKEN_NOT_HELD, () => b.dialogue!.syncMajor(EMPTY));
    a.dialogue!.startActivity(utf8('x'), EMPTY);
    refused(p, ErrorCode.INVALID_STATE, () => a.dialogue!.startActivity(utf8('y'), EMPTY));
    refused(p, ErrorCode.INVALID_STATE, () => a.release(p.now, EMPTY));
    refused(p, ErrorCode.INVALID_STATE, () => b.dialogue!.confirmMajor(EMPTY));
    refused(p, ErrorCode.INVALID_ARGUMENT, () => a.dialogue!.resynchronize('restart', { serial: 99, userData: EMPTY }));
    // A unit not selected is UNIT_NOT_SELECTED.
    refused(p, ErrorCode.UNIT_NOT_SELECTED, () =>
      a.dialogue!.syncMinor({ confirm: false, separation: false, userData: EMPTY }),
    );
  });

  test('the peer starting an activity inside one, or without the token, is a provider abort', () => {
    const p = new Pair();
    const { a, b, channel } = open(p, ACTIVITIES);
    a.dialogue!.startActivity(utf8('x'), EMPTY);
    p.pump();
    // b never held the major token: an ACTIVITY_START from it breaks the token rule.
    inject(p, p.a, channel, FrameType.ACTIVITY_START, { id: utf8('y') });
    assert.equal(abortCode(a), AbortCode.TOKEN_VIOLATION);
    assert.equal(abortCode(b), AbortCode.TOKEN_VIOLATION, 'the peer is told why');

    const q = new Pair();
    const s = open(q, ACTIVITIES);
    s.a.dialogue!.startActivity(utf8('x'), EMPTY);
    q.pump();
    inject(q, q.b, s.channel, FrameType.ACTIVITY_START, { id: utf8('again') });
    assert.equal(abortCode(s.b), AbortCode.SYNC_VIOLATION);
  });

  test('a major sync with the wrong serial, or a confirmation of nothing, is a provider abort', () => {
    const p = new Pair();
    const s = open(p, ACTIVITIES);
    inject(p, p.b, s.channel, FrameType.MAJOR_SYNC, { serial: 5 });
    assert.equal(abortCode(s.b), AbortCode.SYNC_VIOLATION);
    const q = new Pair();
    const t = open(q, ACTIVITIES);
    inject(q, q.a, t.channel, FrameType.MAJOR_SYNC_ACK, { serial: 0 });
    assert.equal(abortCode(t.a), AbortCode.SYNC_VIOLATION);
  });

  test('an interrupted activity resumes in a new session from its last confirmed sync point', () => {
    const p = new Pair();
    const first = open(p, ACTIVITIES);
    const d = first.a.dialogue!;
    d.startActivity(utf8('job'), EMPTY);
    d.syncMajor(EMPTY);
    p.pump();
    first.b.dialogue!.confirmMajor(EMPTY);
    p.pump();
    d.syncMajor(EMPTY); // serial 2, never confirmed
    p.pump();
    assert.equal(d.activity?.serial, 1, 'the last confirmed one');
    d.interruptActivity(7, utf8('later'));
    p.pump();
    assert.deepEqual(
      dialogue(p.b).filter((e) => e.kind === 'activity-interrupt'),
      [{ kind: 'activity-interrupt', reason: 7, userData: utf8('later') }],
    );
    assert.ok(
      dialogue(p.a).some((e) => e.kind === 'activity-interrupted'),
      'acknowledged',
    );
    assert.equal(d.activity, null);
    assert.equal(first.b.dialogue!.majorPending, null, 'the unconfirmed sync point is cancelled');

    // A new pair of engines: both processes restarted.
    const q = new Pair();
    const second = open(q, ACTIVITIES);
    second.a.dialogue!.resumeActivity(utf8('job-2'), utf8('job'), 1, utf8('from 1'));
    q.pump();
    assert.deepEqual(dialogue(q.b), [
      { kind: 'activity-resume', id: utf8('job-2'), oldId: utf8('job'), serial: 1, userData: utf8('from 1') },
    ]);
    assert.equal(second.b.dialogue!.serial, 2);
    assert.equal(second.a.dialogue!.syncMajor(EMPTY), 2, 'numbering goes on after the resumed serial');
    q.pump();
    second.b.dialogue!.confirmMajor(EMPTY);
    assert.throws(
      () => second.a.send(q.now, 'normal', utf8('x')),
      usage(ErrorCode.INVALID_STATE),
      'not yet confirmed here',
    );
    q.pump();
    second.a.send(q.now, 'normal', utf8('after'));
    q.pump();
    assert.deepEqual(messages(q.b), ['after']);
  });

  test('capability data: outside activities only, confirmed by the peer', () => {
    const p = new Pair();
    const { a, b, channel } = open(p, ACTIVITIES | Unit.CAPABILITY_DATA);
    assert.ok(a.agreed!.units & Unit.CAPABILITY_DATA);
    refused(p, ErrorCode.TOKEN_NOT_HELD, () => b.dialogue!.sendCapability(EMPTY));
    a.dialogue!.sendCapability(utf8('caps'));
    refused(p, ErrorCode.INVALID_STATE, () => a.dialogue!.sendCapability(EMPTY));
    p.pump();
    assert.deepEqual(dialogue(p.b), [{ kind: 'capability-data', userData: utf8('caps') }]);
    b.dialogue!.confirmCapability(utf8('ok'));
    refused(p, ErrorCode.INVALID_STATE, () => b.dialogue!.confirmCapability(EMPTY));
    p.pump();
    assert.deepEqual(dialogue(p.a), [{ kind: 'capability-data-confirmed', userData: utf8('ok') }]);
    a.dialogue!.startActivity(utf8('x'), EMPTY);
    refused(p, ErrorCode.INVALID_STATE, () => a.dialogue!.sendCapability(EMPTY));
    p.pump();
    inject(p, p.b, channel, FrameType.CAPABILITY_DATA);
    assert.equal(abortCode(b), AbortCode.SYNC_VIOLATION, 'inside an activity');
    const q = new Pair();
    const plain = open(q, ACTIVITIES);
    refused(q, ErrorCode.UNIT_NOT_SELECTED, () => plain.a.dialogue!.sendCapability(EMPTY));
  });

  test('discard and its acknowledgement; the receiver cannot interrupt without the token', () => {
    const p = new Pair();
    const s = open(p, ACTIVITIES);
    s.a.dialogue!.startActivity(utf8('x'), EMPTY);
    p.pump();
    refused(p, ErrorCode.TOKEN_NOT_HELD, () => s.b.dialogue!.interruptActivity(0, EMPTY));
    s.a.dialogue!.discardActivity(3, EMPTY);
    p.pump();
    assert.ok(dialogue(p.b).some((e) => e.kind === 'activity-discard' && e.reason === 3));
    assert.ok(dialogue(p.a).some((e) => e.kind === 'activity-discarded'));
    assert.equal(s.b.dialogue!.activity, null);
  });
});

describe('tokens and half-duplex', () => {
  test('only the data token holder sends normal data; typed and expedited need no token', () => {
    const p = new Pair();
    const { a, b } = open(p, HALF);
    assert.equal(a.dialogue!.available, Token.data);
    refused(p, ErrorCode.TOKEN_NOT_HELD, () => b.send(p.now, 'normal', utf8('no')));
    b.send(p.now, 'typed', utf8('typed'));
    b.send(p.now, 'expedited', utf8('ex'));
    a.send(p.now, 'normal', utf8('from a'));
    p.pump();
    assert.deepEqual(messages(p.a, 'typed'), ['typed']);
    b.dialogue!.pleaseTokens(Token.data, utf8('please'));
    p.pump();
    assert.deepEqual(dialogue(p.a), [{ kind: 'tokens-requested', tokens: Token.data, userData: utf8('please') }]);
    a.dialogue!.giveTokens(Token.data, EMPTY);
    refused(p, ErrorCode.TOKEN_NOT_HELD, () => a.send(p.now, 'normal', utf8('gone')));
    p.pump();
    assert.ok(b.dialogue!.owns('data'));
    b.send(p.now, 'normal', utf8('from b'));
    p.pump();
    assert.deepEqual(messages(p.a), ['from b']);
    assert.deepEqual(messages(p.b), ['from a']);
    refused(p, ErrorCode.TOKEN_NOT_HELD, () => a.dialogue!.giveTokens(Token.data, EMPTY));
    refused(p, ErrorCode.INVALID_ARGUMENT, () => a.dialogue!.giveTokens(Token.minor, EMPTY));
  });

  test('data from a peer without the data token is a provider abort with TOKEN_VIOLATION', () => {
    const p = new Pair();
    const { a, channel } = open(p, HALF);
    p.a.conn.handleBytes(p.now, encodeFrame({ type: FrameType.DATA, channel, end: true, payload: utf8('x') }));
    p.pump();
    assert.equal(abortCode(a), AbortCode.TOKEN_VIOLATION);
    assert.deepEqual(messages(p.a), []);
  });

  test('initial tokens and serial are negotiated at establishment', () => {
    const p = new Pair();
    const units = SYNC | Unit.ACTIVITY_MANAGEMENT;
    const { a, b } = open(
      p,
      units,
      { responderTokens: Token.data, responderChooses: Token.release, initialSerial: 40 },
      Token.release | Token.major,
    );
    assert.equal(b.dialogue!.mine, Token.data | Token.release, 'assigned data, chose release, major was not offered');
    assert.equal(a.dialogue!.mine, Token.minor | Token.major);
    assert.equal(a.dialogue!.serial, 40);
    assert.equal(b.dialogue!.serial, 40);
  });

  test('release with the release token available needs every token; give control hands them all over', () => {
    const p = new Pair();
    const { a, b } = open(p, SYNC | Unit.ACTIVITY_MANAGEMENT);
    refused(p, ErrorCode.TOKEN_NOT_HELD, () => b.release(p.now, EMPTY));
    a.dialogue!.giveControl(utf8('yours'));
    p.pump();
    assert.equal(b.dialogue!.mine, b.dialogue!.available);
    assert.equal(a.dialogue!.mine, 0);
    assert.ok(dialogue(p.b).some((e) => e.kind === 'tokens-given' && e.tokens === b.dialogue!.available));
    b.release(p.now, EMPTY);
    p.pump();
    a.respondRelease(p.now, true, EMPTY);
    p.pump();
    assert.equal(a.closeReason?.kind, 'released');
  });

  test('a FINISH from a peer without the tokens is a provider abort', () => {
    const q = new Pair();
    const s = open(q, SYNC);
    q.a.conn.handleBytes(q.now, encodeFrame({ type: FrameType.FINISH, channel: s.channel, userData: EMPTY }));
    q.pump();
    assert.equal(abortCode(s.a), AbortCode.TOKEN_VIOLATION);
  });
});

describe('minor synchronization, resynchronization, exceptions', () => {
  test('minor sync points: tokens needed, serials increase, confirmed cumulatively', () => {
    const p = new Pair();
    const { a, b } = open(p, SYNC);
    refused(p, ErrorCode.TOKEN_NOT_HELD, () =>
      b.dialogue!.syncMinor({ confirm: true, separation: false, userData: EMPTY }),
    );
    const s0 = a.dialogue!.syncMinor({ confirm: true, separation: false, userData: EMPTY });
    const s1 = a.dialogue!.syncMinor({ confirm: false, separation: false, userData: EMPTY });
    const s2 = a.dialogue!.syncMinor({ confirm: true, separation: false, userData: EMPTY });
    assert.deepEqual([s0, s1, s2], [0, 1, 2]);
    p.pump();
    assert.deepEqual(
      dialogue(p.b).map((e) => (e.kind === 'sync-minor' ? [e.serial, e.confirmRequested] : null)),
      [
        [0, true],
        [1, false],
        [2, true],
      ],
    );
    refused(p, ErrorCode.INVALID_ARGUMENT, () => b.dialogue!.confirmMinor(3, EMPTY));
    b.dialogue!.confirmMinor(1, EMPTY);
    b.dialogue!.confirmMinor(2, EMPTY);
    refused(p, ErrorCode.INVALID_ARGUMENT, () => b.dialogue!.confirmMinor(2, EMPTY));
    p.pump();
    assert.deepEqual(
      dialogue(p.a).map((e) => e.kind === 'sync-minor-confirmed' && e.serial),
      [1, 2],
    );
    // Minor syncs do not block data.
    a.send(p.now, 'normal', utf8('go on'));
  });

  test('resynchronize restart purges unsent data, reassigns tokens and resets the serial', () => {
    const p = new Pair({ limits: { receiveWindowBytes: 64 * 1024 } });
    const { a, b } = open(p, SYNC);
    const d = a.dialogue!;
    d.syncMajor(EMPTY); // serial 0
    p.pump();
    b.dialogue!.confirmMajor(EMPTY);
    p.pump();
    d.syncMinor({ confirm: false, separation: false, userData: EMPTY }); // 1
    d.syncMinor({ confirm: false, separation: false, userData: EMPTY }); // 2
    p.pump();
    refused(p, ErrorCode.INVALID_ARGUMENT, () => d.resynchronize('restart', { serial: 0, userData: EMPTY }));
    for (let i = 0; i < 8; i++) a.send(p.now, 'normal', new Uint8Array(30_000));
    const serial = d.resynchronize('restart', { serial: 1, tokens: Token.minor, userData: utf8('back') });
    assert.equal(serial, 1);
    assert.ok(a.stats.messagesPurged > 0, 'unsent data was dropped');
    refused(p, ErrorCode.INVALID_STATE, () => d.resynchronize('abandon', { userData: EMPTY }));
    p.pump();
    const ind = dialogue(p.b).find((e) => e.kind === 'resynchronize');
    assert.deepEqual(ind, {
      kind: 'resynchronize',
      resync: 'restart',
      serial: 1,
      tokens: Token.minor,
      userData: utf8('back'),
    });
    refused(p, ErrorCode.INVALID_STATE, () =>
      a.dialogue!.syncMinor({ confirm: false, separation: false, userData: EMPTY }),
    );
    b.dialogue!.confirmResynchronize(EMPTY);
    p.pump();
    assert.ok(dialogue(p.a).some((e) => e.kind === 'resynchronized' && e.serial === 1));
    assert.equal(a.dialogue!.mine, Token.minor, 'the requester holds what it asked for');
    assert.equal(b.dialogue!.mine, Token.data | Token.major | Token.release);
    assert.equal(a.dialogue!.serial, 1);
    assert.equal(b.dialogue!.serial, 1);
    const received = messages(p.b).length;
    assert.equal(received + a.stats.messagesPurged + b.stats.messagesDiscarded, 8, 'every message accounted for');
  });

  test('a resynchronize during release, or without the unit, is refused', () => {
    const p = new Pair();
    const { a } = open(p, SYNC);
    a.release(p.now, EMPTY);
    refused(p, ErrorCode.INVALID_STATE, () => a.dialogue!.resynchronize('abandon', { userData: EMPTY }));
    const q = new Pair();
    const s = open(q, HALF);
    refused(q, ErrorCode.UNIT_NOT_SELECTED, () => s.a.dialogue!.resynchronize('abandon', { userData: EMPTY }));
  });

  test('every dialogue command outside open (releasing, release-requested) is INVALID_STATE, nothing sent', () => {
    const p = new Pair();
    const units = SYNC | Unit.ACTIVITY_MANAGEMENT | Unit.CAPABILITY_DATA;
    const { a, b } = open(p, units);
    a.release(p.now, EMPTY);
    p.pump();
    assert.equal(a.state, 'releasing');
    assert.equal(b.state, 'release-requested');
    for (const s of [a, b]) {
      const d = s.dialogue!;
      const commands: (() => unknown)[] = [
        () => d.giveTokens(Token.data, EMPTY),
        () => d.pleaseTokens(Token.data, EMPTY),
        () => d.giveControl(EMPTY),
        () => d.syncMinor({ confirm: false, separation: false, userData: EMPTY }),
        () => d.confirmMinor(0, EMPTY),
        () => d.syncMajor(EMPTY),
        () => d.confirmMajor(EMPTY),
        () => d.resynchronize('abandon', { userData: EMPTY }),
        () => d.confirmResynchronize(EMPTY),
        () => d.reportException(0, EMPTY),
        () => d.startActivity(utf8('x'), EMPTY),
        () => d.resumeActivity(utf8('x'), utf8('y'), 1, EMPTY),
        () => d.interruptActivity(0, EMPTY),
        () => d.discardActivity(0, EMPTY),
        () => d.endActivity(EMPTY),
        () => d.sendCapability(EMPTY),
        () => d.confirmCapability(EMPTY),
      ];
      for (const command of commands) refused(p, ErrorCode.INVALID_STATE, command);
    }
  });

  test('resynchronize collision: abandon beats restart; equal kinds, the initiator wins', () => {
    for (const [ka, kb, winner] of [
      ['restart', 'abandon', 'b'],
      ['abandon', 'restart', 'a'],
      ['set', 'set', 'a'],
    ] as const) {
      const p = new Pair();
      const { a, b } = open(p, Unit.KERNEL | Unit.DUPLEX | Unit.RESYNCHRONIZE);
      a.dialogue!.resynchronize(ka, ka === 'restart' ? { userData: EMPTY } : { serial: 10, userData: EMPTY });
      b.dialogue!.resynchronize(kb, kb === 'restart' ? { userData: EMPTY } : { serial: 20, userData: EMPTY });
      p.pump();
      const [w, l, ws, ls] = winner === 'a' ? [a, b, p.a, p.b] : [b, a, p.b, p.a];
      assert.ok(
        dialogue(ls).some((e) => e.kind === 'resync-superseded'),
        `${ka}/${kb}: loser told`,
      );
      assert.ok(!dialogue(ws).some((e) => e.kind === 'resynchronize'), `${ka}/${kb}: winner sees no indication`);
      l.dialogue!.confirmResynchronize(EMPTY);
      p.pump();
      assert.ok(dialogue(ws).some((e) => e.kind === 'resynchronized'));
      const expected = winner === 'a' ? 10 : 20;
      assert.equal(w.dialogue!.serial, expected);
      assert.equal(l.dialogue!.serial, expected);
    }
  });

  test('exception report: by the side without the data token; only resync, give tokens or abort clear it', () => {
    const p = new Pair();
    const { a, b } = open(p, SYNC);
    refused(p, ErrorCode.INVALID_STATE, () => a.dialogue!.reportException(1, EMPTY));
    b.dialogue!.reportException(9, utf8('disk full'));
    p.pump();
    assert.deepEqual(dialogue(p.a), [{ kind: 'exception', reason: 9, byProvider: false, userData: utf8('disk full') }]);
    refused(p, ErrorCode.INVALID_STATE, () => a.send(p.now, 'normal', utf8('x')));
    refused(p, ErrorCode.INVALID_STATE, () =>
      a.dialogue!.syncMinor({ confirm: false, separation: false, userData: EMPTY }),
    );
    a.dialogue!.giveTokens(Token.data, EMPTY);
    p.pump();
    assert.equal(a.dialogue!.inException, false);
    assert.equal(b.dialogue!.inException, false);
    b.send(p.now, 'normal', utf8('b speaks'));
    p.pump();
    assert.deepEqual(messages(p.a), ['b speaks']);
  });

  test('with EXCEPTIONS, data without the token is a provider exception report, not an abort', () => {
    const p = new Pair();
    const { a, channel } = open(p, SYNC);
    // Forged on a's side only (b never sent it, so b must not hear of it: its counts would disagree).
    p.linkUp = false;
    p.a.conn.handleBytes(p.now, encodeFrame({ type: FrameType.DATA, channel, end: true, payload: utf8('rogue') }));
    p.pump();
    assert.equal(a.state, 'open');
    assert.deepEqual(messages(p.a), [], 'the data is discarded');
    assert.equal(a.stats.messagesDiscarded, 1);
    assert.deepEqual(
      dialogue(p.a).filter((e) => e.kind === 'exception'),
      [{ kind: 'exception', reason: AbortCode.TOKEN_VIOLATION, byProvider: true, userData: EMPTY }],
    );
    assert.ok(a.dialogue!.inException);
    const out = p.a.conn.pollTransmit();
    const sent = decodeChunks([out as Uint8Array]).filter((f) => f.type === FrameType.EXCEPTION_REPORT);
    assert.equal(sent.length, 1, 'an EXCEPTION_REPORT goes to the peer');
    assert.throws(() => a.send(p.now, 'normal', utf8('x')), usage(ErrorCode.INVALID_STATE));
    // The data token holder resolves it: giving the data token ends the exception state.
    a.dialogue!.giveTokens(Token.data, EMPTY);
    assert.ok(!a.dialogue!.inException);
  });

  test('symmetric synchronization: each direction numbers its own minor sync points', () => {
    const p = new Pair();
    const units = Unit.KERNEL | Unit.DUPLEX | Unit.SYMMETRIC_SYNCHRONIZE | Unit.DATA_SEPARATION;
    const { a, b } = open(p, units, { initialSerial: 5 });
    assert.equal(a.dialogue!.available, 0, 'no minor token with symmetric synchronization');
    assert.equal(a.dialogue!.syncMinor({ confirm: true, separation: false, userData: EMPTY }), 5);
    assert.equal(b.dialogue!.syncMinor({ confirm: true, separation: true, userData: EMPTY }), 5);
    assert.equal(a.dialogue!.syncMinor({ confirm: false, separation: false, userData: EMPTY }), 6);
    p.pump();
    assert.deepEqual(
      dialogue(p.b).map((e) => e.kind === 'sync-minor' && e.serial),
      [5, 6],
    );
    assert.ok(dialogue(p.a).some((e) => e.kind === 'sync-minor' && e.serial === 5 && e.separation));
    b.dialogue!.confirmMinor(6, EMPTY);
    a.dialogue!.confirmMinor(5, EMPTY);
    p.pump();
    assert.ok(a.state === 'open' && b.state === 'open');
  });
});
