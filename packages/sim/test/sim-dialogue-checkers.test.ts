/**
 * The dialogue invariants bite: worlds broken on purpose (a forged token give that leaves two
 * holders; a sync point event delivered twice) must be reported by token-unique and
 * serial-monotonic, every time the corruption happened.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runSeed } from '@liaison/sim';

const DIALOGUE = { dialogueShare: 0.6, namedTokenShare: 0 };

function caughtBy(option: 'forgeTokenGive' | 'replaySyncEvent', marker: string, invariant: string) {
  let broken = 0;
  let caught = 0;
  const missed: number[] = [];
  for (let seed = 1; seed <= 30; seed++) {
    let corrupted = false;
    const onTrace = (line: string) => {
      corrupted ||= line.includes(marker);
    };
    const r = runSeed(seed, { overrides: { ...DIALOGUE, [option]: true }, onTrace });
    // A forged frame that reaches a suspended engine is refused (a provider abort), not taken.
    if (!corrupted) continue;
    broken++;
    if (!r.ok && r.violation?.invariant === invariant) caught++;
    else missed.push(seed);
  }
  return { broken, caught, missed };
}

describe('dialogue invariant checkers', () => {
  test('token-unique reports two holders after a forged GIVE_TOKENS', () => {
    const r = caughtBy('forgeTokenGive', 'took a forged give (broken on purpose)', 'token-unique');
    assert.ok(r.broken >= 5, `the forged give was taken in ${r.broken} runs`);
    assert.deepEqual(r.missed, [], `caught ${r.caught} of ${r.broken}`);
  });

  test('serial-monotonic reports a sync point seen twice', () => {
    const r = caughtBy('replaySyncEvent', 'delivered twice (broken on purpose)', 'serial-monotonic');
    assert.ok(r.broken >= 5, `a sync point event was replayed in ${r.broken} runs`);
    assert.deepEqual(r.missed, [], `caught ${r.caught} of ${r.broken}`);
  });

  test('the same seeds without the corruption hold every invariant', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const r = runSeed(seed, { overrides: DIALOGUE });
      assert.ok(r.ok, `seed ${seed}: ${r.violation?.message}`);
    }
  });
});
