/**
 * The raw baseline of bench/transfer.mjs: a file over one plain TCP connection, no framing.
 *
 *   node file-pipe.mjs sink DIR [--sha256]     prints `listening PORT`; per connection writes the
 *                                              bytes to DIR/received, fsyncs it, answers one byte
 *   node file-pipe.mjs source FILE PORT [--sha256]   streams FILE, half-closes, exits once answered
 *
 * With --sha256 both ends hash the bytes as they pass and the sink answers its digest, which the
 * source checks: what liaison send does per file beyond moving the bytes (it also journals).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

const [role, a, b, flag] = process.argv.slice(2);
const sha = process.argv.includes('--sha256');

if (role === 'sink') await sink(a);
else if (role === 'source') await source(a, Number(b));
else throw new Error(`unknown role ${role} ${flag ?? ''}`);

async function sink(dir) {
  // Half-open: the answer goes back after the source has finished sending.
  const server = createServer({ allowHalfOpen: true }, async (socket) => {
    const file = await open(join(dir, 'received'), 'w');
    const hash = sha ? createHash('sha256') : null;
    let at = 0;
    socket.pause();
    socket.on('data', (chunk) => {
      socket.pause();
      hash?.update(chunk);
      file.write(chunk, 0, chunk.length, at).then(() => socket.resume());
      at += chunk.length;
    });
    socket.on('end', async () => {
      // Every write resolved before the next chunk was read, so the last one is done here too.
      await file.sync();
      await file.close();
      socket.end(hash ? hash.digest() : Buffer.of(1));
    });
    socket.resume();
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
}

async function source(path, port) {
  const socket = connect({ host: '127.0.0.1', port });
  const hash = sha ? createHash('sha256') : null;
  const answer = [];
  socket.on('data', (c) => answer.push(c));
  const done = new Promise((resolve, reject) => {
    socket.on('end', resolve);
    socket.on('error', reject);
  });
  const input = createReadStream(path, { highWaterMark: 256 * 1024 });
  if (hash) input.on('data', (c) => hash.update(c));
  input.pipe(socket);
  await done;
  const got = Buffer.concat(answer);
  if (hash && !got.equals(hash.digest())) throw new Error('SHA-256 mismatch');
  if (!hash && got.length !== 1) throw new Error('no confirmation from the sink');
}
