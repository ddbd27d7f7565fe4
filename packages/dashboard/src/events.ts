/**
 * `/api/events`: Server-Sent Events to the dashboard pages. A `snapshot` every second (totals for
 * the charts, sessions by state, the live table) and `session-open`, `session-suspend`,
 * `session-resume` and `session-close` as they happen. The one-second timer runs only while a
 * page listens. Bounded: at most `clientsMax` pages, and a page that stops reading (over
 * `bufferedBytesMax` unsent) is dropped; it reconnects by itself (EventSource).
 */
import type { ServerResponse } from 'node:http';
import { sendError } from './http.js';

export interface EventHubOptions {
  snapshot: () => unknown;
  intervalMs?: number;
  clientsMax?: number;
  bufferedBytesMax?: number;
}

export class EventHub {
  readonly #clients = new Set<ServerResponse>();
  readonly #snapshot: () => unknown;
  readonly #intervalMs: number;
  readonly #clientsMax: number;
  readonly #bufferedBytesMax: number;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: EventHubOptions) {
    this.#snapshot = options.snapshot;
    this.#intervalMs = options.intervalMs ?? 1_000;
    this.#clientsMax = options.clientsMax ?? 64;
    this.#bufferedBytesMax = options.bufferedBytesMax ?? 1 << 20;
  }

  get clientCount(): number {
    return this.#clients.size;
  }

  accept(res: ServerResponse): void {
    if (this.#clients.size >= this.#clientsMax) {
      sendError(res, 503, 'TOO_MANY_LISTENERS', `at most ${this.#clientsMax} event streams at once`, {
        'retry-after': '5',
      });
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.#clients.add(res);
    const gone = () => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) this.#stopTimer();
    };
    // The response's close, not the request's: a request closes once its (empty) body was read.
    res.on('close', gone);
    res.on('error', gone);
    this.#send(res, 'snapshot', this.#snapshot());
    this.#timer ??= setInterval(() => this.broadcast('snapshot', this.#snapshot()), this.#intervalMs);
    this.#timer.unref();
  }

  broadcast(event: string, data: unknown): void {
    if (this.#clients.size === 0) return;
    for (const res of this.#clients) this.#send(res, event, data);
  }

  close(): void {
    this.#stopTimer();
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  #send(res: ServerResponse, event: string, data: unknown): void {
    if (res.writableLength > this.#bufferedBytesMax) {
      this.#clients.delete(res);
      res.destroy();
      return;
    }
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  #stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
