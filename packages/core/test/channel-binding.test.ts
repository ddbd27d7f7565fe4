/**
 * Channel binding of the resume proof and the resume key (Connection.bindChannel, which a
 * SecureConnection calls with its Noise handshake hash): a resume proof made on one secure
 * channel is refused on another, even where the responder's challenge repeated, and a session's
 * resume key depends on the handshake of the connection that established it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortCode, Connection, type ConnectionEvent, type Session, SessionTable } from '@liaison/core';
import { seededRandom } from './seeded-random.js';

const h = (n: number) => new Uint8Array(32).fill(n);

function pump(a: Connection, b: Connection, events: ConnectionEvent[] = []): void {
  for (let i = 0; i < 1000; i++) {
    let moved = 0;
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      for (let x = from.pollTransmit(); x; x = from.pollTransmit()) {
        moved += x.byteLength;
        to.handleBytes(0, x);
      }
      for (let e = from.pollEvent(); e; e = from.pollEvent()) {
        events.push(e);
        if (e.type === 'connect-request') e.session.accept(0, new Uint8Array(0));
      }
    }
    if (moved === 0) return;
  }
}

function setup(clientBinding: Uint8Array, serverBinding: Uint8Array) {
  const clientTable = new SessionTable({ resumeWindowMs: 60_000, suspendedBytesMax: 1 << 30 });
  const serverTable = new SessionTable({ resumeWindowMs: 60_000, suspendedBytesMax: 1 << 30 });
  const c1 = new Connection({ role: 'initiator', random: seededRandom(1), table: clientTable });
  const s1 = new Connection({ role: 'responder', random: seededRandom(2), table: serverTable });
  c1.bindChannel(clientBinding);
  s1.bindChannel(serverBinding);
  c1.handleTransportUp(0);
  s1.handleTransportUp(0);
  const session = c1.openSession(0);
  pump(c1, s1);
  assert.equal(session.state, 'open');
  c1.handleTransportDown(0, 'cut');
  s1.handleTransportDown(0, 'cut');
  assert.equal(session.link, 'suspended');
  return { session, clientTable, serverTable };
}

/** A responder whose challenge is always the same nonce: the worst case for a replay. */
const responder = (table: SessionTable, binding: Uint8Array) => {
  const s = new Connection({ role: 'responder', random: () => new Uint8Array(16).fill(7), table });
  s.bindChannel(binding);
  s.handleTransportUp(0);
  return s;
};

const resumeBytes = (session: Session, clientTable: SessionTable, binding: Uint8Array, challengeFrom: Connection) => {
  const c = new Connection({ role: 'initiator', random: seededRandom(3), table: clientTable });
  c.bindChannel(binding);
  c.handleTransportUp(0);
  c.resumeSession(0, session);
  c.handleBytes(0, challengeFrom.pollTransmit() as Uint8Array);
  return { c, bytes: c.pollTransmit() as Uint8Array };
};

test('a resume proof replayed onto another secure channel is refused, on the same one accepted', () => {
  const { session, clientTable, serverTable } = setup(h(1), h(1));
  const s2 = responder(serverTable, h(2));
  const s3 = responder(serverTable, h(3)); // same challenge nonce, another channel
  s3.pollTransmit(); // its challenge, identical to s2's
  const { c, bytes } = resumeBytes(session, clientTable, h(2), s2);

  const replayEvents: ConnectionEvent[] = [];
  s3.handleBytes(0, bytes);
  for (let e = s3.pollEvent(); e; e = s3.pollEvent()) replayEvents.push(e);
  assert.ok(!replayEvents.some((e) => e.type === 'resumed'), 'not resumed on the other channel');
  assert.equal(s3.sessionCount, 0);

  const events: ConnectionEvent[] = [];
  s2.handleBytes(0, bytes);
  pump(c, s2, events);
  assert.ok(
    events.some((e) => e.type === 'resumed'),
    'resumed on its own channel',
  );
  assert.equal(session.link, 'attached');
});

test('the resume key depends on the establishing handshake: different bindings cannot resume', () => {
  const { session, clientTable, serverTable } = setup(h(1), h(9));
  const s2 = responder(serverTable, h(2));
  const { c, bytes } = resumeBytes(session, clientTable, h(2), s2);
  const events: ConnectionEvent[] = [];
  s2.handleBytes(0, bytes);
  pump(c, s2, events);
  assert.notEqual(session.link, 'attached');
  const closed = events.find((e) => e.type === 'closed');
  assert.ok(closed?.type === 'closed' && closed.reason.kind === 'aborted');
  assert.equal(closed.reason.kind === 'aborted' && closed.reason.code, AbortCode.RESUME_REFUSED);
});

test('bindChannel after transport up is a usage error', () => {
  const c = new Connection({ role: 'initiator' });
  c.handleTransportUp(0);
  assert.throws(() => c.bindChannel(h(1)), /before transport up/);
});
