/**
 * The Prometheus metrics of one watched server, in a prom-client Registry of its own (never the
 * global one: a process may run two dashboards, or use prom-client itself), with prom-client's
 * default process metrics.
 *
 * - Gauges are read at scrape time from the live sessions (by state, connections).
 * - Bytes and messages are counters fed from each session's `stats` by difference: the tally
 *   remembers what it last counted of each session, and a closing session is counted one last
 *   time, so the totals never go back when sessions end.
 * - Opens, closes, suspends, resumes, refusals and protocol errors come from the tracker.
 * - Resume latency is the resume's `downtimeMs` (from the suspension to the resume, measured by the
 *   engine). Handshake latency (connect request to open) is observed when the open message carries
 *   `handshakeMs`; @liaison/node versions that do not publish it leave that histogram empty.
 */
import type { Server, Session, SessionStats } from '@liaison/node';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SessionHappening, SessionTracker } from './tracker.js';

/** Every state a session is listed under: the X.225 states, or its link while not on a transport. */
export const SESSION_STATES = [
  'connecting',
  'awaiting-response',
  'open',
  'releasing',
  'release-requested',
  'disconnecting',
  'suspended',
  'resuming',
  'awaiting-resumed',
] as const;

/** The state a dashboard shows: a session off its transport shows its link (suspended, resuming). */
export function displayState(session: Session): string {
  return session.link === 'attached' ? session.state : session.link;
}

type Counted = Pick<
  SessionStats,
  'bytesSent' | 'bytesReceived' | 'messagesSent' | 'messagesReceived' | 'framesRetransmitted'
>;

/** The running totals the charts plot (the same numbers as the counters). */
export interface Totals {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  resumes: number;
  opened: number;
  closed: number;
}

export class DashboardMetrics {
  readonly registry = new Registry();
  readonly totals: Totals = {
    bytesIn: 0,
    bytesOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    resumes: 0,
    opened: 0,
    closed: 0,
  };
  readonly #tracker: SessionTracker;
  readonly #counted = new WeakMap<Session, Counted>();
  readonly #bytes: Counter<'direction'>;
  readonly #messages: Counter<'direction'>;
  readonly #retransmitted: Counter;
  readonly #opened: Counter;
  readonly #closed: Counter<'kind'>;
  readonly #suspends: Counter;
  readonly #resumes: Counter;
  readonly #refusals: Counter<'code'>;
  readonly #protocolErrors: Counter;
  readonly #handshake: Histogram;
  readonly #resume: Histogram;

  constructor(server: Server, tracker: SessionTracker) {
    this.#tracker = tracker;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const tally = () => this.tally();
    new Gauge({
      name: 'liaison_sessions',
      help: 'Sessions the server holds, by state (suspended and resuming: off their transport)',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = new Map<string, number>(SESSION_STATES.map((s) => [s, 0]));
        for (const { session } of tracker.sessions()) {
          const state = displayState(session);
          counts.set(state, (counts.get(state) ?? 0) + 1);
        }
        for (const [state, n] of counts) this.set({ state }, n);
        tally();
      },
    });
    new Gauge({
      name: 'liaison_connections',
      help: 'Transport connections open',
      registers,
      collect() {
        this.set(server.connectionCount);
      },
    });
    new Gauge({
      name: 'liaison_resumable_sessions',
      help: 'Sessions the server keeps resume state for (established and suspended)',
      registers,
      collect() {
        this.set(server.resumableSessions);
      },
    });
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers });
    this.#bytes = counter('liaison_bytes_total', 'Message payload bytes, in (received) and out (sent)', ['direction']);
    this.#messages = counter('liaison_messages_total', 'Messages (data frames), in and out', ['direction']);
    this.#retransmitted = counter('liaison_frames_retransmitted_total', 'Frames sent again after resumes');
    this.#opened = counter('liaison_sessions_opened_total', 'Sessions opened');
    this.#closed = counter('liaison_sessions_closed_total', 'Sessions ended, by how they ended', ['kind']);
    this.#suspends = counter('liaison_suspends_total', 'Sessions whose transport broke (they wait to resume)');
    this.#resumes = counter('liaison_resumes_total', 'Sessions resumed on a new transport');
    this.#refusals = counter('liaison_refusals_total', 'Connect requests refused, by refuse code', ['code']);
    this.#protocolErrors = counter('liaison_protocol_errors_total', 'Peers that broke the protocol');
    this.#handshake = new Histogram({
      name: 'liaison_handshake_seconds',
      help: 'From the connect request to the open session',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.#resume = new Histogram({
      name: 'liaison_resume_seconds',
      help: 'Resume latency: from the suspension to the resume',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    for (const direction of ['in', 'out']) {
      this.#bytes.inc({ direction }, 0);
      this.#messages.inc({ direction }, 0);
    }
  }

  /** Counts what the live sessions moved since the last tally. */
  tally(): void {
    for (const { session } of this.#tracker.sessions()) this.#count(session);
  }

  happened(h: SessionHappening): void {
    switch (h.type) {
      case 'open':
        this.#opened.inc();
        this.totals.opened++;
        if (h.handshakeMs !== null) this.#handshake.observe(h.handshakeMs / 1000);
        return;
      case 'suspend':
        this.#suspends.inc();
        return;
      case 'resume':
        this.#resumes.inc();
        this.totals.resumes++;
        if (typeof h.stats?.downtimeMs === 'number') this.#resume.observe(h.stats.downtimeMs / 1000);
        return;
      case 'close':
        this.#count(h.tracked.session);
        this.#closed.inc({ kind: h.reason.kind });
        this.totals.closed++;
        return;
      case 'refused':
        this.#refusals.inc({ code: h.code });
        return;
      case 'protocol-error':
        this.#protocolErrors.inc();
        return;
    }
  }

  #count(session: Session): void {
    const s = session.stats;
    const before = this.#counted.get(session) ?? NOTHING_COUNTED;
    // Stats of one session only grow: a smaller number would be a bug elsewhere, never a negative count.
    const add = (counter: Counter<'direction'>, direction: 'in' | 'out', total: keyof Totals, n: number) => {
      if (n <= 0) return;
      counter.inc({ direction }, n);
      this.totals[total] += n;
    };
    add(this.#bytes, 'in', 'bytesIn', s.bytesReceived - before.bytesReceived);
    add(this.#bytes, 'out', 'bytesOut', s.bytesSent - before.bytesSent);
    add(this.#messages, 'in', 'messagesIn', s.messagesReceived - before.messagesReceived);
    add(this.#messages, 'out', 'messagesOut', s.messagesSent - before.messagesSent);
    const again = s.framesRetransmitted - before.framesRetransmitted;
    if (again > 0) this.#retransmitted.inc(again);
    this.#counted.set(session, {
      bytesSent: s.bytesSent,
      bytesReceived: s.bytesReceived,
      messagesSent: s.messagesSent,
      messagesReceived: s.messagesReceived,
      framesRetransmitted: s.framesRetransmitted,
    });
  }
}

const NOTHING_COUNTED: Counted = {
  bytesSent: 0,
  bytesReceived: 0,
  messagesSent: 0,
  messagesReceived: 0,
  framesRetransmitted: 0,
};
