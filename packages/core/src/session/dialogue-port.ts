/**
 * The glue between a session and its Dialogue machine (tokens, synchronization, activities): the
 * DialogueHost port through which the machine queues its frames in order with the data, reports
 * its events, and purges (X.225: unsent normal data and a partly received message are dropped).
 * The machine itself is dialogue.ts and knows nothing of the session.
 */
import { encodeFrame } from '../wire/codec.js';
import { type DialogueFrame, HEADER_BYTES } from '../wire/frame.js';
import { enqueue, type SessionContext } from './context.js';
import { Dialogue, type DialogueEvent, type DialogueHost, type DialogueSnapshot } from './dialogue.js';
import { unblockWriter, writable } from './outbox.js';
import { dropAssembly } from './receive.js';
import type { AgreedParameters } from './types.js';

/** Creates the session's dialogue at establishment, with its port into the session. */
export function startDialogue(
  c: SessionContext,
  initiator: boolean,
  responderTokens: number,
  initialSerial: number,
): void {
  const units = (c.agreed as AgreedParameters).units;
  c.dialogue = new Dialogue(dialogueHost(c), { units, initiator, responderTokens, initialSerial });
}

/** Recreates the session's dialogue from a record's snapshot, with the same port. */
export function restoreDialogue(c: SessionContext, snapshot: DialogueSnapshot): void {
  const units = (c.agreed as AgreedParameters).units;
  c.dialogue = Dialogue.restore(dialogueHost(c), units, c.phase.initiator, snapshot);
}

function dialogueHost(c: SessionContext): DialogueHost {
  return {
    queue: (f) => queueDialogue(c, f),
    emit: (event) => emitDialogue(c, event),
    purge: () => purge(c),
    open: () => c.phase.state.name === 'open',
  };
}

function queueDialogue(c: SessionContext, f: Omit<DialogueFrame, 'channel'>): void {
  const body = encodeFrame({ ...f, channel: 0 }).subarray(HEADER_BYTES);
  enqueue(c, { kind: 'dialogue', type: f.type, body });
}

function emitDialogue(c: SessionContext, event: DialogueEvent): void {
  c.live.host.emit({ type: 'dialogue', channel: c.channel, session: c.session, event });
  // A confirmation or resynchronization may let waiting normal data go.
  unblockWriter(c, () => writable(c));
}

/**
 * X.225 purge: unsent normal data and a partly received normal message are dropped. Every
 * normal message dropped here is reported in a `purged` event, a partly sent one too: only its
 * last fragment would have put it in the retransmit buffer's accounting (delivered when
 * acknowledged, or undelivered), so a message left out here would be in neither. The receiver
 * may also report that one's first fragments (`discarded`), but it cannot be relied on: the
 * session may be lost before the RS reaches it (sim seed 937199).
 */
function purge(c: SessionContext): void {
  const purged = c.send.queue.purgeNormal();
  if (purged.length > 0) {
    c.stats.messagesPurged += purged.length;
    c.live.host.emit({
      type: 'dialogue',
      channel: c.channel,
      session: c.session,
      event: { kind: 'purged', messages: purged },
    });
  }
  dropAssembly(c);
}
