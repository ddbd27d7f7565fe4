/**
 * The application plans: each session's plan (profile, messages each way, who releases, the
 * scenario it runs) and the AppEnd that carries one side's plan and what it saw. Planner draws
 * them from the world's streams, in the order the world always drew them.
 */
import type { CloseReason, MessageKind, Session } from '@liaison/core';
import { DialogueEnd, type DialoguePlan, drawDialoguePlan } from './dialogue.js';
import { HEADER_BYTES, type SentMessage, type Stream } from './messages.js';
import type { Rng } from './random.js';
import type { WorldOptions } from './world-options.js';
import type { WorldStats } from './world-stats.js';

/** The most bytes of an expedited message (the header included). */
const EXPEDITED_MAX = 14;

export type EndRole = 'client' | 'server';

/** One side of one session, with its application's plan and what it saw. */
export class AppEnd {
  session: Session | null = null;
  released = false;
  releaseRequested = false;
  closeReason: CloseReason | null = null;
  /** Messages this side still has to send. */
  remaining: SentMessage[] = [];
  unconsumedBytes = 0;
  unconsumedPeak = 0;
  sendTimerArmed = false;
  /** Consumes nothing until the other sessions of its group have closed (the isolation check). */
  stuck = false;
  /** Credit held while stuck, and since when. */
  heldCredit = 0;
  stuckSince = 0;
  /** The abort is scheduled (its plan's point was reached). */
  abortArmed = false;
  /** The user data this end aborted with, once it called abort(). */
  abortedWith: Uint8Array | null = null;
  /** Releases this end asked for; release requests it refused; refusals of its own it was told of. */
  releaseCalls = 0;
  refusalsMade = 0;
  refusalsSeen = 0;
  /** Tokens, serials and purges of a dialogue session's end. */
  dialogue: DialogueEnd | null = null;

  constructor(
    readonly role: EndRole,
    readonly plan: SessionPlan,
    readonly out: Stream,
    readonly slow: boolean,
  ) {}

  get releases(): boolean {
    return this.plan.releaser === 'both' || this.plan.releaser === this.role;
  }
}

/** plain: the mixed plan; bulk: few, mostly large messages; chatty: many small ones; early: releases soon. */
export type Profile = 'plain' | 'bulk' | 'chatty' | 'early';

export interface SessionPlan {
  id: number;
  clientId: number;
  /** Sessions of one group share the client's connection (one group at a time). */
  group: number;
  profile: Profile;
  /** Opened this long after its group's connection started (0: with the first ones). */
  openAfterMs: number;
  /** Which end of this session stops consuming (isolation check), if any. */
  stuckRole: EndRole | null;
  releaser: EndRole | 'both';
  /** One end aborts once it has sent `afterSent` messages and `delayMs` more have passed. */
  abort: {
    role: EndRole;
    afterSent: number;
    delayMs: number;
    userData: Uint8Array;
    /** Sooner, if it happens first: when the end is suspended, or (a client) as it starts resuming. */
    on: 'suspended' | 'resuming' | null;
  } | null;
  /** Negotiates NEGOTIATED_RELEASE; the first release request is refused, a later one accepted. */
  refuseRelease: boolean;
  /** A half-duplex session with tokens, sync points and resynchronizations (dialogue.ts). */
  dialogue: DialoguePlan | null;
  c2s: Stream;
  s2c: Stream;
  client: AppEnd;
  server: AppEnd | null;
}

/** Both ends of the plan are closed (the server end, if it never came, counts as closed). */
export function planClosed(p: SessionPlan): boolean {
  return p.client.closeReason !== null && (p.server === null || p.server.closeReason !== null);
}

/** The streams the planner draws from: the plan's own, the scenarios', the dialogue sessions'. */
export interface PlanRngs {
  world: Rng;
  scenarios: Rng;
  dialogue: Rng;
}

/** Draws session plans and message lists; `plans` gets every plan, numbered from 1. */
export class Planner {
  readonly #options: WorldOptions;
  readonly #rngs: PlanRngs;
  readonly #plans: SessionPlan[];
  readonly #stats: WorldStats;

  constructor(options: WorldOptions, rngs: PlanRngs, plans: SessionPlan[], stats: WorldStats) {
    this.#options = options;
    this.#rngs = rngs;
    this.#plans = plans;
    this.#stats = stats;
  }

  /** A new plan with its client end; the server end is made when its connect request arrives. */
  plan(clientId: number, group: number, profile: Profile, openAfterMs: number): SessionPlan {
    const id = this.#plans.length + 1;
    const o = this.#options;
    const rng = this.#rngs.world;
    const c2s: Stream = { name: `s${id} c->s`, sent: [], deliveredData: [], deliveredExpedited: [], purged: new Set() };
    const s2c: Stream = { name: `s${id} s->c`, sent: [], deliveredData: [], deliveredExpedited: [], purged: new Set() };
    let releaser: SessionPlan['releaser'] = rng.chance(0.1) ? 'both' : rng.chance(0.5) ? 'client' : 'server';
    // The scenarios come from their own stream, after the plan's own draws.
    const sr = this.#rngs.scenarios;
    const scenario = sr.float();
    let abort: SessionPlan['abort'] = null;
    const refuseRelease = scenario >= o.userAbortShare && scenario < o.userAbortShare + o.refusedReleaseShare;
    if (refuseRelease && releaser === 'both') releaser = sr.chance(0.5) ? 'client' : 'server';
    const dr = this.#rngs.dialogue;
    const dialogue =
      scenario >= o.userAbortShare + o.refusedReleaseShare && dr.chance(o.dialogueShare) ? drawDialoguePlan(dr) : null;
    // Only the holder of every token releases: one releasing end.
    if (dialogue && releaser === 'both') releaser = dr.chance(0.5) ? 'client' : 'server';
    const plan: SessionPlan = {
      id,
      clientId,
      group,
      profile,
      openAfterMs,
      stuckRole: null,
      releaser,
      abort,
      refuseRelease,
      dialogue,
      c2s,
      s2c,
      client: new AppEnd('client', null as unknown as SessionPlan, c2s, rng.chance(o.slowConsumerChance)),
      server: null,
    };
    (plan.client as { plan: SessionPlan }).plan = plan;
    if (dialogue) {
      plan.client.dialogue = new DialogueEnd(dialogue);
      this.#stats.dialogueSessions++;
    }
    plan.client.remaining = this.messages(profile);
    if (scenario < o.userAbortShare) {
      // The point: after some of its sends (none, some, all), then a delay (none, short, long
      // enough to meet a suspension or a resume). The server's count is drawn against the
      // client's plan length, capped by its own when it has its plan.
      const role: EndRole = sr.chance(0.5) ? 'client' : 'server';
      const n = plan.client.remaining.length;
      const w = sr.float();
      // Waiting for a suspension (or a resume): the fallback point is late, so that faults come first.
      const on = w < 0.2 ? 'suspended' : w < 0.4 && role === 'client' ? 'resuming' : null;
      const afterSent = on ? n : sr.chance(0.25) ? 0 : sr.chance(0.3) ? n : sr.int(0, n);
      const d = sr.float();
      const delayMs = on ? sr.logInt(1_000, 8_000) : d < 0.3 ? 0 : d < 0.7 ? sr.int(1, 50) : sr.logInt(50, 8_000);
      abort = { role, afterSent, delayMs, userData: sr.bytes(sr.int(0, 24)), on };
      plan.abort = abort;
    }
    this.#plans.push(plan);
    this.#stats.sessionsPlanned++;
    return plan;
  }

  /** The messages one end sends: how many, how large and of which kinds, as its profile says. */
  messages(profile: Profile): SentMessage[] {
    const o = this.#options;
    const rng = this.#rngs.world;
    // Multiplexed sessions are many: each carries less, so that a seed costs about the same.
    const n =
      profile === 'plain'
        ? rng.int(o.messagesMin, o.messagesMax)
        : profile === 'bulk'
          ? rng.int(Math.min(1, o.messagesMax), Math.max(1, Math.ceil(o.messagesMax / 4)))
          : profile === 'chatty'
            ? rng.int(o.messagesMin, Math.ceil(o.messagesMax / 2))
            : rng.int(0, 2);
    const largeChance = profile === 'bulk' ? 0.6 : profile === 'chatty' ? 0 : o.largeChance;
    const out: SentMessage[] = [];
    for (let i = 0; i < n; i++) {
      const r = rng.float();
      let kind: MessageKind = 'normal';
      let bytes: number;
      if (r < o.expeditedChance) {
        kind = 'expedited';
        bytes = rng.int(HEADER_BYTES, EXPEDITED_MAX);
      } else {
        if (rng.chance(o.typedChance)) kind = 'typed';
        bytes = rng.chance(largeChance)
          ? rng.int(2_000, o.largeBytesMax)
          : rng.chance(0.3)
            ? rng.int(64, 2_000)
            : rng.int(HEADER_BYTES, 64);
      }
      out.push({ index: i, kind, bytes });
    }
    return out;
  }
}
