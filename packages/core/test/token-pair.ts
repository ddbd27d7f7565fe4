/**
 * Core test rig for named tokens: a Pair whose responder runs a NamedTokenService, as a driver
 * would (named-token-session and named-token-exact use it).
 */
import { type ConnectionEvent, NamedTokenService, type Session } from '@liaison/core';
import { Pair } from './harness.js';

const EMPTY = new Uint8Array(0);

/** A Pair whose responder accepts every session with the service's offer and feeds it its events. */
export class TokenPair {
  readonly p: Pair;
  readonly service: NamedTokenService;
  #seen = 0;

  constructor(limits = {}, offer = true) {
    this.p = new Pair();
    this.service = new NamedTokenService(limits);
    this.offer = offer;
  }
  readonly offer: boolean;

  open(): Session {
    const s = this.p.a.conn.openSession(this.p.now);
    this.pump();
    return s;
  }

  pump(): void {
    for (let i = 0; i < 100; i++) {
      this.p.pump();
      const events = this.p.b.events;
      if (this.#seen === events.length) return;
      while (this.#seen < events.length) {
        const e = events[this.#seen++] as ConnectionEvent;
        if (e.type === 'connect-request') {
          e.session.accept(this.p.now, EMPTY, [], 0, this.offer ? { namedTokens: this.service.offer } : {});
        }
        this.service.handleEvent(this.p.now, e);
      }
    }
    throw new Error('no quiescence');
  }

  granted(s: Session): string[] {
    return this.p.a.events
      .filter((e) => e.type === 'named-token-granted' && e.session === s)
      .map((e) => (e as { name: string }).name);
  }

  refused(s: Session): { name: string; code: number }[] {
    return this.p.a.events
      .filter((e) => e.type === 'named-token-refused' && e.session === s)
      .map((e) => ({ name: (e as { name: string }).name, code: (e as { code: number }).code }));
  }

  /** The responder's Session for an initiator session. */
  peer(s: Session): Session {
    return this.p.b.conn.session(s.channel) as Session;
  }

  /** The sessions given a named-token frame to send since the last call (pollWoken). */
  woken(): Session[] {
    const out: Session[] = [];
    for (let s = this.service.pollWoken(); s !== null; s = this.service.pollWoken()) out.push(s);
    return out;
  }

  /** The grants made since the last call (pollGrant). */
  grants(): { name: string; owner: object }[] {
    const out: { name: string; owner: object }[] = [];
    for (let g = this.service.pollGrant(); g !== null; g = this.service.pollGrant()) out.push(g);
    return out;
  }
}
