/**
 * The per-address guard on its own (a virtual clock, no sockets): connections counted and
 * released, the failure bucket spent, refilled at its rate, capped at its burst, and bounded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AddressGuard, addressKey } from '@liaison/node/transport';

test('connections per address are counted and released; other addresses are not affected', () => {
  const g = new AddressGuard({
    connectionsPerAddressMax: 2,
    failuresBurst: 3,
    failuresPerSecond: 1,
    connectionsMax: 100,
  });
  assert.equal(g.admit('a', 0), null);
  assert.equal(g.admit('a', 0), null);
  assert.equal(g.admit('a', 0), 'too-many-connections');
  assert.equal(g.admit('b', 0), null);
  g.release('a');
  assert.equal(g.admit('a', 0), null);
});

test('failures spend a token bucket: empty after the burst, refilled at the rate, never above the burst', () => {
  const g = new AddressGuard({
    connectionsPerAddressMax: 10,
    failuresBurst: 3,
    failuresPerSecond: 2,
    connectionsMax: 100,
  });
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
  const g = new AddressGuard(
    { connectionsPerAddressMax: 1, failuresBurst: 1, failuresPerSecond: 1, connectionsMax: 100 },
    3,
  );
  g.fail('a', 0); // penalised
  assert.equal(g.admit('b', 0), null); // holds a connection
  g.mayTry('c', 0); // idle, full bucket: the one to forget
  g.mayTry('d', 0);
  assert.equal(g.mayTry('a', 0), false, 'a penalised address is kept');
  assert.equal(g.admit('b', 0), 'too-many-connections', 'an address holding a connection is kept');
});

test('the server-wide connection limit holds whatever the number of addresses; releases free it', () => {
  const g = new AddressGuard({
    connectionsPerAddressMax: 5,
    failuresBurst: 1,
    failuresPerSecond: 1,
    connectionsMax: 3,
  });
  assert.equal(g.admit('10.0.0.1', 0), null);
  assert.equal(g.admit('10.0.0.2', 0), null);
  assert.equal(g.admit('10.0.0.3', 0), null);
  assert.equal(g.admit('10.0.0.4', 0), 'server-full');
  assert.equal(g.connections, 3);
  g.release('10.0.0.2');
  assert.equal(g.admit('10.0.0.4', 0), null);
});

test('the total never leaks when an address holding connections is forgotten under pressure', () => {
  const g = new AddressGuard(
    { connectionsPerAddressMax: 5, failuresBurst: 1, failuresPerSecond: 1, connectionsMax: 10 },
    2,
  );
  for (const a of ['a', 'b', 'c', 'd']) assert.equal(g.admit(a, 0), null); // a and b forgotten on the way
  for (const a of ['a', 'b', 'c', 'd']) g.release(a);
  assert.equal(g.connections, 0);
});

test('IPv6 addresses count by their /64: rotating through a prefix does not multiply the limits', () => {
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8:1:2:ffff:ffff:ffff:fffe'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:0db8:0001:0002::9'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1', 'IPv4-mapped is the IPv4 address');
  assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
  const g = new AddressGuard({
    connectionsPerAddressMax: 2,
    failuresBurst: 2,
    failuresPerSecond: 1,
    connectionsMax: 100,
  });
  assert.equal(g.admit('2001:db8:1:2::1', 0), null);
  assert.equal(g.admit('2001:db8:1:2::2', 0), null);
  assert.equal(g.admit('2001:db8:1:2::3', 0), 'too-many-connections', 'the same /64');
  assert.equal(g.admit('2001:db8:1:3::1', 0), null, 'another /64');
  g.fail('2001:db8:1:2::7', 0);
  g.fail('2001:db8:1:2::8', 0);
  assert.equal(g.mayTry('2001:db8:1:2::9', 0), false, 'failures of the /64 add up');
  g.release('2001:db8:1:2::1');
  assert.equal(g.admit('2001:db8:1:2::4', 0), 'rate-limited');
});
