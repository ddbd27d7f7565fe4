/**
 * The per-address guard on its own (a virtual clock, no sockets): connections counted and
 * released, the failure bucket spent, refilled at its rate, capped at its burst, and bounded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AddressGuard } from '@liaison/node';

test('connections per address are counted and released; other addresses are not affected', () => {
  const g = new AddressGuard({ connectionsPerAddressMax: 2, failuresBurst: 3, failuresPerSecond: 1 });
  assert.equal(g.admit('a', 0), null);
  assert.equal(g.admit('a', 0), null);
  assert.equal(g.admit('a', 0), 'too-many-connections');
  assert.equal(g.admit('b', 0), null);
  g.release('a');
  assert.equal(g.admit('a', 0), null);
});

test('failures spend a token bucket: empty after the burst, refilled at the rate, never above the burst', () => {
  const g = new AddressGuard({ connectionsPerAddressMax: 10, failuresBurst: 3, failuresPerSecond: 2 });
  assert.equal(g.fail('a', 0), true);
  assert.equal(g.fail('a', 0), true);
  assert.equal(g.fail('a', 0), false, 'the third failure empties the bucket');
  assert.equal(g.mayTry('a', 0), false);
  assert.equal(g.admit('a', 0), 'rate-limited');
  assert.equal(g.mayTry('a', 499), false);
  assert.equal(g.mayTry('a', 500), true, 'one token back after 0.5 s at 2 per second');
  assert.equal(g.fail('a', 500), false);
  assert.equal(g.mayTry('b', 500), true, 'another address has its own bucket');
  // A long quiet time refills to the burst, not beyond.
  g.mayTry('a', 1_000_000);
  for (let i = 0; i < 2; i++) assert.equal(g.fail('a', 1_000_000), true);
  assert.equal(g.fail('a', 1_000_000), false);
});

test('the bookkeeping is bounded: past addressesMax the stalest forgiven address is forgotten', () => {
  const g = new AddressGuard({ connectionsPerAddressMax: 1, failuresBurst: 1, failuresPerSecond: 1 }, 3);
  g.fail('a', 0); // penalised
  assert.equal(g.admit('b', 0), null); // holds a connection
  g.mayTry('c', 0); // idle, full bucket: the one to forget
  g.mayTry('d', 0);
  assert.equal(g.mayTry('a', 0), false, 'a penalised address is kept');
  assert.equal(g.admit('b', 0), 'too-many-connections', 'an address holding a connection is kept');
});
