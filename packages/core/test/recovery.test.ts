/**
 * Recovery on virtual time: sessions outlive their transport, resume on a new connection with a
 * proof, and deliver exactly once and in order in both directions. Cuts happen at arbitrary
 * points of a byte stream (bytes in flight are lost, as a broken TCP connection loses them).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AbortCode, Connection, encodeFrame, FrameType, PREFACE, type Session, SessionTable } from '@liaison/core';
import { Link, nums, received, text } from './resume-link.js';
import { seededRandom } from './seeded-random.js';

describe('recovery', () => {
  test('a session resumes after a cut and delivers exactly once, in order, both ways', () => {
    const l = new Link({ frameBytesMax: 4096 });
    const c = l.client.openSession(l.now);
    l.pump();
    const s = l.server.session(c.channel) as Session;
    assert.equal(c.state, 'open');
    assert.ok(c.sessionId && s.sessionId, 'recovery agreed');
    for (const m of nums(300, 'c')) c.send(l.now, 'normal', new TextEncoder().encode(m));
    for (const m of nums(300, 's')) s.send(l.now, 'normal', new TextEncoder().encode(m));
    l.budget = 2500; // the link breaks in the middle of the stream
    l.pump();
    l.cut();
    assert.equal(c.link, 'suspended');
    assert.equal(s.link, 'suspended');
    assert.ok(l.clientEvents.some((e) => e.type === 'suspended'));
    l.budget = Number.POSITIVE_INFINITY;
    l.now += 100;
    l.connect();
    l.client.resumeSession(l.now, c);
    l.pump();
    assert.equal(c.link, 'attached');
    assert.equal(s.link, 'attached');
    assert.deepEqual(received(l.serverEvents), nums(300, 'c'));
    assert.deepEqual(received(l.clientEvents), nums(300, 's'));
    const resumed = l.clientEvents.find((e) => e.type === 'resumed');
    assert.ok(resumed && resumed.type === 'resumed');
    assert.equal(resumed.stats.lost, 0);
    assert.equal(resumed.stats.downtimeMs, 100);
    assert.equal(c.stats.resumes, 1);
    assert.equal(s.stats.resumes, 1);
  });

  test('many cuts at every kind of offset lose and duplicate nothing', () => {
    const l = new Link({ frameBytesMax: 2048 });
    const c = l.client.openSession(l.now);
    l.pump();
    const s = l.server.session(c.channel) as Session;
    const big = new Uint8Array(20_000).map((_, i) => i & 0xff);
    let sentC = 0;
    let sentS = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 25; i++) {
        if (c.writable) c.send(l.now, 'normal', new TextEncoder().encode(`c${sentC++}`));
        if (s.writable) s.send(l.now, 'normal', new TextEncoder().encode(`s${sentS++}`));
      }
      if (round % 7 === 0 && c.writable) c.send(l.now, 'typed', big);
      l.budget = 97 * round + 13;
      l.pump();
      l.cut();
      l.budget = Number.POSITIVE_INFINITY;
      l.now += 10;
      l.connect();
      l.client.resumeSession(l.now, c);
      l.pump();
      assert.equal(c.link, 'attached', `round ${round}`);
    }
    l.pump();
    const fromC = l.serverEvents.filter((e) => e.type === 'message' && e.kind === 'normal').map(text);
    const fromS = l.clientEvents.filter((e) => e.type === 'message' && e.kind === 'normal').map(text);
    assert.deepEqual(fromC, nums(sentC, 'c'));
    assert.deepEqual(fromS, nums(sentS, 's'));
    const bigs = l.serverEvents.filter((e) => e.type === 'message' && e.kind === 'typed');
    assert.equal(bigs.length, 6);
    for (const b of bigs) assert.ok(b.type === 'message' && Buffer.from(b.data).equals(Buffer.from(big)));
  });

  test('a resume with a forged proof is refused and the real one still works', () => {
    const l = new Link();
    const c = l.client.openSession(l.now);
    l.pump();
    c.send(l.now, 'normal', new TextEncoder().encode('before'));
    l.budget = 0;
    l.pump();
    l.cut();
    l.budget = Number.POSITIVE_INFINITY;
    // An attacker who knows the session id but not the key.
    const server2 = new Connection({ role: 'responder', random: l.random, table: l.serverTable });
    server2.handleTransportUp(l.now);
    const forged = new Uint8Array(32);
    server2.handleBytes(l.now, PREFACE);
    server2.handleBytes(
      l.now,
      encodeFrame({
        type: FrameType.RESUME,
        channel: 1,
        sessionId: c.sessionId as Uint8Array,
        clientNonce: new Uint8Array(16),
        received: 0,
        resendFrom: 1,
        replaying: 0,
        proof: forged,
      }),
    );
    const answer = server2.pollTransmit() as Uint8Array;
    const refusal = encodeFrame({
      type: FrameType.RESUME_REFUSE,
      channel: 1,
      code: AbortCode.RESUME_REFUSED,
      message: 'no session to resume',
    });
    assert.ok(Buffer.from(answer).includes(Buffer.from(refusal)), 'refused, without saying why');
    // The real client resumes afterwards.
    l.connect();
    l.client.resumeSession(l.now, c);
    l.pump();
    assert.equal(c.link, 'attached');
    assert.deepEqual(received(l.serverEvents), ['before']);
  });

  test('a session not resumed within the window is lost, with its undelivered messages', () => {
    const l = new Link({ resumeWindowMs: 500 });
    const c = l.client.openSession(l.now);
    l.pump();
    const s = l.server.session(c.channel) as Session;
    l.budget = 0;
    s.send(l.now, 'normal', new TextEncoder().encode('never'));
    l.pump();
    l.cut();
    l.now = 600;
    l.serverTable.handleTimeout(l.now);
    l.pump();
    const closed = l.serverEvents.find((e) => e.type === 'closed');
    assert.ok(closed && closed.type === 'closed' && closed.reason.kind === 'aborted');
    assert.equal(closed.reason.code, AbortCode.RESUME_WINDOW_EXPIRED);
    assert.equal(closed.reason.undelivered, 1);
    assert.deepEqual(
      s.undeliveredMessages().map((m) => new TextDecoder().decode(m.data)),
      ['never'],
    );
    // The client's late resume is refused: it learns the session was lost.
    l.budget = Number.POSITIVE_INFINITY;
    l.connect();
    l.client.resumeSession(l.now, c);
    l.pump();
    assert.equal(c.state, 'closed');
    const lost = l.clientEvents.find((e) => e.type === 'closed');
    assert.ok(lost && lost.type === 'closed' && lost.reason.kind === 'aborted');
    assert.equal(lost.reason.code, AbortCode.RESUME_REFUSED);
  });
});

describe('regression (sim seed 709): a resume answered before the replay ends loses nothing', () => {
  // The initiator replays optimistically behind RESUME; the responder drops, by count, the frames
  // it already had. When RESUMED (or an ACK) arrived before the replay was done, the initiator
  // jumped past the duplicates it had not yet sent again, and the responder then dropped as
  // "duplicates" that many NEW frames: messages lost without a word.
  test('new messages after a slow replay all arrive, once and in order', () => {
    const limits = { frameBytesMax: 1024, transmitBatchBytes: 1024 };
    const random = seededRandom(709);
    const clientTable = new SessionTable({ resumeWindowMs: 10_000, suspendedBytesMax: 1 << 30 });
    const serverTable = new SessionTable({ resumeWindowMs: 10_000, suspendedBytesMax: 1 << 30 });
    const got: string[] = [];
    let now = 0;
    const open = () => {
      const client = new Connection({ role: 'initiator', limits, random, table: clientTable });
      const server = new Connection({ role: 'responder', limits, random, table: serverTable });
      client.handleTransportUp(now);
      server.handleTransportUp(now);
      return { client, server };
    };
    const drain = (c: Connection) => {
      for (let e = c.pollEvent(); e; e = c.pollEvent()) {
        if (e.type === 'connect-request') e.session.accept(now, new Uint8Array(0));
        if (e.type === 'message') {
          got.push(new TextDecoder().decode(e.data).slice(0, 4));
          e.session.consume(now, e.credit);
        }
      }
      for (const t of [clientTable, serverTable]) while (t.pollEvent()) {}
    };
    /** One batch each way per round, so that answers overtake a long replay. */
    const step = (c: Connection, s: Connection, toClient = true) => {
      for (let round = 0; round < 10_000; round++) {
        now += 1;
        const up = c.pollTransmit();
        if (up) s.handleBytes(now, up);
        const down = s.pollTransmit();
        if (down && toClient) c.handleBytes(now, down);
        c.handleTimeout(now);
        s.handleTimeout(now);
        drain(c);
        drain(s);
        if (!up && !down && c.pollTimeout() !== now) return;
      }
      throw new Error('no quiescence');
    };
    const first = open();
    const session = first.client.openSession(now);
    step(first.client, first.server);
    const name = (i: number) => `m${String(i).padStart(3, '0')}`;
    const body = (i: number) => new TextEncoder().encode(name(i).padEnd(600, '.'));
    const expected = Array.from({ length: 13 }, (_, i) => name(i));
    for (let i = 0; i < 10; i++) session.send(now, 'normal', body(i));
    step(first.client, first.server, false); // the server gets all ten; its acknowledgements are lost
    assert.deepEqual(got, expected.slice(0, 10));
    first.client.handleTransportDown(now, 'cut');
    first.server.handleTransportDown(now, 'cut');
    drain(first.client);
    drain(first.server);
    const second = open();
    second.client.resumeSession(now, session);
    for (let i = 10; i < 13; i++) session.send(now, 'normal', body(i));
    step(second.client, second.server);
    assert.equal(session.link, 'attached');
    assert.deepEqual(got, expected, 'each message once, in order, none dropped as a duplicate');
  });

  test('regression (sim seed 271): a session opened while others wait to resume does not take a channel ahead of them', () => {
    // Resumed sessions take channels 1 and 3 but send RESUME only once the challenge is here; a
    // session opened meanwhile (channel 5) sent its CONNECT at once, so the responder saw 5 before
    // 1 and closed the whole connection: "channels are odd and never reused".
    const l = new Link();
    const a = l.client.openSession(l.now);
    const b = l.client.openSession(l.now);
    l.pump();
    a.send(l.now, 'normal', new TextEncoder().encode('a0'));
    b.send(l.now, 'normal', new TextEncoder().encode('b0'));
    l.pump();
    l.cut();
    assert.equal(a.link, 'suspended');
    l.now += 100;
    l.connect();
    l.client.resumeSession(l.now, a);
    l.client.resumeSession(l.now, b);
    const c = l.client.openSession(l.now);
    l.pump();
    assert.ok(l.server.isOpen && l.client.isOpen, 'the connection stays open');
    assert.equal(a.link, 'attached');
    assert.equal(b.link, 'attached');
    assert.equal(c.state, 'open');
    c.send(l.now, 'normal', new TextEncoder().encode('c0'));
    a.send(l.now, 'normal', new TextEncoder().encode('a1'));
    l.pump();
    assert.deepEqual(received(l.serverEvents).sort(), ['a0', 'a1', 'b0', 'c0']);
  });
});

describe('half-open sessions (issue 10.4)', () => {
  /** A session the server accepted, with everything the server sent since lost in a cut. */
  function acceptedThenCut(l: Link): { c: Session; s: Session } {
    const c = l.client.openSession(l.now);
    for (let b = l.client.pollTransmit(); b; b = l.client.pollTransmit()) l.server.handleBytes(l.now, b);
    for (let e = l.server.pollEvent(); e; e = l.server.pollEvent()) {
      if (e.type === 'connect-request') e.session.accept(l.now, new Uint8Array(0));
    }
    while (l.server.pollTransmit()); // the ACCEPT is lost with the transport
    const s = l.server.session(c.channel) as Session;
    assert.equal(s.state, 'open');
    l.cut();
    return { c, s };
  }

  test('regression: a session whose ACCEPT was lost is parked only handshakeTimeoutMs, not the resume window', () => {
    const l = new Link({ handshakeTimeoutMs: 500 });
    const { c, s } = acceptedThenCut(l);
    assert.equal(c.state, 'closed', 'the initiator never had the session');
    assert.equal(s.link, 'suspended');
    assert.equal(s.parkWindowMs, 500);
    assert.equal(l.serverTable.pollTimeout(), l.now + 500);
    l.now += 500;
    l.serverTable.handleTimeout(l.now);
    const reason = s.closeReason;
    assert.ok(reason?.kind === 'aborted' && reason.code === AbortCode.RESUME_WINDOW_EXPIRED);
    assert.equal(l.serverTable.registeredCount, 0);
  });

  test('a session the initiator has been heard on keeps the whole resume window, and resumes', () => {
    const l = new Link({ handshakeTimeoutMs: 500 });
    const c = l.client.openSession(l.now);
    l.pump();
    const s = l.server.session(c.channel) as Session;
    // The initiator confirms the ACCEPT at once, before it has anything to send: a session that
    // was established but idle when the break came is not mistaken for a half-open one.
    assert.equal(s.parkWindowMs, s.resumeWindowMs, 'the initiator has the session');
    assert.equal(c.stats.messagesSent, 0);
    l.cut();
    assert.equal(l.serverTable.pollTimeout(), l.now + 10_000, "the table's resume window");
    l.now += 2_000; // past the handshake timeout, inside the resume window
    l.connect();
    l.client.resumeSession(l.now, c);
    l.pump();
    assert.equal(c.link, 'attached');
    assert.equal(s.link, 'attached');
  });
});

describe('replay pacing after a resume (issue 10.1)', () => {
  const CHUNK = new Uint8Array(4096).fill(7);
  const MESSAGES = 512; // 2 MiB, far more than one short-lived link carries

  /** A session with everything it sent lost in a cut, so all of it waits for a replay. */
  function allLost(l: Link): { c: Session; s: Session } {
    const c = l.client.openSession(l.now);
    l.pump();
    const s = l.server.session(c.channel) as Session;
    l.budget = 0;
    for (let i = 0; i < MESSAGES; i++) {
      c.send(l.now, 'normal', CHUNK);
      l.pump(); // written into the link, and lost
    }
    assert.equal(c.stats.messagesSent, MESSAGES);
    l.cut();
    l.budget = Number.POSITIVE_INFINITY;
    return { c, s };
  }

  test('a resumed session puts only what the new link has shown it carries into it, then all of it arrives', () => {
    const l = new Link();
    const { c } = allLost(l);
    l.now += 100;
    l.connect();
    l.client.resumeSession(l.now, c);
    // Deliver only the client's hello and the server's CHALLENGE; then collect everything the
    // client writes before it hears anything more (no acknowledgement reaches it).
    for (let b = l.client.pollTransmit(); b; b = l.client.pollTransmit()) l.server.handleBytes(l.now, b);
    for (let b = l.server.pollTransmit(); b; b = l.server.pollTransmit()) l.client.handleBytes(l.now, b);
    const written: Uint8Array[] = [];
    for (let b = l.client.pollTransmit(); b; b = l.client.pollTransmit()) written.push(b);
    const bytes = written.reduce((n, b) => n + b.byteLength, 0);
    assert.ok(bytes > 32 * 1024, `the replay started (${bytes} bytes)`);
    assert.ok(bytes <= 64 * 1024 + 8192, `at most the initial allowance before an acknowledgement, wrote ${bytes}`);
    for (const b of written) l.server.handleBytes(l.now, b);
    l.pump();
    assert.equal(received(l.serverEvents).length, MESSAGES, 'the allowance grows with acknowledgements');
    assert.ok(c.stats.bytesRetransmitted < MESSAGES * CHUNK.byteLength * 1.1);
  });

  test('a link cut again and again after 100 KB each time is not refilled with the whole backlog at every resume', () => {
    const l = new Link();
    const { c, s } = allLost(l);
    const total = MESSAGES * CHUNK.byteLength;
    let links = 0;
    while (s.stats.messagesReceived < MESSAGES && links < 200) {
      links++;
      l.now += 1_000;
      l.connect();
      l.client.resumeSession(l.now, c);
      l.budget = 100_000;
      l.pump();
      if (s.stats.messagesReceived < MESSAGES) l.cut();
      l.budget = Number.POSITIVE_INFINITY;
    }
    l.pump();
    assert.equal(received(l.serverEvents).length, MESSAGES, `all delivered, once (${links} links)`);
    // Before pacing, every resume wrote the whole remaining backlog into the doomed link: about
    // 14 times the data here. Now each link gets what it can carry plus its allowance.
    assert.ok(
      c.stats.bytesRetransmitted < total * 4,
      `retransmitted ${c.stats.bytesRetransmitted} bytes for ${total} over ${links} links`,
    );
  });
});

describe('regression (sim seed 971755): a replayed frame larger than the contended in-flight cap', () => {
  test('is sent once the window has room, even after another session sent on the connection', () => {
    const l = new Link({ frameBytesMax: 65_536, contendedInflightBytes: 16 * 1024 });
    const a = l.client.openSession(l.now);
    const b = l.client.openSession(l.now);
    l.pump();
    // a has the connection alone, so its 40 KiB message leaves as one frame; it is lost.
    l.budget = 0;
    a.send(l.now, 'normal', new Uint8Array(40 * 1024).fill(1));
    l.pump();
    assert.equal(a.stats.messagesSent, 1);
    l.cut();
    l.budget = Number.POSITIVE_INFINITY;
    l.now += 100;
    l.connect();
    l.client.resumeSession(l.now, b);
    l.pump();
    b.send(l.now, 'normal', new TextEncoder().encode('b'));
    l.pump(); // b sent last: a is contended from here on
    l.client.resumeSession(l.now, a);
    l.pump();
    assert.equal(a.link, 'attached');
    const sizes = l.serverEvents.flatMap((e) => (e.type === 'message' ? [e.data.byteLength] : []));
    assert.deepEqual(sizes, [1, 40 * 1024], 'the replay went out (before the fix it waited forever)');
  });
});

describe('regression (sim seed 1203007): a frame acknowledged before the replay reached it', () => {
  // The replay sends every held frame again, even those the peer acknowledged meanwhile (its
  // duplicate count depends on it), and kept the last one after sending it, waiting for an
  // acknowledgement that could never come: it counted as in flight forever, and with another
  // session on the connection it held the contended in-flight cap shut (a session stuck for good).
  test('once sent again it leaves the buffer: nothing stays in flight after the replay', () => {
    const l = new Link({ frameBytesMax: 4096 });
    const c = l.client.openSession(l.now);
    l.pump();
    l.toClient = () => null; // everything arrives; no acknowledgement comes back
    const sent = nums(400, 'r'.repeat(600));
    for (const m of sent) c.send(l.now, 'normal', new TextEncoder().encode(m));
    l.pump();
    assert.ok(c.retainedBytes > 64 * 1024, `more than the pacing allowance is unacknowledged (${c.retainedBytes})`);
    l.cut();
    l.toClient = (b) => b;
    l.now += 50;
    l.connect();
    l.client.resumeSession(l.now, c);
    l.pump();
    assert.equal(c.link, 'attached');
    assert.deepEqual(received(l.serverEvents), sent, 'once each, in order');
    assert.equal(c.retainedBytes, 0, 'nothing held once the replay is over');
  });
});
