/**
 * Raw TCP with a 4-byte big-endian length prefix: the reference for what Node can physically do
 * on loopback. Writes are batched (small frames are copied into one buffer that is written when
 * full or at the end of the turn of the event loop) and the parser is incremental, so this is
 * what a careful hand-written protocol costs, not a strawman.
 *
 * Peer interface (every module in bench/peers has the same shape, used by child.mjs):
 * - `listen({ message })` starts a server on 127.0.0.1, port 0, and resolves to
 *   `{ port, close() }`; `message(data, conn)` is called per message and `conn.send(data)` answers.
 * - `open(port)` resolves to a client conn once it can send: `send(data)` returns true (send more),
 *   false (await `drained()` first) or a promise (await it); `onMessage(cb)`, `onDown(cb)`
 *   (the transport broke), `close()`.
 */
import { createServer, connect as netConnect } from 'node:net';

export const HIGH_WATER_BYTES = 1024 * 1024;
const BATCH_BYTES = 64 * 1024;
const FRAME_BYTES_MAX = 16 * 1024 * 1024;

export default {
  name: 'raw-tcp',
  listen,
  open,
};

async function listen({ message }) {
  const sockets = new Set();
  const server = createServer((socket) => {
    sockets.add(socket);
    const conn = new FramedConnection(socket);
    conn.onMessage((data) => message(data, conn));
    socket.on('close', () => sockets.delete(socket));
  });
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

async function open(port) {
  const socket = netConnect({ host: '127.0.0.1', port });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return new FramedConnection(socket);
}

/** One socket: batched framed writes out, an incremental frame parser in. */
export class FramedConnection {
  #socket;
  #batch = Buffer.allocUnsafe(BATCH_BYTES);
  #batchUsed = 0;
  #flushScheduled = false;
  #parser = new FrameParser();
  #onMessage = () => {};
  #onDown = () => {};

  constructor(socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.#parser.push(chunk, this.#onMessage));
    socket.on('error', () => {});
    socket.on('close', () => this.#onDown());
  }

  send(data) {
    const length = data.byteLength;
    if (length + 4 > BATCH_BYTES - this.#batchUsed) this.#flush();
    if (length + 4 > BATCH_BYTES) {
      // A large frame goes out as it is, behind a header of its own: no copy.
      const header = Buffer.allocUnsafe(4);
      header.writeUInt32BE(length, 0);
      this.#socket.cork();
      this.#socket.write(header);
      this.#socket.write(data);
      this.#socket.uncork();
    } else {
      this.#batch.writeUInt32BE(length, this.#batchUsed);
      this.#batch.set(data, this.#batchUsed + 4);
      this.#batchUsed += length + 4;
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    }
    return this.#socket.writableLength + this.#batchUsed < HIGH_WATER_BYTES;
  }

  drained() {
    this.#flush();
    if (this.#socket.writableLength < HIGH_WATER_BYTES) return Promise.resolve();
    return new Promise((resolve) => this.#socket.once('drain', resolve));
  }

  onMessage(cb) {
    this.#onMessage = cb;
  }

  onDown(cb) {
    this.#onDown = cb;
  }

  close() {
    this.#flush();
    this.#socket.end();
  }

  #flush() {
    this.#flushScheduled = false;
    if (this.#batchUsed === 0) return;
    this.#socket.write(this.#batch.subarray(0, this.#batchUsed));
    // The written slice belongs to the socket now; the next frames go into a fresh buffer.
    this.#batch = Buffer.allocUnsafe(BATCH_BYTES);
    this.#batchUsed = 0;
  }
}

/**
 * Incremental parser: chunks are kept as they came; a frame inside one chunk is returned as a
 * view, one spanning chunks is copied once. The declared length is checked before buffering.
 */
export class FrameParser {
  #chunks = [];
  #size = 0;
  #need = -1;

  push(chunk, onFrame) {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    for (;;) {
      if (this.#need < 0) {
        if (this.#size < 4) return;
        const length = this.#take(4).readUInt32BE(0);
        if (length > FRAME_BYTES_MAX) throw new Error(`frame of ${length} bytes over the limit`);
        this.#need = length;
      }
      if (this.#size < this.#need) return;
      const frame = this.#take(this.#need);
      this.#need = -1;
      onFrame(frame);
    }
  }

  #take(n) {
    this.#size -= n;
    const first = this.#chunks[0];
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.#chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.#chunks[0];
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
    }
    return out;
  }
}
