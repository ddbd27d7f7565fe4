/**
 * Sessions as streams (issue 19, point 4), over real loopback sockets: `pipeline()` copies a file
 * through a session byte-identical (byte mode and object mode), backpressure keeps the writer's
 * memory bounded while the peer does not read, end / release / abort / destroy map onto the
 * stream's end, finish and error, and the WHATWG streams work with pipeTo(), `for await` and
 * `new Response()`.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, type TestContext, test } from 'node:test';
import {
  connect,
  ErrorCode,
  type Server,
  type Session,
  SessionClosedError,
  sessionDuplex,
  sessionStreams,
  UsageError,
} from '@liaison/node';
import {
  bytes,
  echoServer,
  nextSession,
  readAll,
  sleep,
  startServer,
  text,
  track,
  waitFor,
  within,
} from './helpers.js';

const FILE_BYTES = 3 * 1024 * 1024 + 12_345; // a few MiB, not a multiple of any chunk size

let dir = '';
let source = '';
let sourceHash = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'liaison-streams-'));
  source = join(dir, 'source.bin');
  const content = randomBytes(FILE_BYTES);
  await writeFile(source, content);
  sourceHash = sha256(content);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Resolves once `count()` is above 0 and has not moved for 300 ms; rejects after 10 s. */
async function stalled(count: () => number, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = -1;
  let still = 0;
  while (still < 6) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
    const now = count();
    still = now === last && now > 0 ? still + 1 : 0;
    last = now;
  }
}

async function opened(t: TestContext, server: Server): Promise<{ client: Session; remote: Session }> {
  const remote = nextSession(server, 5_000);
  const client = track(t, connect(server.url));
  await within(client.ready, 5_000, 'client ready');
  return { client, remote: await remote };
}

/** Collects what a Node readable yields (Buffers in byte mode, one per message in object mode). */
function collect(into: Buffer[]): Writable {
  return new Writable({
    objectMode: true,
    write(chunk: Buffer, _encoding, callback) {
      into.push(chunk);
      callback();
    },
  });
}

describe('toDuplex(): pipeline() copies a file', () => {
  test('byte mode through an echo server: the copy is byte-identical and the session released', async (t) => {
    const server = await startServer(t);
    echoServer(server);
    const { client } = await opened(t, server);
    const target = join(dir, 'echoed.bin');
    await within(pipeline(createReadStream(source), client.toDuplex(), createWriteStream(target)), 20_000, 'copy');
    assert.equal(sha256(await readFile(target)), sourceHash);
    assert.equal((await client.closed).kind, 'released');
  });

  test('object mode to a server writing a file: one message per chunk, boundaries kept', async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server);
    const target = join(dir, 'received.bin');
    const sizes: number[] = [];
    const incoming = sessionDuplex(remote, { objectMode: true }); // what toDuplex() calls
    incoming.on('data', (m: Buffer) => sizes.push(m.byteLength));
    const received = pipeline(incoming, createWriteStream(target));
    const chunk = 50_000;
    const outgoing = client.toDuplex({ objectMode: true });
    await within(pipeline(createReadStream(source, { highWaterMark: chunk }), outgoing), 20_000, 'send');
    // 'finish' comes once the release is complete: the server has taken every message.
    assert.equal(client.closeReason?.kind, 'released');
    await within(received, 5_000, 'server file');
    assert.equal(sha256(await readFile(target)), sourceHash);
    const expected = Array.from({ length: Math.ceil(FILE_BYTES / chunk) }, (_, i) =>
      Math.min(chunk, FILE_BYTES - i * chunk),
    );
    assert.deepEqual(sizes, expected);
  });

  test('object mode keeps each message, strings and bytes, through an echo', async (t) => {
    const server = await startServer(t);
    echoServer(server);
    const { client } = await opened(t, server);
    const sent = ['one', new Uint8Array(0), 'three', randomBytes(70_000), 'five'];
    const back: Buffer[] = [];
    await within(pipeline(Readable.from(sent), client.toDuplex({ objectMode: true }), collect(back)), 5_000, 'echo');
    assert.deepEqual(
      back.map((b) => Buffer.from(b)),
      sent.map((m) => Buffer.from(typeof m === 'string' ? bytes(m) : m)),
    );
    assert.ok(back.every((b) => Buffer.isBuffer(b)));
  });

  test('a second stream, or iterating as well, is a UsageError INVALID_STATE', async (t) => {
    const server = await startServer(t);
    const { client } = await opened(t, server);
    const duplex = client.toDuplex();
    const invalidState = (e: unknown) => e instanceof UsageError && e.code === ErrorCode.INVALID_STATE;
    assert.throws(() => client.toDuplex(), invalidState);
    assert.throws(() => client.streams(), invalidState);
    assert.throws(() => client[Symbol.asyncIterator](), invalidState);
    duplex.destroy();
  });
});

describe('toDuplex(): backpressure', () => {
  test('a peer that does not read stalls the source: what is held stays bounded, then all arrives', async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server);
    const chunk = 64 * 1024;
    const total = 16 * 1024 * 1024;
    let produced = 0;
    const sourceStream = Readable.from(
      (function* () {
        for (; produced < total; ) {
          produced += chunk;
          yield Buffer.alloc(chunk, produced / chunk);
        }
      })(),
      { objectMode: false, highWaterMark: chunk },
    );
    const duplex = client.toDuplex();
    const sending = pipeline(sourceStream, duplex);
    // The source is pulled only as far as the peer's window, the session's send queue and the
    // streams' buffers go; wait until it stops moving.
    await stalled(() => produced, 'the source to stall');
    const held = 4 * 1024 * 1024 + 1024 * 1024 + 4 * chunk; // window + send queue + stream buffers
    assert.ok(produced <= held, `the source produced ${produced} bytes while the peer read nothing`);
    // The core's queue takes messages while below sendQueueBytesMax (1 MiB), one more waits for room.
    assert.ok(client.bufferedAmount <= 1024 * 1024 + 2 * chunk, `session queue ${client.bufferedAmount}`);
    assert.ok(duplex.writableLength <= 2 * chunk, `stream buffer ${duplex.writableLength}`);
    const received = readAll(remote);
    await within(sending, 20_000, 'the rest once the peer reads');
    const messages = await within(received, 5_000, 'server read');
    assert.equal(
      messages.reduce((n, m) => n + m.byteLength, 0),
      total,
    );
  });

  test('a slow consumer of the readable side leaves the rest in the session: the sender waits', async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server);
    const duplex = client.toDuplex({ objectMode: true });
    duplex.pause();
    const message = new Uint8Array(64 * 1024);
    let accepted = 0;
    const sending = (async () => {
      for (let i = 0; i < 256; i++) {
        await remote.send(message);
        accepted++;
      }
    })();
    await stalled(() => accepted, 'the sender to stall');
    // The readable side holds at most its highWaterMark (16 messages) and asks for no more.
    assert.ok(duplex.readableLength <= 16, `stream buffer ${duplex.readableLength}`);
    assert.ok(accepted < 256, `${accepted} messages accepted while nobody read`);
    let read = 0;
    duplex.on('data', () => read++);
    duplex.resume();
    await within(sending, 20_000, 'the rest once read');
    await waitFor(() => read === 256, 5_000, 'every message read');
    duplex.destroy();
  });
});

describe('toDuplex(): end, release, abort', () => {
  test('end() releases the session after everything written; finish once the release is complete', async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server);
    const received = readAll(remote);
    const duplex = client.toDuplex({ objectMode: true });
    duplex.write('a');
    duplex.write('b');
    duplex.end('c');
    await within(once(duplex, 'finish'), 5_000, 'finish');
    assert.equal(client.closeReason?.kind, 'released');
    assert.deepEqual((await received).map(text), ['a', 'b', 'c']);
    assert.equal((await remote.closed).kind, 'released');
  });

  test("the peer's release ends the readable side after its last message", async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server);
    const duplex = client.toDuplex({ objectMode: true });
    const back: Buffer[] = [];
    duplex.on('data', (m: Buffer) => back.push(m));
    await remote.send('x');
    await remote.send('y');
    const closing = remote.close();
    await within(once(duplex, 'end'), 5_000, 'end');
    assert.deepEqual(back.map(text), ['x', 'y']);
    assert.equal((await within(closing, 5_000, 'release')).kind, 'released');
  });

  test('allowHalfOpen: true answers the release only at end(): a reply written after the end arrives', async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server);
    const duplex = client.toDuplex({ objectMode: true, allowHalfOpen: true });
    duplex.resume();
    await remote.send('question');
    const closing = remote.close();
    const replies = readAll(remote);
    await within(once(duplex, 'end'), 5_000, 'end');
    assert.equal(remote.closeReason, null, 'the release waits for this side');
    duplex.end('answer');
    assert.deepEqual((await within(replies, 5_000, 'replies')).map(text), ['answer']);
    assert.equal((await within(closing, 5_000, 'release')).kind, 'released');
  });

  test("the peer's abort destroys the stream with the session's SessionClosedError", async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server);
    const duplex = client.toDuplex();
    remote.abort('bye');
    const [error] = await within(once(duplex, 'error'), 5_000, 'error');
    assert.ok(error instanceof SessionClosedError);
    assert.equal(error.code, ErrorCode.SESSION_ABORTED);
    assert.equal(error.reason.kind === 'aborted' && error.reason.origin, 'peer');
    assert.ok(duplex.destroyed);
  });

  test('destroy() aborts the session: the peer sees an abort', async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server);
    const duplex = client.toDuplex();
    duplex.destroy();
    const reason = await within(remote.closed, 5_000, 'peer closed');
    assert.equal(reason.kind, 'aborted');
    assert.equal(reason.kind === 'aborted' && reason.origin, 'peer');
    assert.equal((await client.closed).kind, 'aborted');
  });

  test('a write the session refuses (not bytes nor a string) destroys the stream and aborts', async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server);
    const duplex = client.toDuplex({ objectMode: true });
    duplex.write(42);
    const [error] = await within(once(duplex, 'error'), 5_000, 'error');
    assert.ok(error instanceof UsageError);
    assert.equal(error.code, ErrorCode.INVALID_ARGUMENT);
    assert.equal((await within(remote.closed, 5_000, 'peer closed')).kind, 'aborted');
  });
});

describe('streams(): WHATWG readable and writable', () => {
  test('pipeTo() echoes on the server; for await reads it back; close() releases', async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server);
    const echo = sessionStreams(remote); // what streams() calls
    const echoing = echo.readable.pipeTo(echo.writable);
    const { readable, writable } = client.streams();
    const back: string[] = [];
    const reading = (async () => {
      for await (const m of readable) back.push(text(m));
    })();
    const writer = writable.getWriter();
    for (const m of ['alpha', 'beta', 'gamma']) {
      await writer.ready;
      await writer.write(m);
    }
    await within(writer.close(), 5_000, 'release');
    await within(reading, 5_000, 'read back');
    await within(echoing, 5_000, 'server pipeTo');
    assert.deepEqual(back, ['alpha', 'beta', 'gamma']);
    assert.equal(client.closeReason?.kind, 'released');
    assert.equal(remote.closeReason?.kind, 'released');
  });

  test('new Response(readable).arrayBuffer() reads a file the server streams (fetch-style)', async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server);
    const fileStream = Readable.toWeb(createReadStream(source)) as ReadableStream<Uint8Array>;
    const serving = fileStream.pipeTo(remote.streams().writable);
    const body = await within(new Response(client.streams().readable).arrayBuffer(), 20_000, 'body');
    assert.equal(sha256(new Uint8Array(body)), sourceHash);
    await within(serving, 5_000, 'server writable closed');
    assert.equal(remote.closeReason?.kind, 'released');
  });

  test('writable: write() waits while the peer does not read, so writes stay bounded', async (t) => {
    const server = await startServer(t);
    const { client, remote } = await opened(t, server);
    const writer = client.streams().writable.getWriter();
    const chunk = new Uint8Array(64 * 1024);
    let accepted = 0;
    const writing = (async () => {
      for (let i = 0; i < 256; i++) {
        await writer.ready;
        await writer.write(chunk);
        accepted++;
      }
      await writer.close();
    })();
    await stalled(() => accepted, 'the writer to stall');
    assert.ok(accepted * chunk.byteLength <= 4 * 1024 * 1024 + 1024 * 1024 + chunk.byteLength, `${accepted} accepted`);
    assert.ok(client.bufferedAmount <= 1024 * 1024 + 2 * chunk.byteLength, `session queue ${client.bufferedAmount}`);
    const received = readAll(remote);
    await within(writing, 20_000, 'the rest once the peer reads');
    assert.equal((await received).length, 256);
  });

  test("the peer's abort errors readable with the SessionClosedError; cancel() aborts the peer", async (t) => {
    const server = await startServer(t);
    const first = await opened(t, server);
    const reader = first.client.streams().readable.getReader();
    first.remote.abort();
    await assert.rejects(
      within(reader.read(), 5_000, 'read'),
      (e: SessionClosedError) => e instanceof SessionClosedError && e.code === ErrorCode.SESSION_ABORTED,
    );
    const second = await opened(t, server);
    await second.client.streams().readable.cancel();
    assert.equal((await within(second.remote.closed, 5_000, 'peer closed')).kind, 'aborted');
  });
});
