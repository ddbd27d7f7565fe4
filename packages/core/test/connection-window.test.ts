/**
 * The connection-level window (WINDOW frames) seen from both ends: a limit once granted is never
 * taken back, so a sender that trusted it is never closed for flow control.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FrameType, INITIAL_CONNECTION_WINDOW_BYTES } from '@liaison/core';
import { establish, eventsOf, Pair } from './harness.js';
import { decodeChunks } from './wire-util.js';

describe('connection window', () => {
  test('regression (sim seed 188): a connection window under the initial 1 MiB does not close the connection', () => {
    // The receiver advertised 64 KiB in its first WINDOW, below the 1 MiB each side may assume
    // before it, and enforced that; the sender (rightly) ignores a lower limit and went on under
    // 1 MiB: with two sessions holding 60 KB each unconsumed, the receiver closed the whole
    // connection with FLOW_CONTROL although the sender never passed a limit it had been given.
    const p = new Pair({ limits: { connectionWindowBytes: 64 * 1024, receiveWindowBytes: 64 * 1024 } });
    p.autoConsume = false;
    const channels = [establish(p), establish(p)];
    const payload = 60_000;
    for (const ch of channels) p.a.conn.session(ch)?.send(p.now, 'normal', new Uint8Array(payload));
    p.advance(100, 5);
    assert.ok(p.a.conn.isOpen && p.b.conn.isOpen, 'the connection stays open');
    assert.equal(eventsOf(p.b, 'closed').length, 0);
    assert.equal(eventsOf(p.b, 'message').length, 2, 'both messages arrived');
    // No WINDOW frame the responder wrote lowers a limit it granted (1 MiB at first).
    let granted = INITIAL_CONNECTION_WINDOW_BYTES;
    for (const f of decodeChunks(p.b.wire, { expectPreface: true })) {
      if (f.type !== FrameType.WINDOW) continue;
      assert.ok(f.windowLimit >= granted, `WINDOW ${f.windowLimit} below ${granted}`);
      granted = f.windowLimit;
    }
    // Once the sessions consume, the window moves on and more data flows.
    for (const e of eventsOf(p.b, 'message')) p.b.conn.session(e.channel)?.consume(p.now, e.credit);
    p.autoConsume = true;
    for (const ch of channels) p.a.conn.session(ch)?.send(p.now, 'normal', new Uint8Array(payload));
    p.advance(100, 5);
    assert.equal(eventsOf(p.b, 'message').length, 4);
    assert.ok(p.b.conn.isOpen);
  });
});
