/**
 * One real Connection facing a hand-driven peer: the test writes frames (possibly ones a correct
 * engine would never send) and reads back every frame the connection wrote, decoded.
 */
import {
  type ConnectFrame,
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameType,
  type Limits,
  PREFACE,
  Unit,
} from '@liaison/core';

export class RawPeer {
  now = 0;
  readonly conn: Connection;
  readonly events: ConnectionEvent[] = [];
  /** Every frame the connection wrote, in order. */
  readonly frames: Frame[] = [];
  readonly #decoder = new FrameDecoder({ frameBytesMax: 1 << 30, userDataBytesMax: 0xffff }, { expectPreface: true });

  constructor(options: Partial<ConnectionOptions> & { role: ConnectionOptions['role'] }) {
    this.conn = new Connection(options);
    this.conn.handleTransportUp(this.now);
    this.conn.handleBytes(this.now, PREFACE);
    this.flush();
  }

  /** Feeds frames to the connection (encoded, or raw bytes), then collects its output and events. */
  send(...frames: (Frame | Uint8Array)[]): this {
    for (const f of frames) this.conn.handleBytes(this.now, f instanceof Uint8Array ? f : encodeFrame(f));
    return this.flush();
  }

  flush(): this {
    for (let b = this.conn.pollTransmit(); b !== null; b = this.conn.pollTransmit()) {
      this.#decoder.push(b);
      for (let f = this.#decoder.next(); f !== null; f = this.#decoder.next()) this.frames.push(f);
    }
    for (let e = this.conn.pollEvent(); e !== null; e = this.conn.pollEvent()) this.events.push(e);
    return this;
  }

  /** Frames of one type written so far. */
  sent<T extends Frame['type']>(type: T): Extract<Frame, { type: T }>[] {
    return this.frames.filter((f): f is Extract<Frame, { type: T }> => f.type === type);
  }

  eventsOf<T extends ConnectionEvent['type']>(type: T): Extract<ConnectionEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<ConnectionEvent, { type: T }> => e.type === type);
  }
}

/** A well-formed connect request, overridable field by field. */
export function connectFrame(overrides: Partial<ConnectFrame> = {}, limits: Partial<Limits> = {}): ConnectFrame {
  return {
    type: FrameType.CONNECT,
    channel: 1,
    versionMin: 1,
    versionMax: 1,
    units: Unit.KERNEL | Unit.DUPLEX | Unit.EXPEDITED | Unit.TYPED_DATA | Unit.NEGOTIATED_RELEASE,
    frameBytesMax: limits.frameBytesMax ?? 128 * 1024,
    messageBytesMax: limits.messageBytesMax ?? 16 * 1024 * 1024,
    receiveWindowBytes: limits.receiveWindowBytes ?? 4 * 1024 * 1024,
    keepaliveIntervalMs: 0,
    idleTimeoutMs: 0,
    extensions: [],
    userData: new Uint8Array(0),
    ...overrides,
  };
}

/** A raw initiator whose session on channel 1 the connection (a responder) has accepted. */
export function acceptedRawSession(
  options: Partial<ConnectionOptions> = {},
  connect: Partial<ConnectFrame> = {},
): RawPeer {
  const peer = new RawPeer({ ...options, role: 'responder' });
  peer.send(connectFrame(connect));
  const s = peer.conn.session(connect.channel ?? 1);
  if (!s) throw new Error('connect request not received');
  s.accept(peer.now, new Uint8Array(0));
  return peer.flush();
}
