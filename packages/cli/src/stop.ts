/**
 * Ctrl-C, SIGTERM and a closed standard output (EPIPE: `liaison connect ... | head -1`) stop the
 * command the same way: the running command ends its session with an abort the server receives
 * (so the server drops the session at once instead of keeping it suspended for its resume window),
 * prints one line on stderr and exits with the code of the exit-code table (130, 143, 141: the
 * shell's 128 + signal number; EPIPE counts as SIGPIPE). A second signal exits at once.
 */
import { Exit } from './exit-codes.js';

export interface Stop {
  cause: 'SIGINT' | 'SIGTERM' | 'EPIPE';
  /** The exit code (exit-codes.ts). */
  code: number;
  /** For the stderr line and the abort's user data, which the server logs. */
  why: string;
}

const STOPS: Record<Stop['cause'], Stop> = {
  SIGINT: { cause: 'SIGINT', code: Exit.INTERRUPTED, why: 'interrupted (SIGINT)' },
  SIGTERM: { cause: 'SIGTERM', code: Exit.TERMINATED, why: 'terminated (SIGTERM)' },
  EPIPE: { cause: 'EPIPE', code: Exit.STDOUT_CLOSED, why: 'standard output closed' },
};

let handler: ((stop: Stop) => void) | null = null;
let stopped: Stop | null = null;

/** The running command's way to stop; until one is installed, a stop exits at once. */
export function onStop(h: (stop: Stop) => void): () => void {
  handler = h;
  return () => {
    if (handler === h) handler = null;
  };
}

/** Installed once by main, before any command runs. */
export function installStopHandlers(): void {
  process.on('SIGINT', () => stop(STOPS.SIGINT));
  process.on('SIGTERM', () => stop(STOPS.SIGTERM));
  // Any failure of stdout (EPIPE when the reader went away) means nobody reads the output.
  process.stdout.on('error', () => stop(STOPS.EPIPE));
}

function stop(s: Stop): void {
  if (stopped) {
    // A second signal while the first stop is under way: the user insists.
    if (s.cause !== 'EPIPE') process.exit(stopped.code);
    return;
  }
  stopped = s;
  if (handler) return handler(s);
  process.stderr.write(`liaison: ${s.why}\n`);
  process.exit(s.code);
}
