/**
 * Reconnection delays: capped exponential backoff with jitter, as a pure function so that every
 * driver (Node, browser, the simulator) reconnects by the same rule and a seed replays it.
 */
export interface BackoffOptions {
  /** Delay before the first reconnection attempt. */
  initialDelayMs: number;
  /** Ceiling of the delay. */
  maxDelayMs: number;
  /** Growth per attempt. */
  multiplier: number;
  /** Fraction of the delay that is randomised (0: none; 1: "full jitter"). */
  jitter: number;
}

/**
 * The first attempt goes out within a few milliseconds (most breaks are a reset or a NAT rebinding:
 * the server is still there); then 4x per attempt up to 5 s (about 5, 20, 80, 320, 1280, 5000 ms),
 * half of each delay randomised so that clients of a restarted server do not come back at once.
 */
export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  initialDelayMs: 5,
  maxDelayMs: 5_000,
  multiplier: 4,
  jitter: 0.5,
});

/**
 * The delay before attempt `attempt` (0 for the first), given a uniform random number in [0, 1).
 * Jitter spreads reconnecting clients so that a restarted server is not hit by all at once.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random01: number): number {
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** Math.min(attempt, 64));
  const spread = base * options.jitter;
  return Math.round(base - spread + spread * random01);
}
