/**
 * The fast-check commands of the model-based test: a user request on one side, or the delivery of
 * the oldest frame in flight one way. Each runs on the model and on the engines side by side,
 * then `compare` checks that they agree on everything both can see.
 */
import type { Session } from '@liaison/core';
import fc from 'fast-check';
import type { EngineOutcome, EngineWorld } from './engine.js';
import type { Outcome, SideModel } from './side.js';
import type { ResyncType } from './spdu.js';
import type { Direction, SideName, World } from './world.js';

const EMPTY = new Uint8Array(0);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A request as both worlds run it; built when the command runs, from the model's state. */
interface Request {
  label: string;
  model: (s: SideModel) => Outcome;
  engine: (s: Session, now: number) => unknown;
}

type RequestOf = (m: World, side: SideModel) => Request;

const minor =
  (confirm: boolean): RequestOf =>
  () => ({
    label: `syncMinor(${confirm})`,
    model: (s) => s.syncMinor(confirm),
    engine: (s) => s.dialogue?.syncMinor({ confirm, separation: false, userData: EMPTY }),
  });

function dialogue(
  label: string,
  model: (s: SideModel) => Outcome,
  engine: (d: NonNullable<Session['dialogue']>) => unknown,
): RequestOf {
  return () => ({ label, model, engine: (s) => engine(s.dialogue as NonNullable<Session['dialogue']>) });
}

/** Token masks are drawn from 1..15 and narrowed to the available tokens (all of them if none is left). */
function mask(raw: number, side: SideModel): number {
  return raw & side.available || side.available;
}

const requests: fc.Arbitrary<RequestOf>[] = [
  fc.constant<RequestOf>(() => {
    const text = `m${++counter.n}`;
    return {
      label: `send(${text})`,
      model: (s) => s.sendData(text),
      engine: (s, now) => s.send(now, 'normal', utf8(text)),
    };
  }),
  fc.integer({ min: 1, max: 15 }).map(
    (raw): RequestOf =>
      (_m, side) => {
        const t = mask(raw, side);
        return {
          label: `giveTokens(${t})`,
          model: (s) => s.giveTokens(t),
          engine: (s) => s.dialogue?.giveTokens(t, EMPTY),
        };
      },
  ),
  fc.integer({ min: 1, max: 15 }).map(
    (raw): RequestOf =>
      (_m, side) => {
        const t = mask(raw, side);
        return {
          label: `pleaseTokens(${t})`,
          model: (s) => s.pleaseTokens(t),
          engine: (s) => s.dialogue?.pleaseTokens(t, EMPTY),
        };
      },
  ),
  fc.constant(
    dialogue(
      'giveControl',
      (s) => s.giveControl(),
      (d) => d.giveControl(EMPTY),
    ),
  ),
  fc.boolean().map(minor),
  // A serial near the lowest or the highest one this side could confirm, or just outside.
  fc.tuple(fc.boolean(), fc.integer({ min: -1, max: 2 })).map(
    ([fromTop, delta]): RequestOf =>
      (_m, side) => {
        const serial = Math.max(0, fromTop ? side.vm - 1 - delta : side.va + delta);
        return {
          label: `confirmMinor(${serial})`,
          model: (s) => s.confirmMinor(serial),
          engine: (s) => s.dialogue?.confirmMinor(serial, EMPTY),
        };
      },
  ),
  fc.constant(
    dialogue(
      'syncMajor',
      (s) => s.syncMajor(),
      (d) => d.syncMajor(EMPTY),
    ),
  ),
  fc.constant(
    dialogue(
      'confirmMajor',
      (s) => s.confirmMajor(),
      (d) => d.confirmMajor(EMPTY),
    ),
  ),
  fc
    .tuple(
      fc.constantFrom<ResyncType>('abandon', 'restart', 'set'),
      fc.integer({ min: -1, max: 3 }),
      fc.option(fc.integer({ min: 0, max: 15 })),
    )
    .map(
      ([type, delta, rawTokens]): RequestOf =>
        (_m, side) => {
          const base = type === 'restart' ? side.vr : type === 'abandon' ? side.vm : 0;
          const serial =
            type === 'abandon' && delta === -1 ? undefined : Math.max(0, base + delta + (type === 'set' ? 4 : 0));
          const tokens = rawTokens === null ? undefined : rawTokens & side.available;
          return {
            label: `resynchronize(${type}, ${serial}, ${tokens})`,
            model: (s) => s.resynchronize(type, serial, tokens),
            engine: (s) => s.dialogue?.resynchronize(type, { serial, tokens, userData: EMPTY }),
          };
        },
    ),
  fc.constant(
    dialogue(
      'confirmResynchronize',
      (s) => s.confirmResynchronize(),
      (d) => d.confirmResynchronize(EMPTY),
    ),
  ),
  fc.constant<RequestOf>(() => {
    const id = `act${++counter.n}`;
    return {
      label: `startActivity(${id})`,
      model: (s) => s.startActivity(id),
      engine: (s) => s.dialogue?.startActivity(utf8(id), EMPTY),
    };
  }),
  fc.integer({ min: 0, max: 5 }).map(
    (serial): RequestOf =>
      () => {
        const id = `act${++counter.n}`;
        return {
          label: `resumeActivity(${id}, old, ${serial})`,
          model: (s) => s.resumeActivity(id, 'old', serial),
          engine: (s) => s.dialogue?.resumeActivity(utf8(id), utf8('old'), serial, EMPTY),
        };
      },
  ),
  fc.constant(
    dialogue(
      'interruptActivity(7)',
      (s) => s.stopActivity('interrupt', 7),
      (d) => d.interruptActivity(7, EMPTY),
    ),
  ),
  fc.constant(
    dialogue(
      'discardActivity(3)',
      (s) => s.stopActivity('discard', 3),
      (d) => d.discardActivity(3, EMPTY),
    ),
  ),
  fc.constant(
    dialogue(
      'endActivity',
      (s) => s.endActivity(),
      (d) => d.endActivity(EMPTY),
    ),
  ),
  fc.constant<RequestOf>(() => ({
    label: 'release',
    model: (s) => s.release(),
    engine: (s, now) => s.release(now, EMPTY),
  })),
  fc.boolean().map(
    (accept): RequestOf =>
      () => ({
        label: `respondRelease(${accept})`,
        model: (s) => s.respondRelease(accept),
        engine: (s, now) => s.respondRelease(now, accept, EMPTY),
      }),
  ),
];

/** Message texts and activity ids: distinct within a run (reset by `resetNames`). */
const counter = { n: 0 };
export function resetNames(): void {
  counter.n = 0;
}

class RequestCommand implements fc.Command<World, EngineWorld> {
  #label = '';
  constructor(
    readonly side: SideName,
    readonly of: RequestOf,
  ) {}
  check(m: Readonly<World>): boolean {
    return m.side(this.side).phase !== 'closed';
  }
  run(m: World, r: EngineWorld): void {
    const request = this.of(m, m.side(this.side));
    this.#label = `${this.side}.${request.label}`;
    const expected = m.request(this.side, request.model);
    const got = r.request(this.side, request.engine);
    checkOutcome(this.#label, expected, got);
    compare(m, r, this.#label);
  }
  toString(): string {
    return this.#label || `${this.side}.request`;
  }
}

class DeliverCommand implements fc.Command<World, EngineWorld> {
  constructor(readonly dir: Direction) {}
  check(m: Readonly<World>): boolean {
    return m.flight[this.dir].length > 0;
  }
  run(m: World, r: EngineWorld): void {
    const name = m.flight[this.dir][0]?.t;
    m.deliver(this.dir);
    r.deliver(this.dir);
    compare(m, r, `deliver ${this.dir} ${name}`);
  }
  toString(): string {
    return `deliver(${this.dir})`;
  }
}

/** A transport break and a resume: the model does not move (every frame in flight is replayed). */
class CutCommand implements fc.Command<World, EngineWorld> {
  check(m: Readonly<World>): boolean {
    return [m.a, m.b].every((s) => s.phase !== 'closing' && s.phase !== 'closed');
  }
  run(m: World, r: EngineWorld): void {
    r.cutAndResume();
    compare(m, r, 'a transport break and a resume');
  }
  toString(): string {
    return 'cutAndResume';
  }
}

export function commandArbitraries(): fc.Arbitrary<fc.Command<World, EngineWorld>>[] {
  const side = fc.constantFrom<SideName>('a', 'b');
  const dir = fc.constantFrom<Direction>('ab', 'ba');
  return [
    ...requests.map((req) => fc.tuple(side, req).map(([s, of]) => new RequestCommand(s, of))),
    // Deliveries are drawn as often as all requests together, so frames do not pile up.
    ...requests.map(() => dir.map((d) => new DeliverCommand(d))),
    fc.constant(new CutCommand()),
  ];
}

function checkOutcome(label: string, expected: Outcome, got: EngineOutcome): void {
  if (expected.ok && !got.ok) throw new Error(`${label}: the model accepts it, the engine refused with ${got.code}`);
  if (!expected.ok && got.ok)
    throw new Error(`${label}: the model refuses it (${expected.codes.join(' or ')}), the engine accepted`);
  if (!expected.ok && !got.ok && !expected.codes.includes(got.code)) {
    throw new Error(`${label}: refused with ${got.code}, the model expects ${expected.codes.join(' or ')}`);
  }
  if (expected.ok && got.ok && expected.value !== undefined && expected.value !== got.value) {
    throw new Error(`${label}: returned ${String(got.value)}, the model says ${expected.value}`);
  }
}

const PHASES: Record<string, readonly string[]> = {
  open: ['open'],
  releasing: ['releasing'],
  'release-requested': ['release-requested'],
  closing: ['releasing', 'disconnecting', 'closed'],
  closed: ['closed'],
};

/** Everything the model and the engines both know, after every command. */
export function compare(m: World, r: EngineWorld, after: string): void {
  const diffs: string[] = [];
  const same = (what: string, model: unknown, engine: unknown): void => {
    if (JSON.stringify(model) !== JSON.stringify(engine)) {
      diffs.push(`${what}: model ${JSON.stringify(model)}, engine ${JSON.stringify(engine)}`);
    }
  };
  if (r.oddities.length > 0) diffs.push(`engine: ${r.oddities.join('; ')}`);
  for (const name of ['a', 'b'] as const) {
    const s = m.side(name);
    const e = r.session(name);
    if (!PHASES[s.phase]?.includes(e.state)) diffs.push(`${name} state: model ${s.phase}, engine ${e.state}`);
    same(`${name} told`, s.told, r.told[name]);
    const d = e.dialogue;
    if (d === null || e.state === 'closed' || e.state === 'disconnecting') continue;
    same(`${name} tokens`, s.owned, d.mine);
    same(`${name} V(M)`, s.vm, d.serial);
    same(`${name} activity`, s.activity, d.activity === null ? null : new TextDecoder().decode(d.activity.id));
    same(`${name} major pending`, s.majorOut !== null || s.majorIn !== null, d.majorPending !== null);
    same(`${name} resync indicated`, s.resyncIn !== null, d.resyncIndicated);
    const awaiting = s.resyncOut !== null ? 'resync-ack' : s.stopOut === null ? null : `${s.stopOut}-ack`;
    same(`${name} awaiting`, awaiting, d.awaiting);
  }
  for (const dir of ['ab', 'ba'] as const)
    same(
      `in flight ${dir}`,
      m.flight[dir].map((f) => f.t),
      r.inFlight(dir),
    );
  if (diffs.length > 0) throw new Error(`after ${after}:\n  ${diffs.join('\n  ')}`);
}
