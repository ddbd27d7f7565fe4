/** Loopback ports for tests. */
import { createServer } from 'node:net';

/** A loopback port nobody listens on (bound, then released): connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const net = createServer();
  await new Promise<void>((resolve) => net.listen(0, '127.0.0.1', resolve));
  const address = net.address();
  if (address === null || typeof address !== 'object') throw new Error('no loopback port');
  await new Promise<void>((resolve) => net.close(() => resolve()));
  return address.port;
}
