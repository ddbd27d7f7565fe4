/**
 * The `ws` package over TLS (wss://, an https server from node:https): as ws.mjs otherwise.
 * Configured by compare.mjs --secure with `{ cert, key, ca }` (PEM file paths, made at bench time).
 * Same peer interface as raw-tcp.mjs.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { WebSocket, WebSocketServer } from 'ws';
import { HIGH_WATER_BYTES } from './raw-tcp.mjs';
import { waitUntil } from './ws.mjs';

export function configure(pki) {
  return {
    name: 'wss',
    listen: (handlers) => listen(handlers, { cert: readFileSync(pki.cert), key: readFileSync(pki.key) }),
    open: (port) => open(port, readFileSync(pki.ca)),
  };
}

async function listen({ message }, credentials) {
  const https = createServer(credentials);
  const wss = new WebSocketServer({ server: https, perMessageDeflate: false });
  await new Promise((resolve) => https.listen(0, '127.0.0.1', resolve));
  wss.on('connection', (ws) => {
    const conn = { send: (data) => ws.send(data) };
    ws.on('message', (data) => message(data, conn));
    ws.on('error', () => {});
  });
  return {
    port: https.address().port,
    sessions: () => wss.clients.size,
    close: () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      https.close();
    },
  };
}

async function open(port, ca) {
  const ws = new WebSocket(`wss://127.0.0.1:${port}`, { perMessageDeflate: false, ca });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let onDown = () => {};
  ws.on('close', () => onDown());
  ws.on('error', () => {});
  return {
    send(data) {
      ws.send(data);
      return ws.bufferedAmount < HIGH_WATER_BYTES;
    },
    drained: () => waitUntil(() => ws.bufferedAmount < HIGH_WATER_BYTES),
    onMessage: (cb) => ws.on('message', (data) => cb(data)),
    onDown: (cb) => {
      onDown = cb;
    },
    close: () => ws.close(),
  };
}
