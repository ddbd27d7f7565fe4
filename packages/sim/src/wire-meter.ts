/**
 * Reads frame headers off one direction of a connection's byte stream, independently of the
 * core's decoder, to check the connection-level window from the outside.
 *
 * Theory of operation
 * - A `FrameScanner` is fed the bytes one end writes (or receives), in order and split anywhere.
 *   It skips the 4-byte preface, then walks the 10-byte frame headers (type u8, flags u8, channel
 *   u32, length u32); it reads no payload except a WINDOW frame's u53 limit. Flow-controlled
 *   frames (DATA, TYPED_DATA, EXPEDITED) are reported with their charge (payload + 32).
 * - A `WindowMeter` sits on one end of one connection with two scanners: what it writes and what
 *   it receives. The limit only grows, from INITIAL_CONNECTION_WINDOW_BYTES (what each side may
 *   assume before any WINDOW): a lower WINDOW changes nothing for the sender. Sender's view: the
 *   charged bytes it wrote never pass the highest limit it has received. Receiver's view: it never
 *   advertises a limit below one it already granted (the initial one included), and the charged
 *   bytes it received never pass what it granted.
 */
import { FRAME_CHARGE_BYTES, FrameType, INITIAL_CONNECTION_WINDOW_BYTES } from '@liaison/core';

const PREFACE_BYTES = 4;
const HEADER = 10;

export class FrameScanner {
  #prefaceLeft = PREFACE_BYTES;
  readonly #header = new Uint8Array(HEADER);
  #headerHave = 0;
  #type = 0;
  /** Payload bytes of the current frame still to skip. */
  #skip = 0;
  /** WINDOW payload being collected (8 bytes). */
  readonly #window = new Uint8Array(8);
  #windowHave = -1;

  constructor(
    readonly onData: (charged: number) => void,
    readonly onWindow: (limit: number) => void,
  ) {}

  push(bytes: Uint8Array): void {
    let i = 0;
    const n = bytes.byteLength;
    while (i < n) {
      if (this.#prefaceLeft > 0) {
        const k = Math.min(this.#prefaceLeft, n - i);
        this.#prefaceLeft -= k;
        i += k;
        continue;
      }
      if (this.#windowHave >= 0) {
        while (i < n && this.#windowHave < 8) this.#window[this.#windowHave++] = bytes[i++] as number;
        if (this.#windowHave === 8) {
          const v = new DataView(this.#window.buffer);
          this.#windowHave = -1;
          this.#skip -= 8;
          this.onWindow(v.getUint32(0) * 0x1_0000_0000 + v.getUint32(4));
        }
        continue;
      }
      if (this.#skip > 0) {
        const k = Math.min(this.#skip, n - i);
        this.#skip -= k;
        i += k;
        continue;
      }
      // A header: read in place when whole, else collect it.
      let h: Uint8Array;
      let at: number;
      if (this.#headerHave === 0 && n - i >= HEADER) {
        h = bytes;
        at = i;
        i += HEADER;
      } else {
        while (i < n && this.#headerHave < HEADER) this.#header[this.#headerHave++] = bytes[i++] as number;
        if (this.#headerHave < HEADER) return;
        this.#headerHave = 0;
        h = this.#header;
        at = 0;
      }
      this.#type = h[at] as number;
      const length =
        (((h[at + 6] as number) << 24) >>> 0) +
        ((h[at + 7] as number) << 16) +
        ((h[at + 8] as number) << 8) +
        (h[at + 9] as number);
      this.#skip = length;
      const t = this.#type;
      if (t === FrameType.DATA || t === FrameType.TYPED_DATA || t === FrameType.EXPEDITED) {
        this.onData(length + FRAME_CHARGE_BYTES);
      } else if (t === FrameType.WINDOW && length >= 8) {
        this.#windowHave = 0;
      }
    }
  }
}

export interface WindowStats {
  /** WINDOW frames seen on the wire (written). */
  windowFrames: number;
  /** Flow-controlled frames written with less than one frame's worth of room left after them. */
  windowBoundWrites: number;
  /** The largest share of the connection window in use by a sender (sent minus what the limit had freed). */
  peakFill: number;
}

/** One end of one connection. `violation` is called with a message when the window is broken. */
export class WindowMeter {
  sent = 0;
  peerLimit = INITIAL_CONNECTION_WINDOW_BYTES;
  received = 0;
  ownLimit = INITIAL_CONNECTION_WINDOW_BYTES;
  readonly out: FrameScanner;
  readonly in: FrameScanner;

  constructor(
    readonly name: string,
    readonly windowBytes: number,
    readonly stats: WindowStats,
    readonly violation: (message: string) => void,
  ) {
    this.out = new FrameScanner(
      (charged) => {
        this.sent += charged;
        if (this.sent > this.peerLimit) {
          this.violation(
            `${this.name} sent ${this.sent} charged bytes on the connection, past the peer's limit ${this.peerLimit}`,
          );
        }
        if (this.peerLimit - this.sent < 1024 + FRAME_CHARGE_BYTES) this.stats.windowBoundWrites++;
        const fill = (this.sent - (this.peerLimit - this.windowBytes)) / this.windowBytes;
        if (fill > this.stats.peakFill) this.stats.peakFill = fill;
      },
      (limit) => {
        this.stats.windowFrames++;
        if (limit < this.ownLimit) {
          this.violation(
            `${this.name} advertised a connection limit ${limit} below the ${this.ownLimit} it had granted ` +
              `(having received ${this.received} charged bytes)`,
          );
        }
        this.ownLimit = limit;
      },
    );
    this.in = new FrameScanner(
      (charged) => {
        this.received += charged;
        if (this.received > this.ownLimit) {
          this.violation(
            `${this.name} received ${this.received} charged bytes on the connection, past the limit ${this.ownLimit} it granted`,
          );
        }
      },
      (limit) => {
        if (limit > this.peerLimit) this.peerLimit = limit;
      },
    );
  }
}
