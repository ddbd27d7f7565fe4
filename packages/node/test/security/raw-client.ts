/**
 * A hostile client for the security tests: a raw loopback socket that writes liaison bytes of its
 * choosing (whole frames, truncated ones, one byte at a time) and decodes what the server answers.
 */
import { connect, type Socket } from 'node:net';
import { ProtocolError } from '@liaison/node';
import { encodeFrame, type Frame, FrameDecoder, FrameType, PREFACE } from '@liaison/node/engine';
import { within } from '@liaison/testkit';

export class RawClient {
  readonly socket: Socket;
  readonly frames: Frame[] = [];
  /** The server's bytes could not be decoded (should never happen). */
  decodeError: Error | null = null;
  readonly closed: Promise<void>;
  isClosed = false;
  readonly #decoder = new FrameDecoder(
    { frameBytesMax: 16 * 1024 * 1024, userDataBytesMax: 0xffff },
    { expectPreface: true },
  );
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (b: Buffer) => {
      this.#decoder.push(b);
      try {
        for (let f = this.#decoder.next(); f !== null; f = this.#decoder.next()) this.frames.push(f);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        this.decodeError = e;
      }
      this.#wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        this.#wake();
        resolve();
      }),
    );
  }

  /** `from`: the loopback source address (127.0.0.x), so attackers and honest clients differ. */
  static async open(port: number, from = '127.0.0.1'): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from });
    await within(new Promise((r) => socket.once('connect', r)), 2_000, 'raw connect');
    return new RawClient(socket);
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** The preface followed by these frames, in one write. */
  sendFrames(frames: Frame[], withPreface = false): void {
    const parts = frames.map((f) => encodeFrame(f));
    if (withPreface) parts.unshift(PREFACE);
    this.write(Buffer.concat(parts));
  }

  /** The first frame matching, waiting up to `ms`. */
  async frame<T extends Frame>(match: (f: Frame) => f is T, ms = 3_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (this.isClosed || Date.now() > deadline) throw new Error(`no such frame; got ${this.describe()}`);
      await within(
        new Promise<void>((r) => this.#waiters.push(r)),
        Math.max(1, deadline - Date.now()),
        'a frame',
      ).catch(() => {});
    }
  }

  /** The CONNECTION_CLOSE the server sent, waiting for the socket to close. */
  async connectionClose(ms = 5_000): Promise<Extract<Frame, { type: typeof FrameType.CONNECTION_CLOSE }>> {
    await within(this.closed, ms, 'the server to close the connection');
    const f = this.frames.find((x) => x.type === FrameType.CONNECTION_CLOSE);
    if (!f) throw new Error(`closed without CONNECTION_CLOSE; got ${this.describe()}`);
    return f as Extract<Frame, { type: typeof FrameType.CONNECTION_CLOSE }>;
  }

  describe(): string {
    return this.frames.map((f) => `${f.type}@${f.channel}`).join(' ') || '(nothing)';
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const r of w) r();
  }
}

export const is =
  <K extends Frame['type']>(type: K) =>
  (f: Frame): f is Extract<Frame, { type: K }> =>
    f.type === type;
