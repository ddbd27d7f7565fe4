/**
 * A resynchronize that crosses the peer's FINISH (issue 18 audit): the releaser discards the RS
 * (the release wins), so the requester must not wait for its answer. It did, and when the release
 * was then refused it stayed waiting forever, discarding every normal message of the peer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Unit } from '@liaison/core';
import { eventsOf, messages, openDialogue, Pair, utf8 } from './harness.js';

const EMPTY = new Uint8Array(0);
const UNITS = Unit.KERNEL | Unit.HALF_DUPLEX | Unit.RESYNCHRONIZE | Unit.NEGOTIATED_RELEASE;

describe('a resynchronize crossing a FINISH', () => {
  test('the requester learns from the FINISH that its RS is superseded; after a refusal the peer’s data flows', () => {
    const p = new Pair();
    const { a, b } = openDialogue(p, UNITS);
    p.linkUp = false;
    b.dialogue?.resynchronize('abandon', { userData: EMPTY }); // needs no token
    a.release(p.now, EMPTY); // a holds every token
    p.linkUp = true;
    p.pump();
    assert.equal(b.state, 'release-requested');
    assert.equal(b.dialogue?.awaiting, null, 'no answer to the RS will come');
    assert.ok(eventsOf(p.b, 'dialogue').some((e) => e.event.kind === 'resync-superseded'));
    assert.ok(
      !eventsOf(p.a, 'dialogue').some((e) => e.event.kind === 'resynchronize'),
      'the releaser discarded the RS',
    );
    b.respondRelease(p.now, false, EMPTY);
    p.pump();
    assert.deepEqual([a.state, b.state as string], ['open', 'open']);
    a.send(p.now, 'normal', utf8('after the refusal'));
    p.pump();
    assert.deepEqual(messages(p.b), ['after the refusal']);
    assert.equal(b.stats.messagesDiscarded, 0);
    b.dialogue?.resynchronize('abandon', { userData: EMPTY });
    p.pump();
    a.dialogue?.confirmResynchronize(EMPTY);
    p.pump();
    assert.ok(
      eventsOf(p.b, 'dialogue').some((e) => e.event.kind === 'resynchronized'),
      'a new RS is answered',
    );
  });
});
