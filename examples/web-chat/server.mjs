// A chat with file upload in the browser, on liaison sessions over WebSocket (issue 12's example).
//
//   npm install liaison @liaison/browser esbuild
//   node examples/web-chat/server.mjs            # then open the URL it prints, in two tabs
//
// One node:http server serves the page, its script and the browser client (bundled here with
// esbuild), and carries the liaison sessions on ws://.../liaison. Every line and file a client
// sends reaches every other client exactly once and in order, also when a client's network drops
// and comes back: nothing here retries, acknowledges or numbers messages; the session does.
//
// The wire of this app, in session messages: JSON objects, except the chunks of a file, which
// follow its {"t":"file"} header as binary messages until `size` bytes have come.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { listen } from 'liaison';

const here = fileURLToPath(new URL('.', import.meta.url));
const port = Number(process.env.PORT ?? 8080);
const HISTORY_MAX = 100;

// The browser client as one ES module: what a bundler does in a real app.
const client = await build({
  stdin: { contents: "export * from '@liaison/browser';", resolveDir: here },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  minify: true,
  write: false,
});
const files = {
  '/': { type: 'text/html; charset=utf-8', body: await readFile(new URL('index.html', import.meta.url)) },
  '/chat.js': { type: 'text/javascript', body: await readFile(new URL('chat.js', import.meta.url)) },
  '/liaison.js': { type: 'text/javascript', body: client.outputFiles[0].contents },
};
const app = createServer((req, res) => {
  const file = files[new URL(req.url ?? '/', 'http://x').pathname];
  if (!file) return void res.writeHead(404).end('not found\n');
  res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
});
await new Promise((resolve) => app.listen(port, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${app.address().port}`;

const members = new Set();
const history = []; // the last lines said, for whoever joins next
const encoder = new TextEncoder();
const json = (value) => encoder.encode(JSON.stringify(value));

/** Sends one message, or a file's header and chunks, to every member but `from`, in one go. */
function relay(from, messages) {
  for (const member of members) {
    if (member === from) continue;
    // write() queues (its false only says "the peer is slow"); nothing is dropped, so a file's
    // chunks cannot be split by another sender's: this loop runs to its end first.
    for (const m of messages) member.write(m);
  }
}

const server = await listen('ws://127.0.0.1/liaison', {
  httpServer: app,
  origins: [origin], // another site's page cannot open a session here
  onSession: async (session) => {
    const name = new TextDecoder().decode(session.peerUserData).slice(0, 32) || 'guest';
    for (const line of history) session.write(json(line));
    members.add(session);
    relay(session, [json({ t: 'join', from: name })]);
    let file = null; // the file being received: its header and the bytes still to come
    try {
      for await (const m of session) {
        if (file) {
          file.chunks.push(m);
          file.left -= m.byteLength;
          if (file.left <= 0) {
            relay(session, [json(file.header), ...file.chunks]);
            file = null;
          }
          continue;
        }
        const message = JSON.parse(new TextDecoder().decode(m));
        if (message.t === 'say') {
          const line = { t: 'say', from: name, text: String(message.text).slice(0, 2000), at: Date.now() };
          history.push(line);
          if (history.length > HISTORY_MAX) history.shift();
          relay(session, [json(line)]);
        } else if (message.t === 'file') {
          const header = {
            t: 'file',
            from: name,
            name: String(message.name),
            size: Number(message.size),
            type: String(message.type ?? ''),
          };
          if (header.size === 0) relay(session, [json(header)]);
          else file = { header, left: header.size, chunks: [] };
        }
      }
    } catch {
      session.abort('bad message'); // not this app's wire: that client goes, the others stay
    } finally {
      members.delete(session);
      relay(session, [json({ t: 'leave', from: name })]);
    }
  },
});
console.log(`chat ${origin}/`);

const stop = async () => {
  await server.close();
  app.close();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
