/**
 * The retransmit buffer on its own: what is held, counted, replayed and reported after each call.
 * Written from the mutants that survived the session-level tests (docs/TESTING.md, "Mutation
 * testing"): those reach the buffer only through whole sessions, and miss its edges (a stale
 * acknowledgement during a replay, the record free list, compaction past 1024 dropped frames).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RetransmitBuffer, type SentFrame } from '../dist/recovery/retransmit.js';
import { FRAME_CHARGE_BYTES, FrameType } from '../dist/wire/frame.js';

/** Sends frames `from`..`to` of `bodyBytes` each; every frame ends a message unless `messages` is false. */
function send(buf: RetransmitBuffer, from: number, to: number, bodyBytes = 10, messages = true): SentFrame[] {
  const out: SentFrame[] = [];
  for (let seq = from; seq <= to; seq++) {
    const f = buf.obtain();
    f.seq = seq;
    f.type = FrameType.DATA;
    f.end = messages;
    f.body = new Uint8Array(bodyBytes);
    f.message = messages ? f.body : null;
    buf.push(f);
    out.push(f);
  }
  return out;
}

const seqs = (frames: (SentFrame | undefined)[]) => frames.map((f) => f?.seq);

function drain(buf: RetransmitBuffer): number[] {
  const out: number[] = [];
  for (let f = buf.nextReplay(); f !== undefined; f = buf.nextReplay()) out.push(f.seq);
  return out;
}

describe('retransmit buffer: holding and acknowledging', () => {
  test('counts frames and charged bytes held, and drops them when acknowledged', () => {
    const buf = new RetransmitBuffer();
    assert.equal(buf.unackedFrames, 0);
    send(buf, 1, 3);
    assert.equal(buf.unackedFrames, 3);
    assert.equal(buf.unackedBytes, 3 * (10 + FRAME_CHARGE_BYTES));
    assert.equal(buf.acknowledge(2), 2);
    assert.equal(buf.unackedFrames, 1);
    assert.equal(buf.unackedBytes, 10 + FRAME_CHARGE_BYTES);
    assert.equal(buf.firstUnacked(4), 3);
    assert.equal(buf.acknowledge(3), 1);
    assert.equal(buf.unackedFrames, 0);
    assert.equal(buf.firstUnacked(4), 4, 'nothing held: the next new seq');
  });

  test('acknowledge returns whole messages, not fragments', () => {
    const buf = new RetransmitBuffer();
    send(buf, 1, 3, 10, false);
    send(buf, 4, 4);
    assert.equal(buf.pendingMessages(), 1);
    assert.equal(buf.acknowledge(3), 0, 'three fragments of one message');
    assert.equal(buf.acknowledge(4), 1);
  });

  test('an acknowledgement never moves back, even one arriving late during a replay', () => {
    const buf = new RetransmitBuffer();
    send(buf, 1, 4);
    buf.rewind();
    assert.equal(buf.nextReplay()?.seq, 1);
    buf.acknowledge(3); // frames 2 and 3 are kept until the replay sent them again
    buf.acknowledge(1); // stale
    assert.equal(buf.pendingMessages(), 1);
    assert.equal(buf.firstUnacked(5), 4);
    assert.deepEqual(
      buf.undeliveredMessages().map((m) => m.data.byteLength),
      [10],
    );
  });
});

describe('retransmit buffer: replay', () => {
  test('a rewind replays every held frame in order, then reports the end', () => {
    const buf = new RetransmitBuffer();
    send(buf, 1, 3);
    assert.equal(buf.replaying, false);
    assert.equal(buf.nextReplay(), undefined, 'nothing to replay before a rewind');
    buf.rewind();
    assert.equal(buf.replaying, true);
    assert.equal(buf.peekReplay()?.seq, 1);
    assert.deepEqual(drain(buf), [1, 2, 3]);
    assert.equal(buf.replaying, false);
    assert.equal(buf.peekReplay(), undefined);
    assert.equal(buf.nextReplay(), undefined);
  });

  test('in-flight bytes exclude what the replay has still to send', () => {
    const buf = new RetransmitBuffer();
    send(buf, 1, 2);
    assert.equal(buf.inflightBytes, 2 * (10 + FRAME_CHARGE_BYTES));
    buf.rewind();
    assert.equal(buf.inflightBytes, 0);
    buf.nextReplay();
    assert.equal(buf.inflightBytes, 10 + FRAME_CHARGE_BYTES);
    buf.nextReplay();
    assert.equal(buf.inflightBytes, 2 * (10 + FRAME_CHARGE_BYTES));
  });

  test('frames acknowledged during a replay are still sent, but no longer counted as pending', () => {
    const buf = new RetransmitBuffer();
    send(buf, 1, 3);
    buf.rewind();
    assert.equal(buf.nextReplay()?.seq, 1);
    buf.acknowledge(2);
    assert.equal(buf.firstUnacked(4), 3, 'frame 2 is held for the replay but acknowledged');
    assert.equal(buf.pendingMessages(), 1);
    assert.equal(buf.undeliveredMessages().length, 1);
    assert.deepEqual(drain(buf), [2, 3]);
    assert.equal(buf.unackedFrames, 1, 'frame 2 dropped once sent again');
  });

  test('undelivered messages keep their kind and order', () => {
    const buf = new RetransmitBuffer();
    const kinds = [FrameType.DATA, FrameType.TYPED_DATA, FrameType.EXPEDITED];
    kinds.forEach((type, i) => {
      const f = buf.obtain();
      Object.assign(f, { seq: i + 1, type, end: true, body: new Uint8Array([i]), message: new Uint8Array([i]) });
      buf.push(f);
    });
    assert.deepEqual(
      buf.undeliveredMessages().map((m) => [m.kind, m.data[0]]),
      [
        ['normal', 0],
        ['typed', 1],
        ['expedited', 2],
      ],
    );
  });
});

describe('retransmit buffer: records and memory', () => {
  test('a fresh record is blank; an acknowledged one is recycled without its bytes', () => {
    const buf = new RetransmitBuffer();
    const fresh = buf.obtain();
    assert.deepEqual(
      { ...fresh, body: fresh.body.byteLength },
      { seq: 0, type: 0, end: false, body: 0, message: null },
    );
    const [sent] = send(buf, 1, 1);
    buf.acknowledge(1);
    const again = buf.obtain();
    assert.equal(again, sent, 'the same record, recycled');
    assert.equal(again.body.byteLength, 0);
    assert.equal(again.message, null);
  });

  test('at most 1024 records are kept for reuse', () => {
    const buf = new RetransmitBuffer();
    const sent = new Set(send(buf, 1, 1100));
    buf.acknowledge(1100);
    for (let i = 0; i < 1024; i++) assert.ok(sent.has(buf.obtain()), `record ${i} recycled`);
    assert.ok(!sent.has(buf.obtain()), 'the 1025th is new');
  });

  test('after more than 1024 frames are dropped from the head, the rest replays intact', () => {
    const buf = new RetransmitBuffer();
    send(buf, 1, 3000);
    buf.acknowledge(2000);
    assert.equal(buf.unackedFrames, 1000);
    assert.equal(buf.firstUnacked(3001), 2001);
    assert.equal(buf.pendingMessages(), 1000);
    send(buf, 3001, 3002);
    buf.rewind();
    const replayed = drain(buf);
    assert.equal(replayed.length, 1002);
    assert.deepEqual([replayed[0], replayed.at(-1)], [2001, 3002]);
    assert.ok(replayed.every((seq, i) => seq === 2001 + i));
  });

  test('clear empties it', () => {
    const buf = new RetransmitBuffer();
    send(buf, 1, 3);
    buf.rewind();
    buf.clear();
    assert.equal(buf.unackedFrames, 0);
    assert.equal(buf.unackedBytes, 0);
    assert.equal(buf.inflightBytes, 0);
    assert.equal(buf.replaying, false);
    assert.deepEqual(seqs([buf.nextReplay()]), [undefined]);
    assert.deepEqual(buf.undeliveredMessages(), []);
  });
});
