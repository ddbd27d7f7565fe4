/**
 * The receiver's journal: what of each file is durably on disk. The receiver is the authority on
 * the resume point, so this is what a sender resumes from after either process was killed.
 *
 * Theory of operation
 * - Each file being received has two entries in DIR/.liaison-partial/: KEY.part (the data so far)
 *   and KEY.json (its record). KEY is derived from the file's identity: name, size and
 *   modification time as the sender reports them. A changed source file has another key, so it
 *   never resumes onto the old bytes.
 * - Invariant: a record's `confirmedBytes` are on disk in KEY.part. confirm() fsyncs the data
 *   before it replaces the record (atomically: temp file, fsync, rename, fsync of the directory);
 *   only then may the sync point be confirmed to the sender. Bytes past `confirmedBytes` may be
 *   in the part file after a crash; reopen() truncates them away.
 * - A completed file is recorded as `done` first, then renamed into place; a crash between the two
 *   is finished by the next lookup(). A `done` record stays so that running the same send again
 *   succeeds without sending anything.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDirectory, writeFileAtomic } from './durable.js';

export const JOURNAL_DIR = '.liaison-partial';

/** How the sender identifies a file: a changed name, size or mtime is another file. */
export interface FileIdentity {
  name: string;
  size: number;
  /** Whole milliseconds since the epoch. */
  mtimeMs: number;
}

export interface FileRecord extends FileIdentity {
  v: 1;
  key: string;
  status: 'partial' | 'done';
  /** The current activity id (hex): the one a resume names as its old id. */
  activityId: string;
  /** Bytes durably in the part file, all confirmed to the sender (or about to be). */
  confirmedBytes: number;
  /** The serial number of the major sync point that confirmed them (0: none yet). */
  serial: number;
  /** The verified SHA-256 (hex), once done. */
  sha256?: string;
}

export class Journal {
  readonly receiveDir: string;
  readonly dir: string;

  private constructor(receiveDir: string) {
    this.receiveDir = receiveDir;
    this.dir = join(receiveDir, JOURNAL_DIR);
  }

  /** Opens (creating if needed) the journal of a receive directory; removes stale temp files. */
  static async open(receiveDir: string): Promise<Journal> {
    const j = new Journal(receiveDir);
    await mkdir(j.dir, { recursive: true });
    for (const name of await readdir(j.dir))
      if (name.startsWith('.tmp-')) await unlink(join(j.dir, name)).catch(() => {});
    return j;
  }

  keyOf(id: FileIdentity): string {
    return createHash('sha256')
      .update(JSON.stringify([id.name, id.size, id.mtimeMs]))
      .digest('hex')
      .slice(0, 32);
  }

  partPath(key: string): string {
    return join(this.dir, `${key}.part`);
  }

  finalPath(name: string): string {
    return join(this.receiveDir, name);
  }

  /**
   * The record of this file, or null when none is usable (none, unreadable, or it does not match
   * the identity). A `done` record whose rename was interrupted is completed here.
   */
  async lookup(id: FileIdentity): Promise<FileRecord | null> {
    const key = this.keyOf(id);
    const record = await this.#read(key);
    if (record === null || record.name !== id.name || record.size !== id.size || record.mtimeMs !== id.mtimeMs)
      return null;
    if (record.status === 'done') {
      if (await exists(this.partPath(key))) {
        await rename(this.partPath(key), this.finalPath(record.name));
        await fsyncDirectory(this.receiveDir);
      }
      return record;
    }
    const part = await stat(this.partPath(key)).catch(() => null);
    if (part === null || part.size < record.confirmedBytes) return null;
    return record;
  }

  /**
   * Starts a file from zero: an empty part file and a record with nothing confirmed. Records of
   * other versions of the same name (a changed source file) are discarded.
   */
  async begin(id: FileIdentity, activityId: string): Promise<{ record: FileRecord; file: FileHandle }> {
    const key = this.keyOf(id);
    for (const other of await this.#records())
      if (other.name === id.name && other.key !== key) await this.discard(other.key);
    const file = await open(this.partPath(key), 'w');
    await file.sync();
    const record: FileRecord = { v: 1, key, ...pick(id), status: 'partial', activityId, confirmedBytes: 0, serial: 0 };
    await this.#write(record);
    return { record, file };
  }

  /** Opens a partial file to continue it: everything past the confirmed bytes is cut off. */
  async reopen(record: FileRecord): Promise<FileHandle> {
    const file = await open(this.partPath(record.key), 'r+');
    await file.truncate(record.confirmedBytes);
    await file.sync();
    return file;
  }

  /** The data in `file` up to `confirmedBytes` is durable, and so is the record saying so. */
  async confirm(record: FileRecord, file: FileHandle, confirmedBytes: number, serial: number): Promise<void> {
    await file.sync();
    record.confirmedBytes = confirmedBytes;
    record.serial = serial;
    await this.#write(record);
  }

  /** Records a new activity id for the file (a resume in a new session), durably. */
  async renameActivity(record: FileRecord, activityId: string): Promise<void> {
    record.activityId = activityId;
    await this.#write(record);
  }

  /** The file was verified: record it done, then move it into place. `file` is closed here. */
  async complete(record: FileRecord, file: FileHandle, sha256: string): Promise<void> {
    await file.sync();
    await file.close();
    record.status = 'done';
    record.confirmedBytes = record.size;
    record.sha256 = sha256;
    await this.#write(record);
    await rename(this.partPath(record.key), this.finalPath(record.name));
    await fsyncDirectory(this.receiveDir);
  }

  /** Forgets a file: its part file and record. */
  async discard(key: string): Promise<void> {
    await rm(this.partPath(key), { force: true });
    await rm(this.#recordPath(key), { force: true });
    await fsyncDirectory(this.dir);
  }

  #recordPath(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  async #write(record: FileRecord): Promise<void> {
    await writeFileAtomic(this.#recordPath(record.key), `${JSON.stringify(record)}\n`);
  }

  async #read(key: string): Promise<FileRecord | null> {
    let text: string;
    try {
      text = await readFile(this.#recordPath(key), 'utf8');
    } catch {
      return null;
    }
    try {
      const r = JSON.parse(text) as FileRecord;
      return isRecord(r) && r.key === key ? r : null;
    } catch {
      return null;
    }
  }

  async #records(): Promise<FileRecord[]> {
    const out: FileRecord[] = [];
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json') || name.startsWith('.tmp-')) continue;
      const r = await this.#read(name.slice(0, -'.json'.length));
      if (r) out.push(r);
    }
    return out;
  }
}

function pick(id: FileIdentity): FileIdentity {
  return { name: id.name, size: id.size, mtimeMs: id.mtimeMs };
}

function isRecord(r: unknown): r is FileRecord {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  return (
    o.v === 1 &&
    typeof o.key === 'string' &&
    typeof o.name === 'string' &&
    Number.isSafeInteger(o.size) &&
    Number.isSafeInteger(o.mtimeMs) &&
    (o.status === 'partial' || o.status === 'done') &&
    typeof o.activityId === 'string' &&
    Number.isSafeInteger(o.confirmedBytes) &&
    (o.confirmedBytes as number) >= 0 &&
    (o.confirmedBytes as number) <= (o.size as number) &&
    Number.isSafeInteger(o.serial) &&
    (o.status === 'partial' || (typeof o.sha256 === 'string' && /^[0-9a-f]{64}$/.test(o.sha256)))
  );
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}
