/**
 * The real side of the model-based test: two engine sessions (initiator and responder) over an
 * in-memory pair of Connections, with every frame each writes held in flight until the test
 * delivers it, one session frame at a time. Frames the model does not know (ACK, WINDOW, PING)
 * ride along with the next one. The observer normalises what each application is told into the
 * strings the model writes (`SideModel.told`).
 */
import {
  Connection,
  type ConnectionEvent,
  type DialogueEvent,
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameType,
  PREFACE,
  type Session,
  SessionTable,
  UsageError,
} from '@liaison/core';
import { openDialogue, Pair } from '../harness.js';
import { seededRandom } from '../seeded-random.js';
import type { SpduName } from './spdu.js';
import type { Direction, SideName, WorldConfig } from './world.js';

const SPDU_OF: Partial<Record<number, SpduName>> = {
  [FrameType.DATA]: 'DT',
  [FrameType.GIVE_TOKENS]: 'GT',
  [FrameType.PLEASE_TOKENS]: 'PT',
  [FrameType.GIVE_CONTROL]: 'GTC',
  [FrameType.MINOR_SYNC]: 'MIP',
  [FrameType.MINOR_SYNC_ACK]: 'MIA',
  [FrameType.MAJOR_SYNC]: 'MAP',
  [FrameType.MAJOR_SYNC_ACK]: 'MAA',
  [FrameType.RESYNC]: 'RS',
  [FrameType.RESYNC_ACK]: 'RA',
  [FrameType.ACTIVITY_START]: 'AS',
  [FrameType.ACTIVITY_RESUME]: 'AR',
  [FrameType.ACTIVITY_INTERRUPT]: 'AI',
  [FrameType.ACTIVITY_INTERRUPT_ACK]: 'AIA',
  [FrameType.ACTIVITY_DISCARD]: 'AD',
  [FrameType.ACTIVITY_DISCARD_ACK]: 'ADA',
  [FrameType.ACTIVITY_END]: 'AE',
  [FrameType.FINISH]: 'FN',
  [FrameType.DISCONNECT]: 'DN',
  [FrameType.NOT_FINISHED]: 'NF',
};

export type EngineOutcome = { ok: true; value: unknown } | { ok: false; code: string };

export class EngineWorld {
  readonly #random = seededRandom(7);
  readonly #tables = {
    a: new SessionTable({ resumeWindowMs: 60_000, suspendedBytesMax: 1 << 26 }),
    b: new SessionTable({ resumeWindowMs: 60_000, suspendedBytesMax: 1 << 26 }),
  };
  readonly pair = new Pair({
    initiator: { random: this.#random, table: this.#tables.a },
    responder: { random: this.#random, table: this.#tables.b },
  });
  /** Transport breaks survived, each followed by a resume. */
  resumes = 0;
  /** The responder's count of replayed frames it already had, from its last `resumed` event. */
  #duplicates = 0;
  readonly a: Session;
  readonly b: Session;
  flight: Record<Direction, Frame[]> = { ab: [], ba: [] };
  readonly told: Record<SideName, string[]> = { a: [], b: [] };
  /** Anything an application saw that the model has no word for (an abort, above all). */
  readonly oddities: string[] = [];
  readonly #decoders: Record<Direction, FrameDecoder>;

  constructor(config: WorldConfig) {
    const { units, responderTokens, initialSerial } = config;
    const s = openDialogue(this.pair, units, { responderTokens, initialSerial });
    this.a = s.a;
    this.b = s.b;
    // From here on the test moves every byte itself.
    this.pair.linkUp = false;
    const limits = { frameBytesMax: 1 << 20, userDataBytesMax: 0xffff };
    this.#decoders = {
      ab: new FrameDecoder(limits, { expectPreface: false }),
      ba: new FrameDecoder(limits, { expectPreface: false }),
    };
    this.collect();
  }

  /**
   * The transport breaks: every frame in flight is lost. A new connection comes up and the
   * initiator resumes the session on it; once RESUMED is in, each side's replay of what the
   * other had not received is in flight again, in order, and nothing else moved.
   */
  cutAndResume(): void {
    const limits = { frameBytesMax: 1 << 20, userDataBytesMax: 0xffff };
    this.flight.ab.length = 0;
    this.flight.ba.length = 0;
    for (const name of ['a', 'b'] as const) this.pair[name].conn.handleTransportDown(this.pair.now, 'cut');
    this.#drainOld();
    this.pair.now += 1;
    for (const [name, role] of [
      ['a', 'initiator'],
      ['b', 'responder'],
    ] as const) {
      this.pair[name].conn = new Connection({ role, random: this.#random, table: this.#tables[name] });
      this.pair[name].conn.handleTransportUp(this.pair.now);
      // The decoders below eat the preface each side writes; each side reads the other's here.
      this.pair[name].conn.handleBytes(this.pair.now, PREFACE);
    }
    this.#decoders.ab = new FrameDecoder(limits, { expectPreface: true });
    this.#decoders.ba = new FrameDecoder(limits, { expectPreface: true });
    this.#duplicates = 0;
    this.pair.a.conn.resumeSession(this.pair.now, this.a);
    // The handshake frames pass at once; session frames (the replay) stay in flight.
    for (let round = 0; round < 100; round++) {
      this.collect();
      let moved = 0;
      for (const dir of ['ab', 'ba'] as const) {
        const to = dir === 'ab' ? this.pair.b.conn : this.pair.a.conn;
        const held = this.flight[dir].filter((f) => SPDU_OF[f.type] !== undefined);
        for (const f of this.flight[dir]) if (SPDU_OF[f.type] === undefined) moved++;
        for (const f of this.flight[dir])
          if (SPDU_OF[f.type] === undefined) to.handleBytes(this.pair.now, encodeFrame(f));
        this.flight[dir] = held;
      }
      if (moved === 0) break;
    }
    // The initiator replays optimistically behind its RESUME; the responder drops what it already
    // had (RESUMED says how many): deliver those now, so what stays in flight is news.
    let duplicates = this.#duplicates;
    while (duplicates > 0) {
      const f = this.flight.ab.shift();
      if (f === undefined) break;
      this.pair.b.conn.handleBytes(this.pair.now, encodeFrame(f));
      if (SPDU_OF[f.type] !== undefined) duplicates--;
    }
    this.collect();
    for (const name of ['a', 'b'] as const) {
      if (this.session(name).link !== 'attached')
        this.oddities.push(`${name}: link ${this.session(name).link} after the resume`);
      for (let e = this.#tables[name].pollEvent(); e !== null; e = this.#tables[name].pollEvent())
        this.#observe(name, e);
    }
    this.resumes++;
  }

  /** Events of the broken connections: the sessions' own still count, the connection's end does not. */
  #drainOld(): void {
    for (const name of ['a', 'b'] as const) {
      const conn = this.pair[name].conn;
      for (let e = conn.pollEvent(); e !== null; e = conn.pollEvent()) {
        if (e.type !== 'connection-closed') this.#observe(name, e);
      }
    }
  }

  session(name: SideName): Session {
    return name === 'a' ? this.a : this.b;
  }

  /** Runs a command of one application; a UsageError is a refusal, anything else escapes. */
  request(name: SideName, run: (s: Session, now: number) => unknown): EngineOutcome {
    let outcome: EngineOutcome;
    try {
      outcome = { ok: true, value: run(this.session(name), this.pair.now) };
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      outcome = { ok: false, code: e.code };
    }
    this.collect();
    return outcome;
  }

  /** Delivers frames going `dir` up to and including the next session frame the model knows. */
  deliver(dir: Direction): void {
    const to = dir === 'ab' ? this.pair.b.conn : this.pair.a.conn;
    for (let f = this.flight[dir].shift(); f !== undefined; f = this.flight[dir].shift()) {
      to.handleBytes(this.pair.now, encodeFrame(f));
      if (SPDU_OF[f.type] !== undefined) break;
    }
    this.collect();
  }

  /** The SPDU names in flight going `dir`, as the model names them. */
  inFlight(dir: Direction): SpduName[] {
    return this.flight[dir].flatMap((f) => SPDU_OF[f.type] ?? []);
  }

  /** Moves written bytes into flight and application events into `told`. */
  collect(): void {
    for (const [name, dir] of [
      ['a', 'ab'],
      ['b', 'ba'],
    ] as const) {
      const conn = this.pair[name].conn;
      for (let bytes = conn.pollTransmit(); bytes !== null; bytes = conn.pollTransmit()) {
        this.#decoders[dir].push(bytes);
        for (let f = this.#decoders[dir].next(); f !== null; f = this.#decoders[dir].next()) this.flight[dir].push(f);
      }
      for (let e = conn.pollEvent(); e !== null; e = conn.pollEvent()) this.#observe(name, e);
    }
  }

  #observe(name: SideName, e: ConnectionEvent): void {
    switch (e.type) {
      case 'message':
        e.session.consume(this.pair.now, e.credit);
        if (e.kind === 'normal') this.told[name].push(`msg:${text(e.data)}`);
        else this.oddities.push(`${name}: ${e.kind} message`);
        return;
      case 'dialogue': {
        const told = tell(e.event);
        if (told !== null) this.told[name].push(told);
        return;
      }
      case 'resumed':
        if (name === 'b') this.#duplicates = e.stats.duplicatesSuppressed;
        return;
      case 'release-requested':
      case 'release-refused':
        this.told[name].push(e.type);
        return;
      case 'closed':
        if (e.reason.kind !== 'released') this.oddities.push(`${name}: closed ${JSON.stringify(e.reason)}`);
        return;
      case 'connection-closed':
        this.oddities.push(`${name}: connection closed ${e.code} ${e.message}`);
        return;
      default:
        return;
    }
  }
}

/** A dialogue event in the model's words; null for those the model does not follow. */
function tell(d: DialogueEvent): string | null {
  switch (d.kind) {
    case 'tokens-given':
    case 'tokens-requested':
      return `${d.kind}:${d.tokens}`;
    case 'sync-minor':
      return `sync-minor:${d.serial}:${d.confirmRequested ? 'c' : '-'}`;
    case 'sync-minor-confirmed':
    case 'sync-major':
    case 'resynchronized':
    case 'activity-end':
      return `${d.kind}:${d.serial}`;
    case 'sync-major-confirmed':
      return `sync-major-confirmed:${d.serial}:${d.activityEnd ? 'end' : '-'}`;
    case 'resynchronize':
      return `resynchronize:${d.resync}:${d.serial}:${d.tokens}`;
    case 'resync-superseded':
    case 'activity-interrupted':
    case 'activity-discarded':
      return d.kind;
    case 'activity-start':
      return `activity-start:${text(d.id)}`;
    case 'activity-resume':
      return `activity-resume:${text(d.id)}:${text(d.oldId)}:${d.serial}`;
    case 'activity-interrupt':
    case 'activity-discard':
      return `${d.kind}:${d.reason}`;
    case 'discarded':
      return `discarded:${text(d.head)}`;
    case 'purged':
      // Nothing is ever left unsent here (every write is taken into flight at once).
      return d.messages.length === 0 ? null : `purged:${d.messages.map(text).join(',')}`;
    default:
      return `unexpected:${d.kind}`;
  }
}

function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}
