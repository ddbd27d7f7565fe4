/**
 * A world's options: what a seed draws (worldOptionsFor), what tests override, and the chaos
 * world's flapping link (CHAOS, CHAOS_FAULTS, CHAOS_NETWORK).
 */
import type { Limits } from '@liaison/core';
import type { NetworkOptions } from './network.js';
import type { Rng } from './random.js';

export interface WorldOptions {
  clients: number;
  sessionsPerClient: number;
  /** Share of clients that multiplex: several sessions at once over one connection (the Pool). */
  multiplexShare: number;
  /** Sessions a multiplexing client opens together, at most (at least 2). */
  multiplexSessionsMax: number;
  /** Chance that one session of a multiplexing group has an end that stops consuming (isolation check). */
  stuckChance: number;
  /** Messages each side sends per session, drawn in [min, max]. */
  messagesMin: number;
  messagesMax: number;
  /** Chance per message of a large, multi-fragment one. */
  largeChance: number;
  largeBytesMax: number;
  typedChance: number;
  expeditedChance: number;
  /** Chance that an application end consumes slowly (holds data for a while before consuming). */
  slowConsumerChance: number;
  limits: Partial<Limits>;
  network: Partial<NetworkOptions>;
  /** Mean time between faults (cut, stall, partition, listener close); 0 disables faults. */
  faultEveryMs: number;
  /** Faults in a run at most: a storm ends, so that the run can finish. */
  faultsMax: number;
  /** Longest partition; partitions longer than the resume window lose sessions on purpose. */
  partitionMsMax: number;
  /**
   * The flapping link of issue 10 (null: off; set by override, e.g. `npm run sim -- --chaos`):
   * every client connection is cut a drawn time after it was established and its client is then
   * partitioned for `downMs`, until `faultsMax` such faults happened.
   */
  chaos: ChaosOptions | null;
  timeLimitMs: number;
  eventLimit: number;
  /** Share of sessions in which one end aborts (S-U-ABORT) at a drawn point. */
  userAbortShare: number;
  /** Share of sessions that negotiate NEGOTIATED_RELEASE and refuse the first release request. */
  refusedReleaseShare: number;
  /**
   * Share of clients whose connections run inside Noise (XX or IK, drawn per client): the server
   * listens with Noise for them. 0 by default, so that the plaintext seeds replay as before.
   */
  noiseShare: number;
  /** Share of sessions that are half-duplex, passing tokens, taking sync points, resynchronizing (dialogue.ts). */
  dialogueShare: number;
  /** Broken on purpose (checker tests only): the client application forgets one delivered message. */
  forgetMessage: boolean;
  /**
   * Broken on purpose (checker tests only): while one reader of a connection is stuck, every end
   * of the same role on that connection stops consuming too, as one read loop per connection would
   * (isolated).
   */
  stuckBlocksGroup: boolean;
  /** Share of sessions that contend for named tokens (named-tokens.ts). */
  namedTokenShare: number;
  /** Broken on purpose (checker tests only): the server grants a held name to a second session. */
  doubleGrant: boolean;
  /**
   * Broken on purpose (checker tests only): once, when a dialogue end receives tokens, the world
   * hands the giver a forged GIVE_TOKENS of the same tokens, so both engines hold them (token-unique).
   */
  forgeTokenGive: boolean;
  /** Broken on purpose (checker tests only): one sync point event reaches the application twice (serial-monotonic). */
  replaySyncEvent: boolean;
  /** Called with every trace record (the CLI's --verbose). */
  onTrace?: (line: string) => void;
}

export interface ChaosOptions {
  /** A connection is cut this long after it was established, drawn in [min, max]. */
  cutAfterMsMin: number;
  cutAfterMsMax: number;
  /** After each cut its client reaches nothing for this long. */
  downMs: number;
}

/** Cuts every 100±50 ms with 500 ms down, on a 1 MiB/s link (with `CHAOS_NETWORK`). */
export const CHAOS: Readonly<ChaosOptions> = Object.freeze({ cutAfterMsMin: 50, cutAfterMsMax: 150, downMs: 500 });
/** Faults per chaos run (the CLI's --chaos): enough cuts to span many resumes, bounded so the run ends. */
export const CHAOS_FAULTS = 40;
// On loopback, as the proxy runs: a resume needs a few round trips within a connection's 100 ms.
export const CHAOS_NETWORK: Readonly<Partial<NetworkOptions>> = Object.freeze({
  delayMsMin: 1,
  delayMsMax: 3,
  jitterMs: 1,
  bytesPerSecond: 1024 * 1024,
});

/** Draws a world's options from a seed: small worlds mostly, a few heavier ones. */
export function worldOptionsFor(rng: Rng, overrides: Partial<WorldOptions> = {}): WorldOptions {
  const heavy = rng.chance(0.03);
  const keepaliveIntervalMs = rng.int(200, 1500);
  const frameBytesMax = rng.pick([1024, 2048, 4096, 16_384]);
  return {
    clients: heavy ? rng.int(3, 5) : rng.pick([1, 1, 2, 2, 3]),
    sessionsPerClient: rng.chance(heavy ? 0.5 : 0.15) ? 2 : 1,
    multiplexShare: 0.5,
    multiplexSessionsMax: heavy ? 4 : 6,
    stuckChance: 0.35,
    messagesMin: 0,
    messagesMax: heavy ? rng.int(60, 150) : rng.int(5, 25),
    largeChance: rng.pick([0, 0.05, 0.1]),
    largeBytesMax: heavy ? 150_000 : 20_000,
    typedChance: rng.pick([0, 0.2, 0.5]),
    expeditedChance: rng.pick([0, 0.05, 0.1]),
    slowConsumerChance: rng.pick([0, 0.3, 0.6]),
    limits: {
      frameBytesMax,
      receiveWindowBytes: rng.pick([2048, 8192, 65_536]),
      sendQueueBytesMax: rng.pick([4096, 16_384, 65_536]),
      retransmitBufferBytes: rng.pick([65_536, 131_072]),
      transmitBatchBytes: rng.pick([4096, 65_536]),
      ackDelayMs: rng.int(0, 20),
      keepaliveIntervalMs,
      idleTimeoutMs: keepaliveIntervalMs * rng.int(3, 5),
      handshakeTimeoutMs: 5_000,
      releaseTimeoutMs: 60_000,
      resumeWindowMs: rng.int(3_000, 15_000),
      suspendedBytesMax: rng.chance(0.1) ? rng.int(10_000, 200_000) : 64 * 1024 * 1024,
      // Small connection windows make several bulk sessions meet the connection's limit.
      connectionWindowBytes: rng.pick([65_536, 131_072, 262_144, 16 * 1024 * 1024]),
      contendedInflightBytes: rng.pick([16_384, 16_384, 65_536]),
    },
    network: {
      delayMsMin: 1,
      delayMsMax: rng.pick([5, 40, 150]),
      jitterMs: rng.pick([0, 5, 30]),
      splitChance: rng.pick([0, 0.3, 0.8]),
      pipeBytesMax: rng.pick([4096, 65_536]),
    },
    faultEveryMs: rng.pick([0, 300, 1_000, 3_000]),
    faultsMax: heavy ? rng.int(10, 60) : rng.int(1, 15),
    partitionMsMax: rng.chance(0.1) ? 30_000 : 3_000,
    chaos: null,
    timeLimitMs: 900_000,
    eventLimit: 2_000_000,
    userAbortShare: 0.1,
    refusedReleaseShare: 0.1,
    noiseShare: 0,
    dialogueShare: 0.15,
    forgetMessage: false,
    stuckBlocksGroup: false,
    namedTokenShare: 0.5,
    doubleGrant: false,
    forgeTokenGive: false,
    replaySyncEvent: false,
    ...overrides,
  };
}
