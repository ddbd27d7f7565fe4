/**
 * The chat of docs/MIGRATING-FROM-SOCKET-IO.md, both versions, so the guide's code is checked:
 * two users join a room, one says something, both see it once and the sender gets the message's
 * id as the ack; a user outside the room sees nothing. The code between the "guide" markers is
 * the guide's, with the port made free and the console replaced by an array.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
// guide: liaison
import { connectEvents, type EventServer, listenEvents } from '@liaison/events';
import { Server as SocketIoServer } from 'socket.io';
import { io as socketIoClient } from 'socket.io-client';
import { sleep, waitFor, within } from './helpers.js';

interface ClientToServer {
  join: (room: string, ack: (members: number) => void) => void;
  say: (room: string, text: string, ack: (id: number) => void) => void;
}
interface ServerToClient {
  said: (room: string, from: string, text: string, id: number) => void;
}

async function startChat(url: string): Promise<EventServer<ClientToServer, ServerToClient>> {
  const io = await listenEvents<ClientToServer, ServerToClient>(url);
  let nextId = 1;
  io.on('connection', (socket) => {
    socket.on('join', async (room, ack) => {
      await socket.join(room);
      ack((await io.in(room).socketIds()).size);
    });
    socket.on('say', (room, text, ack) => {
      const id = nextId++;
      io.to(room).emit('said', room, socket.id, text, id);
      ack(id);
    });
  });
  return io;
}

function chatUser(url: string, log: string[]) {
  const socket = connectEvents<ServerToClient, ClientToServer>(url);
  socket.on('said', (room, _from, text, id) => log.push(`[${room}] #${id} ${text}`));
  return socket;
}
// end guide

describe("the migration guide's chat", { timeout: 20_000 }, () => {
  test('@liaison/events', async (t) => {
    const io = await startChat('tcp://127.0.0.1:0');
    t.after(() => io.close());
    const logs = { ada: [] as string[], bob: [] as string[], eve: [] as string[] };
    const ada = chatUser(io.server.url, logs.ada);
    const bob = chatUser(io.server.url, logs.bob);
    const eve = chatUser(io.server.url, logs.eve);
    for (const s of [ada, bob, eve]) t.after(() => s.session.abort());
    assert.equal(await within(ada.emitWithAck('join', 'lobby'), 5_000, 'ada joins'), 1);
    assert.equal(await within(bob.emitWithAck('join', 'lobby'), 5_000, 'bob joins'), 2);
    await within(eve.emitWithAck('join', 'elsewhere'), 5_000, 'eve joins');
    assert.equal(await within(ada.emitWithAck('say', 'lobby', 'hello'), 5_000, 'ada says'), 1);
    await waitFor(() => logs.bob.length === 1, 5_000, 'bob hears');
    await sleep(50);
    assert.deepEqual(logs, { ada: ['[lobby] #1 hello'], bob: ['[lobby] #1 hello'], eve: [] });
  });

  test('Socket.IO, the same chat', async (t) => {
    const port = await startSocketIoChat(t);
    const logs = { ada: [] as string[], bob: [] as string[], eve: [] as string[] };
    const user = (log: string[]) => {
      // guide: socket.io client
      const socket = socketIoClient(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
      socket.on('said', (room, _from, text, id) => log.push(`[${room}] #${id} ${text}`));
      // end guide
      t.after(() => socket.disconnect());
      return socket;
    };
    const ada = user(logs.ada);
    const bob = user(logs.bob);
    const eve = user(logs.eve);
    assert.equal(await within(ada.emitWithAck('join', 'lobby'), 5_000, 'ada joins'), 1);
    assert.equal(await within(bob.emitWithAck('join', 'lobby'), 5_000, 'bob joins'), 2);
    await within(eve.emitWithAck('join', 'elsewhere'), 5_000, 'eve joins');
    assert.equal(await within(ada.emitWithAck('say', 'lobby', 'hello'), 5_000, 'ada says'), 1);
    await waitFor(() => logs.bob.length === 1, 5_000, 'bob hears');
    await sleep(50);
    assert.deepEqual(logs, { ada: ['[lobby] #1 hello'], bob: ['[lobby] #1 hello'], eve: [] });
  });
});

async function startSocketIoChat(t: TestContext): Promise<number> {
  const http = createServer();
  // guide: socket.io server
  const io = new SocketIoServer<ClientToServer, ServerToClient>(http, { transports: ['websocket'] });
  let nextId = 1;
  io.on('connection', (socket) => {
    socket.on('join', async (room, ack) => {
      await socket.join(room);
      ack((await io.in(room).fetchSockets()).length);
    });
    socket.on('say', (room, text, ack) => {
      const id = nextId++;
      io.to(room).emit('said', room, socket.id, text, id);
      ack(id);
    });
  });
  // end guide
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => io.close(() => resolve())));
  return (http.address() as AddressInfo).port;
}
