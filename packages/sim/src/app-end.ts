/**
 * The application at each end of every session, as the plan says: it accepts (server), sends in
 * paced bursts, consumes (sometimes slowly, or not at all while stuck), releases or answers a
 * release, refuses one when the plan says so, aborts at its drawn point, and runs the dialogue
 * sessions' turns. It reacts to the engines' events, which the world hands it.
 */
import {
  AbortCode,
  type CloseReason,
  type ConnectionEvent,
  type DialogueEvent,
  FrameType,
  type MessageKind,
  type Session,
} from '@liaison/core';
import type { Client, Driven } from './clients.js';
import { askTokens, type DialogueContext, DialogueEnd, holderTurn, onDialogueEvent } from './dialogue.js';
import { checkMessage, HEADER_BYTES, indexOf, messageBytes, type SentMessage } from './messages.js';
import type { NamedTokenScenario } from './named-tokens.js';
import type { Network } from './network.js';
import { AppEnd, type EndRole, type Profile, type SessionPlan } from './plan.js';
import type { Rng } from './random.js';
import { InvariantViolation } from './violation.js';
import type { WorldOptions } from './world-options.js';
import type { WorldStats } from './world-stats.js';

const EMPTY = new Uint8Array(0);

/** What the application reads and calls of its world (the other parts are reached through it). */
export interface AppHost {
  readonly now: number;
  readonly options: WorldOptions;
  readonly stats: WorldStats;
  readonly network: Network;
  readonly tokens: NamedTokenScenario;
  readonly clients: readonly Client[];
  readonly plans: readonly SessionPlan[];
  /** Every session's end, by session (the world's bounds check reads it too). */
  readonly ends: Map<Session, AppEnd>;
  /** The world's plan stream (paces, consumer delays) and the scenarios' stream (more messages after a refusal). */
  readonly rng: Rng;
  readonly scenarioRng: Rng;
  readonly dialogueCtx: DialogueContext;
  /** Events are being drained (see World): a dialogue end acts only once all were read. */
  readonly draining: boolean;
  trace(now: number, what: string): void;
  /** The server end's messages, drawn when its session arrives (Planner.messages). */
  messages(profile: Profile): SentMessage[];
  /** The isolation check (isolation.ts). */
  stick(end: AppEnd): void;
  groupStuck(end: AppEnd): boolean;
  checkStuck(group: SessionPlan[]): void;
  /** The clients (clients.ts). */
  scheduleReconnect(now: number, c: Client): void;
  suspendedOf(c: Client): SessionPlan[];
  startGroup(now: number, c: Client): void;
}

export class Application {
  readonly #w: AppHost;
  /** The forgetMessage option did its one loss. */
  #forgotten = false;
  /** A broken-on-purpose option did its one corruption (forgeTokenGive, replaySyncEvent). */
  #corrupted = false;

  constructor(host: AppHost) {
    this.#w = host;
  }

  /** One event of an engine (a Connection's, or a SessionTable's with clientId -1 for the server). */
  onEvent(side: EndRole, clientId: number, e: ConnectionEvent, d: Driven | null): void {
    const now = this.#w.now;
    if (e.type === 'rtt') return;
    if (side === 'server') this.#w.tokens.onServerEvent(now, e);
    else this.#w.tokens.onClientEvent(now, e);
    if (e.type === 'connection-closed') {
      this.#w.trace(now, `${side} ${clientId} connection closed (${e.origin} ${e.code} ${e.message})`);
      if (side === 'client') {
        const c = this.#w.clients[clientId] as Client;
        if (d?.conn === c.conn && this.#w.suspendedOf(c).length > 0) this.#w.scheduleReconnect(now, c);
      }
      return;
    }
    if (e.type === 'connect-request') {
      const id =
        e.request.userData.byteLength === 4
          ? new DataView(e.request.userData.buffer, e.request.userData.byteOffset, 4).getUint32(0)
          : 0;
      const plan = this.#w.plans[id - 1];
      if (!plan || plan.server) throw new InvariantViolation('world', `connect request for unknown plan ${id}`);
      const end = new AppEnd('server', plan, plan.s2c, this.#w.rng.chance(this.#w.options.slowConsumerChance));
      end.remaining = this.#w.messages(plan.profile);
      if (plan.dialogue) end.dialogue = new DialogueEnd(plan.dialogue);
      end.session = e.session;
      if (plan.stuckRole === 'server') this.#w.stick(end);
      plan.server = end;
      this.#w.ends.set(e.session, end);
      this.#w.trace(now, `server accepts session ${plan.id} on channel ${e.channel}`);
      // The transport may have died since the request was queued: the closed event follows.
      if (e.session.state !== 'awaiting-response') return;
      e.session.accept(now, EMPTY, [], 0, { namedTokens: this.#w.tokens.offer });
      this.#pumpSends(end);
      this.armAbort(end);
      return;
    }
    const end = this.#w.ends.get(e.session);
    if (!end) throw new InvariantViolation('world', `${e.type} event for a session the world does not know`);
    const tag = `${end.role} s${end.plan.id}`;
    switch (e.type) {
      case 'accepted':
        this.#w.trace(now, `${tag} accepted`);
        this.#w.tokens.opened(end.plan);
        if (end.role === 'client' && end.plan.stuckRole === 'client') this.#w.stick(end);
        this.#pumpSends(end);
        return;
      case 'message':
        return this.#onMessage(end, e.kind, e.data, e.credit);
      case 'writable':
        this.#pumpSends(end);
        return;
      case 'dialogue': {
        const d = end.dialogue;
        if (!d) throw new InvariantViolation('world', `${tag}: dialogue event ${e.event.kind} in a plain session`);
        if (e.event.kind === 'purged') this.#w.stats.messagesPurged += e.event.messages.length;
        if (e.event.kind === 'purged' || e.event.kind === 'discarded') {
          const stream = e.event.kind === 'purged' ? end.out : end.role === 'client' ? end.plan.s2c : end.plan.c2s;
          for (const m of e.event.kind === 'purged' ? e.event.messages : [e.event.head]) stream.purged.add(indexOf(m));
          this.#w.trace(now, `${tag} ${e.event.kind} ${e.event.kind === 'purged' ? e.event.messages.length : 1}`);
          return;
        }
        this.#w.trace(now, `${tag} ${e.event.kind}`);
        onDialogueEvent(this.#w.dialogueCtx, d, e.session, tag, e.event);
        if (!this.#corrupted) this.#corruptDialogue(now, end, d, tag, e.event);
        this.#pumpSends(end);
        this.maybeFinish(end);
        return;
      }
      case 'release-requested':
        this.#w.trace(now, `${tag} release requested`);
        end.releaseRequested = true;
        this.maybeFinish(end);
        return;
      case 'release-refused': {
        if (!end.plan.refuseRelease || end.releaseCalls !== 1 || end.refusalsSeen > 0) {
          throw new InvariantViolation(
            'world',
            `${tag}: release refused (plan refuses: ${end.plan.refuseRelease}, releases asked ${end.releaseCalls}, ` +
              `refusals seen ${end.refusalsSeen})`,
          );
        }
        end.refusalsSeen++;
        end.released = false;
        // It goes on exchanging: a few more messages, then it releases again.
        const rng = this.#w.scenarioRng;
        const more = rng.int(1, 5);
        for (let i = 0; i < more; i++) {
          end.remaining.push({ index: end.out.sent.length + i, kind: 'normal', bytes: rng.int(HEADER_BYTES, 3_000) });
        }
        this.#w.trace(now, `${tag} release refused: sends ${more} more`);
        this.#pumpSends(end);
        return;
      }
      case 'suspended': {
        this.#w.stats.suspensions++;
        this.#w.trace(now, `${tag} suspended (${e.reason})`);
        if (end.plan.abort?.role === end.role && end.plan.abort.on === 'suspended') this.abort(now, end);
        if (end.role === 'client') this.#w.scheduleReconnect(now, this.#w.clients[end.plan.clientId] as Client);
        return;
      }
      case 'resumed':
        this.#w.stats.resumes++;
        this.#w.trace(
          now,
          `${tag} resumed (replayed ${e.stats.replayedMessages}, peer ${e.stats.peerReplayedMessages})`,
        );
        if (end.role === 'client') (this.#w.clients[end.plan.clientId] as Client).reconnect.succeeded();
        this.#pumpSends(end);
        return;
      case 'closed':
        return this.#onClosed(end, e.reason);
      default:
        return;
    }
  }

  #onMessage(end: AppEnd, kind: MessageKind, data: Uint8Array, credit: number): void {
    const stream = end.role === 'client' ? end.plan.s2c : end.plan.c2s;
    if (
      this.#w.options.forgetMessage &&
      !this.#forgotten &&
      end.role === 'client' &&
      stream.deliveredData.length === 2
    ) {
      // Broken on purpose: the application "loses" a message it was given.
      this.#forgotten = true;
      (end.session as Session).consume(this.#w.now, credit);
      return;
    }
    const index = checkMessage(stream, kind, data);
    (kind === 'expedited' ? stream.deliveredExpedited : stream.deliveredData).push(index);
    stream.lastDeliveryAt = this.#w.now;
    this.#w.stats.messagesDelivered++;
    this.#w.trace(this.#w.now, `${end.role} s${end.plan.id} got ${kind} #${index} ${data.byteLength}B`);
    if (end.stuck || (this.#w.options.stuckBlocksGroup && this.#w.groupStuck(end))) {
      end.heldCredit += credit;
      end.unconsumedBytes += credit;
      end.unconsumedPeak = Math.max(end.unconsumedPeak, end.unconsumedBytes);
      return this.maybeFinish(end);
    }
    if (!end.slow) {
      (end.session as Session).consume(this.#w.now, credit);
      return this.maybeFinish(end);
    }
    // Unconsumed credit (payload plus the per-frame charge) is what the window bounds.
    end.unconsumedBytes += credit;
    end.unconsumedPeak = Math.max(end.unconsumedPeak, end.unconsumedBytes);
    const n = credit;
    this.#w.network.schedule(this.#w.now + this.#w.rng.int(1, 200), (t) => {
      end.unconsumedBytes -= n;
      const s = end.session as Session;
      if (s.state === 'closed') return;
      s.consume(t, n);
      this.maybeFinish(end);
    });
  }

  /** Sends a burst of the plan's messages while the session takes them, then paces the rest. */
  #pumpSends(end: AppEnd): void {
    const s = end.session;
    if (!s || end.sendTimerArmed) return;
    const burst = this.#w.rng.int(1, 6);
    for (let i = 0; i < burst && end.remaining.length > 0 && s.writable; i++) {
      // A dialogue end sends normal data only with the data token (typed and expedited need none).
      if (end.dialogue && (end.remaining[0] as SentMessage).kind === 'normal' && !canSendNormal(s)) break;
      const m = end.remaining.shift() as SentMessage;
      s.send(this.#w.now, m.kind, messageBytes(end.out, m));
      end.out.sent.push(m);
      this.#w.stats.messagesSent++;
      this.#w.stats.bytesSent += m.bytes;
    }
    if (end.plan.abort) this.armAbort(end);
    if (end.dialogue && s.state === 'open' && this.#w.draining) {
      this.#turnSoon(end);
      if (end.remaining.length > 0 && (end.remaining[0] as SentMessage).kind === 'normal' && !canSendNormal(s)) return;
    } else if (end.dialogue && s.state === 'open') {
      const blocked =
        end.remaining.length > 0 && (end.remaining[0] as SentMessage).kind === 'normal' && !canSendNormal(s);
      const tag = `${end.role} s${end.plan.id}`;
      const normalLeft = end.remaining.filter((m) => m.kind === 'normal').length;
      holderTurn(this.#w.dialogueCtx, end.dialogue, s, tag, normalLeft, end.releases);
      if (blocked && !canSendNormal(s)) {
        // Waits for the tokens (or a confirmation): a dialogue event calls again.
        if (!s.dialogue?.owns('data')) askTokens(this.#w.dialogueCtx, end.dialogue, s, tag);
        return;
      }
    }
    if (end.remaining.length > 0) {
      if (s.writable) {
        end.sendTimerArmed = true;
        this.#w.network.schedule(this.#w.now + this.#w.rng.int(0, 40), () => {
          end.sendTimerArmed = false;
          this.#pumpSends(end);
        });
      }
      return; // not writable: the writable (or resumed) event calls again
    }
    this.maybeFinish(end);
  }

  /** Releases, or answers the peer's release, once everything is sent (and, answering, consumed). */
  maybeFinish(end: AppEnd): void {
    const s = end.session;
    if (s && end.plan.refuseRelease && end.refusalsMade === 0 && s.state === 'release-requested') {
      // The first release request is refused (as soon as the application sees the state): it goes on.
      end.refusalsMade++;
      this.#w.stats.releasesRefused++;
      this.#w.trace(this.#w.now, `${end.role} s${end.plan.id} refuses the release`);
      s.respondRelease(this.#w.now, false, EMPTY);
      this.#pumpSends(end);
      return;
    }
    if (!s || end.remaining.length > 0 || s.state === 'closed') return;
    if (end.plan.abort?.role === end.role) {
      // An aborting end neither releases nor answers a release: it aborts.
      this.armAbort(end);
      return;
    }
    if (s.state === 'release-requested' && end.unconsumedBytes === 0) {
      this.#w.trace(this.#w.now, `${end.role} s${end.plan.id} accepts the release`);
      s.respondRelease(this.#w.now, true, EMPTY);
    } else if (s.state === 'open' && end.releases && !end.released) {
      if (end.dialogue && !this.#mayRelease(end, s)) return;
      end.released = true;
      end.releaseCalls++;
      this.#w.trace(this.#w.now, `${end.role} s${end.plan.id} releases`);
      s.release(this.#w.now, EMPTY);
    }
  }

  /** The end's dialogue turn, once the events now queued were all read. */
  #turnSoon(end: AppEnd): void {
    const d = end.dialogue as DialogueEnd;
    if (d.turnPending) return;
    d.turnPending = true;
    this.#w.network.schedule(this.#w.now, () => {
      d.turnPending = false;
      this.#pumpSends(end);
      this.maybeFinish(end);
    });
  }

  /** A dialogue releaser needs every token, no activity and nothing pending: asks or waits until then. */
  #mayRelease(end: AppEnd, s: Session): boolean {
    const dl = s.dialogue;
    const d = end.dialogue as DialogueEnd;
    if (!dl) return true;
    if (this.#w.draining) {
      this.#turnSoon(end);
      return false;
    }
    const tag = `${end.role} s${end.plan.id}`;
    if ((dl.mine & dl.available) !== dl.available) {
      askTokens(this.#w.dialogueCtx, d, s, tag);
      return false;
    }
    if (dl.activity !== null || dl.majorPending !== null || dl.awaiting !== null) {
      holderTurn(this.#w.dialogueCtx, d, s, tag, 0, true);
      return false;
    }
    return true;
  }

  /** Schedules the end's planned abort once it has sent enough; abort() itself comes after the delay. */
  armAbort(end: AppEnd): void {
    const a = end.plan.abort;
    if (!a || a.role !== end.role || end.abortArmed || !end.session) return;
    if (end.out.sent.length < a.afterSent && end.remaining.length > 0) return;
    end.abortArmed = true;
    this.#w.network.schedule(this.#w.now + a.delayMs, (t) => this.abort(t, end));
  }

  /** The end aborts now (once), unless it is already closed. */
  abort(now: number, end: AppEnd): void {
    const a = end.plan.abort;
    const s = end.session;
    if (!a || !s || end.abortedWith) return;
    const tag = `${end.role} s${end.plan.id}`;
    if (s.state === 'closed') {
      this.#w.trace(now, `${tag} would abort, but it is closed`);
      return;
    }
    this.#w.trace(
      now,
      `${tag} aborts (${s.state}/${s.link}, sent ${end.out.sent.length}, ${a.userData.byteLength}B user data)`,
    );
    end.abortedWith = a.userData;
    this.#w.stats.userAborts++;
    s.abort(now, a.userData);
  }

  #onClosed(end: AppEnd, reason: CloseReason): void {
    end.closeReason = reason;
    const detail =
      reason.kind === 'aborted'
        ? `aborted ${reason.origin} ${reason.by} code=${reason.code} (${reason.message}) undelivered=${reason.undelivered}` +
          (reason.by === 'user' ? ` userData=${reason.userData.byteLength}B` : '')
        : reason.kind;
    this.#w.trace(this.#w.now, `${end.role} s${end.plan.id} closed: ${detail}`);
    if (end.stuck) {
      end.stuck = false;
      end.unconsumedBytes -= end.heldCredit;
      end.heldCredit = 0;
    }
    const c = this.#w.clients[end.plan.clientId] as Client;
    const group = c.groups[end.plan.group] as SessionPlan[];
    this.#w.checkStuck(group);
    if (end.role !== 'client') return;
    if (reason.kind === 'released') this.#w.stats.sessionsReleased++;
    else this.#w.stats.sessionsLost++;
    if (c.group !== end.plan.group || !group.every((p) => p.client.closeReason !== null)) return;
    // The group is over: its connection goes, the next group gets a new one.
    c.conn?.close(this.#w.now, AbortCode.SHUTDOWN, 'sessions over');
    c.conn = null;
    c.link = null;
    c.reconnect.succeeded();
    c.group++;
    this.#w.network.schedule(this.#w.now + this.#w.rng.int(0, 100), (t) => this.#w.startGroup(t, c));
  }

  /** The broken-on-purpose dialogue options (checker tests only); each corrupts one thing, once. */
  #corruptDialogue(now: number, end: AppEnd, d: DialogueEnd, tag: string, e: DialogueEvent): void {
    if (this.#w.options.replaySyncEvent && (e.kind === 'sync-minor' || e.kind === 'sync-major')) {
      this.#corrupted = true;
      this.#w.trace(now, `${tag} ${e.kind} ${e.serial} delivered twice (broken on purpose)`);
      onDialogueEvent(this.#w.dialogueCtx, d, end.session as Session, tag, e);
    }
    const giver = end.role === 'client' ? end.plan.server : end.plan.client;
    const g = giver?.session;
    if (this.#w.options.forgeTokenGive && e.kind === 'tokens-given' && g?.state === 'open' && g.dialogue) {
      this.#corrupted = true;
      g.handleFrame(now, {
        type: FrameType.GIVE_TOKENS,
        channel: g.channel,
        tokens: e.tokens,
        code: 0,
        serial: 0,
        id: new Uint8Array(0),
        oldId: new Uint8Array(0),
        userData: new Uint8Array(0),
      });
      if ((g.dialogue.mine & e.tokens) !== 0)
        this.#w.trace(now, `${tag}'s peer took a forged give (broken on purpose)`);
    }
  }
}

/** Whether a dialogue session may send normal data now (the data token, nothing to confirm first). */
function canSendNormal(s: Session): boolean {
  return s.dialogue?.normalDataBlock() == null;
}
