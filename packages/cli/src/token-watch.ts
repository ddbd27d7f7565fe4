/**
 * `--token-file FILE` renewal: while a session is open, a new token written to FILE (a fresh JWT
 * from whatever refreshes it) is sent to the server with `session.renewCredentials`, so the
 * session outlives the first token's expiry (PROTOCOL.md 5.19).
 *
 * Theory of operation
 * - FILE is watched two ways: fs.watch on its directory (it sees a file that an editor or
 *   `mv` replaced, which a watch on the file itself loses with the old inode), and a periodic
 *   read every `pollMs` that catches whatever the watch missed (network file systems, events
 *   coalesced). Either only triggers a read; a renewal goes only when the first line changed.
 * - A renewal needs an attached session: while it is suspended the newest token waits and goes
 *   on `resumed`; one lost with its connection (TransportError) is sent again after the resume.
 * - The server's refusal is reported and nothing else happens: the session goes on until the old
 *   token's expiry, when the server closes it with CREDENTIALS_EXPIRED.
 * - `current` is always the newest token read, so a brand-new session (liaison send after a lost
 *   session) authenticates with it rather than with the one read at start.
 */
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { LiaisonError, type Session, TransportError } from '@liaison/node';

export interface RenewalReport {
  renewed(fields: { file: string }): void;
  refused(fields: { file: string; code: string; message: string }): void;
}

export const DEFAULT_TOKEN_POLL_MS = 1_000;

/** The first line of a token file, trimmed ('' when unreadable or empty: then it is ignored). */
export function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').split(/\r?\n/)[0]?.trim() ?? '';
  } catch {
    return '';
  }
}

export class TokenFileWatcher {
  readonly file: string;
  /** The newest non-empty token read from the file. */
  current: string;
  readonly #report: RenewalReport;
  readonly #timer: NodeJS.Timeout;
  #watcher: FSWatcher | null = null;
  #session: Session | null = null;
  /** The token the session was opened or last renewed with (or is being renewed with). */
  #sent = '';
  #inFlight = false;
  #closed = false;

  constructor(file: string, initial: string, report: RenewalReport, pollMs = DEFAULT_TOKEN_POLL_MS) {
    this.file = file;
    this.current = initial;
    this.#report = report;
    try {
      const name = basename(file);
      this.#watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
        if (changed === null || changed.toString() === name) this.check();
      });
      this.#watcher.on('error', () => this.#watcher?.close());
    } catch {
      // No watch on this file system: the periodic check alone does the job.
    }
    this.#timer = setInterval(() => this.check(), pollMs);
    this.#timer.unref();
  }

  /** Renews `session`'s credentials whenever the file changes, until it closes. */
  attach(session: Session): void {
    this.#session = session;
    this.#sent = this.current;
    session.on('resumed', () => this.#renew());
    void session.closed.then(() => {
      if (this.#session === session) this.#session = null;
    });
  }

  /** Reads the file; a changed token is renewed on the attached session. */
  check(): void {
    if (this.#closed) return;
    const token = readToken(this.file);
    if (token === '' || token === this.current) return;
    this.current = token;
    this.#renew();
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#watcher?.close();
  }

  #renew(): void {
    const session = this.#session;
    if (!session || this.#inFlight || this.current === this.#sent) return;
    if (session.state !== 'open' || session.link !== 'attached') return; // sent on `resumed`
    const token = this.current;
    this.#inFlight = true;
    this.#sent = token;
    session.renewCredentials(token).then(
      () => {
        this.#inFlight = false;
        this.#report.renewed({ file: this.file });
        this.#renew(); // the file may have changed again meanwhile
      },
      (e: unknown) => {
        this.#inFlight = false;
        if (e instanceof TransportError) {
          this.#sent = ''; // lost with its connection: again after the resume
          return;
        }
        if (session.state === 'closed') return;
        const code = e instanceof LiaisonError ? e.code : 'ERR_LIAISON_INTERNAL';
        this.#report.refused({ file: this.file, code, message: (e as Error).message });
        this.#renew();
      },
    );
  }
}

/** The renewal lines of a command: JSON events with --json, else `liaison: ...` lines on stderr. */
export function renewalReporter(
  event: (name: string, fields: Record<string, unknown>, human: string) => void,
  json: boolean,
): RenewalReport {
  const say = (name: string, fields: Record<string, unknown>, human: string) => {
    if (json) event(name, fields, human);
    else process.stderr.write(`liaison: ${human}\n`);
  };
  return {
    renewed: (f) => say('credentials-renewed', f, `credentials renewed from ${f.file}`),
    refused: (f) =>
      say(
        'renewal-refused',
        f,
        `the server refused the new token in ${f.file} (${f.message}); the session goes on until the current token expires`,
      ),
  };
}

/** What a command whose session was closed for an expired token adds to the close reason. */
export function expiredHint(watching: boolean): string {
  return watching
    ? 'write a fresh token to --token-file before the current one expires'
    : 'give the token with --token-file FILE and rewrite FILE with a fresh token before it expires';
}
