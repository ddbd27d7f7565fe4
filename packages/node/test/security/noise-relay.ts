/**
 * A man in the middle that terminates Noise on both sides: to the client it is a Noise responder
 * with a key of its own (what a client that pins no key accepts on first contact under XX), to the
 * server a Noise initiator; between the two it relays the plaintext liaison stream verbatim, so
 * the server's CHALLENGE reaches the client and the client's proofs reach the server. It is the
 * attacker the channel binding of PSK proofs (PROTOCOL.md 5.18) defeats. Closed when the test ends.
 */

import { randomBytes } from 'node:crypto';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { DEFAULT_LIMITS, generateNoiseKeyPair } from '@liaison/node';
import { type Connection, SecureConnection } from '@liaison/node/engine';

/** The plaintext side of one Noise end of the relay: what it decrypted, and what to encrypt. */
class Pipe {
  readonly role: 'initiator' | 'responder';
  readonly limits = DEFAULT_LIMITS;
  readonly sessionCount = 0;
  isOpen = false;
  isClosed = false;
  readonly #out: Uint8Array[] = [];
  /** Plaintext received (decrypted) on this end. */
  onBytes: (bytes: Uint8Array) => void = () => {};

  constructor(role: 'initiator' | 'responder') {
    this.role = role;
  }
  write(bytes: Uint8Array): void {
    this.#out.push(bytes);
  }
  bindChannel(): void {}
  handleTransportUp(): void {
    this.isOpen = true;
  }
  handleBytes(_now: number, bytes: Uint8Array): void {
    this.onBytes(bytes.slice());
  }
  handleTransportDown(): void {
    this.isClosed = true;
  }
  handleTimeout(): void {}
  close(): void {
    this.isClosed = true;
  }
  pollTransmitSegments(): Uint8Array[] | null {
    return this.#out.length === 0 ? null : this.#out.splice(0);
  }
  pollEvent(): null {
    return null;
  }
  pollTimeout(): null {
    return null;
  }
}

/** One Noise end over a socket: feeds it bytes, flushes what it seals. */
function noiseEnd(socket: Socket, role: 'initiator' | 'responder', staticKey?: Uint8Array) {
  const pipe = new Pipe(role);
  const secure = new SecureConnection({
    connection: pipe as unknown as Connection,
    random: (n) => new Uint8Array(randomBytes(n)),
    ...(staticKey ? { staticKey } : {}),
  });
  const flush = () => {
    for (let out = secure.pollTransmit(); out !== null; out = secure.pollTransmit()) {
      if (!socket.destroyed) socket.write(out);
    }
  };
  socket.on('data', (chunk: Buffer) => {
    secure.handleBytes(Date.now(), new Uint8Array(chunk));
    flush();
    // A failed handshake (a client that pinned the real server key): the relay can only hang up.
    if (pipe.isClosed) socket.destroy();
  });
  return { pipe, secure, flush };
}

export interface NoiseRelay {
  url: string;
  /** The relay's own static public key (what the client sees as the server's). */
  publicKey: Uint8Array;
  /** Connections relayed whose two Noise handshakes both completed. */
  bridged: number;
}

export async function startNoiseRelay(t: TestContext, target: { host: string; port: number }): Promise<NoiseRelay> {
  const keys = generateNoiseKeyPair();
  const sockets = new Set<Socket>();
  const relay: NoiseRelay = { url: '', publicKey: keys.publicKey, bridged: 0 };
  const server = createServer((clientSocket) => {
    const serverSocket = netConnect(target);
    sockets.add(clientSocket);
    sockets.add(serverSocket);
    const toClient = noiseEnd(clientSocket, 'responder', keys.privateKey);
    const toServer = noiseEnd(serverSocket, 'initiator');
    let counted = false;
    const count = () => {
      if (!counted && toClient.secure.handshakeHash && toServer.secure.handshakeHash) {
        counted = true;
        relay.bridged++;
      }
    };
    toClient.pipe.onBytes = (bytes) => {
      count();
      toServer.pipe.write(bytes);
      toServer.flush();
    };
    toServer.pipe.onBytes = (bytes) => {
      count();
      toClient.pipe.write(bytes);
      toClient.flush();
    };
    serverSocket.on('connect', () => {
      toServer.secure.handleTransportUp(Date.now());
      toServer.flush();
    });
    toClient.secure.handleTransportUp(Date.now());
    for (const [a, b] of [
      [clientSocket, serverSocket],
      [serverSocket, clientSocket],
    ] as const) {
      a.on('close', () => b.destroy());
      a.on('error', () => b.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  relay.url = `tcp://127.0.0.1:${address.port}`;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return relay;
}
