/**
 * The (state, input) walk of the X.225 machine (STYLE.md section 3). For every reachable session
 * state, on both roles where the state exists:
 * - every session frame type injected from the peer (the recovery frames RESUME, RESUMED and
 *   RESUME_REFUSE included, on an attached session) gives the outcome in FRAME_TABLE: an allowed
 *   transition, the frame ignored, or a provider abort with UNEXPECTED_FRAME sent to the peer, and
 *   in every case a second session on the same connection is unaffected;
 * - every command gives the outcome in COMMAND_TABLE: allowed (with the resulting state), or a
 *   UsageError INVALID_STATE with the state unchanged.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AbortCode,
  ErrorCode,
  encodeFrame,
  type Frame,
  FrameType,
  type Session,
  type SessionStateName,
  Token,
  Unit,
  UsageError,
} from '@liaison/core';
import { DIALOGUE_FRAMES, type DialogueFrameName, eventsOf, Pair, type Side } from './harness.js';

const EMPTY = new Uint8Array(0);
const UNITS = Unit.KERNEL | Unit.DUPLEX | Unit.EXPEDITED | Unit.TYPED_DATA | Unit.NEGOTIATED_RELEASE;

type Who = 'initiator' | 'responder';
/** Connection frames (channel 0): they never reach a session. */
const CONNECTION_FRAMES = ['PING', 'PONG', 'CONNECTION_CLOSE', 'CHALLENGE', 'WINDOW'] as const;
/** The session frames of wire profile v1, recovery frames included. */
type SessionFrameName = Exclude<keyof typeof FrameType, (typeof CONNECTION_FRAMES)[number]>;

/** `abort`: provider abort, UNEXPECTED_FRAME sent to the peer. `ignored`: no change, no output. */
type FrameOutcome = SessionStateName | 'abort' | 'violation' | 'ignored' | 'connection-closed';
/** Frames with one direction (credential renewal: initiator to responder and back) differ by role. */
type RoleOutcome = { initiator: FrameOutcome; responder: FrameOutcome };

// Dialogue frames (tokens, sync points, activities): the walk sends them with empty fields.

/**
 * In open and releasing a dialogue frame reaches the dialogue machine, which finds it breaks the
 * rules for these units (a unit not selected, a token the peer does not hold, nothing pending):
 * a provider abort with UNEXPECTED_FRAME, TOKEN_VIOLATION or SYNC_VIOLATION ('violation').
 * Elsewhere it is an unexpected frame, or ignored once closed.
 */
function dialogueRow(outcome: FrameOutcome): Record<DialogueFrameName, FrameOutcome> {
  return Object.fromEntries(DIALOGUE_FRAMES.map((n) => [n, outcome])) as Record<DialogueFrameName, FrameOutcome>;
}

/** RENEW_CREDENTIALS reaches the responder of an established session, CREDENTIALS_RENEWED its initiator. */
const renewal = (state: SessionStateName) => ({
  RENEW_CREDENTIALS: { initiator: 'abort', responder: state } as RoleOutcome,
  CREDENTIALS_RENEWED: { initiator: state, responder: 'abort' } as RoleOutcome,
});
const NO_RENEWAL = { RENEW_CREDENTIALS: 'abort', CREDENTIALS_RENEWED: 'abort' } as const;

const FRAME_TABLE: Record<SessionStateName, Record<SessionFrameName, FrameOutcome | RoleOutcome>> = {
  connecting: {
    CONNECT: 'abort',
    ACCEPT: 'open',
    REFUSE: 'closed',
    FINISH: 'abort',
    DISCONNECT: 'abort',
    NOT_FINISHED: 'abort',
    ABORT: 'closed',
    DATA: 'abort',
    EXPEDITED: 'abort',
    TYPED_DATA: 'abort',
    ACK: 'abort',
    RESUME: 'abort',
    RESUMED: 'abort',
    RESUME_REFUSE: 'abort',
    NAMED_TOKEN_ACQUIRE: 'abort',
    NAMED_TOKEN_RELEASE: 'abort',
    NAMED_TOKEN_GRANT: 'abort',
    NAMED_TOKEN_REFUSE: 'abort',
    ...NO_RENEWAL,
    ...dialogueRow('abort'),
  },
  'awaiting-response': {
    CONNECT: 'abort',
    ACCEPT: 'abort',
    REFUSE: 'abort',
    FINISH: 'abort',
    DISCONNECT: 'abort',
    NOT_FINISHED: 'abort',
    ABORT: 'closed',
    DATA: 'abort',
    EXPEDITED: 'abort',
    TYPED_DATA: 'abort',
    ACK: 'abort',
    RESUME: 'abort',
    RESUMED: 'abort',
    RESUME_REFUSE: 'abort',
    NAMED_TOKEN_ACQUIRE: 'abort',
    NAMED_TOKEN_RELEASE: 'abort',
    NAMED_TOKEN_GRANT: 'abort',
    NAMED_TOKEN_REFUSE: 'abort',
    ...NO_RENEWAL,
    ...dialogueRow('abort'),
  },
  open: {
    CONNECT: 'abort',
    ACCEPT: 'abort',
    REFUSE: 'abort',
    FINISH: 'release-requested',
    DISCONNECT: 'abort',
    NOT_FINISHED: 'abort',
    ABORT: 'closed',
    DATA: 'open',
    EXPEDITED: 'open',
    TYPED_DATA: 'open',
    ACK: 'open',
    RESUME: 'abort',
    RESUMED: 'abort',
    RESUME_REFUSE: 'abort',
    NAMED_TOKEN_ACQUIRE: 'abort',
    NAMED_TOKEN_RELEASE: 'abort',
    NAMED_TOKEN_GRANT: 'abort',
    NAMED_TOKEN_REFUSE: 'abort',
    ...renewal('open'),
    ...dialogueRow('violation'),
  },
  releasing: {
    // FINISH here would be a release collision, impossible with the release token (release.test.ts
    // covers collisions without it): the releaser holds the token, so the peer may not release.
    CONNECT: 'abort',
    ACCEPT: 'abort',
    REFUSE: 'abort',
    FINISH: 'violation',
    DISCONNECT: 'closed',
    NOT_FINISHED: 'open',
    ABORT: 'closed',
    DATA: 'releasing',
    EXPEDITED: 'releasing',
    TYPED_DATA: 'releasing',
    ACK: 'releasing',
    RESUME: 'abort',
    RESUMED: 'abort',
    RESUME_REFUSE: 'abort',
    NAMED_TOKEN_ACQUIRE: 'abort',
    NAMED_TOKEN_RELEASE: 'abort',
    NAMED_TOKEN_GRANT: 'abort',
    NAMED_TOKEN_REFUSE: 'abort',
    ...renewal('releasing'),
    ...dialogueRow('violation'),
  },
  'release-requested': {
    CONNECT: 'abort',
    ACCEPT: 'abort',
    REFUSE: 'abort',
    FINISH: 'abort',
    DISCONNECT: 'abort',
    NOT_FINISHED: 'abort',
    ABORT: 'closed',
    DATA: 'abort',
    EXPEDITED: 'abort',
    TYPED_DATA: 'abort',
    ACK: 'release-requested',
    RESUME: 'abort',
    RESUMED: 'abort',
    RESUME_REFUSE: 'abort',
    NAMED_TOKEN_ACQUIRE: 'abort',
    NAMED_TOKEN_RELEASE: 'abort',
    NAMED_TOKEN_GRANT: 'abort',
    NAMED_TOKEN_REFUSE: 'abort',
    ...renewal('release-requested'),
    ...dialogueRow('abort'),
  },
  disconnecting: {
    CONNECT: 'abort',
    ACCEPT: 'abort',
    REFUSE: 'abort',
    FINISH: 'abort',
    DISCONNECT: 'abort',
    NOT_FINISHED: 'abort',
    ABORT: 'closed',
    DATA: 'abort',
    EXPEDITED: 'abort',
    TYPED_DATA: 'abort',
    ACK: 'disconnecting',
    RESUME: 'abort',
    RESUMED: 'abort',
    RESUME_REFUSE: 'abort',
    NAMED_TOKEN_ACQUIRE: 'abort',
    NAMED_TOKEN_RELEASE: 'abort',
    NAMED_TOKEN_GRANT: 'abort',
    NAMED_TOKEN_REFUSE: 'abort',
    ...renewal('disconnecting'),
    ...dialogueRow('abort'),
  },
  // A closed channel is never reused: its late frames are dropped, but a CONNECT or RESUME reusing
  // it (responder) or any CONNECT or RESUME to an initiator is a connection-level protocol error.
  closed: {
    CONNECT: 'connection-closed',
    ACCEPT: 'ignored',
    REFUSE: 'ignored',
    FINISH: 'ignored',
    DISCONNECT: 'ignored',
    NOT_FINISHED: 'ignored',
    ABORT: 'ignored',
    DATA: 'ignored',
    EXPEDITED: 'ignored',
    TYPED_DATA: 'ignored',
    ACK: 'ignored',
    RESUME: 'connection-closed',
    RESUMED: 'ignored',
    RESUME_REFUSE: 'ignored',
    NAMED_TOKEN_ACQUIRE: 'ignored',
    NAMED_TOKEN_RELEASE: 'ignored',
    NAMED_TOKEN_GRANT: 'ignored',
    NAMED_TOKEN_REFUSE: 'ignored',
    RENEW_CREDENTIALS: 'ignored',
    CREDENTIALS_RENEWED: 'ignored',
    ...dialogueRow('ignored'),
  },
};

type Command =
  | 'accept'
  | 'refuse'
  | 'send normal'
  | 'send typed'
  | 'send expedited'
  | 'release'
  | 'respondRelease accept'
  | 'respondRelease refuse'
  | 'abort';

/** The resulting state when allowed, or 'usage-error' (INVALID_STATE, state unchanged). */
type CommandOutcome = SessionStateName | 'usage-error';
const U = 'usage-error' as const;

const COMMAND_TABLE: Record<SessionStateName, Record<Command, CommandOutcome>> = {
  connecting: {
    accept: U,
    refuse: U,
    'send normal': U,
    'send typed': U,
    'send expedited': U,
    release: U,
    'respondRelease accept': U,
    'respondRelease refuse': U,
    abort: 'closed',
  },
  'awaiting-response': {
    accept: 'open',
    refuse: 'closed',
    'send normal': U,
    'send typed': U,
    'send expedited': U,
    release: U,
    'respondRelease accept': U,
    'respondRelease refuse': U,
    abort: 'closed',
  },
  open: {
    accept: U,
    refuse: U,
    'send normal': 'open',
    'send typed': 'open',
    'send expedited': 'open',
    release: 'releasing',
    'respondRelease accept': U,
    'respondRelease refuse': U,
    abort: 'closed',
  },
  releasing: {
    accept: U,
    refuse: U,
    'send normal': U,
    'send typed': U,
    'send expedited': U,
    release: U,
    'respondRelease accept': U,
    'respondRelease refuse': U,
    abort: 'closed',
  },
  'release-requested': {
    accept: U,
    refuse: U,
    'send normal': 'release-requested',
    'send typed': 'release-requested',
    'send expedited': 'release-requested',
    release: U,
    'respondRelease accept': 'disconnecting',
    'respondRelease refuse': 'open',
    abort: 'closed',
  },
  disconnecting: {
    accept: U,
    refuse: U,
    'send normal': U,
    'send typed': U,
    'send expedited': U,
    release: U,
    'respondRelease accept': U,
    'respondRelease refuse': U,
    abort: 'closed',
  },
  closed: {
    accept: U,
    refuse: U,
    'send normal': U,
    'send typed': U,
    'send expedited': U,
    release: U,
    'respondRelease accept': U,
    'respondRelease refuse': U,
    abort: U,
  },
};

interface Fixture {
  p: Pair;
  subject: Side;
  peer: Side;
  session: Session;
  /** The peer's end of the walked session (null when the subject is connecting and it is unanswered). */
  channel: number;
  /** A second, open session on the same connection that nothing may disturb. */
  bystander: number;
}

/**
 * Builds a pair with an open bystander session and drives a second session so that `who`'s end
 * of it is in `state`. Returns null when that role cannot be in that state.
 */
function reach(state: SessionStateName, who: Who, subjectReleases = false): Fixture | null {
  if (state === 'connecting' && who !== 'initiator') return null;
  if (state === 'awaiting-response' && who !== 'responder') return null;
  const p = new Pair();
  const open = (): number => {
    const s = p.a.conn.openSession(p.now, { units: UNITS });
    p.pump();
    return s.channel;
  };
  const bystander = open();
  p.b.conn.session(bystander)!.accept(p.now, EMPTY);
  p.pump();
  const channel = open();
  const subject = who === 'initiator' ? p.a : p.b;
  const peer = who === 'initiator' ? p.b : p.a;
  const mine = () => subject.conn.session(channel)!;
  const theirs = () => peer.conn.session(channel)!;
  const session = mine();
  if (state !== 'connecting' && state !== 'awaiting-response') {
    p.b.conn.session(channel)!.accept(p.now, EMPTY);
    p.pump();
  }
  // With negotiated release the release token exists (the initiator holds it): whoever releases takes it first.
  const takeReleaseToken = (s: Session, other: Session): void => {
    if (!s.dialogue!.owns('release')) {
      other.dialogue!.giveTokens(Token.release, EMPTY);
      p.pump();
    }
  };
  switch (state) {
    case 'releasing':
      takeReleaseToken(session, theirs());
      session.release(p.now, EMPTY);
      p.pump();
      break;
    case 'release-requested':
      takeReleaseToken(theirs(), session);
      theirs().release(p.now, EMPTY);
      p.pump();
      break;
    case 'disconnecting':
      takeReleaseToken(theirs(), session);
      theirs().release(p.now, EMPTY);
      p.pump();
      session.respondRelease(p.now, true, EMPTY); // DISCONNECT queued, not yet sent
      break;
    case 'open':
      // Frames walk: the peer holds the release token (so its FINISH is allowed); commands walk: the subject.
      if (subjectReleases) takeReleaseToken(session, theirs());
      else takeReleaseToken(theirs(), session);
      break;
    case 'closed':
      session.abort(p.now, EMPTY);
      p.pump();
      break;
    default:
      break;
  }
  assert.equal(session.state, state, `setup reached ${state}`);
  return { p, subject, peer, session, channel, bystander };
}

function frameOf(name: SessionFrameName, channel: number): Frame {
  switch (name) {
    case 'CONNECT':
      return {
        type: FrameType.CONNECT,
        channel,
        versionMin: 1,
        versionMax: 1,
        units: UNITS,
        frameBytesMax: 131072,
        messageBytesMax: 1 << 20,
        receiveWindowBytes: 1 << 20,
        keepaliveIntervalMs: 0,
        idleTimeoutMs: 0,
        extensions: [],
        userData: EMPTY,
      };
    case 'ACCEPT':
      return {
        type: FrameType.ACCEPT,
        channel,
        version: 1,
        units: UNITS,
        frameBytesMax: 131072,
        messageBytesMax: 1 << 20,
        receiveWindowBytes: 1 << 20,
        keepaliveIntervalMs: 0,
        idleTimeoutMs: 0,
        extensions: [],
        userData: EMPTY,
      };
    case 'REFUSE':
      return { type: FrameType.REFUSE, channel, code: 0, userData: EMPTY };
    case 'FINISH':
    case 'DISCONNECT':
    case 'NOT_FINISHED':
      return { type: FrameType[name], channel, userData: EMPTY };
    case 'ABORT':
      return { type: FrameType.ABORT, channel, byProvider: false, code: AbortCode.USER, message: '', userData: EMPTY };
    case 'DATA':
    case 'TYPED_DATA':
      return { type: FrameType[name], channel, end: true, payload: Uint8Array.of(1, 2, 3) };
    case 'EXPEDITED':
      return { type: FrameType.EXPEDITED, channel, payload: Uint8Array.of(9) };
    case 'ACK':
      return { type: FrameType.ACK, channel, received: 0, windowLimit: 0 };
    case 'RESUME':
      return {
        type: FrameType.RESUME,
        channel,
        sessionId: new Uint8Array(16),
        clientNonce: new Uint8Array(16),
        received: 0,
        resendFrom: 1,
        replaying: 0,
        proof: new Uint8Array(32),
      };
    case 'RESUMED':
      return { type: FrameType.RESUMED, channel, received: 0, replaying: 0, proof: new Uint8Array(32) };
    case 'RESUME_REFUSE':
      return { type: FrameType.RESUME_REFUSE, channel, code: AbortCode.RESUME_REFUSED, message: '' };
    // Named tokens on a session that was offered none (named-token-session.test.ts covers the offered case).
    case 'NAMED_TOKEN_ACQUIRE':
    case 'NAMED_TOKEN_RELEASE':
    case 'NAMED_TOKEN_GRANT':
      return { type: FrameType[name], channel, name: 'printer' };
    case 'NAMED_TOKEN_REFUSE':
      return { type: FrameType.NAMED_TOKEN_REFUSE, channel, code: 1, name: 'printer' };
    case 'RENEW_CREDENTIALS':
      return { type: FrameType.RENEW_CREDENTIALS, channel, requestId: 1, credentials: [] };
    case 'CREDENTIALS_RENEWED':
      return { type: FrameType.CREDENTIALS_RENEWED, channel, requestId: 1, code: 0, message: '' };
    case 'GIVE_TOKENS':
    case 'PLEASE_TOKENS':
    case 'GIVE_CONTROL':
    case 'MINOR_SYNC':
    case 'MINOR_SYNC_ACK':
    case 'MAJOR_SYNC':
    case 'MAJOR_SYNC_ACK':
    case 'RESYNC':
    case 'RESYNC_ACK':
    case 'EXCEPTION_REPORT':
    case 'EXCEPTION_DATA':
    case 'ACTIVITY_START':
    case 'ACTIVITY_RESUME':
    case 'ACTIVITY_INTERRUPT':
    case 'ACTIVITY_INTERRUPT_ACK':
    case 'ACTIVITY_DISCARD':
    case 'ACTIVITY_DISCARD_ACK':
    case 'ACTIVITY_END':
    case 'CAPABILITY_DATA':
    case 'CAPABILITY_DATA_ACK':
      return {
        type: FrameType[name],
        channel,
        tokens: 0,
        code: 0,
        serial: 0,
        id: EMPTY,
        oldId: EMPTY,
        userData: EMPTY,
      };
    default:
      throw new Error(`no frame for ${name satisfies never}`);
  }
}

function assertBystanderUnaffected(f: Fixture): void {
  const { p, bystander } = f;
  if (p.a.conn.isClosed || p.b.conn.isClosed) return; // connection-level outcomes end everything by design
  const a = p.a.conn.session(bystander)!;
  const b = p.b.conn.session(bystander)!;
  assert.equal(a.state, 'open');
  assert.equal(b.state, 'open');
  const before = eventsOf(p.b, 'message').filter((e) => e.channel === bystander).length;
  a.send(p.now, 'normal', Uint8Array.of(7));
  p.pump();
  assert.equal(eventsOf(p.b, 'message').filter((e) => e.channel === bystander).length, before + 1);
}

const STATES = Object.keys(FRAME_TABLE) as SessionStateName[];
const FRAMES = Object.keys(FRAME_TABLE.open) as SessionFrameName[];
const COMMANDS = Object.keys(COMMAND_TABLE.open) as Command[];

test('the tables cover every session frame type and every state', () => {
  const connectionFrames: readonly string[] = CONNECTION_FRAMES;
  const sessionFrames = Object.keys(FrameType).filter((n) => !connectionFrames.includes(n));
  for (const s of STATES) {
    assert.deepEqual(Object.keys(FRAME_TABLE[s]).sort(), [...sessionFrames].sort());
    assert.deepEqual(Object.keys(COMMAND_TABLE[s]).sort(), [...COMMANDS].sort());
  }
});

for (const state of STATES) {
  for (const who of ['initiator', 'responder'] as const) {
    if (reach(state, who) === null) continue;

    test(`walk frames: ${who} in ${state}`, () => {
      for (const name of FRAMES) {
        const f = reach(state, who)!;
        const { p, subject, peer, session, channel } = f;
        const cell = FRAME_TABLE[state][name];
        const expected = typeof cell === 'string' ? cell : cell[who];
        const eventsBefore = subject.events.length;
        const what = `${name} in ${state} (${who}) -> ${expected}`;
        subject.conn.handleBytes(p.now, encodeFrame(frameOf(name, channel)));
        const out = subject.conn.pollTransmit();
        for (let e = subject.conn.pollEvent(); e !== null; e = subject.conn.pollEvent()) subject.events.push(e);
        if (expected === 'abort' || expected === 'violation') {
          assert.equal(session.state, 'closed', what);
          const r = session.closeReason;
          assert.ok(r?.kind === 'aborted' && r.by === 'provider' && r.origin === 'local', what);
          const codes: number[] =
            expected === 'abort'
              ? [AbortCode.UNEXPECTED_FRAME]
              : [AbortCode.UNEXPECTED_FRAME, AbortCode.TOKEN_VIOLATION, AbortCode.SYNC_VIOLATION];
          assert.ok(codes.includes(r.code), `${what}: code ${r.code}`);
          assert.ok(subject.conn.isOpen, `${what}: the connection stays open`);
          // The abort reaches the peer's end of the session (if it has one still open).
          if (out) peer.conn.handleBytes(p.now, out);
          p.pump();
          const theirs = eventsOf(peer, 'closed').find((e) => e.channel === channel);
          assert.ok(theirs, `${what}: the peer's session ends`);
          assert.ok(theirs.reason.kind === 'aborted' && theirs.reason.origin === 'peer', what);
          assert.equal(theirs.reason.kind === 'aborted' && theirs.reason.code, r.code, what);
        } else if (expected === 'ignored') {
          assert.equal(session.state, 'closed', what);
          assert.equal(subject.events.length, eventsBefore, `${what}: no event`);
          assert.equal(out, null, `${what}: nothing sent`);
          assert.ok(subject.conn.isOpen, what);
        } else if (expected === 'connection-closed') {
          assert.ok(subject.conn.isClosed, what);
          assert.ok(eventsOf(subject, 'connection-closed').length === 1, what);
        } else {
          assert.equal(session.state, expected, what);
          assert.ok(subject.conn.isOpen, what);
          if (name === 'ABORT') {
            const r = session.closeReason;
            assert.ok(r?.kind === 'aborted' && r.origin === 'peer' && r.by === 'user', what);
          }
          if (name === 'DATA' || name === 'TYPED_DATA' || name === 'EXPEDITED') {
            const last = subject.events.at(-1);
            assert.ok(last?.type === 'message' && last.channel === channel, `${what}: delivered`);
          }
          if (out) {
            const aborts = decodeAbortCodes(out);
            assert.ok(!aborts.includes(AbortCode.UNEXPECTED_FRAME), `${what}: no abort sent`);
          }
          if (out) peer.conn.handleBytes(p.now, out);
          p.pump();
        }
        assertBystanderUnaffected(f);
      }
    });

    test(`walk commands: ${who} in ${state}`, () => {
      for (const command of COMMANDS) {
        const f = reach(state, who, true)!;
        const { p, session } = f;
        const expected = COMMAND_TABLE[state][command];
        const what = `${command} in ${state} (${who}) -> ${expected}`;
        let error: unknown = null;
        try {
          run(command, session, p.now);
        } catch (e) {
          error = e;
        }
        if (expected === 'usage-error') {
          assert.ok(error instanceof UsageError, `${what}: got ${String(error)}`);
          assert.equal(error.code, ErrorCode.INVALID_STATE, what);
          assert.equal(session.state, state, `${what}: state unchanged`);
        } else {
          assert.equal(error, null, `${what}: threw ${String(error)}`);
          assert.equal(session.state, expected, what);
        }
        p.pump();
        assertBystanderUnaffected(f);
      }
    });
  }
}

function run(command: Command, s: Session, now: number): void {
  switch (command) {
    case 'accept':
      return s.accept(now, EMPTY);
    case 'refuse':
      return s.refuse(now, 0, EMPTY);
    case 'send normal':
      return s.send(now, 'normal', Uint8Array.of(1));
    case 'send typed':
      return s.send(now, 'typed', Uint8Array.of(1));
    case 'send expedited':
      return s.send(now, 'expedited', Uint8Array.of(1));
    case 'release':
      return s.release(now, EMPTY);
    case 'respondRelease accept':
      return s.respondRelease(now, true, EMPTY);
    case 'respondRelease refuse':
      return s.respondRelease(now, false, EMPTY);
    case 'abort':
      return s.abort(now, EMPTY);
  }
}

function decodeAbortCodes(bytes: Uint8Array): number[] {
  const out: number[] = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  // The subject's preface went out long ago; these bytes are whole frames.
  while (at + 10 <= bytes.byteLength) {
    const len = v.getUint32(at + 6);
    if (v.getUint8(at) === FrameType.ABORT) out.push(v.getUint16(at + 11));
    at += 10 + len;
  }
  return out;
}
