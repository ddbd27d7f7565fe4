/**
 * The receiving side: writes the files of every session into one directory, confirming each major
 * sync point only once its data and the journal record are on disk.
 *
 * Theory of operation
 * - Everything a session delivers (typed offers, activity start/resume/end, data, sync points)
 *   goes into one FIFO of tasks per session, run one at a time, in the order the session
 *   delivered them (the library's ordering rule). So data is written before the sync point that
 *   follows it is made durable and confirmed.
 * - Data is taken by a 'message' listener, which returns flow-control credit at once; what bounds
 *   memory is the sender waiting for each major sync point's confirmation. A sender that does not
 *   wait is cut off past `pendingBytesMax`.
 * - A file belongs to one session at a time (a claim by journal key). When a new session offers a
 *   file that an old session still holds (its sender was killed and restarted while the old
 *   session waits to be resumed), the old session is aborted and its tasks drained first.
 * - Anything the peer gets wrong aborts that session with a reason; other sessions go on.
 */
import type { FileHandle } from 'node:fs/promises';
import type { AcceptDecision } from '@liaison/node';
import { TransferError, TransferErrorCode } from './errors.js';
import { sha256File } from './hash.js';
import { type FileIdentity, type FileRecord, Journal } from './journal.js';
import {
  type Answer,
  decodeFileEnd,
  decodeFileStart,
  decodeOffer,
  decodeSyncPoint,
  encode,
  type FileStart,
  RECEIVER_GREETING,
  toHex,
} from './messages.js';
import { checkFileName } from './names.js';
import type { ActivitySession } from './session-api.js';

export type ReceiverEvent =
  | { type: 'offer'; session: string; file: string; action: 'start' | 'resume' | 'done'; fromByte: number }
  | { type: 'refused'; session: string; file: string; code: string; message: string }
  | { type: 'resumed'; session: string; file: string; fromByte: number; serial: number }
  | { type: 'checkpoint'; session: string; file: string; offset: number; serial: number }
  | { type: 'file-done'; session: string; file: string; size: number; sha256: string }
  | { type: 'file-failed'; session: string; file: string; code: string; message: string }
  | { type: 'session-error'; session: string; code: string; message: string };

export interface ReceiverOptions {
  /** Unwritten data a session may have queued before it is cut off (default 64 MiB). */
  pendingBytesMax?: number;
  onEvent?: (e: ReceiverEvent) => void;
}

export class Receiver {
  readonly journal: Journal;
  readonly #options: ReceiverOptions;
  readonly #claims = new Map<string, SessionReceiver>();

  private constructor(journal: Journal, options: ReceiverOptions) {
    this.journal = journal;
    this.#options = options;
  }

  /**
   * The accept decision of a server whose sessions go to a receiver: `listen(url, { onConnect:
   * Receiver.accept })`. Its user data tells senders they reached a receiver.
   */
  static accept(): AcceptDecision {
    return { accept: true, userData: new TextEncoder().encode(RECEIVER_GREETING) };
  }

  /** A receiver writing into `dir` (created if missing), resuming from its journal. */
  static async open(dir: string, options: ReceiverOptions = {}): Promise<Receiver> {
    return new Receiver(await Journal.open(dir), options);
  }

  /** Receives files on `session` until it ends; resolves once its last task ran. Never rejects. */
  handle(session: ActivitySession, label: string): Promise<void> {
    return new SessionReceiver(this, session, label).run();
  }

  /** @internal */
  emit(e: ReceiverEvent): void {
    this.#options.onEvent?.(e);
  }

  /** @internal */
  get pendingBytesMax(): number {
    return this.#options.pendingBytesMax ?? 64 * 1024 * 1024;
  }

  /** @internal Takes the file for `owner`, ending the session that held it before. */
  async claim(key: string, owner: SessionReceiver): Promise<void> {
    for (;;) {
      const holder = this.#claims.get(key);
      if (holder === undefined || holder === owner) break;
      await holder.stop('another session took over the file');
      if (this.#claims.get(key) === holder) this.#claims.delete(key);
    }
    this.#claims.set(key, owner);
  }

  /** @internal */
  unclaim(key: string, owner: SessionReceiver): void {
    if (this.#claims.get(key) === owner) this.#claims.delete(key);
  }
}

type State =
  | { kind: 'idle' }
  | { kind: 'offered'; identity: FileIdentity; key: string; record: FileRecord | null }
  | { kind: 'receiving'; record: FileRecord; file: FileHandle; written: number };

class SessionReceiver {
  readonly #r: Receiver;
  readonly #session: ActivitySession;
  readonly #label: string;
  #state: State = { kind: 'idle' };
  #tasks: Promise<void> = Promise.resolve();
  #pendingBytes = 0;
  #stopped = false;

  constructor(receiver: Receiver, session: ActivitySession, label: string) {
    this.#r = receiver;
    this.#session = session;
    this.#label = label;
  }

  async run(): Promise<void> {
    const s = this.#session;
    // biome-ignore lint/suspicious/noExplicitAny: each listener is typed by its event below
    const listeners: [string, (...args: any[]) => void][] = [
      ['typed', (data: Uint8Array) => this.#queue(() => this.#offer(data))],
      ['message', (data: Uint8Array) => this.#data(data)],
      ['activity-start', (e: { id: Uint8Array; userData: Uint8Array }) => this.#queue(() => this.#start(e))],
      [
        'activity-resume',
        (e: { id: Uint8Array; oldId: Uint8Array; serial: number; userData: Uint8Array }) =>
          this.#queue(() => this.#resume(e)),
      ],
      ['sync-major', (e: { serial: number; userData: Uint8Array }) => this.#queue(() => this.#sync(e))],
      ['activity-end', (e: { serial: number; userData: Uint8Array }) => this.#queue(() => this.#end(e))],
      ['activity-interrupt', () => this.#queue(() => this.#interrupted(false))],
      ['activity-discard', () => this.#queue(() => this.#interrupted(true))],
    ];
    for (const [name, fn] of listeners) s.on(name, fn);
    await s.closed;
    this.#stopped = true;
    await this.#queue(() => this.#cleanup(), true);
    for (const [name, fn] of listeners) s.off(name, fn);
  }

  /** Aborts the session and resolves when its tasks have drained. */
  async stop(why: string): Promise<void> {
    this.#stopped = true;
    this.#session.abort(why);
    await this.#session.closed;
    await this.#queue(() => this.#cleanup(), true);
  }

  /** Runs `task` after every task queued before it; skipped once stopped unless `always`. */
  #queue(task: () => Promise<void>, always = false): Promise<void> {
    this.#tasks = this.#tasks.then(async () => {
      if (this.#stopped && !always) return;
      try {
        await task();
      } catch (e) {
        this.#fail(e);
      }
    });
    return this.#tasks;
  }

  #data(data: Uint8Array): void {
    this.#pendingBytes += data.byteLength;
    if (this.#pendingBytes > this.#r.pendingBytesMax) {
      this.#fail(protocol(`more than ${this.#r.pendingBytesMax} bytes sent without waiting for a sync point`));
      return;
    }
    void this.#queue(async () => {
      this.#pendingBytes -= data.byteLength;
      const st = this.#state;
      if (st.kind !== 'receiving') throw protocol('file data outside an activity');
      if (st.written + data.byteLength > st.record.size)
        throw protocol(`more data than the announced ${st.record.size} bytes of ${st.record.name}`);
      let done = 0;
      while (done < data.byteLength) {
        const { bytesWritten } = await st.file.write(data, done, data.byteLength - done, st.written + done);
        done += bytesWritten;
      }
      st.written += data.byteLength;
    });
  }

  async #offer(bytes: Uint8Array): Promise<void> {
    if (this.#state.kind === 'receiving') throw protocol('an offer inside an activity');
    if (this.#state.kind === 'offered') this.#r.unclaim(this.#state.key, this);
    const offer = decodeOffer(bytes);
    try {
      checkFileName(offer.name);
    } catch (e) {
      const err = e as TransferError;
      this.#r.emit({ type: 'refused', session: this.#label, file: offer.name, code: err.code, message: err.message });
      await this.#reply({ t: 'refuse', name: offer.name, code: err.code, message: err.message });
      this.#state = { kind: 'idle' };
      return;
    }
    const identity: FileIdentity = { name: offer.name, size: offer.size, mtimeMs: offer.mtimeMs };
    const key = this.#r.journal.keyOf(identity);
    await this.#r.claim(key, this);
    const record = await this.#r.journal.lookup(identity);
    let answer: Answer;
    if (record?.status === 'done' && record.sha256) {
      answer = { t: 'answer', name: offer.name, action: 'done', sha256: record.sha256 };
      this.#r.unclaim(key, this);
    } else if (record && record.confirmedBytes > 0 && record.serial > 0) {
      answer = {
        t: 'answer',
        name: offer.name,
        action: 'resume',
        fromByte: record.confirmedBytes,
        serial: record.serial,
        activityId: record.activityId,
      };
    } else answer = { t: 'answer', name: offer.name, action: 'start' };
    this.#state = answer.action === 'done' ? { kind: 'idle' } : { kind: 'offered', identity, key, record };
    const fromByte = answer.action === 'resume' ? answer.fromByte : answer.action === 'done' ? offer.size : 0;
    this.#r.emit({ type: 'offer', session: this.#label, file: offer.name, action: answer.action, fromByte });
    await this.#reply(answer);
  }

  async #start(e: { id: Uint8Array; userData: Uint8Array }): Promise<void> {
    const st = this.#state;
    const start = decodeFileStart(e.userData);
    if (st.kind !== 'offered' || !sameFile(start, st.identity) || start.fromByte !== 0)
      throw protocol(`activity start for ${start.name} does not follow its offer`);
    const { record, file } = await this.#r.journal.begin(st.identity, toHex(e.id));
    this.#state = { kind: 'receiving', record, file, written: 0 };
  }

  async #resume(e: { id: Uint8Array; oldId: Uint8Array; serial: number; userData: Uint8Array }): Promise<void> {
    const st = this.#state;
    const start = decodeFileStart(e.userData);
    const record = st.kind === 'offered' ? st.record : null;
    if (st.kind !== 'offered' || record === null || !sameFile(start, st.identity))
      throw protocol(`activity resume for ${start.name} does not follow an offer to resume it`);
    if (toHex(e.oldId) !== record.activityId || e.serial !== record.serial || start.fromByte !== record.confirmedBytes)
      throw protocol(
        `activity resume of ${start.name} names activity ${toHex(e.oldId)} serial ${e.serial} from byte ${start.fromByte}; ` +
          `the journal has ${record.activityId} serial ${record.serial} at byte ${record.confirmedBytes}`,
      );
    const file = await this.#r.journal.reopen(record);
    await this.#r.journal.renameActivity(record, toHex(e.id));
    this.#state = { kind: 'receiving', record, file, written: record.confirmedBytes };
    this.#r.emit({
      type: 'resumed',
      session: this.#label,
      file: record.name,
      fromByte: record.confirmedBytes,
      serial: e.serial,
    });
  }

  async #sync(e: { serial: number; userData: Uint8Array }): Promise<void> {
    const st = this.#state;
    if (st.kind !== 'receiving') throw protocol('a major sync point outside a file');
    const { offset } = decodeSyncPoint(e.userData);
    if (offset !== st.written) throw protocol(`sync point at byte ${offset}, but ${st.written} bytes arrived`);
    await this.#r.journal.confirm(st.record, st.file, st.written, e.serial);
    if (this.#stopped) return;
    this.#session.confirmMajor(encode({ offset }));
    this.#r.emit({ type: 'checkpoint', session: this.#label, file: st.record.name, offset, serial: e.serial });
  }

  async #end(e: { serial: number; userData: Uint8Array }): Promise<void> {
    const st = this.#state;
    if (st.kind !== 'receiving') throw protocol('an activity end outside a file');
    const end = decodeFileEnd(e.userData);
    const { record, file } = st;
    if (end.size !== record.size || st.written !== record.size)
      throw protocol(`${record.name} ended at byte ${st.written} of ${record.size} (the end says ${end.size})`);
    await file.sync();
    const actual = await sha256File(this.#r.journal.partPath(record.key), record.size);
    this.#state = { kind: 'idle' };
    if (actual === end.sha256) {
      await this.#r.journal.complete(record, file, actual);
      this.#r.unclaim(record.key, this);
      if (!this.#stopped) this.#session.confirmMajor(encode({ ok: true, sha256: actual }));
      this.#r.emit({ type: 'file-done', session: this.#label, file: record.name, size: record.size, sha256: actual });
      return;
    }
    // The bytes on disk are not the sender's file: keep nothing, so a retry starts clean.
    await file.close();
    await this.#r.journal.discard(record.key);
    this.#r.unclaim(record.key, this);
    const message = `SHA-256 of ${record.name} is ${actual}, the sender's is ${end.sha256}`;
    if (!this.#stopped)
      this.#session.confirmMajor(encode({ ok: false, code: TransferErrorCode.CHECKSUM_MISMATCH, message }));
    this.#r.emit({
      type: 'file-failed',
      session: this.#label,
      file: record.name,
      code: TransferErrorCode.CHECKSUM_MISMATCH,
      message,
    });
  }

  /** The sender interrupted (kept: resumable) or discarded (forgotten) the file's activity. */
  async #interrupted(discard: boolean): Promise<void> {
    const st = this.#state;
    if (st.kind !== 'receiving') return;
    await st.file.close();
    if (discard) await this.#r.journal.discard(st.record.key);
    this.#r.unclaim(st.record.key, this);
    this.#state = { kind: 'idle' };
  }

  async #reply(answer: Answer): Promise<void> {
    if (!this.#stopped) await this.#session.sendTyped(encode(answer));
  }

  /** The session ended: unconfirmed data stays in the part file; the next resume cuts it off. */
  async #cleanup(): Promise<void> {
    const st = this.#state;
    this.#state = { kind: 'idle' };
    if (st.kind === 'receiving') {
      await st.file.close().catch(() => {});
      this.#r.unclaim(st.record.key, this);
    } else if (st.kind === 'offered') this.#r.unclaim(st.key, this);
  }

  #fail(e: unknown): void {
    if (this.#stopped) return;
    const err =
      e instanceof TransferError
        ? e
        : new TransferError(TransferErrorCode.FILE_IO, String((e as Error)?.message ?? e), { cause: e });
    this.#r.emit({ type: 'session-error', session: this.#label, code: err.code, message: err.message });
    this.#stopped = true;
    this.#session.abort(`${err.code}: ${err.message}`.slice(0, 1024));
  }
}

function sameFile(start: FileStart, id: FileIdentity): boolean {
  return start.name === id.name && start.size === id.size && start.mtimeMs === id.mtimeMs;
}

function protocol(message: string): TransferError {
  return new TransferError(TransferErrorCode.TRANSFER_PROTOCOL, message);
}
