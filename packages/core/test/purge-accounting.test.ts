/**
 * Accounting across a purge (issue 18, sim seed 937199): every message accepted by send() ends
 * delivered, reported undelivered (`undeliveredMessages()`) or reported purged (`purged` event).
 * A message partly sent when a resynchronize purged the rest was in none of them: only its last
 * fragment (never sent) would have put it in the retransmit buffer's accounting, and the sender
 * left it for the receiver to report, which cannot when the session is lost before the RS arrives.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Session, Unit } from '@liaison/core';
import { eventsOf, messages, openDialogue, Pair, type Side } from './harness.js';

const EMPTY = new Uint8Array(0);
const UNITS = Unit.KERNEL | Unit.HALF_DUPLEX | Unit.RESYNCHRONIZE;

function message(tag: number, bytes: number): Uint8Array {
  const m = new Uint8Array(bytes);
  m[0] = tag;
  return m;
}

/** The first bytes (tags) of the messages `side` reported purged. */
function purgedTags(side: Side): number[] {
  return eventsOf(side, 'dialogue').flatMap((e) =>
    e.event.kind === 'purged' ? e.event.messages.map((m) => m[0] ?? -1) : [],
  );
}

/**
 * A session whose initiator has sent the first fragment of a large message (tag 1), which reached
 * the responder, and holds the rest and a second message (tag 2): one transmit batch of one frame
 * went out, then the link stalled.
 */
function partlySent(): { p: Pair; a: Session; b: Session } {
  const p = new Pair({ limits: { frameBytesMax: 1024, transmitBatchBytes: 1024 } });
  const { a, b } = openDialogue(p, UNITS);
  p.linkUp = false;
  a.send(p.now, 'normal', message(1, 20_000));
  a.send(p.now, 'normal', message(2, 500));
  p.b.conn.handleBytes(p.now, p.a.conn.pollTransmit() as Uint8Array);
  p.pump();
  assert.ok(a.stats.bytesSent > 0 && a.stats.bytesSent < 20_000, 'the first message left in part');
  assert.equal(a.stats.messagesSent, 0);
  return { p, a, b };
}

describe('purge accounting (sim seed 937199)', () => {
  test('a message partly sent when a resynchronize purged the rest is reported purged by its sender', () => {
    const { p, a } = partlySent();
    // The RS never reaches the peer: the transport breaks and the session (no recovery) is lost.
    a.dialogue?.resynchronize('abandon', { userData: EMPTY });
    p.cut();
    assert.equal(a.state, 'closed');
    assert.deepEqual(purgedTags(p.a), [1, 2], 'both purged messages are reported, the partly sent one too');
    assert.deepEqual(a.undeliveredMessages(), [], 'neither is also reported undelivered');
    assert.equal(a.stats.messagesPurged, 2);
  });

  test('when the RS arrives, the receiver drops the first fragments and later messages go through', () => {
    const { p, a, b } = partlySent();
    a.dialogue?.resynchronize('abandon', { userData: EMPTY });
    p.linkUp = true;
    p.pump();
    assert.deepEqual(purgedTags(p.a), [1, 2]);
    const discarded = eventsOf(p.b, 'dialogue').filter((e) => e.event.kind === 'discarded');
    assert.equal(discarded.length, 1, 'the receiver reports the first fragments it held');
    assert.equal(b.stats.messagesDiscarded, 1);
    b.dialogue?.confirmResynchronize(EMPTY);
    p.pump();
    a.send(p.now, 'normal', new TextEncoder().encode('after'));
    p.pump();
    assert.deepEqual(messages(p.b), ['after'], 'nothing of the purged message is delivered, the next one is');
  });
});
