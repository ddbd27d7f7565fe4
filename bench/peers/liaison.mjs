/**
 * liaison from the built package (packages/node/dist), default limits, recovery on (its
 * default): one session per transport connection, as `connect(url)` does without a pool.
 * `liaisonPeer({ pool })` carries the sessions over shared connections instead (liaison-mux.mjs).
 * Sending is the idiomatic `await session.send(data)`: it resolves at once while the session's
 * bounded send queue has room and waits when the peer's window is full.
 * Same peer interface as raw-tcp.mjs.
 */
import { readFileSync } from 'node:fs';
import { connect, listen as liaisonListen, Pool } from '../../packages/node/dist/index.js';

export default liaisonPeer({ pool: false });

/**
 * compare.mjs --secure: `{ tls: { cert, key, ca } }` (PEM file paths) runs over tls://,
 * `{ noise: { staticKey, crypto } }` (the server's X25519 key, hex; 'node' or 'noble') runs Noise
 * XX with that crypto provider on both sides (the client keeps no static key and pins none).
 */
export function configure(options) {
  return liaisonPeer({ pool: false, ...options });
}

export function liaisonPeer({ pool, tls, noise }) {
  const shared = pool ? new Pool() : undefined;
  const scheme = tls ? 'tls' : 'tcp';
  // Every client of a benchmark comes from 127.0.0.1, and the memory scenario opens 5,000
  // connections: above the per-address cap that protects a real server.
  const listenOptions = { attackLimits: { connectionsPerAddressMax: 1_000_000 } };
  const connectOptions = pool ? { pool: shared } : {};
  if (tls) {
    listenOptions.tls = { cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
    connectOptions.tls = { ca: readFileSync(tls.ca) };
  }
  if (noise) {
    listenOptions.noise = { staticKey: noise.staticKey, crypto: noise.crypto };
    connectOptions.noise = { crypto: noise.crypto };
  }
  return {
    name: pool ? 'liaison-mux' : 'liaison',
    listen: (handlers) => listen(handlers, `${scheme}://127.0.0.1:0`, listenOptions),
    open: (port) => open(`${scheme}://127.0.0.1:${port}`, connectOptions),
  };
}

async function listen({ message }, url, options) {
  const server = await liaisonListen(url, options);
  const sessions = new Set();
  server.on('session', (session) => {
    sessions.add(session);
    const conn = { send: (data) => session.send(data).catch(() => {}) };
    session.on('message', (data) => message(data, conn));
    session.on('close', () => sessions.delete(session));
  });
  server.on('connection-error', () => {});
  return {
    port: server.address.port,
    sessions: () => sessions.size,
    close: () => server.close(),
  };
}

async function open(url, options) {
  const session = connect(url, options);
  await session.ready;
  return {
    send: (data) => session.send(data),
    drained: () => Promise.resolve(),
    onMessage: (cb) => session.on('message', cb),
    onDown: (cb) => session.on('suspended', () => cb()),
    onResumed: (cb) => session.on('resumed', cb),
    close: () => session.close(),
  };
}
