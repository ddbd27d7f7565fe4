/**
 * A world's trace: every observable record goes into a running hash (two FNV-1a lanes; a replay
 * must give the same hash) and a ring of the last records (printed when an invariant fails).
 */

/** Records kept for the report. */
const RECENT_MAX = 60;

export class Trace {
  #hashA = 0x811c9dc5;
  #hashB = 0x01000193;
  readonly #recent: string[] = [];
  #recentAt = 0;
  readonly #onTrace: ((line: string) => void) | undefined;

  /** `onTrace` receives every record as it happens (the CLI's --verbose). */
  constructor(onTrace?: (line: string) => void) {
    this.#onTrace = onTrace;
  }

  /** The trace's hash so far: equal for equal runs. */
  get hash(): string {
    return (this.#hashA >>> 0).toString(16).padStart(8, '0') + (this.#hashB >>> 0).toString(16).padStart(8, '0');
  }

  /** The last records, oldest first. */
  recent(): string[] {
    const n = this.#recent.length;
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.#recent[(this.#recentAt + i) % n] as string);
    return out;
  }

  record(now: number, what: string): void {
    const line = `${now.toFixed(0).padStart(7)} ${what}`;
    let a = this.#hashA;
    let b = this.#hashB;
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (a >>> 15);
    }
    this.#hashA = a;
    this.#hashB = b;
    if (this.#recent.length < RECENT_MAX) this.#recent.push(line);
    else {
      this.#recent[this.#recentAt] = line;
      this.#recentAt = (this.#recentAt + 1) % RECENT_MAX;
    }
    this.#onTrace?.(line);
  }
}
