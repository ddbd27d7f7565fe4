/**
 * A man in the middle on loopback for the Noise attack tests: a TCP relay that hands every chunk
 * to `rewrite` (per connection and direction) and forwards what it returns (null drops it).
 * Unlike the testkit's FaultProxy it may change bytes; like it, it is closed when the test ends.
 */
import { createServer, connect as netConnect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

export type Rewrite = (fromClient: boolean, chunk: Buffer, connection: number) => Buffer | null;

export interface Mitm {
  url: string;
  /** Replaces the rewrite function for chunks from now on. */
  rewrite: Rewrite;
  /** Every chunk each client sent, per connection (before rewriting). */
  readonly fromClient: Map<number, Buffer[]>;
  /** Resets every relayed connection. */
  cutAll(): void;
}

export async function startMitm(
  t: TestContext,
  target: { host: string; port: number },
  rewrite: Rewrite,
): Promise<Mitm> {
  const sockets = new Set<Socket>();
  let next = 0;
  const mitm: Mitm = { url: '', rewrite, fromClient: new Map(), cutAll: () => {} };
  const server = createServer((client) => {
    const id = next++;
    const upstream = netConnect(target);
    sockets.add(client);
    sockets.add(upstream);
    mitm.fromClient.set(id, []);
    const relay = (from: Socket, to: Socket, fromClient: boolean) => {
      from.on('data', (chunk: Buffer) => {
        if (fromClient) mitm.fromClient.get(id)?.push(Buffer.from(chunk));
        const out = mitm.rewrite(fromClient, chunk, id);
        if (out !== null && !to.destroyed) to.write(out);
      });
      from.on('end', () => to.end());
      from.on('close', () => to.destroy());
      from.on('error', () => to.destroy());
    };
    relay(client, upstream, true);
    relay(upstream, client, false);
  });
  mitm.cutAll = () => {
    for (const s of sockets) s.resetAndDestroy();
    sockets.clear();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  mitm.url = `tcp://127.0.0.1:${address.port}`;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        mitm.cutAll();
        server.close(() => resolve());
      }),
  );
  return mitm;
}
