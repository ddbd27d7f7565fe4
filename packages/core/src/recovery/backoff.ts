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

/**
 * How many connections in a row may reset the backoff without resuming anything: enough to ride
 * out a flapping link whose resumes are cut, few enough that a peer which answers and then drops
 * every connection is not hammered at the initial delay.
 */
export const FRUITLESS_RESETS_MAX = 3;

/**
 * The reconnection schedule of one client: the backoff grows with failed attempts and starts
 * over when the network is shown to be back. A transport that connected and on which the peer
 * answered is such proof even if the resume on it was then cut (without this, resumes cut
 * mid-way drove the delay to its ceiling on a link that was up most of the time; issue 10).
 * Pure, like `backoffDelay`, so every driver reconnects by the same rule and a seed replays it.
 */
export class ReconnectSchedule {
  readonly options: Readonly<BackoffOptions>;
  #attempt = 0;
  #fruitless = 0;

  constructor(options: Readonly<BackoffOptions> = DEFAULT_BACKOFF) {
    this.options = options;
  }

  /** Attempts made since the schedule last started over. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt, given a uniform random number in [0, 1); counts it. */
  nextDelay(random01: number): number {
    return backoffDelay(this.#attempt++, this.options, random01);
  }

  /** A transport connected and the peer answered on it. */
  reached(): void {
    if (this.#fruitless >= FRUITLESS_RESETS_MAX) return;
    this.#fruitless++;
    this.#attempt = 0;
  }

  /** Sessions resumed (or opened) on a connection: the schedule starts over completely. */
  succeeded(): void {
    this.#fruitless = 0;
    this.#attempt = 0;
  }
}
