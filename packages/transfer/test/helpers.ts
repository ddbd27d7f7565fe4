/** Shared pieces of the transfer tests: temp directories, a receiver server, random files. */
import { randomFillSync } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { listen, type Server } from '@liaison/node';
import { Receiver, type ReceiverEvent } from '@liaison/transfer';

export async function tempDir(t: TestContext, prefix = 'liaison-transfer-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A server on a loopback port whose every session is handled by a Receiver writing into `dir`. */
export async function startReceiver(
  t: TestContext,
  dir: string,
): Promise<{ server: Server; receiver: Receiver; events: ReceiverEvent[] }> {
  const events: ReceiverEvent[] = [];
  const receiver = await Receiver.open(dir, { onEvent: (e) => events.push(e) });
  const server = await listen('tcp://127.0.0.1:0', { onConnect: Receiver.accept });
  t.after(() => server.close());
  void (async () => {
    for await (const session of server) void receiver.handle(session, 'test');
  })();
  return { server, receiver, events };
}

/** Writes `size` seeded pseudo-random bytes to a new file; returns its path. */
export async function randomFile(dir: string, name: string, size: number): Promise<string> {
  const path = join(dir, name);
  const fh = await open(path, 'w');
  const block = new Uint8Array(1024 * 1024);
  for (let at = 0; at < size; at += block.byteLength) {
    randomFillSync(block);
    const n = Math.min(block.byteLength, size - at);
    await fh.write(block, 0, n, at);
  }
  await fh.close();
  return path;
}
