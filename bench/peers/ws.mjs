/**
 * The `ws` package: binary messages, no compression (the server's default), Nagle off (ws's
 * default). Backpressure is `bufferedAmount` against the same high-water mark as raw TCP.
 * Same peer interface as raw-tcp.mjs.
 */
import { WebSocket, WebSocketServer } from 'ws';
import { HIGH_WATER_BYTES } from './raw-tcp.mjs';

export default {
  name: 'ws',
  listen,
  open,
};

async function listen(handlers) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  return serve(wss, handlers, wss.address().port);
}

/** The server side over a listening WebSocketServer (plain, or on an https server: wss.mjs). */
export function serve(wss, { message }, port, onClose = () => {}) {
  wss.on('connection', (ws) => {
    const conn = { send: (data) => ws.send(data) };
    ws.on('message', (data) => message(data, conn));
    ws.on('error', () => {});
  });
  return {
    port,
    sessions: () => wss.clients.size,
    close: () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      onClose();
    },
  };
}

function open(port) {
  return openUrl(`ws://127.0.0.1:${port}`, {});
}

/** The client side for a ws:// or wss:// URL (`options`: more WebSocket options, e.g. `ca`). */
export async function openUrl(url, options) {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
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

/** Polls once per turn of the event loop (ws has no drain event on the WebSocket itself). */
export function waitUntil(condition) {
  return new Promise((resolve) => {
    const check = () => (condition() ? resolve() : setImmediate(check));
    check();
  });
}
