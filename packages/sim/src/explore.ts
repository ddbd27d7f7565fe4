/**
 * Time-boxed exploration of the seed space: worker threads run consecutive seeds from `start`
 * until the wall-clock budget is spent, and every failure is kept with its replay command.
 *
 * Seeds are handed out in small chunks so that the run stops close to its budget, and the seeds
 * explored are always one gapless range `start .. start + seeds - 1` (a chunk in flight when the
 * budget runs out still finishes), so a run's coverage can be recorded as a range. The wall clock
 * only bounds the run; nothing inside a seed reads it, so every failure replays exactly.
 */
import { Worker } from 'node:worker_threads';
import { CHAOS, CHAOS_FAULTS, type ChaosOptions, type WorldOptions } from './world.js';

/** One failing seed, with what is needed to replay and read it. */
export interface ExploreFailure {
  seed: number;
  message: string;
  trace: string[];
  replay: string;
}

export interface ExploreResult {
  start: number;
  /** Seeds run: the range start .. start + seeds - 1, without gaps. */
  seeds: number;
  wallMs: number;
  failures: ExploreFailure[];
}

export interface ExploreOptions {
  start: number;
  budgetMs: number;
  workers: number;
  /** Seeds per work item (default 25): small enough to stop near the budget. */
  chunk?: number;
  /** Stop handing out work after this many failures (default 10). */
  failuresMax?: number;
  /**
   * World options over the drawn ones, as `runSeed` takes them; `noiseShare` becomes the replay
   * command's `--noise-share`, anything else is named beside it.
   */
  overrides?: Partial<WorldOptions>;
  /** Called after every finished chunk with the seeds done so far. */
  onProgress?: (seedsDone: number, failures: number, elapsedMs: number) => void;
  /** Called for each failure as it is found (a long run reports it without waiting for the end). */
  onFailure?: (failure: ExploreFailure) => void;
}

/** Seeds are u32 (the simulator's Rng takes `seed >>> 0`). */
export const SEED_SPACE = 2 ** 32;

export async function exploreSeeds(options: ExploreOptions): Promise<ExploreResult> {
  const chunk = options.chunk ?? 25;
  const failuresMax = options.failuresMax ?? 10;
  const started = performance.now();
  const failures: ExploreFailure[] = [];
  let next = options.start;
  let done = 0;
  const replayFlags = replayFlagsFor(options.overrides ?? {});
  const elapsed = () => performance.now() - started;
  const worker = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const w = new Worker(new URL('./explore-worker.js', import.meta.url), {
        workerData: { overrides: options.overrides ?? {} },
      });
      // Every worker runs at least one chunk, so even a tiny budget explores something.
      let first = true;
      const give = () => {
        const spent = !first && elapsed() >= options.budgetMs;
        first = false;
        if (spent || failures.length >= failuresMax || next + chunk > SEED_SPACE) {
          w.postMessage(null);
          return;
        }
        w.postMessage({ from: next, count: chunk });
        next += chunk;
      };
      w.on('message', (msg: { count: number; failures: Omit<ExploreFailure, 'replay'>[] }) => {
        done += msg.count;
        for (const f of msg.failures) {
          const failure = { ...f, replay: `npm run sim -- --seed ${f.seed}${replayFlags}` };
          failures.push(failure);
          options.onFailure?.(failure);
        }
        options.onProgress?.(done, failures.length, elapsed());
        give();
      });
      w.once('error', reject);
      w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`explore worker exited with ${code}`))));
      give();
    });
  await Promise.all(Array.from({ length: Math.max(1, options.workers) }, worker));
  failures.sort((a, b) => a.seed - b.seed);
  return { start: options.start, seeds: done, wallMs: elapsed(), failures };
}

/**
 * A start seed that is a pure function of a commit id (hex), so each commit explores a range no
 * other commit tried, and a CI failure replays from the commit alone. It stays clear of the
 * suite's fixed ranges (below 10,000,000) and leaves room for a range after it.
 */
export function startSeedForCommit(commit: string): number {
  if (!/^[0-9a-f]{8,}$/i.test(commit)) throw new RangeError(`not a commit id: "${commit}"`);
  const low = 10_000_000;
  const span = SEED_SPACE - 2 * low;
  return low + (Number.parseInt(commit.slice(0, 8), 16) % span);
}

function replayFlagsFor(overrides: Partial<WorldOptions>): string {
  const { noiseShare, chaos, faultsMax, ...rest } = overrides;
  // The CLI's --chaos sets chaos: CHAOS and its fault count; other values are named beside.
  const isChaosFlag = chaos !== undefined && chaos !== null && faultsMax === CHAOS_FAULTS && sameChaos(chaos);
  if (!isChaosFlag) {
    if (chaos !== undefined) Object.assign(rest, { chaos });
    if (faultsMax !== undefined) Object.assign(rest, { faultsMax });
  }
  const flags = `${noiseShare ? ` --noise-share ${noiseShare}` : ''}${isChaosFlag ? ' --chaos' : ''}`;
  return Object.keys(rest).length > 0 ? `${flags} (with overrides ${JSON.stringify(rest)})` : flags;
}

function sameChaos(c: ChaosOptions): boolean {
  return (
    c.cutAfterMsMin === CHAOS.cutAfterMsMin && c.cutAfterMsMax === CHAOS.cutAfterMsMax && c.downMs === CHAOS.downMs
  );
}
