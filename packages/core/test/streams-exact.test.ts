/**
 * The send queue and the two halves of the reliable stream on their own, at their exact edges:
 * what the queue counts and reports (typed messages are messages, control items are not; a purge
 * returns a partly sent message's unsent rest), the sender's room, control-frame and pacing limits
 * at their boundaries, and the receiver's window, credit and reassembly bookkeeping. Written from
 * the mutants that survived the session-level tests (docs/TESTING.md, "Mutation testing"): those
 * reach these classes only through whole sessions, where the boundaries are rarely hit exactly.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AbortCode, ErrorCode, ProtocolError, UsageError } from '../dist/errors.js';
import type { SentFrame } from '../dist/recovery/retransmit.js';
import { InboundStream } from '../dist/session/inbound-stream.js';
import { OutboundStream } from '../dist/session/outbound-stream.js';
import { SendQueue } from '../dist/session/send-queue.js';
import { FRAME_CHARGE_BYTES, FrameType } from '../dist/wire/frame.js';

const bytes = (n: number, fill = 0) => new Uint8Array(n).fill(fill);
const PACE_INITIAL = 64 * 1024;
const ACK_EVERY = 256 * 1024;

describe('SendQueue', () => {
  test('typed messages count as messages and are reported undelivered; control items are neither', () => {
    const q = new SendQueue();
    const n = bytes(3, 1);
    const t = bytes(4, 2);
    const e = bytes(5, 3);
    q.pushMessage('normal', n);
    q.push({ kind: 'finish', userData: bytes(2) });
    q.pushMessage('typed', t);
    q.push({ kind: 'dialogue', type: FrameType.GIVE_TOKENS, body: bytes(1) });
    q.pushMessage('expedited', e);
    assert.equal(q.messageCount, 3);
    assert.equal(q.bytes, 12);
    // Expedited first: that is the order they would leave in.
    assert.deepEqual(q.undelivered(), [
      { kind: 'expedited', data: e, status: 'undelivered' },
      { kind: 'normal', data: n, status: 'undelivered' },
      { kind: 'typed', data: t, status: 'undelivered' },
    ]);
  });

  test('a queue of typed messages only counts each of them', () => {
    const q = new SendQueue();
    q.pushMessage('typed', bytes(1));
    q.pushMessage('typed', bytes(1));
    assert.equal(q.messageCount, 2);
    assert.equal(q.undelivered().length, 2);
  });

  test('a purge takes back only the unsent rest of a partly sent normal message', () => {
    const q = new SendQueue();
    const first = bytes(100);
    q.pushMessage('normal', first);
    q.pushMessage('typed', bytes(7));
    q.pushMessage('normal', bytes(20));
    // What the session does when it sends a fragment: advance the offset, count the bytes sent.
    const head = q.peek();
    assert.ok(head !== undefined && head.kind === 'normal');
    head.offset += 30;
    q.bytes -= 30;
    assert.equal(q.bytes, 97);
    const purged = q.purgeNormal();
    assert.equal(purged.length, 2);
    assert.equal(purged[0], first);
    assert.equal(q.bytes, 7); // the typed message is all that is left
    assert.equal(q.messageCount, 1);
    assert.equal(q.peek()?.kind, 'typed');
  });

  test('items keep their order across pops, purges and many messages', () => {
    const q = new SendQueue();
    for (let i = 0; i < 3000; i++) q.pushMessage(i % 2 === 0 ? 'normal' : 'typed', bytes(1, i & 0xff));
    for (let i = 0; i < 2000; i++) q.pop();
    assert.equal(q.messageCount, 1000);
    assert.equal((q.peek() as { data: Uint8Array }).data[0], 2000 & 0xff);
    q.purgeNormal();
    assert.equal(q.messageCount, 500);
    for (let i = 0; i < 500; i++) q.pop();
    assert.equal(q.peek(), undefined);
    q.pushMessage('typed', bytes(1, 9));
    assert.equal(q.messageCount, 1);
    assert.equal((q.peek() as { data: Uint8Array }).data[0], 9);
  });

  test('a queue emptied by a purge takes new messages at its head', () => {
    const q = new SendQueue();
    q.pushMessage('normal', bytes(2));
    q.pop(); // sent: the session counts it off
    q.bytes -= 2;
    q.pushMessage('normal', bytes(3));
    q.pushMessage('normal', bytes(4));
    assert.equal(q.purgeNormal().length, 2);
    assert.equal(q.bytes, 0);
    assert.equal(q.peek(), undefined);
    const t = bytes(1, 5);
    q.pushMessage('typed', t);
    assert.equal((q.peek() as { data: Uint8Array }).data, t);
    assert.equal(q.messageCount, 1);
  });

  test('a burst of one-byte messages (a full default queue holds a million) drains in order, each pop cheap', () => {
    // Popping must stay amortised O(1): compacting the array at every pop would make draining
    // this burst take seconds (quadratic), stalling the session's event loop.
    const q = new SendQueue();
    const n = 200_000;
    for (let i = 0; i < n; i++) q.pushMessage('normal', bytes(1, i & 0xff));
    for (let i = 0; i < n; i++) {
      const item = q.peek() as { data: Uint8Array };
      if (item.data[0] !== (i & 0xff)) assert.fail(`message ${i} out of order`);
      q.pop();
    }
    assert.equal(q.peek(), undefined);
    assert.equal(q.messageCount, 0);
  });

  test('clear empties everything, the byte count too', () => {
    const q = new SendQueue();
    q.pushMessage('normal', bytes(5));
    q.pushMessage('expedited', bytes(6));
    q.push({ kind: 'disconnect', userData: bytes(0) });
    q.clear();
    assert.equal(q.peek(), undefined);
    assert.equal(q.peekExpedited(), undefined);
    assert.equal(q.messageCount, 0);
    assert.equal(q.bytes, 0);
    assert.deepEqual(q.undelivered(), []);
  });
});

/** Records frames `from`..`to` of `bodyBytes` each as sent. */
function send(tx: OutboundStream, from: number, to: number, bodyBytes: number): SentFrame[] {
  const out: SentFrame[] = [];
  for (let seq = from; seq <= to; seq++) {
    const f = tx.sent.obtain();
    f.seq = seq;
    f.type = FrameType.DATA;
    f.end = true;
    f.body = bytes(bodyBytes);
    f.message = f.body;
    tx.sent.push(f);
    tx.sentSeq = seq;
    out.push(f);
  }
  return out;
}

const cost = (body: number) => body + FRAME_CHARGE_BYTES;

describe('OutboundStream', () => {
  test('room is bounded by the retransmit budget left', () => {
    const tx = new OutboundStream();
    tx.peerWindowLimit = 1_000_000;
    send(tx, 1, 1, 100);
    assert.equal(tx.room(1000, 1_000_000), 1000 - cost(100));
  });

  test('room is bounded by the pacing allowance left after what is in flight', () => {
    const tx = new OutboundStream();
    tx.peerWindowLimit = 10_000_000;
    send(tx, 1, 1, 1000);
    tx.startPacing();
    assert.equal(tx.room(1_000_000, 1_000_000), PACE_INITIAL - cost(1000));
  });

  test('room is bounded by the peer window and the connection', () => {
    const tx = new OutboundStream();
    tx.peerWindowLimit = 500;
    tx.sentFlowBytes = 200;
    assert.equal(tx.room(10_000, 10_000), 300);
    assert.equal(tx.room(10_000, 50), 50);
  });

  test('a control frame fits when it exactly fills the retransmit budget, not one byte more', () => {
    const tx = new OutboundStream();
    send(tx, 1, 1, 10);
    const budget = cost(10) + cost(20);
    assert.equal(tx.controlFits(20, budget), true);
    assert.equal(tx.controlFits(21, budget), false);
    assert.equal(tx.controlFits(20, budget - 1), false);
  });

  test('one control frame of any size goes through an empty buffer', () => {
    const tx = new OutboundStream();
    assert.equal(tx.controlFits(1_000_000, 100), true);
  });

  test('pacing grows by every byte acknowledged and ends on reaching the budget exactly', () => {
    const tx = new OutboundStream();
    send(tx, 1, 3, 1000);
    tx.startPacing();
    const budget = PACE_INITIAL + 3 * cost(1000);
    tx.peerReceived = 1;
    tx.acknowledge(1, budget);
    assert.equal(tx.paceBytes, PACE_INITIAL + cost(1000));
    tx.peerReceived = 3;
    tx.acknowledge(3, budget);
    assert.equal(tx.paceBytes, Number.POSITIVE_INFINITY);
  });

  test('pacing stays on while the allowance is below the budget', () => {
    const tx = new OutboundStream();
    send(tx, 1, 1, 1000);
    tx.startPacing();
    tx.acknowledge(1, PACE_INITIAL + cost(1000) + 1);
    assert.equal(tx.paceBytes, PACE_INITIAL + cost(1000));
  });

  test('without pacing, an acknowledgement leaves the allowance unbounded', () => {
    const tx = new OutboundStream();
    send(tx, 1, 2, 1000);
    tx.acknowledge(1, 10);
    assert.equal(tx.paceBytes, Number.POSITIVE_INFINITY);
    assert.equal(tx.sent.unackedBytes, cost(1000));
  });

  test('a replayed frame goes when it exactly fills the pacing allowance, not one byte more', () => {
    const fits = (first: number) => {
      const tx = new OutboundStream();
      const [, second] = sendSized(tx, [first, 100]);
      tx.sent.rewind();
      tx.startPacing();
      tx.sent.nextReplay();
      return tx.paceAllows(second as SentFrame, 10_000_000);
    };
    const exact = PACE_INITIAL - cost(100) - FRAME_CHARGE_BYTES;
    assert.equal(fits(exact), true);
    assert.equal(fits(exact + 1), false);
  });

  test('a replayed frame larger than the pacing allowance goes when nothing is in flight', () => {
    const tx = new OutboundStream();
    const [first] = sendSized(tx, [PACE_INITIAL * 2]);
    tx.sent.rewind();
    tx.startPacing();
    assert.equal(tx.paceAllows(first as SentFrame, 10_000_000), true);
  });
});

function sendSized(tx: OutboundStream, sizes: number[]): SentFrame[] {
  return sizes.map((size, i) => send(tx, i + 1, i + 1, size)[0] as SentFrame);
}

describe('InboundStream', () => {
  test('every frame counted waits for an acknowledgement; the last byte of the threshold makes one due', () => {
    const rx = new InboundStream(1_000_000);
    rx.countFlow(ACK_EVERY - cost(1) - FRAME_CHARGE_BYTES);
    assert.equal(rx.unackedBytes, ACK_EVERY - cost(1));
    assert.equal(rx.ackEveryReached, false);
    rx.countFlow(1);
    assert.equal(rx.unackedBytes, ACK_EVERY);
    assert.equal(rx.ackEveryReached, true);
    rx.acknowledge();
    assert.equal(rx.unackedBytes, 0);
    assert.equal(rx.ackEveryReached, false);
  });

  test('a frame beyond the window is a FLOW_CONTROL error saying by how much', () => {
    const rx = new InboundStream(100);
    rx.countFlow(100 - FRAME_CHARGE_BYTES);
    assert.throws(
      () => rx.countFlow(3),
      (e: unknown) =>
        e instanceof ProtocolError &&
        e.wireCode === AbortCode.FLOW_CONTROL &&
        e.message === 'peer sent 35 bytes beyond the flow-control window',
    );
  });

  test('consuming more than was received is a usage error', () => {
    const rx = new InboundStream(1000);
    rx.countFlow(10);
    rx.consume(FRAME_CHARGE_BYTES + 10);
    assert.throws(
      () => rx.consume(1),
      (e: unknown) =>
        e instanceof UsageError &&
        e.code === ErrorCode.INVALID_ARGUMENT &&
        e.message === 'consumed more bytes than were received',
    );
  });

  test('credit deltas report what was consumed since the last report', () => {
    const rx = new InboundStream(1000);
    rx.countFlow(100);
    rx.consume(50);
    assert.equal(rx.takeCreditDelta(), 50);
    rx.consume(30);
    assert.equal(rx.takeCreditDelta(), 30);
    assert.equal(rx.takeCreditDelta(), 0);
    assert.equal(rx.reportedCredit, 80);
  });

  test('half a window opened exactly is worth an acknowledgement', () => {
    const rx = new InboundStream(1000);
    rx.countFlow(1000 - FRAME_CHARGE_BYTES);
    rx.consume(499);
    assert.equal(rx.halfWindowOpen, false);
    rx.consume(1);
    assert.equal(rx.halfWindowOpen, true);
    assert.deepEqual(rx.acknowledge(), { received: 0, windowLimit: 1500 });
    assert.equal(rx.halfWindowOpen, false);
  });

  test('on close, what was received and never reported goes back once', () => {
    const rx = new InboundStream(1000);
    rx.countFlow(100);
    rx.consume(40);
    rx.takeCreditDelta();
    assert.equal(rx.closeUnconsumed(), cost(100) - 40);
    assert.equal(rx.closeUnconsumed(), 0);
  });

  test('a normal message is in progress only while fragments of it are held', () => {
    const rx = new InboundStream(1000);
    assert.equal(rx.normalInProgress, false);
    rx.addFragment('typed', bytes(2), cost(2));
    assert.equal(rx.normalInProgress, false);
    rx.addFragment('normal', bytes(3), cost(3));
    assert.equal(rx.normalInProgress, true);
    rx.complete('normal', bytes(1), cost(1));
    assert.equal(rx.normalInProgress, false);
  });

  test('an unfragmented message completes as it came, with its own charge as credit', () => {
    const rx = new InboundStream(1000);
    const p = bytes(5, 7);
    assert.deepEqual(rx.complete('normal', p, cost(5)), { data: p, credit: cost(5) });
    // With reassembly state allocated for the other kind, too.
    rx.addFragment('typed', bytes(1), cost(1));
    const q = bytes(4, 8);
    const done = rx.complete('normal', q, cost(4));
    assert.equal(done.data, q);
    assert.equal(done.credit, cost(4));
    assert.equal(rx.assembledBytes('typed'), 1);
  });

  test('dropping a partly received normal message counts its fragments as consumed', () => {
    const rx = new InboundStream(1000);
    assert.equal(rx.dropNormal(), null);
    assert.equal(rx.discardRest, false);
    const first = bytes(3, 1);
    rx.countFlow(3);
    rx.countFlow(4);
    rx.addFragment('normal', first, cost(3));
    rx.addFragment('normal', bytes(4), cost(4));
    assert.equal(rx.creditBase(), cost(3) + cost(4));
    assert.equal(rx.dropNormal(), first);
    assert.equal(rx.discardRest, true);
    assert.equal(rx.consumedBytes, cost(3) + cost(4));
    assert.equal(rx.creditBase(), cost(3) + cost(4));
    assert.equal(rx.normalInProgress, false);
  });

  test('nothing to drop when only a typed message is being reassembled', () => {
    const rx = new InboundStream(1000);
    rx.addFragment('typed', bytes(2), cost(2));
    assert.equal(rx.dropNormal(), null);
    assert.equal(rx.discardRest, false);
    assert.equal(rx.consumedBytes, 0);
  });
});
