import assert from 'node:assert/strict';
import { test } from 'node:test';
import { establish, eventsOf, messages, Pair, utf8 } from './harness.js';

test('establish, exchange, release', () => {
  const p = new Pair();
  const ch = establish(p);
  const a = p.a.conn.session(ch)!;
  const b = p.b.conn.session(ch)!;
  assert.equal(a.state, 'open');
  assert.equal(b.state, 'open');
  a.send(p.now, 'normal', utf8('hello'));
  b.send(p.now, 'normal', utf8('world'));
  p.pump();
  assert.deepEqual(messages(p.b), ['hello']);
  assert.deepEqual(messages(p.a), ['world']);
  a.release(p.now, new Uint8Array(0));
  p.pump();
  assert.equal(b.state, 'release-requested');
  b.respondRelease(p.now, true, new Uint8Array(0));
  p.pump();
  const closedA = eventsOf(p.a, 'closed');
  const closedB = eventsOf(p.b, 'closed');
  assert.equal(closedA[0]?.reason.kind, 'released');
  assert.equal(closedB[0]?.reason.kind, 'released');
});
