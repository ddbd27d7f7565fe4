/**
 * The `ws` package over TLS (wss://, an https server from node:https): as ws.mjs otherwise.
 * Configured by compare.mjs --secure with `{ cert, key, ca }` (PEM file paths, made at bench time).
 * Same peer interface as raw-tcp.mjs.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { WebSocketServer } from 'ws';
import { openUrl, serve } from './ws.mjs';

export function configure(pki) {
  return {
    name: 'wss',
    listen: (handlers) => listen(handlers, { cert: readFileSync(pki.cert), key: readFileSync(pki.key) }),
    open: (port) => open(port, readFileSync(pki.ca)),
  };
}

async function listen(handlers, credentials) {
  const https = createServer(credentials);
  const wss = new WebSocketServer({ server: https, perMessageDeflate: false });
  await new Promise((resolve) => https.listen(0, '127.0.0.1', resolve));
  return serve(wss, handlers, https.address().port, () => https.close());
}

function open(port, ca) {
  return openUrl(`wss://127.0.0.1:${port}`, { ca });
}
