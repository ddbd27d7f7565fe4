/**
 * The reference model's world: the initiator and the responder (SideModel each) and the SPDUs in
 * flight each way, delivered in order (a session's reliable stream). A request applies to one
 * side and, if accepted, puts its SPDUs in flight; a delivery hands the oldest SPDU of one
 * direction to the other side, which may answer by itself.
 */
import { receive } from './receive.js';
import { type Mutant, type Outcome, SideModel } from './side.js';
import type { Spdu } from './spdu.js';

export type SideName = 'a' | 'b';
export type Direction = 'ab' | 'ba';

export interface WorldConfig {
  units: number;
  /** Tokens the responder holds at the start (INITIAL_TOKENS assign); the initiator holds the rest. */
  responderTokens: number;
  initialSerial: number;
}

export class World {
  readonly a: SideModel;
  readonly b: SideModel;
  readonly flight: Record<Direction, Spdu[]> = { ab: [], ba: [] };

  constructor(
    readonly config: WorldConfig,
    mutant: Mutant = null,
  ) {
    const { units, responderTokens, initialSerial } = config;
    const probe = new SideModel(true, units, 0, initialSerial);
    const responder = responderTokens & probe.available;
    this.a = new SideModel(true, units, probe.available & ~responder, initialSerial, mutant);
    this.b = new SideModel(false, units, responder, initialSerial, mutant);
  }

  side(name: SideName): SideModel {
    return name === 'a' ? this.a : this.b;
  }

  /** Runs a request of `name`'s user; an accepted one puts its SPDUs in flight towards the peer. */
  request(name: SideName, run: (s: SideModel) => Outcome): Outcome {
    const outcome = run(this.side(name));
    if (outcome.ok) this.flight[name === 'a' ? 'ab' : 'ba'].push(...outcome.out);
    return outcome;
  }

  /** Delivers the oldest SPDU going `dir`; false if none is in flight. */
  deliver(dir: Direction): boolean {
    const f = this.flight[dir].shift();
    if (f === undefined) return false;
    const to = dir === 'ab' ? this.b : this.a;
    const answers = receive(to, f);
    this.flight[dir === 'ab' ? 'ba' : 'ab'].push(...answers);
    return true;
  }
}
