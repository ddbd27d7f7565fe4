/**
 * Raw TLS (node:tls) with the same framing, batching and parser as raw-tcp.mjs: what Node can do
 * with OpenSSL doing the encryption, the reference for liaison over tls:// and under Noise.
 * Configured by compare.mjs --secure with `{ cert, key, ca }` (PEM file paths, made at bench time).
 * Same peer interface as raw-tcp.mjs.
 */
import { readFileSync } from 'node:fs';
import { createServer, connect as tlsConnect } from 'node:tls';
import { FramedConnection } from './raw-tcp.mjs';

export function configure(pki) {
  return {
    name: 'raw-tls',
    listen: (handlers) => listen(handlers, { cert: readFileSync(pki.cert), key: readFileSync(pki.key) }),
    open: (port) => open(port, { ca: readFileSync(pki.ca) }),
  };
}

async function listen({ message }, credentials) {
  const sockets = new Set();
  const server = createServer(credentials, (socket) => {
    sockets.add(socket);
    const conn = new FramedConnection(socket);
    conn.onMessage((data) => message(data, conn));
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => {});
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    sessions: () => sockets.size,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

async function open(port, trust) {
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...trust });
  await new Promise((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  return new FramedConnection(socket);
}
