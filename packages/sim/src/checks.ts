/**
 * The bounds checked after every step: isolation (isolation.ts), token-unique on every dialogue
 * session, and the memory bounds (bytes in flight on a pipe, queued, kept for retransmission,
 * given to the application unconsumed).
 */
import type { Limits, Session } from '@liaison/core';
import { checkTokens, type DialogueContext } from './dialogue.js';
import type { Isolation } from './isolation.js';
import type { Network } from './network.js';
import type { AppEnd, SessionPlan } from './plan.js';
import { InvariantViolation } from './violation.js';
import type { WorldOptions } from './world-options.js';

/** What the bounds check reads of its world. */
export interface BoundsHost {
  readonly options: WorldOptions;
  readonly limits: Readonly<Limits>;
  readonly network: Network;
  readonly plans: readonly SessionPlan[];
  readonly ends: ReadonlyMap<Session, AppEnd>;
  readonly dialogueCtx: DialogueContext;
  readonly isolation: Isolation;
}

export function checkBounds(w: BoundsHost): void {
  w.isolation.check();
  // token-unique, after every step: suspended and resuming sessions keep their tokens.
  for (const p of w.plans) {
    if (p.dialogue) checkTokens(w.dialogueCtx, `s${p.id}`, p.client.session, p.server?.session ?? null);
  }
  const l = w.limits;
  const peakPipe = w.options.network.pipeBytesMax ?? 64 * 1024;
  // A batch may pass transmitBatchBytes by one frame (docs/PROTOCOL.md), plus small control frames.
  const pipeBound = peakPipe + l.transmitBatchBytes + l.frameBytesMax + 1024;
  if (w.network.stats.pipeBytesPeak > pipeBound) {
    throw new InvariantViolation(
      'bounded',
      `${w.network.stats.pipeBytesPeak} bytes in flight on a pipe (bound ${pipeBound}: pipe + one batch)`,
    );
  }
  for (const [s, end] of w.ends) {
    if (s.state === 'closed') continue;
    const largest = w.options.largeBytesMax;
    if (s.queuedBytes > l.sendQueueBytesMax + largest) {
      throw new InvariantViolation('bounded', `${end.role} s${end.plan.id} queues ${s.queuedBytes} bytes`);
    }
    const retransmit = s.retainedBytes - s.queuedBytes;
    if (retransmit > l.retransmitBufferBytes) {
      throw new InvariantViolation(
        'bounded',
        `${end.role} s${end.plan.id} holds ${retransmit} bytes for retransmission (limit ${l.retransmitBufferBytes})`,
      );
    }
    // The window bounds unconsumed credit, except that a whole message is always deliverable.
    // Fragments are no smaller than the sender's minimum unless they end a message.
    if (end.unconsumedBytes > w.isolation.heldCreditMax()) {
      throw new InvariantViolation(
        'bounded',
        `${end.role} s${end.plan.id} was given ${end.unconsumedBytes} unconsumed bytes (window ${l.receiveWindowBytes})`,
      );
    }
  }
}
