/**
 * The sending side: `sendFiles(url, paths)` sends each file as one activity, with a major sync
 * point every `syncEveryBytes`, and resolves only when the receiver confirmed every file's SHA-256.
 *
 * Theory of operation
 * - Before each file the sender offers it (typed data) and the receiver answers from its journal:
 *   start from zero, resume activity A from serial S at byte N, or done already. The receiver is
 *   the authority on what is durably on disk; the sender never guesses a resume point.
 * - A resume continues the interrupted activity with resumeActivity({ id, oldId, serial }); the
 *   SHA-256 is then computed over the whole file, the skipped prefix read from the local file.
 * - After each sync point the sender waits for its confirmation before sending more (X.225 major
 *   sync): this bounds what the receiver buffers, and what is lost to a crash, to one interval.
 * - Transport breaks are the library's business (the session resumes by itself). Only when the
 *   session is lost (the receiver restarted and no longer knows it, or it stayed unreachable for
 *   the whole resume window) does the sender open a new session and resume the file from the
 *   receiver's journal, for up to `retryForMs`. The first session of a run is not retried: a
 *   receiver that was never reachable is reported at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  AbortCode,
  type CloseReason,
  type ConnectOptions,
  connect,
  type Session,
  SessionClosedError,
} from '@liaison/node';
import { TransferError, TransferErrorCode } from './errors.js';
import { hashFilePrefix, sha256File } from './hash.js';
import type { FileIdentity } from './journal.js';
import {
  type Answer,
  decodeAnswer,
  decodeSyncPoint,
  decodeVerdict,
  encode,
  fromHex,
  RECEIVER_GREETING,
} from './messages.js';
import { checkFileName } from './names.js';
import type { ActivitySession } from './session-api.js';

/** The functional units a transfer needs (the receiver must agree to them). */
export const TRANSFER_UNITS = ['duplex', 'typed-data', 'major-synchronize', 'activity-management'] as const;

export const DEFAULT_SYNC_EVERY_BYTES = 4 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

export type SenderEvent =
  | { type: 'connecting'; attempt: number }
  /** `session` is the open session (an application may renew its credentials on it). */
  | { type: 'session-open'; attempt: number; session: Session }
  | { type: 'session-lost'; reason: string; retryInMs: number }
  | { type: 'file-start'; file: string; size: number }
  | { type: 'resumed'; file: string; size: number; fromByte: number; serial: number }
  | { type: 'progress'; file: string; bytes: number; size: number }
  | { type: 'checkpoint'; file: string; offset: number; serial: number }
  | { type: 'file-done'; file: string; size: number; sha256: string; skipped: boolean };

export interface SendOptions {
  /** Bytes between major sync points (default 4 MiB). */
  syncEveryBytes?: number;
  /** How long to keep trying to reach the receiver after a session was lost (default 60 s). */
  retryForMs?: number;
  /** Connection options (limits, backoff...); units are the transfer's own. */
  connection?: Omit<ConnectOptions, 'units'>;
  onEvent?: (e: SenderEvent) => void;
  /** Stops the transfer: the session is aborted and sendFiles() rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface SendResult {
  files: { file: string; size: number; sha256: string; skipped: boolean }[];
  /** Bytes sent in this run (less than the total when resumed or skipped). */
  bytesSent: number;
}

interface LocalFile extends FileIdentity {
  path: string;
}

/**
 * Sends `paths` to the receiver at `url`. Resolves once the receiver verified every file.
 * @throws TransferError: CHECKSUM_MISMATCH, FILE_REFUSED / UNSAFE_FILE_NAME, FILE_CHANGED,
 * FILE_IO (a local file unreadable), TRANSFER_INTERRUPTED (no session within `retryForMs`),
 * TRANSFER_PROTOCOL; SessionClosedError when the receiver refused or aborted the session.
 */
export async function sendFiles(url: string, paths: readonly string[], options: SendOptions = {}): Promise<SendResult> {
  const syncEvery = options.syncEveryBytes ?? DEFAULT_SYNC_EVERY_BYTES;
  if (!Number.isSafeInteger(syncEvery) || syncEvery < 1)
    throw new RangeError('syncEveryBytes must be a positive integer');
  const retryForMs = options.retryForMs ?? 60_000;
  const emit = options.onEvent ?? (() => {});
  const files = await localFiles(paths);
  const result: SendResult = { files: [], bytesSent: 0 };
  let next = 0;
  let attempt = 0;
  let lostSince: number | null = null;
  let everOpen = false;
  const signal = options.signal;
  signal?.throwIfAborted();

  while (next < files.length || attempt === 0) {
    attempt++;
    emit({ type: 'connecting', attempt });
    const session = connect(url, { ...options.connection, units: [...TRANSFER_UNITS] });
    const answers = new Answers(session);
    const onAbort = () => session.abort('the sender stopped');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await session.ready;
      if (new TextDecoder().decode(session.peerUserData) !== RECEIVER_GREETING)
        throw new TransferError(
          TransferErrorCode.NOT_A_RECEIVER,
          'the server does not accept files: it accepted the session without the receiver greeting (liaison serve needs --receive-dir)',
        );
      emit({ type: 'session-open', attempt, session });
      everOpen = true;
      lostSince = null;
      for (; next < files.length; next++) {
        result.files.push(await sendOne(session, answers, files[next] as LocalFile, syncEvery, emit, result));
      }
      await session.close();
      return result;
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      // A receiver that was never reachable in this run is a mistake to report now, not to wait out.
      const reason = everOpen ? lostReason(e, session) : null;
      if (reason === null) {
        session.abort(e instanceof TransferError ? `${e.code}: ${e.message}`.slice(0, 1024) : 'transfer failed');
        throw explained(e);
      }
      lostSince ??= Date.now();
      const waited = Date.now() - lostSince;
      if (waited >= retryForMs)
        throw new TransferError(
          TransferErrorCode.TRANSFER_INTERRUPTED,
          `the session was lost (${reason}) and the receiver was not reachable again within ${retryForMs} ms`,
          { cause: e },
        );
      const retryInMs = Math.min(2000, 100 * 2 ** Math.min(attempt, 5), retryForMs - waited);
      emit({ type: 'session-lost', reason, retryInMs });
      await new Promise((resolve) => setTimeout(resolve, retryInMs));
      signal?.throwIfAborted();
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }
  return result;
}

async function sendOne(
  session: ActivitySession,
  answers: Answers,
  local: LocalFile,
  syncEvery: number,
  emit: (e: SenderEvent) => void,
  result: SendResult,
): Promise<SendResult['files'][number]> {
  const answer = await answers.ask(local);
  if (answer.t === 'refuse') {
    const code =
      answer.code === TransferErrorCode.UNSAFE_FILE_NAME
        ? TransferErrorCode.UNSAFE_FILE_NAME
        : TransferErrorCode.FILE_REFUSED;
    throw new TransferError(code, `the receiver refused ${local.name}: ${answer.message}`);
  }
  if (answer.action === 'done') {
    // Received in an earlier run: confirm it is this file's content before calling it done.
    const sha256 = await sha256File(local.path, local.size);
    if (sha256 !== answer.sha256)
      throw new TransferError(
        TransferErrorCode.CHECKSUM_MISMATCH,
        `${local.name} was received earlier with SHA-256 ${answer.sha256}, but the local file's is ${sha256}`,
      );
    emit({ type: 'file-done', file: local.name, size: local.size, sha256, skipped: true });
    return { file: local.name, size: local.size, sha256, skipped: true };
  }

  const hash = createHash('sha256');
  const id = new Uint8Array(randomBytes(6));
  const fromByte = answer.action === 'resume' ? answer.fromByte : 0;
  if (fromByte > local.size) throw protocol(`resume point ${fromByte} is past the end of ${local.name}`);
  const fh = await openLocal(local);
  try {
    await hashFilePrefix(hash, local.path, fromByte);
    const start = encode({ t: 'file', name: local.name, size: local.size, mtimeMs: local.mtimeMs, fromByte });
    if (answer.action === 'resume') {
      session.resumeActivity({ id, oldId: fromHex(answer.activityId), serial: answer.serial, userData: start });
      emit({ type: 'resumed', file: local.name, size: local.size, fromByte, serial: answer.serial });
    } else {
      session.startActivity(id, start);
      emit({ type: 'file-start', file: local.name, size: local.size });
    }
    let offset = fromByte;
    let sinceSync = 0;
    while (offset < local.size) {
      // A fresh buffer per message: the session keeps it until the peer acknowledged it.
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, local.size - offset));
      const { bytesRead } = await fh.read(chunk, 0, chunk.byteLength, offset);
      if (bytesRead !== chunk.byteLength) throw changed(local, 'it became shorter');
      hash.update(chunk);
      await session.send(chunk);
      offset += bytesRead;
      sinceSync += bytesRead;
      result.bytesSent += bytesRead;
      emit({ type: 'progress', file: local.name, bytes: offset, size: local.size });
      if (sinceSync >= syncEvery && offset < local.size) {
        const confirmed = await session.syncMajor(encode({ offset }));
        const at = decodeSyncPoint(confirmed.userData).offset;
        if (at !== offset) throw protocol(`the receiver confirmed byte ${at} for the sync point at byte ${offset}`);
        emit({ type: 'checkpoint', file: local.name, offset, serial: confirmed.serial });
        sinceSync = 0;
      }
    }
    const now = await stat(local.path);
    if (now.size !== local.size || Math.trunc(now.mtimeMs) !== local.mtimeMs)
      throw changed(local, 'its size or modification time changed while it was sent');
    const sha256 = hash.digest('hex');
    const ended = await session.endActivity(encode({ size: local.size, sha256 }));
    const verdict = decodeVerdict(ended.userData);
    if (!verdict.ok) throw new TransferError(TransferErrorCode.CHECKSUM_MISMATCH, verdict.message);
    if (verdict.sha256 !== sha256)
      throw protocol(`the receiver confirmed SHA-256 ${verdict.sha256}, ours is ${sha256}`);
    emit({ type: 'file-done', file: local.name, size: local.size, sha256, skipped: false });
    return { file: local.name, size: local.size, sha256, skipped: false };
  } finally {
    await fh.close();
  }
}

/**
 * The receiver's answers to offers (typed data). The listener stays for the whole session, so a
 * typed message never waits in the session's inbox; one that comes unasked is a protocol error.
 */
class Answers {
  readonly #session: ActivitySession;
  #waiting: { resolve: (a: Answer) => void; reject: (e: Error) => void; name: string } | null = null;
  #error: Error | null = null;

  constructor(session: ActivitySession) {
    this.#session = session;
    session.on('typed', (data: Uint8Array) => this.#answer(data));
  }

  /** Offers the file and waits for the answer, or for the session's end. */
  async ask(local: LocalFile): Promise<Answer> {
    if (this.#error) throw this.#error;
    const answered = new Promise<Answer>((resolve, reject) => {
      this.#waiting = { resolve, reject, name: local.name };
    });
    const ended = this.#session.closed.then((reason) => {
      throw new SessionClosedError(reason);
    });
    try {
      await this.#session.sendTyped(encode({ t: 'offer', name: local.name, size: local.size, mtimeMs: local.mtimeMs }));
      return await Promise.race([answered, ended]);
    } finally {
      this.#waiting = null;
      ended.catch(() => {});
    }
  }

  #answer(data: Uint8Array): void {
    const w = this.#waiting;
    this.#waiting = null;
    try {
      const a = decodeAnswer(data);
      if (w === null) throw protocol(`an answer about ${a.name} that nothing asked for`);
      if (a.name !== w.name) throw protocol(`an answer about ${a.name} while ${w.name} was offered`);
      w.resolve(a);
    } catch (e) {
      if (w) w.reject(e as Error);
      else this.#error = e as Error;
    }
  }
}

/**
 * A session the receiver aborted because of the transfer (its abort's user data starts with one
 * of our codes) is reported as that TransferError, with the receiver's words.
 */
function explained(e: unknown): unknown {
  if (!(e instanceof SessionClosedError) || e.reason.kind !== 'aborted' || e.reason.origin !== 'peer') return e;
  const text = new TextDecoder().decode(e.reason.userData);
  const code = Object.values(TransferErrorCode).find((c) => text.startsWith(`${c}:`));
  return code ? new TransferError(code, `the receiver aborted the transfer: ${text}`, { cause: e }) : e;
}

/** Stats every file first: a missing file or a duplicate name fails before anything is sent. */
async function localFiles(paths: readonly string[]): Promise<LocalFile[]> {
  const files: LocalFile[] = [];
  const names = new Set<string>();
  for (const path of paths) {
    const name = checkFileName(basename(path));
    if (names.has(name))
      throw new TransferError(
        TransferErrorCode.FILE_REFUSED,
        `two files named ${name}: the receiver would overwrite one with the other`,
      );
    names.add(name);
    let s: Awaited<ReturnType<typeof stat>>;
    try {
      s = await stat(path);
    } catch (e) {
      throw new TransferError(TransferErrorCode.FILE_IO, `cannot read ${path}: ${(e as Error).message}`, { cause: e });
    }
    if (!s.isFile()) throw new TransferError(TransferErrorCode.FILE_IO, `${path} is not a regular file`);
    files.push({ path, name, size: s.size, mtimeMs: Math.trunc(s.mtimeMs) });
  }
  return files;
}

async function openLocal(local: LocalFile): Promise<FileHandle> {
  try {
    return await open(local.path, 'r');
  } catch (e) {
    throw new TransferError(TransferErrorCode.FILE_IO, `cannot read ${local.path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Why the session was lost, when trying again with a new session may help; null otherwise. */
function lostReason(e: unknown, session: ActivitySession): string | null {
  const reason: CloseReason | null =
    e instanceof SessionClosedError ? e.reason : e instanceof Error && 'code' in e ? session.closeReason : null;
  if (reason === null || reason.kind !== 'aborted' || reason.by === 'user') return null;
  return RETRYABLE.has(reason.code) ? abortName(reason.code) : null;
}

const RETRYABLE = new Set<number>([
  AbortCode.TRANSPORT_LOST,
  AbortCode.RESUME_REFUSED,
  AbortCode.RESUME_WINDOW_EXPIRED,
  AbortCode.RESUME_FAILED,
  AbortCode.RESUME_BUDGET_EXCEEDED,
  AbortCode.IDLE_TIMEOUT,
  AbortCode.HANDSHAKE_TIMEOUT,
  AbortCode.SHUTDOWN,
]);

function abortName(code: number): string {
  for (const [name, value] of Object.entries(AbortCode)) if (value === code) return name;
  return `abort ${code}`;
}

function changed(local: LocalFile, why: string): TransferError {
  return new TransferError(TransferErrorCode.FILE_CHANGED, `${local.path} changed while it was sent: ${why}`);
}

function protocol(message: string): TransferError {
  return new TransferError(TransferErrorCode.TRANSFER_PROTOCOL, message);
}
