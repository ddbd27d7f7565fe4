/**
 * Property of the named-token registry, against a model: random sequences of acquire, release
 * (by holder or waiter) and close (releaseAll) among a few owners and names. After every step:
 * at most one holder per name and it is the model's; every grant goes to the longest waiting
 * request; no owner is both holder and waiter. At the end, holders release one by one until no
 * one waits: every request still standing is granted exactly once (no waiter starves).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NamedTokenRefusedError, TokenRegistry } from '@liaison/core';
import fc from 'fast-check';

const OWNERS = ['a', 'b', 'c', 'd', 'e'];
const NAMES = ['x', 'y', 'z'];

type Op = { kind: 'acquire' | 'release'; owner: string; name: string } | { kind: 'close'; owner: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('acquire' as const, 'release' as const),
    owner: fc.constantFrom(...OWNERS),
    name: fc.constantFrom(...NAMES),
  }),
  fc.record({ kind: fc.constant('close' as const), owner: fc.constantFrom(...OWNERS) }),
);

/** The model: per name, a queue whose head is the holder. */
class Model {
  readonly queues = new Map<string, string[]>(NAMES.map((n) => [n, []]));
  q(name: string): string[] {
    return this.queues.get(name) as string[];
  }
}

test('registry: one holder per name, FIFO grants, no starvation', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 120 }), fc.integer({ min: 1, max: 4 }), (ops, waitersMax) => {
      const r = new TokenRegistry<string>({ tokensPerSessionMax: 2, waitersPerTokenMax: waitersMax });
      const m = new Model();
      const grants: { name: string; owner: string }[] = [];
      const expectGrant = (name: string, granted: string | null) => {
        const next = m.q(name)[0] ?? null;
        assert.equal(granted, next, `grant of ${name} goes to the longest waiting request`);
        if (granted !== null) grants.push({ name, owner: granted });
      };
      for (const o of ops) {
        if (o.kind === 'acquire') {
          const mine = NAMES.filter((n) => m.q(n).includes(o.owner)).length;
          const q = m.q(o.name);
          let result: string;
          try {
            result = r.acquire(o.name, o.owner);
          } catch (e) {
            assert.ok(e instanceof NamedTokenRefusedError);
            // Refused exactly when a bound or a duplicate says so.
            assert.ok(q.includes(o.owner) || mine >= 2 || q.length - 1 >= waitersMax, 'refused only past a bound');
            continue;
          }
          assert.ok(!q.includes(o.owner) && mine < 2, 'granted or queued only within bounds');
          assert.equal(result, q.length === 0 ? 'granted' : 'queued');
          q.push(o.owner);
        } else if (o.kind === 'release') {
          const q = m.q(o.name);
          const at = q.indexOf(o.owner);
          const rel = r.release(o.name, o.owner);
          assert.equal(rel.was, at < 0 ? 'none' : at === 0 ? 'held' : 'waiting');
          if (at >= 0) q.splice(at, 1);
          if (at === 0) expectGrant(o.name, rel.granted);
          else assert.equal(rel.granted, null);
        } else {
          const made = r.releaseAll(o.owner);
          const expected: { name: string; owner: string }[] = [];
          for (const n of NAMES) {
            const q = m.q(n);
            const at = q.indexOf(o.owner);
            if (at < 0) continue;
            q.splice(at, 1);
            if (at === 0 && q.length > 0) expected.push({ name: n, owner: q[0] as string });
          }
          assert.deepEqual(
            [...made].sort((p, q) => p.name.localeCompare(q.name)),
            expected,
            'close grants to the next waiters',
          );
        }
        for (const n of NAMES) {
          const q = m.q(n);
          assert.equal(r.holder(n), q[0], `holder of ${n}`);
          assert.deepEqual(r.waiting(n), q.slice(1), `waiters of ${n}`);
        }
        for (const owner of OWNERS) {
          const held = r.heldBy(owner);
          for (const n of held) assert.ok(!r.waiting(n).includes(owner), 'never both holder and waiter');
        }
      }
      // No starvation: holders release in turn until nobody waits; each waiter is granted once.
      for (const n of NAMES) {
        const waiting = [...r.waiting(n)];
        const granted: string[] = [];
        for (let h = r.holder(n); h !== undefined; ) {
          const next = r.release(n, h).granted;
          if (next !== null) granted.push(next);
          h = next ?? undefined;
        }
        assert.deepEqual(granted, waiting, `every waiter of ${n} granted once, in order`);
        assert.equal(r.holder(n), undefined);
      }
      assert.equal(r.size, 0);
    }),
    { numRuns: 500 },
  );
});
