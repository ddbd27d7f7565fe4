/**
 * @liaison/events: typed named events over liaison sessions, for Socket.IO users.
 *
 *   const io = await listenEvents('tcp://127.0.0.1:7000');
 *   io.on('connection', (socket) => socket.on('join', (room) => socket.join(room)));
 *   io.to('lobby').emit('news', 'hello');
 *
 *   const socket = connectEvents('tcp://127.0.0.1:7000');
 *   const reply = await socket.emitWithAck('ping', 1);
 */
export {
  type Adapter,
  type AdapterFactory,
  type AdapterHost,
  type BroadcastTarget,
  InMemoryAdapter,
  type Room,
  type SocketId,
} from './adapter.js';
export { BroadcastOperator, type FrameEncoder } from './broadcast.js';
export { connectEvents } from './client.js';
export { type Codec, jsonCodec, msgpackCodec } from './codec.js';
export { AckTimeoutError, AdapterError, EventFrameError, EventsErrorCode, HandlerError } from './errors.js';
export {
  type AckEmitter,
  type AckOptions,
  EVENT_SOCKET_DEFAULTS,
  EventSocket,
  type EventSocketOptions,
  eventFrame,
} from './event-socket.js';
export { decodeFrame, EVENT_NAME_BYTES_MAX, encodeAck, encodeEvent, type Frame, FrameKind } from './frame.js';
export {
  RedisAdapter,
  type RedisAdapterOptions,
  type RedisPublisher,
  type RedisSubscriber,
  redisAdapter,
} from './redis-adapter.js';
export {
  type ConnectionHandler,
  EventServer,
  type EventServerOptions,
  eventServer,
  listenEvents,
  ServerSocket,
} from './server.js';
export type {
  AckCallback,
  AckReply,
  AnyFn,
  DefaultEvents,
  EmitArgs,
  EventNames,
  EventsMap,
  ReservedEvents,
} from './types.js';
