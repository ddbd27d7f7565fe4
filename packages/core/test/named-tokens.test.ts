/**
 * The named-token registry on its own: exclusive grants, FIFO queues, withdrawal, release of
 * everything an owner had, and every bound refused with its code and nothing changed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ErrorCode,
  NamedTokenRefusedError,
  resolveNamedTokenLimits,
  TokenRefuseCode,
  TokenRegistry,
  UsageError,
} from '@liaison/core';

const refusedWith = (code: number) => (e: unknown) =>
  e instanceof NamedTokenRefusedError && e.refuseCode === code && e.code === ErrorCode.NAMED_TOKEN_REFUSED;

describe('TokenRegistry', () => {
  test('a free name is granted at once; others queue in request order', () => {
    const r = new TokenRegistry<string>();
    assert.equal(r.acquire('printer', 'a'), 'granted');
    assert.equal(r.acquire('printer', 'b'), 'queued');
    assert.equal(r.acquire('printer', 'c'), 'queued');
    assert.equal(r.acquire('row:42', 'c'), 'granted');
    assert.equal(r.holder('printer'), 'a');
    assert.deepEqual(r.waiting('printer'), ['b', 'c']);
    assert.deepEqual(r.heldBy('c'), ['row:42']);
    assert.deepEqual(r.waitingFor('c'), ['printer']);
  });

  test('the holder releases to the first waiter, then the next, then the name is free', () => {
    const r = new TokenRegistry<string>();
    r.acquire('p', 'a');
    r.acquire('p', 'b');
    r.acquire('p', 'c');
    assert.deepEqual(r.release('p', 'a'), { was: 'held', granted: 'b' });
    assert.equal(r.holder('p'), 'b');
    assert.deepEqual(r.release('p', 'b'), { was: 'held', granted: 'c' });
    assert.deepEqual(r.release('p', 'c'), { was: 'held', granted: null });
    assert.equal(r.holder('p'), undefined);
    assert.equal(r.size, 0);
  });

  test('a waiter withdraws without disturbing the holder or the order of the others', () => {
    const r = new TokenRegistry<string>();
    r.acquire('p', 'a');
    r.acquire('p', 'b');
    r.acquire('p', 'c');
    assert.deepEqual(r.release('p', 'b'), { was: 'waiting', granted: null });
    assert.equal(r.holder('p'), 'a');
    assert.deepEqual(r.waiting('p'), ['c']);
    // A release by an owner that neither holds nor waits (a withdrawal crossing its answer) changes nothing.
    assert.deepEqual(r.release('p', 'b'), { was: 'none', granted: null });
    assert.deepEqual(r.release('unknown', 'b'), { was: 'none', granted: null });
    assert.equal(r.holder('p'), 'a');
  });

  test('releaseAll gives up holdings (granting the next) and withdraws waits', () => {
    const r = new TokenRegistry<string>();
    r.acquire('x', 'a');
    r.acquire('y', 'a');
    r.acquire('x', 'b');
    r.acquire('z', 'b');
    r.acquire('z', 'a');
    assert.deepEqual(r.releaseAll('a'), [{ name: 'x', owner: 'b' }]);
    assert.equal(r.holder('x'), 'b');
    assert.equal(r.holder('y'), undefined);
    assert.deepEqual(r.waiting('z'), []);
    assert.deepEqual(r.heldBy('a'), []);
    assert.deepEqual(r.releaseAll('nobody'), []);
  });

  test('the same owner cannot ask twice for a name it holds or waits for', () => {
    const r = new TokenRegistry<string>();
    r.acquire('p', 'a');
    r.acquire('p', 'b');
    assert.throws(() => r.acquire('p', 'a'), refusedWith(TokenRefuseCode.ALREADY_REQUESTED));
    assert.throws(() => r.acquire('p', 'b'), refusedWith(TokenRefuseCode.ALREADY_REQUESTED));
    assert.deepEqual(r.waiting('p'), ['b']);
  });

  test('bounds: names per owner, waiters per name, name bytes; a refusal changes nothing', () => {
    const r = new TokenRegistry<string>({ tokensPerSessionMax: 2, waitersPerTokenMax: 1, nameBytesMax: 4 });
    r.acquire('a', 'o');
    r.acquire('b', 'o');
    assert.throws(() => r.acquire('c', 'o'), refusedWith(TokenRefuseCode.TOO_MANY_TOKENS));
    assert.equal(r.holder('c'), undefined);
    r.acquire('a', 'p');
    assert.throws(() => r.acquire('a', 'q'), refusedWith(TokenRefuseCode.QUEUE_FULL));
    assert.deepEqual(r.waiting('a'), ['p']);
    assert.throws(
      () => r.acquire('ééé', 'q'),
      (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_ARGUMENT,
    );
    assert.throws(
      () => r.acquire('', 'q'),
      (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_ARGUMENT,
    );
    // A released slot is usable again.
    r.release('a', 'o');
    assert.equal(r.acquire('c', 'o'), 'granted');
  });

  test('limits are validated', () => {
    assert.throws(() => resolveNamedTokenLimits({ nameBytesMax: 0 }), UsageError);
    assert.throws(() => resolveNamedTokenLimits({ nameBytesMax: 1025 }), UsageError);
    assert.throws(() => resolveNamedTokenLimits({ tokensPerSessionMax: 1.5 }), UsageError);
    assert.equal(resolveNamedTokenLimits().tokensPerSessionMax, 64);
  });
});
