/**
 * What the command tells people and scripts. Human lines go to stderr; with --json every event
 * is one JSON object per line on stderr instead. Standard output carries only data (messages,
 * and `serve`'s listening address), so it can be piped.
 */
import type { Writable } from 'node:stream';
import { type CloseReason, describeCloseReason, TransportFailure, unitNames } from '@liaison/node';
import { pino } from 'pino';

export interface Reporter {
  event(name: string, fields: Record<string, unknown>, human: string): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * With --json the lines are pino's (the structured log format Node services ship to their log
 * stores): `level` (30 info, 50 error), `time` (ISO 8601), `pid`, `hostname`, `event` (what
 * happened, a stable name), `msg` (the human line), then the event's own fields. Written
 * synchronously, so a line is out before the command exits.
 */
export function makeReporter(json: boolean, quiet = false): Reporter {
  if (!json) {
    return {
      event(_name, _fields, human) {
        if (!quiet) process.stderr.write(`liaison: ${human}\n`);
      },
      error(message) {
        process.stderr.write(`liaison: ${message}\n`);
      },
    };
  }
  const log = pino(
    {
      name: 'liaison',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (_label, number) => ({ level: number }) },
    },
    pino.destination({ dest: 2, sync: true }),
  );
  return {
    event(name, fields, human) {
      log.info({ event: name, ...fields }, human);
    },
    error(message, fields = {}) {
      log.error({ event: 'error', message, ...fields }, message);
    },
  };
}

/** The option to look at, for the transport failures an option can fix. */
export function transportHint(failure: TransportFailure): string {
  switch (failure) {
    case TransportFailure.TLS_CLIENT_CERTIFICATE_REQUIRED:
      return '; give --cert and --key';
    case TransportFailure.TLS_CLIENT_CERTIFICATE_REJECTED:
      return '; check --cert';
    case TransportFailure.TLS_SERVER_CERTIFICATE_REJECTED:
      return '; check --ca and --servername';
    case TransportFailure.NOISE_KEY_MISMATCH:
      return '; check --server-key';
    default:
      return '';
  }
}

/** A close reason as plain JSON (user data as UTF-8 text when it is, else hex). */
export function reasonJson(reason: CloseReason): Record<string, unknown> {
  const base: Record<string, unknown> = {
    ...reason,
    userData: printable(reason.userData),
    description: describeCloseReason(reason),
  };
  return base;
}

export function unitsJson(bits: number): string[] {
  return unitNames(bits).map((n) => n.toLowerCase().replace(/_/g, '-'));
}

function printable(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return Buffer.from(bytes).toString('hex');
  }
}

/**
 * Writes lines to a stream in batches (one write per turn of the event loop) and honours
 * backpressure: `wait()` resolves once the stream has drained. Once the stream is gone (EPIPE:
 * the reader closed it) lines are dropped and nothing waits, so the command can end its session.
 */
export class LineWriter {
  readonly #out: Writable;
  #parts: Uint8Array[] = [];
  #bytes = 0;
  #scheduled = false;
  #draining: Promise<void> | null = null;

  constructor(out: Writable) {
    this.#out = out;
  }

  line(data: Uint8Array): void {
    this.#parts.push(data, NEWLINE);
    this.#bytes += data.byteLength + 1;
    if (this.#bytes >= 64 * 1024) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#parts.length === 0) return;
    const chunk = Buffer.concat(this.#parts, this.#bytes);
    this.#parts = [];
    this.#bytes = 0;
    if (this.#out.destroyed) return;
    if (!this.#out.write(chunk) && !this.#draining) {
      this.#draining = new Promise((resolve) => {
        const done = () => {
          this.#out.off('drain', done).off('close', done);
          this.#draining = null;
          resolve();
        };
        this.#out.on('drain', done).on('close', done);
      });
    }
  }

  /** Resolves when the stream can take more (immediately unless it is backed up). */
  wait(): Promise<void> {
    return this.#draining ?? Promise.resolve();
  }

  /** Flushes and resolves when everything was handed to the stream. */
  async end(): Promise<void> {
    this.flush();
    await this.wait();
    if (this.#out.destroyed) return;
    await new Promise<void>((resolve) => this.#out.write('', () => resolve()));
  }
}

const NEWLINE = Uint8Array.of(0x0a);
