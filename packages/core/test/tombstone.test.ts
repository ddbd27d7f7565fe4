/**
 * Exact loss reports (issue 10.2): a server keeps a tombstone of each resumable session that
 * ended (its final received count and resume key, bounded by count and time), and answers a
 * late resume that proves the key with that count, proven in turn. The client then reports
 * exactly the messages that never arrived (`status: 'undelivered'`); without an answer it
 * reports what it sent and never saw confirmed as `unconfirmed`, never as lost.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortCode,
  type ConnectionEvent,
  encodeFrame,
  FrameType,
  PREFACE,
  type Session,
  type UndeliveredMessage,
} from '@liaison/core';
import fc from 'fast-check';
import { Link, nums, received } from './resume-link.js';

const WINDOW_MS = 500;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const lines = (messages: UndeliveredMessage[]) => messages.map((m) => decoder.decode(m.data));
const statuses = (messages: UndeliveredMessage[]) => new Set(messages.map((m) => m.status));

function closeOf(events: ConnectionEvent[]) {
  const e = events.find((x) => x.type === 'closed');
  assert.ok(e && e.type === 'closed', 'the session closed');
  return e.reason;
}

/**
 * The client sends `count` messages of which the server gets the first `budget` bytes' worth,
 * and no acknowledgement comes back; the link breaks, the server's window runs out (the
 * session ends there), and then the client resumes.
 */
function lateResume(count: number, budget: number, serverTable = {}): { l: Link; c: Session; sent: string[] } {
  const l = new Link({ resumeWindowMs: WINDOW_MS, frameBytesMax: 1024 }, serverTable);
  const c = l.client.openSession(l.now);
  l.pump();
  const sent = nums(count, 'm');
  l.toClient = () => null; // acknowledgements die with the connection
  l.budget = budget;
  for (const m of sent) c.send(l.now, 'normal', encoder.encode(m));
  l.pump();
  l.cut();
  l.now += WINDOW_MS + 100;
  l.serverTable.handleTimeout(l.now);
  l.pump();
  assert.equal(closeOf(l.serverEvents).kind, 'aborted', 'the server gave the session up');
  l.toClient = (b) => b;
  l.budget = Number.POSITIVE_INFINITY;
  l.connect();
  l.client.resumeSession(l.now, c);
  l.pump();
  return { l, c, sent };
}

describe('tombstones: a late resume learns exactly what arrived', () => {
  test('everything arrived: the client reports nothing lost', () => {
    const { l, c, sent } = lateResume(20, Number.POSITIVE_INFINITY);
    assert.deepEqual(received(l.serverEvents), sent);
    const reason = closeOf(l.clientEvents);
    assert.ok(reason.kind === 'aborted' && reason.code === AbortCode.RESUME_REFUSED);
    assert.equal(reason.undelivered, 0);
    assert.deepEqual(c.undeliveredMessages(), []);
  });

  test('part arrived: exactly the rest is reported, each known lost', () => {
    const { l, c, sent } = lateResume(40, 300);
    const got = received(l.serverEvents);
    assert.ok(got.length > 0 && got.length < sent.length, `a part arrived (${got.length})`);
    const lost = c.undeliveredMessages();
    assert.deepEqual(lines(lost), sent.slice(got.length));
    assert.deepEqual(statuses(lost), new Set(['undelivered']));
    const reason = closeOf(l.clientEvents);
    assert.equal(reason.kind === 'aborted' && reason.undelivered, sent.length - got.length);
  });

  test('property: for any cut, reported + received is what was sent, with no overlap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 1500 }), (count, budget) => {
        const { l, c, sent } = lateResume(count, budget);
        const got = received(l.serverEvents);
        const lost = c.undeliveredMessages();
        assert.deepEqual([...got, ...lines(lost)], sent);
        assert.ok(lost.every((m) => m.status === 'undelivered'));
      }),
      { numRuns: 60 },
    );
  });

  test('without a tombstone the sent messages are unconfirmed, not lost', () => {
    const { l, c, sent } = lateResume(20, Number.POSITIVE_INFINITY, { tombstonesMax: 0 });
    assert.deepEqual(received(l.serverEvents), sent, 'all of them did arrive');
    const reason = closeOf(l.clientEvents);
    assert.ok(reason.kind === 'aborted' && reason.code === AbortCode.RESUME_REFUSED);
    const reported = c.undeliveredMessages();
    assert.deepEqual(lines(reported), sent);
    assert.deepEqual(statuses(reported), new Set(['unconfirmed']));
  });

  test('a tombstone older than tombstoneMs is gone', () => {
    const l = new Link({ resumeWindowMs: WINDOW_MS }, { tombstoneMs: 50 });
    const c = l.client.openSession(l.now);
    l.pump();
    l.toClient = () => null;
    c.send(l.now, 'normal', encoder.encode('arrives'));
    l.pump();
    l.cut();
    l.now += WINDOW_MS + 1;
    l.serverTable.handleTimeout(l.now);
    l.pump();
    assert.equal(l.serverTable.tombstoneCount, 1);
    l.now += 51;
    l.toClient = (b) => b;
    l.connect();
    l.client.resumeSession(l.now, c);
    l.pump();
    assert.deepEqual(received(l.serverEvents), ['arrives']);
    assert.deepEqual(statuses(c.undeliveredMessages()), new Set(['unconfirmed']));
    assert.equal(l.serverTable.tombstoneCount, 0, 'pruned when looked up');
  });

  test('tombstones are bounded by count: the oldest goes first', () => {
    const l = new Link({ resumeWindowMs: WINDOW_MS }, { tombstonesMax: 2 });
    const sessions = [0, 1, 2].map(() => l.client.openSession(l.now));
    l.pump();
    const ids = sessions.map((s) => s.sessionId as Uint8Array);
    for (const s of sessions) {
      l.server.session(s.channel)?.abort(l.now, new Uint8Array(0));
      l.now += 1;
    }
    l.pump();
    assert.equal(l.serverTable.tombstoneCount, 2);
    assert.equal(l.serverTable.tombstone(l.now, ids[0] as Uint8Array), undefined, 'the oldest was dropped');
    assert.ok(l.serverTable.tombstone(l.now, ids[2] as Uint8Array), 'the newest is kept');
  });

  test('an orderly released session leaves a tombstone too, with everything received', () => {
    const l = new Link({ resumeWindowMs: WINDOW_MS });
    const c = l.client.openSession(l.now);
    l.pump();
    for (const m of nums(3, 'r')) c.send(l.now, 'normal', encoder.encode(m));
    c.release(l.now, new Uint8Array(0));
    l.pump();
    l.server.session(c.channel)?.respondRelease(l.now, true, new Uint8Array(0));
    l.pump();
    assert.equal(c.state, 'closed');
    const tomb = l.serverTable.tombstone(l.now, c.sessionId as Uint8Array);
    assert.ok(tomb, 'kept');
    assert.ok(tomb.received >= 3, `counts the frames received (${tomb.received})`);
  });
});

describe('tombstones: what a tombstone does not say', () => {
  test('a resume that does not prove the key gets the plain refusal', () => {
    const { l, c } = lateResume(3, Number.POSITIVE_INFINITY);
    const id = c.sessionId as Uint8Array;
    assert.ok(l.serverTable.tombstone(l.now, id), 'the tombstone exists');
    l.connect();
    l.server.handleBytes(l.now, PREFACE);
    l.server.handleBytes(
      l.now,
      encodeFrame({
        type: FrameType.RESUME,
        channel: 1,
        sessionId: id,
        clientNonce: new Uint8Array(16),
        received: 0,
        resendFrom: 1,
        replaying: 0,
        proof: new Uint8Array(32),
      }),
    );
    const answer = Buffer.concat([...drain(l)]);
    const plain = encodeFrame({
      type: FrameType.RESUME_REFUSE,
      channel: 1,
      code: AbortCode.RESUME_REFUSED,
      message: 'no session to resume',
    });
    assert.ok(answer.includes(Buffer.from(plain)), 'refused without a count');
  });

  test('a final count whose proof fails is ignored: what was sent stays unconfirmed', () => {
    const l = new Link({ resumeWindowMs: WINDOW_MS });
    const c = l.client.openSession(l.now);
    l.pump();
    l.toClient = () => null;
    for (const m of nums(4, 'x')) c.send(l.now, 'normal', encoder.encode(m));
    l.pump();
    l.cut();
    l.now += WINDOW_MS + 1;
    l.serverTable.handleTimeout(l.now);
    l.pump();
    // Someone on the path rewrites the proven count to "nothing arrived".
    let tampered = 0;
    l.toClient = (b) => {
      const at = Buffer.from(b).indexOf(Buffer.from([FrameType.RESUME_REFUSE, 0x01]));
      if (at < 0) return b;
      const copy = b.slice();
      copy[copy.byteLength - 1] = (copy[copy.byteLength - 1] as number) ^ 0xff; // the proof's last byte
      tampered++;
      return copy;
    };
    l.connect();
    l.client.resumeSession(l.now, c);
    l.pump();
    assert.equal(tampered, 1, 'the proven refusal was on the wire');
    assert.equal(c.state, 'closed');
    assert.deepEqual(lines(c.undeliveredMessages()), nums(4, 'x'));
    assert.deepEqual(statuses(c.undeliveredMessages()), new Set(['unconfirmed']));
  });

  test('queued messages that never left are undelivered even without an answer', () => {
    const l = new Link({ receiveWindowBytes: 1024, frameBytesMax: 1024 });
    const c = l.client.openSession(l.now);
    l.pump();
    l.toClient = () => null; // no window updates: most of the queue never leaves
    const sent = nums(200, 'q');
    for (const m of sent) c.send(l.now, 'normal', encoder.encode(m), true);
    l.pump();
    c.abort(l.now, new Uint8Array(0));
    const reported = c.undeliveredMessages();
    assert.deepEqual(lines(reported), sent.slice(sent.length - reported.length));
    const unconfirmed = reported.filter((m) => m.status === 'unconfirmed').length;
    assert.ok(unconfirmed > 0 && unconfirmed < reported.length, `some were sent (${unconfirmed})`);
    assert.ok(
      reported.slice(unconfirmed).every((m) => m.status === 'undelivered'),
      'the sent ones come first, then what never left',
    );
  });
});

function* drain(l: Link): Generator<Uint8Array> {
  for (let b = l.server.pollTransmit(); b; b = l.server.pollTransmit()) yield b;
}
