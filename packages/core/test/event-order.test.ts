/**
 * The contract drivers rely on (sim seed 905648): when handleBytes returns, the engine's state is
 * past every frame of the bytes, and the events that tell of them wait in wire order. A sync point
 * followed by a token give in one read: the receiver already holds the tokens and would number its
 * next sync point after the peer's, but it learns of the peer's point only from the events. So a
 * driver reads every event after each input before the application may act again (node's driver
 * does; the simulator did not, and its application took sync points 5 and 6 before it read 4).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Token, Unit } from '@liaison/core';
import { openDialogue, Pair } from './harness.js';

const EMPTY = new Uint8Array(0);
const UNITS = Unit.KERNEL | Unit.HALF_DUPLEX | Unit.MINOR_SYNCHRONIZE | Unit.MAJOR_SYNCHRONIZE;

describe('events and state after one input (sim seed 905648)', () => {
  test('a sync point then a give in one read: the state is past both, the events come in wire order', () => {
    const p = new Pair();
    const { a, b } = openDialogue(p, UNITS, { initialSerial: 4 });
    p.linkUp = false;
    assert.equal(a.dialogue?.syncMinor({ confirm: false, separation: false, userData: EMPTY }), 4);
    a.dialogue?.giveTokens(a.dialogue.mine, EMPTY);
    const bytes = p.a.conn.pollTransmit() as Uint8Array;
    assert.equal(p.a.conn.pollTransmit(), null, 'the sync point and the give leave in one write');
    for (let e = p.b.conn.pollEvent(); e !== null; e = p.b.conn.pollEvent()) {}
    p.b.conn.handleBytes(p.now, bytes);
    // Before any event is read the engine is already past both frames.
    assert.ok(b.dialogue?.owns('data') && b.dialogue.owns('minor'));
    assert.equal(b.dialogue?.serial, 5);
    const kinds: string[] = [];
    for (let e = p.b.conn.pollEvent(); e !== null; e = p.b.conn.pollEvent()) {
      if (e.type === 'dialogue')
        kinds.push(e.event.kind === 'sync-minor' ? `sync-minor ${e.event.serial}` : e.event.kind);
    }
    assert.deepEqual(kinds, ['sync-minor 4', 'tokens-given'], 'the peer’s sync point is told before the give');
    assert.equal(b.dialogue?.syncMinor({ confirm: false, separation: false, userData: EMPTY }), 5);
    assert.equal((b.dialogue?.mine ?? 0) & Token.data, Token.data);
  });
});
