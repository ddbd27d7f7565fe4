/**
 * Socket.IO 4 over its WebSocket transport only (no long-polling upgrade), binary payloads, one
 * event name. `socketioPeer({ recovery })` makes the variant with connection state recovery
 * (socketio-recovery.mjs) or without (this module's default). Backpressure: the engine's write
 * buffer and the underlying WebSocket's bufferedAmount against raw TCP's high-water mark.
 * Same peer interface as raw-tcp.mjs.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import { HIGH_WATER_BYTES } from './raw-tcp.mjs';
import { waitUntil } from './ws.mjs';

const WRITE_BUFFER_PACKETS_MAX = 1024;

export default socketioPeer({ recovery: false });

/**
 * @param {{ recovery: boolean, reconnectionDelayMs?: number }} options reconnectionDelayMs
 * overrides the client's first reconnection delay (Socket.IO's default is 1,000 ms +-50%).
 */
export function socketioPeer({ recovery, reconnectionDelayMs }) {
  return {
    name: recovery ? 'socketio-recovery' : 'socketio',
    listen: (handlers) => listen(handlers, recovery),
    open: (port) => open(port, reconnectionDelayMs),
  };
}

async function listen({ message }, recovery) {
  const http = createServer();
  const io = new Server(http, {
    transports: ['websocket'],
    serveClient: false,
    ...(recovery ? { connectionStateRecovery: {} } : {}),
  });
  io.on('connection', (socket) => {
    const conn = { send: (data) => socket.emit('m', data) };
    socket.on('m', (data) => message(data, conn));
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: http.address().port,
    sessions: () => io.engine.clientsCount,
    close: () => {
      io.close();
      http.close();
    },
  };
}

async function open(port, reconnectionDelayMs) {
  const socket = io(`http://127.0.0.1:${port}`, {
    transports: ['websocket'],
    forceNew: true,
    ...(reconnectionDelayMs === undefined ? {} : { reconnectionDelay: reconnectionDelayMs }),
  });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const full = () => {
    const engine = socket.io.engine;
    return (
      engine.writeBuffer.length >= WRITE_BUFFER_PACKETS_MAX ||
      (engine.transport?.ws?.bufferedAmount ?? 0) >= HIGH_WATER_BYTES
    );
  };
  return {
    send(data) {
      socket.emit('m', data);
      return !full();
    },
    drained: () => waitUntil(() => !full()),
    onMessage: (cb) => socket.on('m', cb),
    onDown: (cb) => socket.on('disconnect', () => cb()),
    /** Whether the last reconnection recovered the session (connection state recovery). */
    recovered: () => socket.recovered,
    close: () => socket.disconnect(),
  };
}
