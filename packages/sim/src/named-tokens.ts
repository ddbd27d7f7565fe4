/**
 * Named tokens in the simulator: the server's NamedTokenService, and client sessions that contend
 * for a couple of names while the network cuts, stalls and partitions.
 *
 * Theory of operation
 * - A seeded share of sessions (`namedTokenShare`, drawn from a stream of its own so that other
 *   draws stay as they were) asks for one of TOKEN_NAMES a drawn time after it opened, holds it
 *   for a drawn time once granted, then releases it, and may ask again. Sessions end as their plans
 *   say (release, abort, lost), whatever they hold or wait for.
 * - The server's end feeds every event of its sessions to the service (requests, releases,
 *   closes: an expired or aborted session's tokens pass to the next waiter). Local code on the
 *   server contends too (one more owner): a drawn number of times it takes a name for a while.
 * - Invariant `named-token` (checked after every settle and at every grant): for each name, at most
 *   one client session whose server end is not closed believes it holds it, and if one does the
 *   registry agrees; the registry never names a closed session; a grant never reaches a session
 *   that was not waiting for it (never lost, never doubled across resumes). A client whose server
 *   end is gone (expired while it was suspended, or aborted) may still believe it holds a name
 *   until it learns the session is over: no protocol can tell it sooner, so it is not counted.
 * - Invariant `tokens-empty` (at the end): every session closed, so the registry holds nothing.
 */
import { type ConnectionEvent, NamedTokenService, type Session } from '@liaison/core';
import type { SessionPlan } from './plan.js';
import type { Rng } from './random.js';
import { InvariantViolation } from './violation.js';

export const TOKEN_NAMES = ['printer', 'row:42'] as const;

export interface NamedTokenStats {
  /** Sessions that asked for named tokens. */
  tokenSessions: number;
  tokenAcquires: number;
  tokenGrants: number;
  /** Requests that had to wait (the name was held). */
  tokenQueued: number;
  /** Grants made by a release or a session's end to a waiting session (a handover). */
  tokenHandovers: number;
  tokenReleases: number;
}

/** What the scenario needs from its world. */
export interface TokenWorld {
  now(): number;
  schedule(at: number, fn: (now: number) => void): void;
  trace(now: number, what: string): void;
  /** Broken on purpose (checker tests): grant a held name to the next requester as well. */
  doubleGrant?: boolean;
}

interface TokenPlan {
  plan: SessionPlan;
  name: string;
  firstAfterMs: number;
  holdMs: number;
  /** Times it asks, in all. */
  rounds: number;
  asked: number;
  waiting: boolean;
}

export class NamedTokenScenario {
  readonly service = new NamedTokenService({ tokensPerSessionMax: 4, waitersPerTokenMax: 256 });
  readonly stats: NamedTokenStats = {
    tokenSessions: 0,
    tokenAcquires: 0,
    tokenGrants: 0,
    tokenQueued: 0,
    tokenHandovers: 0,
    tokenReleases: 0,
  };
  readonly #rng: Rng;
  readonly #share: number;
  readonly #world: TokenWorld;
  /** Client sessions in the scenario, by their engine session. */
  readonly #plans = new Map<Session, TokenPlan>();
  /** Server sessions whose `closed` event reached the service (and so the registry). */
  readonly #closeDelivered = new WeakSet<Session>();
  /** Server sessions given a grant behind the registry's back (doubleGrant, checker tests only). */
  readonly #doubleGranted = new Set<Session>();
  /** The owner standing for local code on the server. */
  readonly #local = { owner: 'server' };

  constructor(rng: Rng, share: number, world: TokenWorld) {
    this.#rng = rng;
    this.#share = share;
    this.#world = world;
    let at = 0;
    const rounds = share > 0 ? rng.int(0, 12) : 0;
    for (let i = 0; i < rounds; i++) {
      at += rng.logInt(1, 400);
      const name = rng.pick(TOKEN_NAMES);
      world.schedule(at, (t) => this.#localAcquire(t, name));
    }
  }

  /** The offer a server accepting a session announces. */
  get offer(): { nameBytesMax: number; tokensPerSessionMax: number } {
    return this.service.offer;
  }

  /** The client end of `plan` was accepted: maybe it takes part. */
  opened(plan: SessionPlan): void {
    const session = plan.client.session;
    if (session === null || this.#plans.has(session) || !this.#rng.chance(this.#share)) return;
    const tp: TokenPlan = {
      plan,
      name: this.#rng.pick(TOKEN_NAMES),
      firstAfterMs: this.#rng.logInt(1, 150),
      holdMs: this.#rng.logInt(20, 1_500),
      rounds: this.#rng.int(1, 3),
      asked: 0,
      waiting: false,
    };
    this.#plans.set(session, tp);
    this.stats.tokenSessions++;
    this.#world.schedule(this.#world.now() + tp.firstAfterMs, (t) => this.#acquire(t, session, tp));
  }

  /** Every event of a server-side session (the world calls it before its own handling). */
  onServerEvent(now: number, e: ConnectionEvent): void {
    if (e.type === 'rtt' || e.type === 'connection-closed' || e.type === 'connect-request') return;
    if (this.#world.doubleGrant && e.type === 'named-token-acquire' && this.service.registry.holder(e.name)) {
      // Broken on purpose: a second holder, behind the registry's back.
      this.#world.trace(now, `server grants "${e.name}" twice (broken on purpose)`);
      e.session.grantNamedToken(now, e.name);
      this.#doubleGranted.add(e.session);
      return;
    }
    if (e.type === 'closed') this.#closeDelivered.add(e.session);
    this.service.handleEvent(now, e);
    while (this.service.pollWoken() !== null) {} // the world's settle loop writes every connection
    if (e.type === 'named-token-acquire' && this.service.registry.waiting(e.name).includes(e.session)) {
      this.stats.tokenQueued++;
    }
    this.#drainGrants(now, e.type !== 'named-token-acquire');
  }

  #drainGrants(now: number, handover: boolean): void {
    for (let g = this.service.pollGrant(); g !== null; g = this.service.pollGrant()) {
      this.stats.tokenGrants++;
      if (handover) this.stats.tokenHandovers++;
      const local = g.owner === this.#local;
      this.#world.trace(now, `server grants "${g.name}"${local ? ' to local code' : ''}`);
      if (local) this.#world.schedule(now + this.#rng.logInt(1, 800), (t) => this.#localRelease(t, g.name));
    }
  }

  #localAcquire(now: number, name: string): void {
    if (this.service.registry.heldBy(this.#local).length + this.service.registry.waitingFor(this.#local).length > 0)
      return;
    this.stats.tokenAcquires++;
    this.#world.trace(now, `server code asks for "${name}"`);
    if (this.service.acquire(now, name, this.#local) === 'queued') {
      this.stats.tokenQueued++;
      return; // granted later, through pollGrant
    }
    this.service.pollGrant(); // the grant just made, handled here rather than as a hand-over
    this.stats.tokenGrants++;
    this.#world.trace(now, `server code holds "${name}"`);
    this.#world.schedule(now + this.#rng.logInt(1, 800), (t) => this.#localRelease(t, name));
  }

  #localRelease(now: number, name: string): void {
    this.stats.tokenReleases++;
    this.#world.trace(now, `server code releases "${name}"`);
    this.service.release(now, name, this.#local);
    while (this.service.pollWoken() !== null) {}
    this.#drainGrants(now, true);
  }

  /** Named-token events of a client session. */
  onClientEvent(now: number, e: ConnectionEvent): void {
    if (e.type !== 'named-token-granted' && e.type !== 'named-token-refused') return;
    const tp = this.#plans.get(e.session);
    const tag = `client s${tp?.plan.id ?? '?'}`;
    if (!tp?.waiting || e.name !== tp.name) {
      throw new InvariantViolation('named-token', `${tag}: ${e.type} for "${e.name}" it was not waiting for`);
    }
    tp.waiting = false;
    if (e.type === 'named-token-refused') {
      this.#world.trace(now, `${tag} refused "${e.name}" (code ${e.code})`);
      return;
    }
    this.#world.trace(now, `${tag} holds "${e.name}"`);
    const server = tp.plan.server?.session;
    if (server && this.#doubleGranted.has(server) && server.state !== 'closed') {
      // The checker test counts only double grants that reached a client while its server end lived.
      this.#world.trace(now, `${tag} took a double grant of "${e.name}" (broken on purpose)`);
    }
    this.check(false);
    const session = e.session;
    this.#world.schedule(now + tp.holdMs, (t) => this.#release(t, session, tp));
  }

  /**
   * @throws InvariantViolation (named-token) when two live sessions hold a name, or the registry disagrees.
   * `settled`: every engine's events have been drained. Mid-settle (from a client's grant event), a
   * server session may already be closed with its `closed` event still queued on a connection the
   * settle loop has not reached yet; the registry cannot have heard of it, so only a holder whose
   * `closed` was delivered counts then.
   */
  check(settled = true): void {
    const registry = this.service.registry;
    for (const name of TOKEN_NAMES) {
      const believers: TokenPlan[] = [];
      for (const [session, tp] of this.#plans) {
        const server = tp.plan.server?.session;
        if (!session.heldNamedTokens.includes(name) || !server || server.state === 'closed') continue;
        believers.push(tp);
      }
      const holder = registry.holder(name) as Session | undefined;
      if (holder !== undefined && holder.state === 'closed' && (settled || this.#closeDelivered.has(holder))) {
        throw new InvariantViolation('named-token', `"${name}" held by a closed session`);
      }
      if (believers.length > 1) {
        throw new InvariantViolation(
          'named-token',
          `"${name}" held by ${believers.length} live sessions at once (${believers.map((b) => `s${b.plan.id}`).join(', ')})`,
        );
      }
      const only = believers[0];
      if (only && only.plan.server?.session !== holder) {
        throw new InvariantViolation('named-token', `s${only.plan.id} holds "${name}" but the registry says otherwise`);
      }
    }
  }

  /** @throws InvariantViolation (tokens-empty) if anything is left in the registry after the run. */
  checkEnd(): void {
    if (this.service.registry.size > 0) {
      const names = TOKEN_NAMES.filter((n) => this.service.registry.holder(n) !== undefined);
      throw new InvariantViolation(
        'tokens-empty',
        `the registry still holds ${names.join(', ')} after every session ended`,
      );
    }
  }

  #acquire(now: number, session: Session, tp: TokenPlan): void {
    if (session.state !== 'open' || tp.waiting || session.heldNamedTokens.includes(tp.name)) return;
    tp.asked++;
    tp.waiting = true;
    this.stats.tokenAcquires++;
    this.#world.trace(now, `client s${tp.plan.id} asks for "${tp.name}" (${session.link})`);
    session.acquireNamedToken(now, tp.name);
  }

  #release(now: number, session: Session, tp: TokenPlan): void {
    // A session past open (releasing, closed) keeps what it holds until it closes.
    if (session.state !== 'open' || !session.heldNamedTokens.includes(tp.name)) return;
    this.stats.tokenReleases++;
    this.#world.trace(now, `client s${tp.plan.id} releases "${tp.name}" (${session.link})`);
    session.releaseNamedToken(now, tp.name);
    if (tp.asked < tp.rounds) {
      this.#world.schedule(now + this.#rng.logInt(1, 500), (t) => this.#acquire(t, session, tp));
    }
  }
}
