/**
 * The flapping link of issue 10 in the simulator (`npm run sim -- --chaos`): every connection is
 * cut 100±50 ms after it was established, its client then reaches nothing for 500 ms, on a 1 MiB/s
 * link, 40 times a run. Every invariant holds, and an orderly release completes whenever its
 * session survives: with a release deadline (5 s) far shorter than the storm, no session ends with
 * RELEASE_TIMEOUT except the ones whose application never lets the release finish (a stuck reader,
 * a refused release, a half-duplex dialogue waiting on its peer).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AbortCode } from '@liaison/core';
import { CHAOS, CHAOS_FAULTS, checkInvariants, Rng, World, worldOptionsFor } from '@liaison/sim';

const SEEDS = Number(process.env.LIAISON_SIM_CHAOS_SEEDS ?? 150);

describe('the chaos world', () => {
  test(`${SEEDS} seeds on a flapping link: invariants hold, releases outlive the outages`, () => {
    let resumes = 0;
    let releasesThroughOutages = 0;
    const timedOut: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const options = worldOptionsFor(new Rng(seed).fork('options'), { chaos: CHAOS, faultsMax: CHAOS_FAULTS });
      options.limits = { ...options.limits, releaseTimeoutMs: 5_000 };
      const world = new World(seed, options);
      world.run();
      try {
        checkInvariants(world);
      } catch (e) {
        assert.fail(`seed ${seed}: ${(e as Error).message}\n  ${world.recentTrace().join('\n  ')}`);
      }
      resumes += world.stats.resumes;
      for (const p of world.plans) {
        for (const end of [p.client, p.server]) {
          if (end === null) continue;
          const r = end.closeReason;
          if (r?.kind === 'released' && (end.session?.stats.resumes ?? 0) > 0) releasesThroughOutages++;
          if (r?.kind !== 'aborted' || r.code !== AbortCode.RELEASE_TIMEOUT) continue;
          if (p.stuckRole !== null || p.refuseRelease || p.dialogue !== null) continue;
          timedOut.push(`seed ${seed} s${p.id}`);
        }
      }
    }
    assert.ok(resumes > SEEDS * 3, `the link flapped: ${resumes} resumes`);
    assert.ok(releasesThroughOutages > SEEDS, `${releasesThroughOutages} releases of sessions that resumed`);
    assert.deepEqual(
      timedOut,
      [],
      'a release of a surviving session timed out (replay with npm run sim -- --seed X --chaos)',
    );
  });
});
