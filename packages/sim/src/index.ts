/**
 * @liaison/sim (private): the deterministic simulator. A seed fixes a world (one server, a few
 * clients, a faulty network, application plans); `runSeed` runs it on virtual time and checks
 * the invariants. See cli.ts for the seed runner.
 */
export {
  type ExploreFailure,
  type ExploreOptions,
  type ExploreResult,
  exploreSeeds,
  SEED_SPACE,
  startSeedForCommit,
} from './explore.js';
export { checkInvariants } from './invariants.js';
export { NamedTokenScenario, type NamedTokenStats, TOKEN_NAMES } from './named-tokens.js';
export { DEFAULT_NETWORK, type Endpoint, Network, type NetworkOptions, type NetworkStats, SimLink } from './network.js';
export { Rng } from './random.js';
export { type RunOptions, type RunReport, runSeed, type Summary, summarize } from './run.js';
export {
  CHAOS,
  CHAOS_FAULTS,
  CHAOS_NETWORK,
  type ChaosOptions,
  InvariantViolation,
  type SessionPlan,
  type Stream,
  World,
  type WorldOptions,
  type WorldStats,
  worldOptionsFor,
} from './world.js';
