/** SHA-256 of a file's first bytes, streamed (a 200 MiB file is never held in memory). */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Feeds bytes [0, length) of the file at `path` into `hash` (length 0: nothing). */
export async function hashFilePrefix(hash: Hash, path: string, length: number): Promise<void> {
  if (length === 0) return;
  const stream = createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1024 * 1024 });
  let read = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    read += chunk.byteLength;
  }
  if (read !== length) throw new RangeError(`${path}: expected ${length} bytes, read ${read}`);
}

export async function sha256File(path: string, length: number): Promise<string> {
  const hash = createHash('sha256');
  await hashFilePrefix(hash, path, length);
  return hash.digest('hex');
}
