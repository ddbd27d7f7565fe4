#!/usr/bin/env node
/**
 * The seed runner: `node packages/sim/dist/cli.js --seeds N [--start S] [--seed X] [--verbose]`.
 * Runs seeds, prints a summary, and on a failure prints the seed, the invariant, the last trace
 * records and the command that replays it exactly; exits 1. With `--hours H` or `--seconds S` it
 * explores instead: worker threads run consecutive seeds from `--start` (default: a random start
 * past the suite's ranges, printed) until the time is spent, and every failure is listed with its
 * replay command. The wall clock here only bounds and measures the runner; nothing inside a run
 * reads it.
 */
import { randomInt } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { exploreSeeds, SEED_SPACE } from './explore.js';
import { type RunReport, runSeed, summarize } from './run.js';
import { CHAOS, CHAOS_FAULTS, type WorldOptions } from './world.js';

interface Args {
  seeds: number;
  start: number | null;
  seed: number | null;
  verbose: boolean;
  /** Share of clients over Noise (WorldOptions.noiseShare). */
  noiseShare: number;
  /** The flapping-link world (WorldOptions.chaos = CHAOS). */
  chaos: boolean;
  /** Exploration budget in milliseconds, or null to run a fixed count of seeds. */
  exploreMs: number | null;
  workers: number;
}

const USAGE =
  'usage: npm run sim -- [--seeds N] [--start S] [--seed X] [--noise-share F] [--chaos] [--verbose]\n' +
  '       npm run sim -- --hours H | --seconds S [--start S] [--workers N] [--noise-share F] [--chaos]';

function parse(argv: string[]): Args {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (err) {
    usage((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) usage();
  const int = (name: string, raw: string | undefined, fallback: number, min = 0): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isSafeInteger(n) || n < min) usage(`--${name} needs an integer >= ${min}`);
    if (n >= SEED_SPACE) usage(`--${name} must be below 2^32 (seeds are u32)`);
    return n;
  };
  const positive = (name: string, raw: string | undefined): number | null => {
    if (raw === undefined) return null;
    const n = Number(raw);
    if (raw.trim() === '' || !(n > 0) || !Number.isFinite(n)) usage(`--${name} needs a positive number`);
    return n;
  };
  const hours = positive('hours', v.hours);
  const seconds = positive('seconds', v.seconds);
  if (hours !== null && seconds !== null) usage('give --hours or --seconds, not both');
  const exploreMs = hours !== null ? hours * 3_600_000 : seconds !== null ? seconds * 1000 : null;
  if (exploreMs !== null && (v.seed !== undefined || v.seeds !== undefined)) {
    usage('--hours/--seconds explore by time: --seed and --seeds do not apply');
  }
  let noiseShare = 0;
  if (v['noise-share'] !== undefined) {
    noiseShare = Number(v['noise-share']);
    if (!(noiseShare >= 0 && noiseShare <= 1)) usage('--noise-share needs a number in [0, 1]');
  }
  return {
    seeds: int('seeds', v.seeds, 100),
    start: v.start === undefined ? null : int('start', v.start, 1),
    seed: v.seed === undefined ? null : int('seed', v.seed, 0),
    verbose: v.verbose === true,
    noiseShare,
    chaos: v.chaos === true,
    exploreMs,
    workers: int('workers', v.workers, Math.max(1, availableParallelism()), 1),
  };
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      seeds: { type: 'string' },
      start: { type: 'string' },
      seed: { type: 'string' },
      'noise-share': { type: 'string' },
      chaos: { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
      hours: { type: 'string' },
      seconds: { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function usage(problem?: string): never {
  if (problem) console.error(problem);
  console.error(USAGE);
  process.exit(problem ? 2 : 0);
}

/** The world options the flags set over the drawn ones; the replay command carries them. */
function overridesOf(args: Args): Partial<WorldOptions> {
  return {
    ...(args.noiseShare > 0 ? { noiseShare: args.noiseShare } : {}),
    ...(args.chaos ? { chaos: CHAOS, faultsMax: CHAOS_FAULTS } : {}),
  };
}

/** The exploration mode: prints progress, the range explored and every failure; exit 1 on any. */
async function explore(args: Args, budgetMs: number): Promise<never> {
  // Above the suite's fixed ranges (all below 10,000,000), anywhere in the u32 space.
  const start = args.start ?? 10_000_000 + randomInt(SEED_SPACE - 20_000_000);
  console.log(`exploring from seed ${start} for ${(budgetMs / 1000).toFixed(0)}s on ${args.workers} workers`);
  let lastPrint = 0;
  const result = await exploreSeeds({
    start,
    budgetMs,
    workers: args.workers,
    overrides: overridesOf(args),
    onProgress: (done, failures, elapsedMs) => {
      if (elapsedMs - lastPrint < 10_000) return;
      lastPrint = elapsedMs;
      const rate = (done * 1000) / elapsedMs;
      console.log(`  ${done} seeds, ${failures} failed, ${(elapsedMs / 1000).toFixed(0)}s, ${rate.toFixed(0)} seeds/s`);
    },
    onFailure: (f) => console.log(`  found: seed ${f.seed}: ${f.message} (replay: ${f.replay})`),
  });
  const last = result.start + result.seeds - 1;
  console.log(
    `explored seeds ${result.start}..${last} (${result.seeds} seeds) in ${(result.wallMs / 1000).toFixed(1)}s: ` +
      `${result.failures.length} failed`,
  );
  for (const f of result.failures) {
    console.error(`\nFAILED seed ${f.seed}: ${f.message}\n  ${f.trace.join('\n  ')}\nreplay: ${f.replay}`);
  }
  process.exit(result.failures.length > 0 ? 1 : 0);
}

const args = parse(process.argv.slice(2));
if (args.exploreMs !== null) await explore(args, args.exploreMs);
const seeds = args.seed !== null ? [args.seed] : Array.from({ length: args.seeds }, (_, i) => (args.start ?? 1) + i);
const started = performance.now();
const reports: RunReport[] = [];
let firstFailure: RunReport | null = null;
for (const seed of seeds) {
  const report = runSeed(seed, {
    ...(args.verbose ? { onTrace: (line: string) => console.log(line) } : {}),
    overrides: overridesOf(args),
  });
  reports.push(report);
  if (args.verbose || args.seed !== null) {
    console.log(
      `seed ${seed}: ${report.ok ? 'ok' : 'FAILED'} trace ${report.traceHash} ` +
        `clients=${report.world.clients} sessions=${report.stats.sessionsOpened} ` +
        `messages=${report.stats.messagesSent} cuts=${report.network.cuts} resumes=${report.stats.resumes} ` +
        `virtual=${(report.stats.virtualMs / 1000).toFixed(1)}s`,
    );
  }
  if (!report.ok && firstFailure === null) firstFailure = report;
  if (!report.ok && args.seed === null) break;
}
const wallMs = performance.now() - started;
const s = summarize(reports);
console.log(
  `${s.seeds} seeds in ${(wallMs / 1000).toFixed(1)}s (${((s.seeds * 1000) / wallMs).toFixed(0)} seeds/s): ` +
    `${s.sessions} sessions (${s.released} released, ${s.lost} lost), ` +
    `${s.messages} messages (${(s.bytes / 1e6).toFixed(1)} MB), ${s.cuts} cuts (${s.lingers} lingering), ` +
    `${s.partitions} partitions, ${s.resumes} resumes, ${(s.virtualMs / 3_600_000).toFixed(1)} virtual hours`,
);
console.log(
  `multiplexing: ${s.multiplexedClients} of ${s.clients} clients (${s.multiplexedSessions} sessions, up to ` +
    `${s.sessionsPerConnectionPeak} on one connection), ${s.groupResumes} reconnects resuming several sessions, ` +
    `${s.opensBesideResumes} opens beside suspended or resuming sessions, ${s.stuckEnds} stuck readers ` +
    `(others done within ${(s.isolationMaxMs / 1000).toFixed(1)}s at most); connection window: ` +
    `${s.windowFrames} WINDOW frames, ${s.windowBoundWrites} writes at the limit, peak fill ${(100 * s.windowPeakFill).toFixed(0)}%; ` +
    `${s.userAborts} user aborts, ${s.releasesRefused} refused releases`,
);
console.log(
  `dialogue: ${s.dialogueSessions} half-duplex sessions passing tokens, ${s.syncPoints} sync points taken or seen, ` +
    `${s.resyncs} resynchronizations, ${s.messagesPurged} messages purged unsent`,
);
const tokens = { sessions: 0, acquires: 0, queued: 0, grants: 0, handovers: 0 };
for (const r of reports) {
  tokens.sessions += r.tokens.tokenSessions;
  tokens.acquires += r.tokens.tokenAcquires;
  tokens.queued += r.tokens.tokenQueued;
  tokens.grants += r.tokens.tokenGrants;
  tokens.handovers += r.tokens.tokenHandovers;
}
console.log(
  `named tokens: ${tokens.sessions} sessions, ${tokens.acquires} requests (${tokens.queued} queued), ` +
    `${tokens.grants} grants (${tokens.handovers} handed over by a release or a session's end)`,
);
if (firstFailure) {
  const v = firstFailure.violation;
  console.error(`\nFAILED seed ${firstFailure.seed}: ${v?.message}`);
  if (v?.stack) console.error(v.stack);
  console.error(`last trace records:\n  ${firstFailure.trace.join('\n  ')}`);
  const flags = `${args.noiseShare > 0 ? ` --noise-share ${args.noiseShare}` : ''}${args.chaos ? ' --chaos' : ''}`;
  console.error(`\nreplay: npm run sim -- --seed ${firstFailure.seed}${flags}`);
  process.exit(1);
}
