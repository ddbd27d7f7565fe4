/**
 * Faults: a seeded storm (cuts, stalls, partitions, the listener closing) every `faultEveryMs`
 * on average, and the chaos world's cut of every connection soon after it was established.
 */
import type { Limits } from '@liaison/core';
import type { Client } from './clients.js';
import type { Network, SimLink } from './network.js';
import type { Rng } from './random.js';
import type { ChaosOptions, WorldOptions } from './world-options.js';

/** What the faults read of their world. */
export interface FaultsHost {
  readonly options: WorldOptions;
  readonly limits: Readonly<Limits>;
  readonly network: Network;
  readonly clients: readonly Client[];
  /** The faults' own stream. */
  readonly faultRng: Rng;
}

export class Faults {
  readonly #w: FaultsHost;
  /** Faults so far, both kinds (bounded by faultsMax). */
  #faults = 0;

  constructor(host: FaultsHost) {
    this.#w = host;
  }

  /** The next fault of the storm, a drawn time from now (none once the clients are done or faultsMax passed). */
  scheduleFault(now: number): void {
    const every = this.#w.options.faultEveryMs;
    this.#w.network.schedule(now + this.#w.faultRng.int(1, 2 * every), (t) => {
      // A quiet end, so that the run terminates.
      if (this.#w.clients.every((c) => c.done) || this.#faults >= this.#w.options.faultsMax) return;
      this.#faults++;
      this.#fault(t);
      this.scheduleFault(t);
    });
  }

  /** Chaos: this connection is cut a drawn time after it was established, then its client is down. */
  scheduleChaosCut(now: number, clientId: number, link: SimLink, chaos: ChaosOptions): void {
    const after = this.#w.faultRng.int(chaos.cutAfterMsMin, chaos.cutAfterMsMax);
    this.#w.network.schedule(now + after, (t) => {
      if (link.finished || this.#faults >= this.#w.options.faultsMax) return;
      this.#faults++;
      const rng = this.#w.faultRng;
      this.#w.network.partition(t, clientId, chaos.downMs, () => ({
        clientMs: rng.int(0, 5),
        serverMs: rng.int(0, 5),
      }));
    });
  }

  /** One fault: a cut, a stall, a partition of one client, or the listener closed for a while. */
  #fault(now: number): void {
    const rng = this.#w.faultRng;
    const links = this.#w.network.liveLinks;
    const r = rng.float();
    const notice = () => {
      const clientMs = rng.int(0, 300);
      const l = rng.float();
      const idle = this.#w.limits.idleTimeoutMs;
      // The server may linger: it hears late, or never and its idle timeout must find out.
      const serverMs = l < 0.6 ? rng.int(0, 300) : l < 0.85 ? rng.int(idle / 2, 3 * idle) : null;
      return { clientMs, serverMs };
    };
    if (r < 0.5 && links.length > 0) this.#w.network.cut(now, rng.pick(links), notice());
    else if (r < 0.7 && links.length > 0) this.#w.network.stall(now, rng.pick(links), rng.int(10, 2_000));
    else if (r < 0.9) {
      this.#w.network.partition(
        now,
        rng.int(0, this.#w.clients.length - 1),
        rng.logInt(50, this.#w.options.partitionMsMax),
        notice,
      );
    } else this.#w.network.closeListener(now, rng.int(50, 2_000));
  }
}
