/**
 * Runs one seed: draws a world from it, runs it to the end, checks the invariants, and reports.
 * The report carries the trace hash, so a replay can prove it did exactly the same.
 */

import { checkInvariants } from './invariants.js';
import type { NamedTokenStats } from './named-tokens.js';
import type { NetworkStats } from './network.js';
import { Rng } from './random.js';
import { InvariantViolation, World, type WorldOptions, type WorldStats, worldOptionsFor } from './world.js';

export interface RunOptions {
  /** Replaces options drawn from the seed (e.g. a broken network for checker tests). */
  overrides?: Partial<WorldOptions>;
  /** Network options merged over the drawn ones. */
  network?: Partial<WorldOptions['network']>;
  /** Receives every trace record as it happens. */
  onTrace?: (line: string) => void;
}

export interface RunReport {
  seed: number;
  ok: boolean;
  /** The invariant that failed and how; absent when ok. */
  violation?: { invariant: string; message: string; stack?: string };
  /** The last trace records (all of them are hashed into traceHash). */
  trace: string[];
  traceHash: string;
  stats: WorldStats;
  network: NetworkStats;
  /** Named tokens: sessions contending, requests, grants, handovers, releases. */
  tokens: NamedTokenStats;
  world: { clients: number; sessionsPerClient: number; multiplexShare: number; faultEveryMs: number };
}

export function runSeed(seed: number, options: RunOptions = {}): RunReport {
  const drawn = worldOptionsFor(new Rng(seed).fork('options'), options.overrides);
  const worldOptions: WorldOptions = {
    ...drawn,
    network: { ...drawn.network, ...options.network },
    ...(options.onTrace ? { onTrace: options.onTrace } : {}),
  };
  const world = new World(seed, worldOptions);
  let violation: RunReport['violation'];
  try {
    world.run();
    checkInvariants(world);
  } catch (e) {
    if (e instanceof InvariantViolation) violation = { invariant: e.invariant, message: e.message };
    else {
      const err = e instanceof Error ? e : new Error(String(e));
      violation = {
        invariant: 'no-crash',
        message: `${err.name}: ${err.message}`,
        ...(err.stack ? { stack: err.stack.split('\n').slice(1, 8).join('\n') } : {}),
      };
    }
  }
  world.stats.virtualMs = world.now;
  return {
    seed,
    ok: violation === undefined,
    ...(violation ? { violation } : {}),
    trace: world.recentTrace(),
    traceHash: world.traceHash,
    stats: world.stats,
    network: world.network.stats,
    tokens: world.tokens.stats,
    world: {
      clients: worldOptions.clients,
      sessionsPerClient: worldOptions.sessionsPerClient,
      multiplexShare: worldOptions.multiplexShare,
      faultEveryMs: worldOptions.faultEveryMs,
    },
  };
}

/** Totals over many reports, for a summary line. */
export interface Summary {
  seeds: number;
  failed: number[];
  sessions: number;
  released: number;
  lost: number;
  messages: number;
  delivered: number;
  ambiguous: number;
  bytes: number;
  cuts: number;
  lingers: number;
  partitions: number;
  resumes: number;
  virtualMs: number;
  clients: number;
  multiplexedClients: number;
  multiplexedSessions: number;
  groupResumes: number;
  opensBesideResumes: number;
  sessionsPerConnectionPeak: number;
  stuckEnds: number;
  isolationMaxMs: number;
  userAborts: number;
  releasesRefused: number;
  dialogueSessions: number;
  syncPoints: number;
  resyncs: number;
  messagesPurged: number;
  windowFrames: number;
  windowBoundWrites: number;
  windowPeakFill: number;
}

export function summarize(reports: Iterable<RunReport>): Summary {
  const s: Summary = {
    seeds: 0,
    failed: [],
    sessions: 0,
    released: 0,
    lost: 0,
    messages: 0,
    delivered: 0,
    ambiguous: 0,
    bytes: 0,
    cuts: 0,
    lingers: 0,
    partitions: 0,
    resumes: 0,
    virtualMs: 0,
    clients: 0,
    multiplexedClients: 0,
    multiplexedSessions: 0,
    groupResumes: 0,
    opensBesideResumes: 0,
    sessionsPerConnectionPeak: 0,
    stuckEnds: 0,
    isolationMaxMs: 0,
    userAborts: 0,
    releasesRefused: 0,
    dialogueSessions: 0,
    syncPoints: 0,
    resyncs: 0,
    messagesPurged: 0,
    windowFrames: 0,
    windowBoundWrites: 0,
    windowPeakFill: 0,
  };
  for (const r of reports) {
    s.seeds++;
    if (!r.ok) s.failed.push(r.seed);
    s.sessions += r.stats.sessionsOpened;
    s.released += r.stats.sessionsReleased;
    s.lost += r.stats.sessionsLost;
    s.messages += r.stats.messagesSent;
    s.delivered += r.stats.messagesDelivered;
    s.ambiguous += r.stats.ambiguousMessages;
    s.bytes += r.stats.bytesSent;
    s.cuts += r.network.cuts;
    s.lingers += r.network.lingers;
    s.partitions += r.network.partitions;
    s.resumes += r.stats.resumes;
    s.virtualMs += r.stats.virtualMs;
    s.clients += r.stats.clients;
    s.multiplexedClients += r.stats.multiplexedClients;
    s.multiplexedSessions += r.stats.multiplexedSessions;
    s.groupResumes += r.stats.groupResumes;
    s.opensBesideResumes += r.stats.opensBesideResumes;
    s.sessionsPerConnectionPeak = Math.max(s.sessionsPerConnectionPeak, r.stats.sessionsPerConnectionPeak);
    s.stuckEnds += r.stats.stuckEnds;
    s.isolationMaxMs = Math.max(s.isolationMaxMs, r.stats.isolationMaxMs);
    s.userAborts += r.stats.userAborts;
    s.releasesRefused += r.stats.releasesRefused;
    s.dialogueSessions += r.stats.dialogueSessions;
    s.syncPoints += r.stats.syncPoints;
    s.resyncs += r.stats.resyncs;
    s.messagesPurged += r.stats.messagesPurged;
    s.windowFrames += r.stats.window.windowFrames;
    s.windowBoundWrites += r.stats.window.windowBoundWrites;
    s.windowPeakFill = Math.max(s.windowPeakFill, r.stats.window.peakFill);
  }
  return s;
}
