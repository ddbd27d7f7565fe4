#!/usr/bin/env node
/**
 * The seed runner: `node packages/sim/dist/cli.js --seeds N [--start S] [--seed X] [--verbose]`.
 * Runs seeds, prints a summary, and on a failure prints the seed, the invariant, the last trace
 * records and the command that replays it exactly; exits 1. The wall clock here only measures
 * the runner's speed; nothing inside a run reads it.
 */
import { type RunReport, runSeed, summarize } from './run.js';

interface Args {
  seeds: number;
  start: number;
  seed: number | null;
  verbose: boolean;
  /** Share of clients over Noise (WorldOptions.noiseShare). */
  noiseShare: number;
}

function parse(argv: string[]): Args {
  const args: Args = { seeds: 100, start: 1, seed: null, verbose: false, noiseShare: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) usage(`${a} needs a non-negative integer`);
      return v;
    };
    if (a === '--seeds') args.seeds = value();
    else if (a === '--start') args.start = value();
    else if (a === '--seed') args.seed = value();
    else if (a === '--verbose' || a === '-v') args.verbose = true;
    else if (a === '--noise-share') {
      const v = Number(argv[++i]);
      if (!(v >= 0 && v <= 1)) usage('--noise-share needs a number in [0, 1]');
      args.noiseShare = v;
    } else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  return args;
}

function usage(problem?: string): never {
  if (problem) console.error(problem);
  console.error('usage: npm run sim -- [--seeds N] [--start S] [--seed X] [--noise-share F] [--verbose]');
  process.exit(problem ? 2 : 0);
}

const args = parse(process.argv.slice(2));
const seeds = args.seed !== null ? [args.seed] : Array.from({ length: args.seeds }, (_, i) => args.start + i);
const started = performance.now();
const reports: RunReport[] = [];
let firstFailure: RunReport | null = null;
for (const seed of seeds) {
  const report = runSeed(seed, {
    ...(args.verbose ? { onTrace: (line: string) => console.log(line) } : {}),
    ...(args.noiseShare > 0 ? { overrides: { noiseShare: args.noiseShare } } : {}),
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
  const noise = args.noiseShare > 0 ? ` --noise-share ${args.noiseShare}` : '';
  console.error(`\nreplay: npm run sim -- --seed ${firstFailure.seed}${noise}`);
  process.exit(1);
}
