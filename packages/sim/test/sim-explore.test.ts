/**
 * New seeds on every run: a time-boxed exploration (about 60 s, `LIAISON_EXPLORE_MS`) from a
 * start seed derived from the commit under test, so each commit explores a range no other commit
 * tried; `LIAISON_EXPLORE_START` replays a range. A failure lists every failing seed with its
 * replay command. The explorer itself is checked too: its range is gapless and it reports a
 * world broken on purpose.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { describe, test } from 'node:test';
import { exploreSeeds, SEED_SPACE, startSeedForCommit } from '@liaison/sim';

const BUDGET_MS = Number(process.env.LIAISON_EXPLORE_MS ?? 60_000);

function headCommit(): string | null {
  try {
    const root = new URL('../../../', import.meta.url);
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: 'pipe' }).trim();
  } catch {
    return null;
  }
}

function exploreStart(): { start: number; from: string } {
  const env = process.env.LIAISON_EXPLORE_START;
  if (env !== undefined) return { start: Number(env), from: 'LIAISON_EXPLORE_START' };
  const commit = headCommit();
  if (commit) return { start: startSeedForCommit(commit), from: `commit ${commit.slice(0, 12)}` };
  return { start: 10_000_000 + randomInt(SEED_SPACE - 20_000_000), from: 'random (no git checkout)' };
}

describe('seed exploration', () => {
  test('the start seed is a pure function of the commit, past the fixed ranges', () => {
    const a = startSeedForCommit('394c3ed0f1e2d3c4b5a6978812345678abcdef01');
    assert.equal(a, startSeedForCommit('394c3ed0ffffffffffffffffffffffffffffffff'), 'the first 8 hex digits decide');
    assert.notEqual(a, startSeedForCommit('394c3ed1f1e2d3c4b5a6978812345678abcdef01'));
    for (const c of ['00000000', 'ffffffff', '7fffffff', '98e1a0c2']) {
      const s = startSeedForCommit(c);
      assert.ok(s >= 10_000_000 && s + 10_000_000 <= SEED_SPACE, `${c} -> ${s}`);
    }
    assert.throws(() => startSeedForCommit('main'), RangeError);
  });

  test('the explored range is gapless and a broken world is reported with its replay', async () => {
    const r = await exploreSeeds({
      start: 1,
      budgetMs: 1,
      workers: 2,
      chunk: 4,
      overrides: { dialogueShare: 0.6, namedTokenShare: 0, replaySyncEvent: true },
    });
    assert.ok(r.seeds >= 8 && r.seeds % 4 === 0, `${r.seeds} seeds: whole chunks, each worker at least one`);
    assert.ok(r.failures.length > 0, 'a sync point delivered twice is caught');
    for (const f of r.failures) {
      assert.ok(f.seed >= 1 && f.seed <= r.seeds, `seed ${f.seed} inside the range`);
      assert.match(f.message, /serial-monotonic/);
      assert.equal(
        f.replay,
        `npm run sim -- --seed ${f.seed} (with overrides {"dialogueShare":0.6,"namedTokenShare":0,"replaySyncEvent":true})`,
      );
    }
  });

  test(`new seeds from this commit hold every invariant (${BUDGET_MS / 1000}s)`, {
    timeout: BUDGET_MS + 60_000,
  }, async () => {
    const { start, from } = exploreStart();
    const workers = Math.max(1, Math.min(4, availableParallelism()));
    const r = await exploreSeeds({ start, budgetMs: BUDGET_MS, workers });
    console.log(
      `# explored seeds ${r.start}..${r.start + r.seeds - 1} (${r.seeds} seeds, start from ${from}) ` +
        `in ${(r.wallMs / 1000).toFixed(1)}s on ${workers} workers: ${r.failures.length} failed`,
    );
    // Even a loaded machine runs more than 5 seeds a second; fewer means the explorer stalled.
    assert.ok(r.seeds >= Math.max(workers * 25, BUDGET_MS / 200), `only ${r.seeds} seeds explored`);
    assert.deepEqual(
      r.failures.map((f) => f.seed),
      [],
      r.failures
        .map((f) => `seed ${f.seed}: ${f.message}\n  ${f.trace.join('\n  ')}\nreplay: ${f.replay}`)
        .join('\n\n'),
    );
  });
});
