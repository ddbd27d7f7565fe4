/**
 * The two halves of named tokens as units. NamedTokenRequests, the initiator's book: exactly one
 * answer per request, withdrawals swallowing theirs, the offer's bound counted exactly (a freed
 * slot is usable again), `held` in grant order, and answers nobody asked for as
 * NAMED_TOKEN_VIOLATION. NamedTokenService, the responder's glue: local owners next to sessions,
 * every grant made by a hand-over out of `pollGrant()` as {name, owner}, and every session given a
 * frame out of `pollWoken()` once, so a driver knows which connections to flush.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortCode,
  ErrorCode,
  NamedTokenRefusedError,
  NamedTokenRequests,
  NamedTokenService,
  ProtocolError,
  type Session,
  TokenRefuseCode,
  UsageError,
} from '@liaison/core';
import { TokenPair } from './token-pair.js';

const refused = (code: number) => (e: unknown) => e instanceof NamedTokenRefusedError && e.refuseCode === code;
const violation = (pattern: RegExp) => (e: unknown) =>
  e instanceof ProtocolError && e.wireCode === AbortCode.NAMED_TOKEN_VIOLATION && pattern.test(e.message);
const notHeld = (name: string) => (e: unknown) =>
  e instanceof UsageError && e.code === ErrorCode.NAMED_TOKEN_NOT_HELD && e.message.includes(`"${name}"`);

describe('NamedTokenRequests', () => {
  const book = (tokensPerSessionMax = 4) => new NamedTokenRequests({ nameBytesMax: 16, tokensPerSessionMax });

  test('holds and wants follow a request through its grant and release', () => {
    const r = book();
    assert.equal(r.holds('x'), false);
    assert.equal(r.wants('x'), false);
    r.request('x');
    assert.equal(r.holds('x'), false);
    assert.equal(r.wants('x'), true);
    assert.equal(r.granted('x'), 'granted');
    assert.equal(r.holds('x'), true);
    assert.equal(r.wants('x'), false);
    assert.equal(r.release('x'), 'released');
    assert.equal(r.holds('x'), false);
    assert.equal(r.wants('x'), false);
  });

  test('a withdrawn request is no longer wanted nor pending; a held name is not pending', () => {
    const r = book();
    r.request('held');
    r.granted('held');
    r.request('gone');
    assert.equal(r.release('gone'), 'withdrawn');
    r.request('open');
    assert.equal(r.wants('gone'), false);
    assert.deepEqual(r.pending(), ['open']);
    assert.deepEqual(r.held, ['held']);
  });

  test('held lists names in the order they were granted, also for a name granted again', () => {
    const r = book();
    r.request('x');
    r.request('y');
    r.granted('x');
    r.granted('y');
    assert.deepEqual(r.held, ['x', 'y']);
    r.release('x');
    r.request('x');
    r.granted('x');
    assert.deepEqual(r.held, ['y', 'x']);
  });

  test('asking twice for a held or wanted name is ALREADY_REQUESTED', () => {
    const r = book();
    r.request('x');
    assert.throws(() => r.request('x'), refused(TokenRefuseCode.ALREADY_REQUESTED));
    r.granted('x');
    assert.throws(() => r.request('x'), refused(TokenRefuseCode.ALREADY_REQUESTED));
  });

  // With room for one name, each way a slot comes back must make it usable again exactly once.
  test('the bound: a released holding frees its slot', () => {
    const r = book(1);
    r.request('x');
    assert.throws(() => r.request('y'), refused(TokenRefuseCode.TOO_MANY_TOKENS));
    r.granted('x');
    assert.throws(() => r.request('y'), refused(TokenRefuseCode.TOO_MANY_TOKENS));
    r.release('x');
    r.request('y');
    assert.throws(() => r.request('z'), refused(TokenRefuseCode.TOO_MANY_TOKENS));
  });

  test('the bound: a refusal frees its slot', () => {
    const r = book(1);
    r.request('x');
    assert.equal(r.refused('x'), 'refused');
    assert.deepEqual(r.pending(), []);
    r.request('y');
    assert.throws(() => r.request('z'), refused(TokenRefuseCode.TOO_MANY_TOKENS));
  });

  test('the bound: a withdrawn request keeps its slot until its answer, grant or refusal, comes', () => {
    const r = book(1);
    r.request('x');
    assert.equal(r.release('x'), 'withdrawn');
    assert.throws(() => r.request('y'), refused(TokenRefuseCode.TOO_MANY_TOKENS));
    assert.equal(r.granted('x'), 'withdrawn', 'a GRANT crossing the withdrawal is swallowed');
    assert.equal(r.holds('x'), false);
    r.request('y');
    assert.throws(() => r.request('z'), refused(TokenRefuseCode.TOO_MANY_TOKENS));
    assert.equal(r.release('y'), 'withdrawn');
    assert.equal(r.refused('y'), 'withdrawn', 'the CANCELLED refusal is swallowed');
    r.request('z');
  });

  test('answers go to requests oldest first: a withdrawn one, then the one asked again', () => {
    const r = book();
    r.request('x');
    r.release('x');
    r.request('x'); // asked again before the first answer came
    assert.equal(r.wants('x'), true);
    assert.equal(r.granted('x'), 'withdrawn');
    assert.equal(r.wants('x'), true);
    assert.equal(r.granted('x'), 'granted');
    assert.deepEqual(r.held, ['x']);
  });

  test('the request asked again can itself be withdrawn', () => {
    const r = book();
    r.request('x');
    r.release('x');
    r.request('x');
    assert.equal(r.release('x'), 'withdrawn');
    assert.equal(r.wants('x'), false);
    assert.equal(r.refused('x'), 'withdrawn');
    assert.equal(r.refused('x'), 'withdrawn');
    assert.throws(() => r.refused('x'), violation(/NAMED_TOKEN_REFUSE for "x", never requested/));
  });

  test('releasing what is neither held nor wanted is NAMED_TOKEN_NOT_HELD, also after a withdrawal', () => {
    const r = book();
    assert.throws(() => r.release('never'), notHeld('never'));
    r.request('x');
    r.release('x');
    assert.throws(() => r.release('x'), notHeld('x'));
    assert.equal(r.granted('x'), 'withdrawn', 'the failed release changed nothing');
  });

  test('a GRANT or REFUSE nobody asked for is NAMED_TOKEN_VIOLATION naming the frame and name', () => {
    const r = book();
    assert.throws(() => r.granted('x'), violation(/NAMED_TOKEN_GRANT for "x", never requested/));
    assert.throws(() => r.refused('x'), violation(/NAMED_TOKEN_REFUSE for "x", never requested/));
    r.request('x');
    r.granted('x');
    // Held, with no request outstanding: a second answer is still unasked for.
    assert.throws(() => r.granted('x'), violation(/NAMED_TOKEN_GRANT for "x"/));
    assert.throws(() => r.refused('x'), violation(/NAMED_TOKEN_REFUSE for "x"/));
    assert.deepEqual(r.held, ['x']);
  });
});

/** Opens a session from the initiator and returns both of its ends. */
function both(t: TokenPair): { mine: Session; theirs: Session } {
  const mine = t.open();
  return { mine, theirs: t.peer(mine) };
}

describe('NamedTokenService', () => {
  test('local owners: hand-overs come out of pollGrant as {name, owner}, oldest first', () => {
    const s = new NamedTokenService();
    const [a, b, c] = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
    assert.equal(s.pollGrant(), null);
    assert.equal(s.acquire(0, 'x', a), 'granted');
    assert.equal(s.acquire(0, 'y', a), 'granted');
    assert.equal(s.acquire(0, 'x', b), 'queued');
    assert.equal(s.acquire(0, 'y', c), 'queued');
    assert.equal(s.registry.holder('x'), a);
    // A grant made at once by acquire() is a grant too: it comes out first, in order.
    assert.deepEqual(s.pollGrant(), { name: 'x', owner: a });
    assert.deepEqual(s.pollGrant(), { name: 'y', owner: a });
    assert.equal(s.pollGrant(), null, 'a queued request is no grant');
    assert.deepEqual(s.release(0, 'x', a), { was: 'held', granted: b });
    s.releaseAll(0, a);
    assert.deepEqual(s.pollGrant(), { name: 'x', owner: b });
    assert.deepEqual(s.pollGrant(), { name: 'y', owner: c });
    assert.equal(s.pollGrant(), null);
    assert.equal(s.registry.holder('y'), c);
    assert.equal(s.pollWoken(), null, 'no session was given anything');
  });

  test('a local owner withdrawing its request grants nothing', () => {
    const s = new NamedTokenService();
    const [a, b] = [{}, {}];
    s.acquire(0, 'x', a);
    s.acquire(0, 'x', b);
    assert.deepEqual(s.pollGrant(), { name: 'x', owner: a });
    assert.deepEqual(s.release(0, 'x', b), { was: 'waiting', granted: null });
    s.releaseAll(0, a);
    assert.equal(s.pollGrant(), null);
    assert.equal(s.registry.holder('x'), undefined);
  });

  test("a session's grant comes out of pollGrant with that session, and it is woken once", () => {
    const t = new TokenPair();
    const a = both(t);
    a.mine.acquireNamedToken(t.p.now, 'x');
    t.pump();
    assert.deepEqual(t.grants(), [{ name: 'x', owner: a.theirs }]);
    assert.deepEqual(t.woken(), [a.theirs]);
    assert.equal(t.service.pollWoken(), null);
  });

  test('a session withdrawing a queued request is woken to send its CANCELLED refusal', () => {
    const t = new TokenPair();
    const a = both(t);
    const b = both(t);
    a.mine.acquireNamedToken(t.p.now, 'x');
    b.mine.acquireNamedToken(t.p.now, 'x');
    t.pump();
    t.woken();
    t.grants();
    b.mine.releaseNamedToken(t.p.now, 'x');
    t.pump();
    assert.deepEqual(t.woken(), [b.theirs]);
    assert.deepEqual(t.grants(), [], 'a withdrawal grants nothing');
    assert.deepEqual(b.mine.pendingNamedTokens, []);
  });

  test('a holder releasing wakes only the next waiter, which is granted', () => {
    const t = new TokenPair();
    const a = both(t);
    const b = both(t);
    a.mine.acquireNamedToken(t.p.now, 'x');
    b.mine.acquireNamedToken(t.p.now, 'x');
    t.pump();
    t.woken();
    t.grants();
    a.mine.releaseNamedToken(t.p.now, 'x');
    t.pump();
    assert.deepEqual(t.woken(), [b.theirs]);
    assert.deepEqual(t.grants(), [{ name: 'x', owner: b.theirs }]);
    assert.equal(a.mine.state, 'open');
  });

  test("the registry's refusal of a peer's request is sent: that session is woken, nothing granted", () => {
    const t = new TokenPair({ waitersPerTokenMax: 1 });
    const [a, b, c] = [both(t), both(t), both(t)];
    a.mine.acquireNamedToken(t.p.now, 'x');
    b.mine.acquireNamedToken(t.p.now, 'x');
    t.pump();
    t.woken();
    t.grants();
    c.mine.acquireNamedToken(t.p.now, 'x');
    t.pump();
    assert.deepEqual(t.woken(), [c.theirs]);
    assert.deepEqual(t.grants(), []);
    assert.deepEqual(c.mine.pendingNamedTokens, []);
  });

  test('between a session and local code the name passes both ways', () => {
    const t = new TokenPair();
    const local = { id: 'local' };
    const a = both(t);
    assert.equal(t.service.acquire(t.p.now, 'x', local), 'granted');
    a.mine.acquireNamedToken(t.p.now, 'x');
    t.pump();
    assert.deepEqual(t.woken(), [], 'a queued request sends nothing');
    t.service.release(t.p.now, 'x', local);
    assert.deepEqual(t.grants(), [
      { name: 'x', owner: local },
      { name: 'x', owner: a.theirs },
    ]);
    assert.deepEqual(t.woken(), [a.theirs]);
    t.pump();
    assert.deepEqual(a.mine.heldNamedTokens, ['x']);
    assert.equal(t.service.acquire(t.p.now, 'x', local), 'queued');
    a.mine.abort(t.p.now, new Uint8Array(0));
    t.pump();
    assert.deepEqual(t.grants(), [{ name: 'x', owner: local }]);
    assert.equal(t.service.registry.holder('x'), local);
  });
});
