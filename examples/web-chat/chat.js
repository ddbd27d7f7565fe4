// The page's side of the chat: one liaison session, opened once; the session keeps it through
// network drops (what is typed while offline is sent when the network is back, exactly once).
import { connect } from './liaison.js';

const $ = (id) => document.getElementById(id);
const name = new URLSearchParams(location.search).get('name') || `guest-${Math.random().toString(36).slice(2, 6)}`;
const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
const session = connect(`${scheme}://${location.host}/liaison`, { userData: name });
const decoder = new TextDecoder();
const CHUNK = 64 * 1024;
$('me').textContent = `as ${name}`;

function status(text) {
  $('status').textContent = text;
  $('status').className = text;
}
session.addEventListener('open', () => status('open'));
session.addEventListener('suspended', () => status('suspended'));
session.addEventListener('resumed', () => status('open'));
session.addEventListener('close', () => status('closed'));

function add(className, ...parts) {
  const li = document.createElement('li');
  li.className = className;
  li.append(...parts);
  $('log').append(li);
  li.scrollIntoView({ block: 'end' });
  return li;
}
const span = (className, text) => Object.assign(document.createElement('span'), { className, textContent: text });

async function fileLink(header, chunks) {
  const blob = new Blob(chunks, { type: header.type || 'application/octet-stream' });
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: header.name });
  a.textContent = `${header.name} (${blob.size} bytes)`;
  a.dataset.sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  return a;
}

// Received: JSON objects, and after a file's header its chunks until `size` bytes have come.
(async () => {
  let file = null;
  for await (const m of session) {
    if (file) {
      file.chunks.push(m);
      file.left -= m.byteLength;
      if (file.left <= 0) {
        const li = add('file', span('from', file.header.from), await fileLink(file.header, file.chunks));
        li.dataset.kind = 'file';
        file = null;
      }
      continue;
    }
    const message = JSON.parse(decoder.decode(m));
    if (message.t === 'say') add('say', span('from', message.from), span('text', message.text)).dataset.kind = 'say';
    else if (message.t === 'join') add('note', `${message.from} joined`);
    else if (message.t === 'leave') add('note', `${message.from} left`);
    else if (message.t === 'file') {
      if (message.size === 0)
        add('file', span('from', message.from), await fileLink(message, [])).dataset.kind = 'file';
      else file = { header: message, left: message.size, chunks: [] };
    }
  }
})();

$('say').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (!text) return;
  $('text').value = '';
  const li = add('say mine', span('from', name), span('text', text));
  li.dataset.kind = 'mine';
  // While the network is down send() still takes the line (it waits only under backpressure);
  // the mark goes once the session has it, and the peer gets it when the network is back.
  const pending = li.appendChild(span('pending', 'sending'));
  session.send(JSON.stringify({ t: 'say', text })).then(() => pending.remove());
});

$('file').addEventListener('change', async () => {
  const chosen = $('file').files[0];
  if (!chosen) return;
  $('file').value = '';
  const bytes = new Uint8Array(await chosen.arrayBuffer());
  session.send(JSON.stringify({ t: 'file', name: chosen.name, size: bytes.byteLength, type: chosen.type }));
  for (let at = 0; at < bytes.byteLength; at += CHUNK) session.send(bytes.subarray(at, at + CHUNK));
  add('say mine', span('from', name), span('text', `sent ${chosen.name} (${bytes.byteLength} bytes)`)).dataset.kind =
    'mine';
});

window.chat = { session, name };
