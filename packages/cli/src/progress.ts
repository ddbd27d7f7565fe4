/**
 * Progress of `liaison send`: a bar with rate and ETA per file when stderr is a terminal (and
 * --json was not given), otherwise one JSON `progress` line per file at most every 500 ms and at
 * every checkpoint, so a log or a script sees the same facts.
 */
import { formatBytes } from '@liaison/transfer';
import cliProgress from 'cli-progress';

export interface Progress {
  start(file: string, size: number, fromByte: number): void;
  update(file: string, bytes: number): void;
  stop(file: string): void;
  /** A line of text for people, printed above the bars. */
  log(line: string): void;
  end(): void;
}

const PROGRESS_INTERVAL_MS = 500;

export function makeProgress(bar: boolean, jsonLine: (fields: Record<string, unknown>) => void): Progress {
  return bar ? new BarProgress() : new JsonProgress(jsonLine);
}

class BarProgress implements Progress {
  readonly #multi = new cliProgress.MultiBar(
    {
      format: ' {file} |{bar}| {percentage}% {done}/{total_h} {rate}/s ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  readonly #bars = new Map<string, { bar: cliProgress.SingleBar; startedAt: number; fromByte: number }>();

  start(file: string, size: number, fromByte: number): void {
    const bar = this.#multi.create(size, fromByte, {
      file,
      done: formatBytes(fromByte),
      total_h: formatBytes(size),
      rate: '-',
    });
    this.#bars.set(file, { bar, startedAt: Date.now(), fromByte });
  }

  update(file: string, bytes: number): void {
    const b = this.#bars.get(file);
    if (!b) return;
    const seconds = (Date.now() - b.startedAt) / 1000;
    const rate = seconds > 0 ? formatBytes((bytes - b.fromByte) / seconds) : '-';
    b.bar.update(bytes, { done: formatBytes(bytes), rate });
  }

  stop(file: string): void {
    this.#bars.get(file)?.bar.stop();
  }

  log(line: string): void {
    this.#multi.log(`${line}\n`);
  }

  end(): void {
    this.#multi.stop();
  }
}

class JsonProgress implements Progress {
  readonly #line: (fields: Record<string, unknown>) => void;
  readonly #files = new Map<
    string,
    { size: number; startedAt: number; fromByte: number; lastAt: number; bytes: number }
  >();

  constructor(line: (fields: Record<string, unknown>) => void) {
    this.#line = line;
  }

  start(file: string, size: number, fromByte: number): void {
    const now = Date.now();
    this.#files.set(file, { size, startedAt: now, fromByte, lastAt: 0, bytes: fromByte });
  }

  update(file: string, bytes: number): void {
    const f = this.#files.get(file);
    if (!f) return;
    f.bytes = bytes;
    const now = Date.now();
    if (now - f.lastAt < PROGRESS_INTERVAL_MS && bytes < f.size) return;
    f.lastAt = now;
    this.#emit(file, f, now);
  }

  stop(file: string): void {
    this.#files.delete(file);
  }

  log(): void {}

  end(): void {}

  #emit(file: string, f: { size: number; startedAt: number; fromByte: number; bytes: number }, now: number): void {
    const seconds = (now - f.startedAt) / 1000;
    const rate = seconds > 0 ? (f.bytes - f.fromByte) / seconds : 0;
    this.#line({
      event: 'progress',
      file,
      bytes: f.bytes,
      size: f.size,
      bytesPerSecond: Math.round(rate),
      etaSeconds: rate > 0 ? Math.round((f.size - f.bytes) / rate) : null,
    });
  }
}
