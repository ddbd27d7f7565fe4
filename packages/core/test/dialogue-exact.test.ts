/**
 * The dialogue machine's refusals, exactly: which command or peer frame is refused in which state,
 * with which error code and which text. The text is what an application developer reads when a
 * service is used wrong, and what a peer's operator reads in an abort, so it is part of the
 * contract (X.215 service restrictions, X.225 state tables). Two Dialogue machines are driven
 * directly through their host interface, frames moved by hand, so each rule is hit alone.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortCode,
  ACTIVITY_ID_BYTES_MAX,
  Dialogue,
  type DialogueEvent,
  type DialogueFrame,
  type DialogueFrameType,
  ErrorCode,
  FrameType,
  ProtocolError,
  SERIAL_MAX,
  Token,
  type TokenName,
  tokenMask,
  tokenNames,
  Unit,
  UsageError,
} from '@liaison/core';

const E = new Uint8Array(0);
const ID = new Uint8Array([7]);
const K = Unit.KERNEL;
const DUPLEX = K | Unit.DUPLEX;
const HALF = K | Unit.HALF_DUPLEX;
/** Every dialogue unit, half-duplex: data, minor, major and release tokens are all available. */
const ALL =
  HALF |
  Unit.NEGOTIATED_RELEASE |
  Unit.MINOR_SYNCHRONIZE |
  Unit.MAJOR_SYNCHRONIZE |
  Unit.RESYNCHRONIZE |
  Unit.EXCEPTIONS |
  Unit.ACTIVITY_MANAGEMENT |
  Unit.CAPABILITY_DATA;

class End {
  readonly sent: Omit<DialogueFrame, 'channel'>[] = [];
  readonly events: DialogueEvent[] = [];
  isOpen = true;
  readonly d: Dialogue;
  constructor(units: number, initiator: boolean, responderTokens: number) {
    this.d = new Dialogue(
      {
        queue: (f) => this.sent.push(f),
        emit: (e) => this.events.push(e),
        purge: () => {},
        open: () => this.isOpen,
      },
      { units, initiator, responderTokens, initialSerial: 1 },
    );
  }
}

/** `a` is the initiator and holds every available token but `responderTokens`. */
function pair(units: number, responderTokens = 0): { a: End; b: End } {
  return { a: new End(units, true, responderTokens), b: new End(units, false, responderTokens) };
}

function deliver(from: End, to: End): void {
  for (const f of from.sent.splice(0)) to.d.receive({ ...f, channel: 1 });
}

function frame(type: DialogueFrameType, over: Partial<DialogueFrame> = {}): DialogueFrame {
  return { type, channel: 1, tokens: 0, code: 0, serial: 0, id: ID, oldId: E, userData: E, ...over };
}

function usage(call: () => unknown, code: string, message: string): void {
  try {
    call();
  } catch (e) {
    assert.ok(e instanceof UsageError, `a UsageError, not ${e}`);
    assert.equal(e.message, message);
    assert.equal(e.code, code);
    return;
  }
  assert.fail(`not refused: ${message}`);
}

function violation(end: End, f: DialogueFrame, wireCode: AbortCode, message: string): void {
  try {
    end.d.receive(f);
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `a ProtocolError, not ${e}`);
    assert.equal(e.message, message);
    assert.equal(e.wireCode, wireCode, message);
    return;
  }
  assert.fail(`not refused: ${message}`);
}

const invalidState = (call: () => unknown, what: string) => usage(call, ErrorCode.INVALID_STATE, `cannot ${what}`);
const notHeld = (call: () => unknown, message: string) => usage(call, ErrorCode.TOKEN_NOT_HELD, message);
const badArgument = (call: () => unknown, message: string) => usage(call, ErrorCode.INVALID_ARGUMENT, message);

type Command = [what: string, call: (d: Dialogue) => unknown];
const COMMANDS: Command[] = [
  ['give tokens', (d) => d.giveTokens(Token.data, E)],
  ['ask for tokens', (d) => d.pleaseTokens(Token.data, E)],
  ['give control', (d) => d.giveControl(E)],
  ['take a minor sync point', (d) => d.syncMinor({ confirm: false, separation: false, userData: E })],
  ['confirm a minor sync point', (d) => d.confirmMinor(1, E)],
  ['take a major sync point', (d) => d.syncMajor(E)],
  ['confirm a major sync point', (d) => d.confirmMajor(E)],
  ['resynchronize', (d) => d.resynchronize('set', { userData: E })],
  ['confirm a resynchronization', (d) => d.confirmResynchronize(E)],
  ['report an exception', (d) => d.reportException(1, E)],
  ['start an activity', (d) => d.startActivity(ID, E)],
  ['resume an activity', (d) => d.resumeActivity(ID, ID, 1, E)],
  ['interrupt an activity', (d) => d.interruptActivity(0, E)],
  ['discard an activity', (d) => d.discardActivity(0, E)],
  ['end an activity', (d) => d.endActivity(E)],
  ['send capability data', (d) => d.sendCapability(E)],
  ['confirm capability data', (d) => d.confirmCapability(E)],
];

describe('commands outside the data transfer phase or without their unit', () => {
  test('every command on a session that is not open: INVALID_STATE, naming the command', () => {
    for (const [what, call] of COMMANDS) {
      const { a } = pair(ALL);
      a.isOpen = false;
      usage(() => call(a.d), ErrorCode.INVALID_STATE, `cannot ${what}: the session is not open`);
      assert.equal(a.sent.length, 0, what);
    }
  });

  test('every service without its functional unit: UNIT_NOT_SELECTED, naming the unit', () => {
    const needs: Record<string, string> = {
      'give control': 'give control needs the ACTIVITY_MANAGEMENT',
      'take a minor sync point': 'a minor sync point needs the MINOR_SYNCHRONIZE or SYMMETRIC_SYNCHRONIZE',
      'confirm a minor sync point': 'a minor sync point needs the MINOR_SYNCHRONIZE or SYMMETRIC_SYNCHRONIZE',
      'take a major sync point': 'a major sync point needs the MAJOR_SYNCHRONIZE',
      resynchronize: 'resynchronize needs the RESYNCHRONIZE',
      'report an exception': 'an exception report needs the EXCEPTIONS',
      'start an activity': 'an activity needs the ACTIVITY_MANAGEMENT',
      'resume an activity': 'an activity needs the ACTIVITY_MANAGEMENT',
      'interrupt an activity': 'an activity needs the ACTIVITY_MANAGEMENT',
      'discard an activity': 'an activity needs the ACTIVITY_MANAGEMENT',
      'end an activity': 'an activity needs the ACTIVITY_MANAGEMENT',
      'send capability data': 'capability data needs the CAPABILITY_DATA',
    };
    for (const [what, call] of COMMANDS) {
      const prefix = needs[what];
      if (prefix === undefined) continue;
      const { a } = pair(DUPLEX);
      usage(() => call(a.d), ErrorCode.UNIT_NOT_SELECTED, `${prefix} functional unit, not selected`);
    }
    const { a } = pair(DUPLEX | Unit.MINOR_SYNCHRONIZE);
    usage(
      () => a.d.syncMinor({ confirm: false, separation: true, userData: E }),
      ErrorCode.UNIT_NOT_SELECTED,
      'data separation needs the DATA_SEPARATION functional unit, not selected',
    );
  });

  test('symmetric synchronize alone gives minor sync points both ways, and their confirmation', () => {
    const { a, b } = pair(DUPLEX | Unit.SYMMETRIC_SYNCHRONIZE);
    assert.equal(a.d.syncMinor({ confirm: true, separation: false, userData: E }), 1);
    assert.equal(b.d.syncMinor({ confirm: true, separation: false, userData: E }), 1);
    deliver(a, b);
    b.d.confirmMinor(1, E);
    assert.equal(b.sent.at(-1)?.type, FrameType.MINOR_SYNC_ACK);
  });

  test('a peer frame without its unit is UNEXPECTED_FRAME, naming the frame type', () => {
    const types = [
      FrameType.GIVE_CONTROL,
      FrameType.MINOR_SYNC,
      FrameType.MAJOR_SYNC,
      FrameType.ACTIVITY_END,
      FrameType.RESYNC,
      FrameType.EXCEPTION_DATA,
      FrameType.EXCEPTION_REPORT,
      FrameType.ACTIVITY_START,
      FrameType.ACTIVITY_RESUME,
      FrameType.ACTIVITY_INTERRUPT,
      FrameType.ACTIVITY_DISCARD,
      FrameType.CAPABILITY_DATA,
    ] as const;
    for (const type of types) {
      const { b } = pair(DUPLEX);
      const message = `dialogue frame 0x${type.toString(16)} without its functional unit`;
      violation(b, frame(type, { serial: 1, tokens: 0 }), AbortCode.UNEXPECTED_FRAME, message);
    }
    const { b } = pair(DUPLEX | Unit.MINOR_SYNCHRONIZE, Token.minor);
    violation(
      b,
      frame(FrameType.MINOR_SYNC, { serial: 1, code: 0x02 }),
      AbortCode.UNEXPECTED_FRAME,
      'dialogue frame 0x23 without its functional unit',
    );
  });

  test('a frame type the machine does not know is UNEXPECTED_FRAME', () => {
    const { b } = pair(ALL);
    violation(b, frame(0x3f as DialogueFrameType), AbortCode.UNEXPECTED_FRAME, 'dialogue frame 0x3f');
  });
});

describe('arguments', () => {
  test('token names: unknown ones are refused; masks list in the order data, minor, major, release', () => {
    badArgument(() => tokenMask(['data', 'bogus' as TokenName]), 'unknown token: bogus');
    assert.deepEqual(tokenNames(0x0f), ['data', 'minor', 'major', 'release']);
    assert.equal(tokenMask(['release', 'data']), Token.release | Token.data);
  });

  test('giving or asking for no token, or one the units do not make available', () => {
    const { a } = pair(HALF | Unit.MAJOR_SYNCHRONIZE);
    badArgument(() => a.d.giveTokens(0, E), 'give at least one token');
    badArgument(() => a.d.pleaseTokens(0, E), 'ask for at least one token');
    badArgument(() => a.d.giveTokens(Token.minor, E), 'token minor is not available with the agreed units');
    badArgument(
      () => a.d.pleaseTokens(Token.minor | Token.release, E),
      'token minor, release is not available with the agreed units',
    );
    invalidState(() => a.d.pleaseTokens(Token.data, E), 'ask for a token this side holds');
    const { b } = pair(HALF | Unit.MAJOR_SYNCHRONIZE);
    notHeld(() => b.d.giveTokens(Token.data | Token.major, E), 'give tokens needs the data, major token(s)');
    assert.equal(a.sent.length + b.sent.length, 0);
  });

  test('serial numbers of a resynchronize are u32: 0 and 2^32-1 go, the rest is refused', () => {
    for (const serial of [0, SERIAL_MAX]) {
      const { a } = pair(DUPLEX | Unit.RESYNCHRONIZE);
      assert.equal(a.d.resynchronize('set', { serial, userData: E }), serial);
    }
    for (const serial of [-1, 1.5, SERIAL_MAX + 1]) {
      const { a } = pair(DUPLEX | Unit.RESYNCHRONIZE);
      badArgument(
        () => a.d.resynchronize('set', { serial, userData: E }),
        `serial number ${serial} is not in 0..4294967295`,
      );
    }
  });

  test('resynchronize kinds and their serial ranges', () => {
    const fresh = () => pair(DUPLEX | Unit.RESYNCHRONIZE).a.d;
    badArgument(() => fresh().resynchronize('again' as 'set', { userData: E }), 'unknown resynchronize kind again');
    badArgument(
      () => fresh().resynchronize('abandon', { serial: 0, userData: E }),
      'abandon needs a serial of at least 1',
    );
    assert.equal(fresh().resynchronize('abandon', { serial: 1, userData: E }), 1);
    for (const serial of [0, 2]) {
      badArgument(
        () => fresh().resynchronize('restart', { serial, userData: E }),
        'restart goes back to a serial in 1..1',
      );
    }
    assert.equal(fresh().resynchronize('restart', { userData: E }), 1, 'restart defaults to the floor');
  });

  test('activity ids hold 1..64 bytes; reasons are 0..255; a resume needs a serial after it', () => {
    const d = () => pair(ALL).a.d;
    badArgument(
      () => d().startActivity(new Uint8Array(ACTIVITY_ID_BYTES_MAX + 1), E),
      'an activity id has at most 64 bytes',
    );
    badArgument(() => d().startActivity(E, E), 'an activity id has at least one byte');
    assert.doesNotThrow(() => d().startActivity(new Uint8Array(ACTIVITY_ID_BYTES_MAX), E));
    badArgument(
      () => d().resumeActivity(ID, new Uint8Array(ACTIVITY_ID_BYTES_MAX + 1), 1, E),
      'an activity id has at most 64 bytes',
    );
    badArgument(() => d().resumeActivity(ID, ID, SERIAL_MAX, E), 'no serial number after that one');
    badArgument(() => d().resumeActivity(ID, ID, -1, E), 'serial number -1 is not in 0..4294967295');
    assert.doesNotThrow(() => d().resumeActivity(ID, ID, SERIAL_MAX - 1, E));
    for (const reason of [-1, 256, 2.5]) {
      const x = d();
      x.startActivity(ID, E);
      badArgument(() => x.interruptActivity(reason, E), `reason ${reason} is not in 0..255`);
    }
    for (const reason of [0, 255]) {
      const x = d();
      x.startActivity(ID, E);
      assert.doesNotThrow(() => x.discardActivity(reason, E));
    }
  });
});

describe('commands in the wrong state', () => {
  test('normal data: the token, the exception state, a pending confirmation', () => {
    const { a, b } = pair(HALF | Unit.MAJOR_SYNCHRONIZE | Unit.EXCEPTIONS);
    assert.deepEqual(b.d.normalDataBlock(), { code: 'token', message: 'sending normal data needs the data token' });
    assert.equal(a.d.normalDataBlock(), null);
    a.d.syncMajor(E);
    assert.deepEqual(a.d.normalDataBlock(), {
      code: 'wait',
      message: 'a major sync point or resynchronization is not confirmed yet',
    });
    const x = pair(HALF | Unit.EXCEPTIONS);
    x.b.d.reportException(9, E);
    deliver(x.b, x.a);
    assert.deepEqual(x.a.d.normalDataBlock(), { code: 'state', message: 'the session is in the exception state' });
  });

  test('the peer’s normal data: without the data token, or before its major sync is confirmed', () => {
    const { a, b } = pair(HALF);
    assert.throws(
      () => a.d.checkPeerNormalData(),
      (e) =>
        e instanceof ProtocolError &&
        e.wireCode === AbortCode.TOKEN_VIOLATION &&
        /without the data token$/.test(e.message),
    );
    assert.doesNotThrow(() => b.d.checkPeerNormalData());
    const m = pair(DUPLEX | Unit.MAJOR_SYNCHRONIZE);
    m.a.d.syncMajor(E);
    deliver(m.a, m.b);
    assert.doesNotThrow(() => m.a.d.checkPeerNormalData(), 'its own major sync point does not block the peer');
    assert.throws(
      () => m.b.d.checkPeerNormalData(),
      (e) =>
        e instanceof ProtocolError &&
        e.wireCode === AbortCode.SYNC_VIOLATION &&
        e.message === 'peer sent normal data before its major sync was confirmed',
    );
  });

  test('release: every available token, no activity, nothing unconfirmed; the peer’s FINISH likewise', () => {
    const units = DUPLEX | Unit.NEGOTIATED_RELEASE | Unit.ACTIVITY_MANAGEMENT | Unit.MAJOR_SYNCHRONIZE;
    const { a, b } = pair(units);
    notHeld(() => b.d.checkRelease(), 'release needs the major, release token(s)');
    assert.doesNotThrow(() => a.d.checkRelease());
    assert.doesNotThrow(() => b.d.checkPeerRelease());
    assert.throws(
      () => a.d.checkPeerRelease(),
      (e) =>
        e instanceof ProtocolError &&
        e.wireCode === AbortCode.TOKEN_VIOLATION &&
        e.message === 'peer released without holding every available token',
    );
    a.d.syncMajor(E);
    invalidState(() => a.d.checkRelease(), 'release while a major sync point is unconfirmed');
    deliver(a, b);
    assert.throws(
      () => b.d.checkPeerRelease(),
      (e) =>
        e instanceof ProtocolError &&
        e.wireCode === AbortCode.SYNC_VIOLATION &&
        e.message === 'peer released inside an activity or a pending sync',
    );
    const act = pair(units);
    act.a.d.startActivity(ID, E);
    invalidState(() => act.a.d.checkRelease(), 'release inside an activity');
    deliver(act.a, act.b);
    assert.throws(() => act.b.d.checkPeerRelease(), /peer released inside an activity or a pending sync/);
  });

  test('tokens and control: not while something of this side waits; control only with every token', () => {
    const { a, b } = pair(ALL);
    a.d.syncMajor(E);
    invalidState(
      () => a.d.giveTokens(Token.data, E),
      'give tokens while a sync point or resynchronization is not confirmed',
    );
    invalidState(() => a.d.giveControl(E), 'give control while a major sync point is unconfirmed');
    const c = pair(ALL);
    c.a.d.giveTokens(Token.data, E);
    notHeld(() => c.a.d.giveControl(E), 'give control needs every available token');
    const act = pair(ALL);
    act.a.d.startActivity(ID, E);
    invalidState(() => act.a.d.giveControl(E), 'give control inside an activity');
    assert.equal(b.sent.length, 0);
  });

  test('sync points: the exception state, a pending major, a resynchronization, serials used up', () => {
    const x = pair(HALF | Unit.EXCEPTIONS | Unit.MINOR_SYNCHRONIZE);
    x.b.d.reportException(3, E);
    deliver(x.b, x.a);
    invalidState(
      () => x.a.d.syncMinor({ confirm: false, separation: false, userData: E }),
      'take a minor sync point in the exception state',
    );
    const m = pair(DUPLEX | Unit.MAJOR_SYNCHRONIZE | Unit.MINOR_SYNCHRONIZE | Unit.RESYNCHRONIZE);
    m.a.d.syncMajor(E);
    invalidState(() => m.a.d.syncMajor(E), 'take a major sync point while a major sync point is unconfirmed');
    invalidState(
      () => m.a.d.resynchronize('restart', { userData: E }),
      'restart while this side’s major sync point is unconfirmed',
    );
    m.a.d.resynchronize('set', { userData: E });
    invalidState(
      () => m.a.d.syncMinor({ confirm: false, separation: false, userData: E }),
      'take a minor sync point during a resynchronization',
    );
    invalidState(
      () => m.a.d.resynchronize('set', { userData: E }),
      'resynchronize while an earlier request waits for its answer',
    );
    deliver(m.a, m.b);
    invalidState(
      () => m.b.d.resynchronize('set', { userData: E }),
      'resynchronize before confirming the peer’s resynchronization',
    );

    const u = pair(DUPLEX | Unit.MINOR_SYNCHRONIZE | Unit.RESYNCHRONIZE);
    u.a.d.resynchronize('set', { serial: SERIAL_MAX, userData: E });
    deliver(u.a, u.b);
    u.b.d.confirmResynchronize(E);
    deliver(u.b, u.a);
    invalidState(
      () => u.a.d.syncMinor({ confirm: false, separation: false, userData: E }),
      'take a sync point: serial numbers are used up (resynchronize with set)',
    );
  });

  test('confirmations with nothing to confirm', () => {
    const { a } = pair(ALL);
    badArgument(() => a.d.confirmMinor(3, E), 'no unconfirmed minor sync point 3 to confirm');
    invalidState(() => a.d.confirmMajor(E), 'confirm a major sync point: none from the peer waits');
    a.d.syncMajor(E);
    invalidState(() => a.d.confirmMajor(E), 'confirm a major sync point: none from the peer waits');
    invalidState(() => a.d.confirmResynchronize(E), 'confirm a resynchronization: none was requested');
    invalidState(() => a.d.confirmCapability(E), 'confirm capability data: none from the peer waits');
  });

  test('exception reports: only half-duplex, only by the side without the data token', () => {
    const { a, b } = pair(HALF | Unit.EXCEPTIONS);
    invalidState(() => a.d.reportException(1, E), 'report an exception while holding the data token');
    badArgument(() => b.d.reportException(256, E), 'reason 256 is not in 0..255');
    const d = pair(DUPLEX | Unit.EXCEPTIONS);
    invalidState(() => d.b.d.reportException(1, E), 'report an exception without a data token (half-duplex)');
  });

  test('activities: inside one, none in progress, waiting answers, the tokens they need', () => {
    const { a, b } = pair(ALL);
    invalidState(() => a.d.endActivity(E), 'end an activity: none is in progress');
    invalidState(() => a.d.interruptActivity(0, E), 'interrupt an activity: none is in progress');
    invalidState(
      () => a.d.resynchronize('set', { userData: E }),
      'resynchronize outside an activity (activity management is selected)',
    );
    notHeld(() => b.d.startActivity(ID, E), 'start an activity needs the data, minor, major token(s)');
    a.d.startActivity(ID, E);
    invalidState(() => a.d.startActivity(ID, E), 'start an activity inside an activity');
    invalidState(() => a.d.resumeActivity(ID, ID, 1, E), 'resume an activity inside an activity');
    invalidState(() => a.d.sendCapability(E), 'send capability data inside an activity');
    deliver(a, b);
    notHeld(() => b.d.interruptActivity(0, E), 'interrupt an activity needs the major token(s)');
    a.d.endActivity(E);
    for (const [what, call] of [
      ['interrupt an activity', () => a.d.interruptActivity(0, E)],
      ['discard an activity', () => a.d.discardActivity(0, E)],
      ['resynchronize', () => a.d.resynchronize('set', { userData: E })],
    ] as const) {
      invalidState(call, `${what} while this side's activity end waits for its confirmation`);
    }

    const r = pair(ALL);
    r.a.d.startActivity(ID, E);
    deliver(r.a, r.b);
    r.a.d.resynchronize('set', { userData: E });
    invalidState(
      () => r.a.d.interruptActivity(0, E),
      'interrupt an activity while an earlier request waits for its answer',
    );
    deliver(r.a, r.b);
    invalidState(
      () => r.b.d.discardActivity(0, E),
      'discard an activity before confirming the peer’s resynchronization',
    );
  });

  test('capability data: one exchange at a time', () => {
    const { a, b } = pair(ALL);
    a.d.sendCapability(E);
    invalidState(() => a.d.sendCapability(E), 'send capability data before the last exchange was confirmed');
    deliver(a, b);
    violation(
      b,
      frame(FrameType.CAPABILITY_DATA),
      AbortCode.SYNC_VIOLATION,
      'peer sent capability data inside an activity or unconfirmed',
    );
  });
});

describe('peer frames that break the rules', () => {
  test('tokens given or asked for that are not available, not held, or given too early', () => {
    const { a, b } = pair(ALL);
    for (const tokens of [0, 0x10]) {
      violation(
        b,
        frame(FrameType.GIVE_TOKENS, { tokens }),
        AbortCode.TOKEN_VIOLATION,
        'peer gave a token that is not available',
      );
      violation(
        b,
        frame(FrameType.PLEASE_TOKENS, { tokens }),
        AbortCode.TOKEN_VIOLATION,
        'peer asked for a token that is not available',
      );
    }
    violation(
      a,
      frame(FrameType.GIVE_TOKENS, { tokens: Token.data }),
      AbortCode.TOKEN_VIOLATION,
      'peer gave a token it does not hold',
    );
    const act = pair(ALL);
    act.a.d.startActivity(ID, E);
    deliver(act.a, act.b);
    violation(
      act.b,
      frame(FrameType.GIVE_CONTROL, { tokens: Token.release }),
      AbortCode.TOKEN_VIOLATION,
      'peer gave control inside an activity',
    );
    const m = pair(ALL);
    m.a.d.syncMajor(E);
    deliver(m.a, m.b);
    violation(
      m.b,
      frame(FrameType.GIVE_TOKENS, { tokens: Token.release }),
      AbortCode.SYNC_VIOLATION,
      'peer gave tokens before its sync point was confirmed',
    );
  });

  test('sync points sent without the tokens, out of turn or out of sequence', () => {
    const { a, b } = pair(ALL);
    const cases: [DialogueFrameType, string][] = [
      [FrameType.MINOR_SYNC, 'a minor sync point'],
      [FrameType.MAJOR_SYNC, 'a major sync point'],
      [FrameType.ACTIVITY_START, 'an activity'],
      [FrameType.CAPABILITY_DATA, 'capability data'],
    ];
    for (const [type, what] of cases) {
      violation(
        a,
        frame(type, { serial: 1 }),
        AbortCode.TOKEN_VIOLATION,
        `peer sent ${what} without the tokens it needs`,
      );
    }
    violation(
      b,
      frame(FrameType.MAJOR_SYNC, { serial: 7 }),
      AbortCode.SYNC_VIOLATION,
      'peer sync point 7, expected serial 1',
    );
    violation(
      b,
      frame(FrameType.MINOR_SYNC_ACK, { serial: 5 }),
      AbortCode.SYNC_VIOLATION,
      'peer confirmed minor sync point 5, not pending',
    );
    violation(
      b,
      frame(FrameType.MAJOR_SYNC_ACK, { serial: 3 }),
      AbortCode.SYNC_VIOLATION,
      'peer confirmed major sync point 3, not pending',
    );
    violation(
      b,
      frame(FrameType.ACTIVITY_END, { serial: 1 }),
      AbortCode.SYNC_VIOLATION,
      'peer ended an activity that was not started',
    );
    a.d.syncMajor(E);
    deliver(a, b);
    for (const [type, what] of [
      [FrameType.MAJOR_SYNC, 'a major sync point'],
      [FrameType.MINOR_SYNC, 'a minor sync point'],
      [FrameType.ACTIVITY_START, 'an activity'],
    ] as const) {
      violation(
        b,
        frame(type, { serial: 2 }),
        AbortCode.SYNC_VIOLATION,
        `peer sent ${what} while a major sync point is unconfirmed`,
      );
    }
  });

  test('exception data from the data token holder, or in a duplex session', () => {
    const { b } = pair(HALF | Unit.EXCEPTIONS);
    violation(
      b,
      frame(FrameType.EXCEPTION_DATA),
      AbortCode.TOKEN_VIOLATION,
      'exception report from the data token holder',
    );
    const d = pair(DUPLEX | Unit.EXCEPTIONS);
    violation(
      d.a,
      frame(FrameType.EXCEPTION_DATA),
      AbortCode.TOKEN_VIOLATION,
      'exception report from the data token holder',
    );
    d.a.d.receive(frame(FrameType.EXCEPTION_REPORT, { code: 4 }));
    assert.deepEqual(d.a.events.at(-1), { kind: 'exception', reason: 4, byProvider: true, userData: E });
  });

  test('activities started twice, without an id, resumed at the last serial, stopped when none runs', () => {
    const { a, b } = pair(ALL);
    violation(b, frame(FrameType.ACTIVITY_START, { id: E }), AbortCode.MALFORMED_FRAME, 'activity without an id');
    violation(
      b,
      frame(FrameType.ACTIVITY_RESUME, { serial: SERIAL_MAX }),
      AbortCode.MALFORMED_FRAME,
      'activity resumed at the last serial number',
    );
    violation(
      b,
      frame(FrameType.ACTIVITY_INTERRUPT),
      AbortCode.SYNC_VIOLATION,
      'peer stopped an activity that was not started',
    );
    violation(
      b,
      frame(FrameType.ACTIVITY_DISCARD),
      AbortCode.SYNC_VIOLATION,
      'peer stopped an activity that was not started',
    );
    for (const type of [FrameType.ACTIVITY_INTERRUPT_ACK, FrameType.ACTIVITY_DISCARD_ACK]) {
      violation(b, frame(type), AbortCode.SYNC_VIOLATION, 'peer acknowledged an activity stop not requested');
    }
    violation(
      b,
      frame(FrameType.CAPABILITY_DATA_ACK),
      AbortCode.SYNC_VIOLATION,
      'peer confirmed capability data not sent',
    );
    violation(
      b,
      frame(FrameType.RESYNC_ACK),
      AbortCode.SYNC_VIOLATION,
      'peer confirmed a resynchronization not requested',
    );
    a.d.startActivity(ID, E);
    deliver(a, b);
    violation(
      b,
      frame(FrameType.ACTIVITY_START),
      AbortCode.SYNC_VIOLATION,
      'peer started an activity inside an activity',
    );
    violation(
      a,
      frame(FrameType.ACTIVITY_INTERRUPT),
      AbortCode.TOKEN_VIOLATION,
      'peer sent an activity interrupt or discard without the tokens it needs',
    );
  });

  test('resynchronize requests that are malformed, assign foreign tokens, come outside an activity or twice', () => {
    const units = DUPLEX | Unit.RESYNCHRONIZE | Unit.MAJOR_SYNCHRONIZE;
    const { b } = pair(units);
    violation(b, frame(FrameType.RESYNC, { code: 3 }), AbortCode.MALFORMED_FRAME, 'resynchronize kind 3');
    violation(
      b,
      frame(FrameType.RESYNC, { code: 1, tokens: Token.data }),
      AbortCode.TOKEN_VIOLATION,
      'resynchronize assigns a token that is not available',
    );
    for (const serial of [0, 2]) {
      violation(
        b,
        frame(FrameType.RESYNC, { code: 0, serial }),
        AbortCode.SYNC_VIOLATION,
        `peer resynchronized (restart) to serial ${serial}`,
      );
    }
    b.d.receive(frame(FrameType.RESYNC, { code: 1, serial: 9 }));
    violation(
      b,
      frame(FrameType.RESYNC, { code: 1, serial: 10 }),
      AbortCode.SYNC_VIOLATION,
      'peer resynchronized again before the first was confirmed',
    );
    const act = pair(ALL);
    violation(
      act.b,
      frame(FrameType.RESYNC, { code: 1, serial: 1 }),
      AbortCode.SYNC_VIOLATION,
      'peer resynchronized outside an activity',
    );
  });
});
