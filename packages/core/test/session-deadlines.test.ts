/**
 * The session's clock, exactly: `nextDeadline()` is the earliest of the deadlines its state and
 * link have (handshake, release, resume window, delayed acknowledgement, credential expiry), and
 * `handleTimeout(now)` acts on each at that instant and not a millisecond before, with its own
 * abort code and reason. Written from the mutation survivors of session.ts (issue 18.5).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AbortCode, type CloseReason, type ConnectionEvent, type Session } from '@liaison/core';
import { Link } from './resume-link.js';

const EMPTY = new Uint8Array(0);
const LIMITS = { handshakeTimeoutMs: 1_000, releaseTimeoutMs: 3_000, ackDelayMs: 10 };

function closedWith(events: ConnectionEvent[], session: Session): CloseReason | undefined {
  const e = events.find((x) => x.type === 'closed' && x.session === session);
  return e?.type === 'closed' ? e.reason : undefined;
}

function assertAborted(session: Session, code: AbortCode, message: string): void {
  const reason = session.closeReason;
  assert.ok(reason && reason.kind === 'aborted', `aborted: ${JSON.stringify(reason)}`);
  assert.equal(reason.code, code);
  assert.equal(reason.message, message);
}

/** One-way delivery, for the steps where the other direction must not move yet. */
function toServer(l: Link): void {
  for (let b = l.client.pollTransmit(); b; b = l.client.pollTransmit()) l.server.handleBytes(l.now, b);
}
function toClient(l: Link): void {
  for (let b = l.server.pollTransmit(); b; b = l.server.pollTransmit()) l.client.handleBytes(l.now, b);
}
/** The server's application reads its events and answers none of them. */
function ignoreServerEvents(l: Link): void {
  for (let e = l.server.pollEvent(); e; e = l.server.pollEvent()) void e;
}

function openPair(): { l: Link; c: Session; s: Session } {
  const l = new Link(LIMITS);
  l.now = 5_000;
  const c = l.client.openSession(l.now);
  l.pump();
  const s = l.server.session(c.channel) as Session;
  assert.equal(c.state, 'open');
  return { l, c, s };
}

/** Cut at 6,000: the client's window (10 s in the harness) plus its grace of one handshake timeout. */
const resumingDeadline = () => 6_000 + 10_000 + LIMITS.handshakeTimeoutMs;

describe('session deadlines', () => {
  test('establishment: the handshake deadline counts from the CONNECT, not from zero', () => {
    const l = new Link(LIMITS);
    l.now = 5_000;
    const c = l.client.openSession(l.now); // the server never hears of it
    assert.equal(c.nextDeadline(), 6_000);
    c.handleTimeout(5_999);
    assert.equal(c.state, 'connecting');
    c.handleTimeout(6_000);
    assertAborted(c, AbortCode.HANDSHAKE_TIMEOUT, 'session establishment timed out');
    assert.equal(c.nextDeadline(), null, 'a closed session has no deadline');
    c.handleTimeout(60_000); // nothing more happens to a closed session
    assertAborted(c, AbortCode.HANDSHAKE_TIMEOUT, 'session establishment timed out');
  });

  test('an open, idle session has no deadline; a received message arms the delayed acknowledgement', () => {
    const { l, c, s } = openPair();
    l.pump();
    assert.equal(c.nextDeadline(), null);
    assert.equal(s.nextDeadline(), null);
    l.now = 7_000;
    c.send(l.now, 'normal', new TextEncoder().encode('x'));
    toServer(l);
    for (let e = l.server.pollEvent(); e; e = l.server.pollEvent()) {
      if (e.type === 'message') e.session.consume(l.now, e.credit);
    }
    assert.equal(s.nextDeadline(), 7_010, 'the acknowledgement is due ackDelayMs later');
    s.credentialsExpireAt = 7_005;
    assert.equal(s.nextDeadline(), 7_005, 'an earlier expiry comes first');
    s.credentialsExpireAt = 9_000;
    assert.equal(s.nextDeadline(), 7_010, 'a later expiry does not');
    s.handleTimeout(7_009);
    assert.equal(s.hasWork(), false, 'no acknowledgement before its time');
    s.handleTimeout(7_010);
    assert.equal(s.hasWork(), true, 'the acknowledgement is due');
  });

  test('credential expiry aborts at the instant, with its code', () => {
    const { l, s } = openPair();
    s.credentialsExpireAt = 8_000;
    assert.equal(s.nextDeadline(), 8_000);
    s.handleTimeout(7_999);
    assert.equal(s.state, 'open');
    s.handleTimeout(8_000);
    assertAborted(s, AbortCode.CREDENTIALS_EXPIRED, 'credentials expired and were not renewed');
    l.pump();
    assert.equal(closedWith(l.serverEvents, s)?.kind, 'aborted');
  });

  test('release: both sides time out releaseTimeoutMs after their own release began', () => {
    const { l, c, s } = openPair();
    l.now = 6_000;
    c.release(l.now, EMPTY);
    assert.equal(c.state, 'releasing');
    assert.equal(c.nextDeadline(), 9_000);
    l.now = 6_500;
    toServer(l);
    ignoreServerEvents(l); // nobody answers
    assert.equal(s.state, 'release-requested');
    assert.equal(s.nextDeadline(), 6_510, 'the FINISH is acknowledged first');
    s.handleTimeout(6_510);
    toClient(l);
    assert.equal(s.nextDeadline(), 9_500);
    s.credentialsExpireAt = 9_400;
    assert.equal(s.nextDeadline(), 9_400, 'the earlier of release and expiry');
    s.credentialsExpireAt = Number.POSITIVE_INFINITY;
    c.handleTimeout(8_999);
    assert.equal(c.state, 'releasing');
    c.handleTimeout(9_000);
    assertAborted(c, AbortCode.RELEASE_TIMEOUT, 'orderly release did not complete in time');
    s.handleTimeout(9_499);
    assert.equal(s.state, 'release-requested');
    s.handleTimeout(9_500);
    assertAborted(s, AbortCode.RELEASE_TIMEOUT, 'orderly release did not complete in time');
  });

  test('a release answered and awaiting its DISCONNECT times out too (disconnecting)', () => {
    const { l, c, s } = openPair();
    l.now = 6_000;
    c.release(l.now, EMPTY);
    toServer(l);
    ignoreServerEvents(l);
    s.handleTimeout(6_010);
    toClient(l);
    l.now = 6_200;
    s.respondRelease(l.now, true, EMPTY);
    assert.equal(s.state, 'disconnecting');
    assert.equal(s.nextDeadline(), 9_200, 'releaseTimeoutMs from its answer');
    s.handleTimeout(9_199);
    assert.equal(s.state, 'disconnecting');
    s.handleTimeout(9_200);
    assertAborted(s, AbortCode.RELEASE_TIMEOUT, 'orderly release did not complete in time');
    // Whatever the responder's state, the initiator that hears nothing stays bounded.
    assert.equal(c.nextDeadline(), 9_000);
  });

  test('suspended: no deadline of its own (the table keeps it); resuming: the resume window bounds it', () => {
    const { l, c } = openPair();
    l.now = 6_000;
    c.release(l.now, EMPTY); // a release under way does not time out while the link is down
    l.cut();
    assert.equal(c.link, 'suspended');
    assert.equal(c.nextDeadline(), null);
    c.handleTimeout(100_000);
    assert.equal(c.state, 'releasing', 'a suspended session waits for its table, not its clock');
    l.now = 6_100;
    l.connect();
    l.client.resumeSession(l.now, c);
    assert.equal(c.link, 'resuming');
    const deadline = c.nextDeadline();
    assert.equal(deadline, resumingDeadline(), 'the resume window, not the release deadline');
    c.handleTimeout(9_000);
    assert.equal(c.link, 'resuming', 'no release timeout while not attached');
    c.handleTimeout(deadline - 1);
    assert.notEqual(c.state, 'closed');
    c.handleTimeout(deadline);
    assertAborted(c, AbortCode.RESUME_WINDOW_EXPIRED, 'not resumed within the resume window');
  });

  test('awaiting the answer to a RESUME, the window still bounds the attempt', () => {
    const { l, c } = openPair();
    l.now = 6_000;
    l.cut();
    l.now = 6_100;
    l.connect();
    l.client.resumeSession(l.now, c);
    // Let the challenge reach the client and its RESUME leave, but drop every answer after.
    for (let round = 0; round < 10 && (c.link as string) !== 'awaiting-resumed'; round++) {
      toServer(l);
      for (let b = l.server.pollTransmit(); b; b = l.server.pollTransmit()) {
        if ((c.link as string) !== 'awaiting-resumed') l.client.handleBytes(l.now, b);
      }
      for (let e = l.client.pollEvent(); e; e = l.client.pollEvent()) void e;
      ignoreServerEvents(l);
    }
    assert.equal(c.link, 'awaiting-resumed');
    assert.equal(c.nextDeadline(), 6_110, 'its acknowledgement first');
    c.handleTimeout(6_110);
    while (l.client.pollTransmit()); // lost: the answer never comes
    const deadline = c.nextDeadline();
    assert.equal(deadline, resumingDeadline(), 'then the resume window');
    c.handleTimeout(deadline - 1);
    assert.notEqual(c.state, 'closed');
    c.handleTimeout(deadline);
    assertAborted(c, AbortCode.RESUME_WINDOW_EXPIRED, 'not resumed within the resume window');
  });

  test('a resume gives a release under way its full time again, on both sides', () => {
    const { l, c, s } = openPair();
    l.now = 6_000;
    c.release(l.now, EMPTY);
    toServer(l);
    ignoreServerEvents(l); // nobody answers
    assert.equal(s.state, 'release-requested');
    l.now = 6_100;
    l.cut();
    l.now = 8_500;
    l.connect();
    l.client.resumeSession(l.now, c);
    l.pump();
    assert.equal(c.link, 'attached');
    const resumed = l.clientEvents.find((e) => e.type === 'resumed');
    assert.ok(resumed?.type === 'resumed');
    assert.equal(resumed.stats.downtimeMs, 2_400, 'from the cut to the resume');
    for (const side of [c, s]) {
      side.handleTimeout(11_499); // 9,000 or 9,100 would have ended it
      assert.notEqual(side.state, 'closed');
      side.handleTimeout(11_500);
      assertAborted(side, AbortCode.RELEASE_TIMEOUT, 'orderly release did not complete in time');
    }
  });

  test('credentials that expired while the session was suspended: the resume is refused, from that instant', () => {
    for (const [expiry, refused] of [
      [7_500, true],
      [7_501, false],
    ] as const) {
      const { l, c, s } = openPair();
      l.now = 6_000;
      l.cut();
      s.credentialsExpireAt = expiry;
      l.now = 7_500;
      l.connect();
      l.client.resumeSession(l.now, c);
      l.pump();
      if (refused) {
        const reason = c.closeReason;
        assert.ok(reason?.kind === 'aborted', `refused at ${expiry}`);
        assert.equal(reason.code, AbortCode.RESUME_REFUSED);
      } else {
        assert.equal(c.link, 'attached', `resumed before ${expiry}`);
      }
    }
  });
});
