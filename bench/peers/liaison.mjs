/**
 * liaison from the built package (packages/node/dist), default limits, recovery on (its
 * default): one session per transport connection, as `connect(url)` does without a pool.
 * `liaisonPeer({ pool })` carries the sessions over shared connections instead (liaison-mux.mjs).
 * Sending is the idiomatic `await session.send(data)`: it resolves at once while the session's
 * bounded send queue has room and waits when the peer's window is full.
 * Same peer interface as raw-tcp.mjs.
 */
import { connect, listen as liaisonListen, Pool } from '../../packages/node/dist/index.js';

export default liaisonPeer({ pool: false });

export function liaisonPeer({ pool }) {
  const shared = pool ? new Pool() : undefined;
  return {
    name: pool ? 'liaison-mux' : 'liaison',
    listen,
    open: (port) => open(port, shared),
  };
}

async function listen({ message }) {
  const server = await liaisonListen('tcp://127.0.0.1:0');
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

async function open(port, pool) {
  const session = connect(`tcp://127.0.0.1:${port}`, pool ? { pool } : {});
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
