/**
 * Writes that survive a crash of the process or of the machine. A record is replaced atomically:
 * written to a temporary file, fsynced, renamed over the old one, then the directory is fsynced so
 * the rename itself is on disk. A reader sees the old record or the new one, never a mix.
 */
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.tmp-${process.pid}-${basename(path)}`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fsyncDirectory(dirname(path));
}

/** Makes the directory's entries (creations, renames, removals) durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
