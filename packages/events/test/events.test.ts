/**
 * One client and its server-side socket over a real loopback session: events both ways with
 * typed arguments, acks (reply, timeout, abort, callback form, a late reply dropped), bad frames
 * and failing handlers reported on 'error' while the session goes on, MessagePack with binary,
 * and 'disconnect' with the close reason.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AckTimeoutError,
  connectEvents,
  type EventFrameError,
  EventsErrorCode,
  HandlerError,
  msgpackCodec,
} from '@liaison/events';
import { next, pair, sleep, startEvents, waitFor, within } from './helpers.js';

interface ClientToServer {
  hello: (name: string, n: number) => void;
  add: (a: number, b: number, ack: (sum: number) => void) => void;
  slow: (ms: number, ack: (done: string) => void) => void;
  bytes: (data: Uint8Array, ack: (echo: Uint8Array, size: number) => void) => void;
}
interface ServerToClient {
  welcome: (text: string, at: { n: number }) => void;
  ask: (q: string, ack: (answer: string) => void) => void;
}

describe('events over one session', { timeout: 30_000 }, () => {
  test('emit both ways with typed arguments, in order', async (t) => {
    const io = await startEvents<ClientToServer, ServerToClient>(t);
    const { client, server } = await pair(t, io);
    const got: [string, number][] = [];
    server.on('hello', (name, n) => got.push([name, n]));
    const welcomed = next(client, 'welcome');
    for (let i = 0; i < 50; i++) void client.emit('hello', 'ada', i);
    await server.emit('welcome', 'hi ada', { n: 1 });
    assert.deepEqual(await welcomed, ['hi ada', { n: 1 }]);
    await waitFor(() => got.length === 50, 5_000, '50 hellos');
    assert.deepEqual(
      got.map(([, n]) => n),
      [...Array(50).keys()],
    );
    assert.equal(got[0]?.[0], 'ada');
  });

  test('emitWithAck resolves with the reply, both directions, matched by id', async (t) => {
    const io = await startEvents<ClientToServer, ServerToClient>(t);
    const { client, server } = await pair(t, io);
    server.on('add', (a, b, ack) => ack(a + b));
    client.on('ask', (q, ack) => ack(`${q}!`));
    const sums = await within(
      Promise.all([...Array(20).keys()].map((i) => client.emitWithAck('add', i, 100))),
      5_000,
      '20 acks',
    );
    assert.deepEqual(
      sums,
      [...Array(20).keys()].map((i) => i + 100),
    );
    assert.equal(await within(server.emitWithAck('ask', 'why'), 5_000, 'ask'), 'why!');
  });

  test('the callback form of emit gets every reply argument', async (t) => {
    const io = await startEvents<ClientToServer, ServerToClient>(t, { codec: msgpackCodec });
    const { client, server } = await pair(t, io, { codec: msgpackCodec });
    server.on('bytes', (data, ack) => ack(data, data.byteLength));
    const reply = await within(
      new Promise<unknown[]>((resolve) =>
        client.emit('bytes', new Uint8Array([1, 2, 3]), (...r: unknown[]) => resolve(r)),
      ),
      5_000,
      'callback',
    );
    assert.ok(reply[0] instanceof Uint8Array);
    assert.deepEqual([...(reply[0] as Uint8Array)], [1, 2, 3]);
    assert.equal(reply[1], 3);
  });

  test('a timeout rejects with AckTimeoutError and the late reply is dropped', async (t) => {
    const io = await startEvents<ClientToServer, ServerToClient>(t);
    const { client, server } = await pair(t, io);
    let runs = 0;
    server.on('slow', (ms, ack) => {
      runs++;
      setTimeout(() => ack(`after ${ms}`), ms);
    });
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    const started = Date.now();
    await assert.rejects(client.timeout(100).emitWithAck('slow', 400), (e: unknown) => {
      assert.ok(e instanceof AckTimeoutError);
      assert.equal(e.code, EventsErrorCode.ACK_TIMEOUT);
      return true;
    });
    assert.ok(Date.now() - started < 1_000, 'rejected at the timeout, not at the reply');
    await sleep(500);
    // The late reply arrived and was dropped: no error, and the next ack still matches.
    assert.deepEqual(errors, []);
    assert.equal(await within(client.emitWithAck('slow', 1), 5_000, 'next ack'), 'after 1');
    assert.equal(runs, 2);
  });

  test('an abort signal rejects with its reason; a signal aborted before sends nothing', async (t) => {
    const io = await startEvents<ClientToServer, ServerToClient>(t);
    const { client, server } = await pair(t, io);
    let runs = 0;
    server.on('slow', (ms, ack) => {
      runs++;
      setTimeout(() => ack('late'), ms);
    });
    const controller = new AbortController();
    const pending = client.withAck({ signal: controller.signal }).emitWithAck('slow', 200);
    setTimeout(() => controller.abort(new Error('user left')), 20);
    await assert.rejects(pending, /user left/);
    await assert.rejects(
      client.withAck({ signal: AbortSignal.abort(new Error('already')) }).emitWithAck('slow', 1),
      /already/,
    );
    await sleep(300);
    assert.equal(runs, 1);
    assert.throws(() => client.withAck({ timeoutMs: 0 }).emitWithAck('slow', 1), {
      code: 'ERR_LIAISON_INVALID_ARGUMENT',
    });
  });

  test('a bad frame and a failing handler go to the error handlers; the session goes on', async (t) => {
    const io = await startEvents<ClientToServer, ServerToClient>(t);
    const { client, server } = await pair(t, io);
    const errors: Error[] = [];
    server.on('error', (e) => errors.push(e));
    server.on('hello', (name) => {
      if (name === 'boom') throw new Error('handler broke');
    });
    server.on('add', async () => {
      throw new Error('async handler broke');
    });
    await client.session.send(new Uint8Array([9, 9, 9]));
    await client.session.send(new Uint8Array([1, 5, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x7b])); // 'hello' + '{'
    await client.session.send(new Uint8Array([1, 5, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x34])); // 'hello' + '4': not a list
    await client.session.send(new Uint8Array([1, 5, 0x65, 0x72, 0x72, 0x6f, 0x72, 0x5b, 0x5d])); // reserved 'error'
    void client.emit('hello', 'boom', 1);
    void client.emit('add', 1, 2);
    const ok = within(
      new Promise((resolve) => server.on('hello', (name, n) => name === 'fine' && resolve([name, n]))),
      5_000,
      'the event after the bad ones',
    );
    void client.emit('hello', 'fine', 2);
    assert.deepEqual(await ok, ['fine', 2]);
    await waitFor(() => errors.length === 6, 5_000, 'six errors');
    const codes = errors.map((e) => (e as EventFrameError).code);
    assert.deepEqual(codes, [
      EventsErrorCode.BAD_FRAME,
      EventsErrorCode.BAD_PAYLOAD,
      EventsErrorCode.BAD_PAYLOAD,
      EventsErrorCode.BAD_FRAME,
      EventsErrorCode.HANDLER_FAILED,
      EventsErrorCode.HANDLER_FAILED,
    ]);
    assert.ok(errors[4] instanceof HandlerError && errors[4].event === 'hello');
    assert.equal(server.connected, true);
  });

  test('an error handler that throws becomes a process warning, once, not a loop', async (t) => {
    const io = await startEvents<ClientToServer, ServerToClient>(t);
    const { client, server } = await pair(t, io);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    server.on('error', () => {
      throw new Error('error handler broke');
    });
    await client.session.send(new Uint8Array([9]));
    const ok = next(server, 'hello');
    void client.emit('hello', 'after', 1);
    assert.deepEqual(await ok, ['after', 1]);
    await sleep(50);
    const ours = warnings.filter((w) => w instanceof HandlerError && w.event === 'error');
    assert.equal(ours.length, 1);
  });

  test('reserved names cannot be emitted', async (t) => {
    const io = await startEvents(t);
    const { client } = await pair(t, io);
    for (const name of ['connect', 'disconnect', 'error', 'connection'])
      assert.throws(() => client.emit(name), { code: 'ERR_LIAISON_INVALID_ARGUMENT' }, name);
  });

  test("'connect' fires on the client once the session is open; 'disconnect' on both sides with the reason", async (t) => {
    const io = await startEvents<ClientToServer, ServerToClient>(t);
    const { client, server } = await pair(t, io);
    assert.equal(client.connected, true);
    assert.equal(server.connected, true);
    server.on('slow', () => {}); // never answers
    const inFlight = assert.rejects(client.timeout(10_000).emitWithAck('slow', 1), {
      code: 'ERR_LIAISON_SESSION_CLOSED',
    });
    const serverGone = next(server, 'disconnect');
    const clientGone = next(client, 'disconnect');
    await within(client.disconnect(), 5_000, 'release');
    const [serverReason] = await serverGone;
    const [clientReason] = await clientGone;
    assert.equal((serverReason as { kind: string }).kind, 'released');
    assert.equal((clientReason as { kind: string }).kind, 'released');
    assert.equal(client.connected, false);
    assert.equal(server.connected, false);
    await inFlight;
    await assert.rejects(client.emitWithAck('add', 1, 2), { code: 'ERR_LIAISON_SESSION_CLOSED' });
    await waitFor(() => io.sockets.size === 0, 2_000, 'socket removed from the server');
  });

  test("a refused connect: ready rejects, 'disconnect' says refused, 'connect' never fires", async (t) => {
    const io = await startEvents(t, { onConnect: () => false });
    const socket = connectEvents(io.server.url);
    t.after(() => socket.session.abort());
    let connects = 0;
    socket.on('connect', () => connects++);
    const gone = next(socket, 'disconnect');
    await assert.rejects(within(socket.ready, 5_000, 'ready'), { code: 'ERR_LIAISON_SESSION_REFUSED' });
    const [reason] = await gone;
    assert.equal((reason as { kind: string }).kind, 'refused');
    assert.equal(connects, 0);
    assert.equal(socket.connected, false);
  });

  test("a client's 'connect' handler runs once", async (t) => {
    const io = await startEvents(t);
    const { client: first } = await pair(t, io);
    await first.disconnect();
    const socket = connectEvents(io.server.url);
    t.after(() => socket.session.abort());
    let connects = 0;
    socket.on('connect', () => connects++);
    await within(socket.ready, 5_000, 'ready');
    await sleep(20);
    assert.equal(connects, 1);
    assert.equal(socket.connected, true);
  });
});
