/**
 * The simulator with Noise: half the clients run their connections inside Noise (XX or IK), with
 * cuts, partitions and resumes as usual; every invariant must hold, and a seed must replay exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSeed } from '@liaison/sim';

const SEEDS = Number(process.env.LIAISON_SIM_NOISE_SEEDS ?? 80);
const overrides = { noiseShare: 0.5 };

test(`${SEEDS} seeds with half the clients over Noise hold every invariant`, () => {
  let noise = 0;
  let resumes = 0;
  for (let seed = 5001; seed < 5001 + SEEDS; seed++) {
    const r = runSeed(seed, { overrides });
    assert.ok(
      r.ok,
      `seed ${seed} failed: ${r.violation?.message}\n  ${r.trace.slice(-15).join('\n  ')}\n` +
        `replay: npm run sim -- --seed ${seed} --noise-share 0.5`,
    );
    noise += r.stats.noiseConnections;
    resumes += r.stats.resumes;
  }
  assert.ok(noise > SEEDS, `Noise connections were made (${noise})`);
  assert.ok(resumes > SEEDS / 10, `sessions resumed (${resumes})`);
});

test('a Noise seed replays exactly', () => {
  const a = runSeed(5003, { overrides });
  const b = runSeed(5003, { overrides });
  assert.equal(a.traceHash, b.traceHash);
  assert.deepEqual(a.stats, b.stats);
});
