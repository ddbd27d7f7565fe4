/**
 * The invariants a finished world must satisfy (docs: DESIGN.md "Invariants"), checked after
 * each run; bounds are also checked during the run (world.ts, `bounded`).
 *
 * - exactly-once: per direction, the data messages (normal and typed, one ordered stream) that
 *   arrived are a prefix of those sent, in order, none twice; expedited ones likewise among
 *   themselves (they may overtake normal data).
 * - accounted: an end that released saw everything both ways delivered. An end that ended
 *   otherwise did so for a reason the faults explain (never a protocol error on an honest
 *   network), and its `undeliveredMessages()` is a suffix of what it sent that reaches back at
 *   least to the first message its peer never got: nothing is silently lost. (It may reach
 *   further back: a message whose acknowledgement died with the transport is reported
 *   undelivered although it arrived. No protocol can avoid that; such messages must say
 *   `status: 'unconfirmed'` and are counted as `ambiguousMessages`.) A message reported with
 *   `status: 'undelivered'` (known lost) was never delivered.
 * - user-abort: an end that called abort(userData) closed aborted/local/user with that user data;
 *   an end that closed aborted/peer/user did so because its peer aborted, with the same user data
 *   (a peer that ended otherwise first never learned of it). What either side delivered before is
 *   still a prefix in order, and undeliveredMessages() a suffix with no gap (accounted).
 * - refused-release: in a session negotiating NEGOTIATED_RELEASE whose first release request was
 *   refused, a released end saw exactly one refusal (the releaser) or made it (the peer), the
 *   releaser asked twice, and everything, including what was sent after the refusal, was
 *   delivered both ways.
 * - tables-empty: no session is left registered or parked in any session table.
 * - In dialogue sessions (dialogue.ts) normal messages a resynchronization purged are left out of
 *   the expected stream and counted instead (`Stream.purged`); token-unique and serial-monotonic
 *   are checked during the run (dialogue.ts).
 */
import { AbortCode, type CloseReason, type MessageKind } from '@liaison/core';
import type { Stream } from './messages.js';
import type { AppEnd, SessionPlan } from './plan.js';
import { InvariantViolation } from './violation.js';
import type { World } from './world.js';

/** Close codes that faults of an honest network, and the application's own choices, can cause. */
const EXPLAINED_CODES: ReadonlySet<number> = new Set([
  AbortCode.TRANSPORT_LOST,
  AbortCode.IDLE_TIMEOUT,
  AbortCode.HANDSHAKE_TIMEOUT,
  AbortCode.RELEASE_TIMEOUT,
  AbortCode.SHUTDOWN,
  AbortCode.RESUME_REFUSED,
  AbortCode.RESUME_WINDOW_EXPIRED,
  AbortCode.RESUME_BUDGET_EXCEEDED,
]);

/** @throws InvariantViolation naming the first invariant that does not hold. */
export function checkInvariants(world: World): void {
  for (const plan of world.plans) {
    checkStream(plan.c2s);
    checkStream(plan.s2c);
    checkEnd(world, plan, plan.client, plan.c2s, plan.s2c);
    if (plan.server) checkEnd(world, plan, plan.server, plan.s2c, plan.c2s);
    else if (plan.c2s.deliveredData.length + plan.c2s.deliveredExpedited.length > 0) {
      throw new InvariantViolation('exactly-once', `s${plan.id}: delivered to a server that never saw the session`);
    }
  }
  const tables = [
    { name: 'server', table: world.serverTable },
    ...world.clients.map((c) => ({ name: `client ${c.id}`, table: c.table })),
  ];
  for (const { name, table } of tables) {
    if (table.parkedCount > 0 || table.registeredCount > 0) {
      throw new InvariantViolation(
        'tables-empty',
        `${name} table holds ${table.parkedCount} parked and ${table.registeredCount} registered sessions`,
      );
    }
  }
}

function isData(kind: MessageKind): boolean {
  return kind !== 'expedited';
}

function checkStream(stream: Stream): void {
  // Messages a resynchronization purged (unsent, or discarded on arrival) are not expected.
  const data = stream.sent.filter((m) => isData(m.kind) && !stream.purged.has(m.index)).map((m) => m.index);
  const expedited = stream.sent.filter((m) => !isData(m.kind)).map((m) => m.index);
  checkPrefix(stream.name, 'data', stream.deliveredData, data);
  checkPrefix(stream.name, 'expedited', stream.deliveredExpedited, expedited);
}

function checkPrefix(name: string, what: string, delivered: number[], sent: number[]): void {
  if (delivered.length > sent.length) {
    throw new InvariantViolation(
      'exactly-once',
      `${name}: ${delivered.length} ${what} delivered of ${sent.length} sent`,
    );
  }
  for (let i = 0; i < delivered.length; i++) {
    if (delivered[i] !== sent[i]) {
      throw new InvariantViolation(
        'exactly-once',
        `${name}: ${what} delivery ${i} was #${delivered[i]}, expected #${sent[i]} ` +
          `(delivered ${summarize(delivered, i)})`,
      );
    }
  }
}

function checkEnd(world: World, plan: SessionPlan, end: AppEnd, out: Stream, incoming: Stream): void {
  const who = `${end.role} s${plan.id}`;
  const reason: CloseReason | null = end.closeReason;
  if (reason === null) throw new InvariantViolation('terminates', `${who} never closed`);
  const peer = end === plan.client ? plan.server : plan.client;
  if (end.abortedWith) {
    if (
      reason.kind !== 'aborted' ||
      reason.origin !== 'local' ||
      reason.by !== 'user' ||
      reason.code !== AbortCode.USER ||
      !sameBytes(reason.userData, end.abortedWith)
    ) {
      throw new InvariantViolation('user-abort', `${who} called abort() but closed ${describe(reason)}`);
    }
  } else if (reason.kind === 'aborted' && reason.by === 'user') {
    if (
      reason.origin !== 'peer' ||
      reason.code !== AbortCode.USER ||
      !peer?.abortedWith ||
      !sameBytes(reason.userData, peer.abortedWith)
    ) {
      throw new InvariantViolation(
        'user-abort',
        `${who} closed ${describe(reason)} but its peer ` +
          (peer?.abortedWith ? `aborted with ${peer.abortedWith.byteLength}B of user data` : 'never aborted'),
      );
    }
  }
  if (plan.refuseRelease && reason.kind === 'released') {
    const releaser = plan.releaser === 'client' ? plan.client : plan.server;
    const refuser = plan.releaser === 'client' ? plan.server : plan.client;
    if (
      !releaser ||
      !refuser ||
      refuser.refusalsMade !== 1 ||
      (end === releaser && (releaser.refusalsSeen !== 1 || releaser.releaseCalls !== 2))
    ) {
      throw new InvariantViolation(
        'refused-release',
        `${who} released, but the refuser refused ${refuser?.refusalsMade} requests and the releaser saw ` +
          `${releaser?.refusalsSeen} refusals and asked ${releaser?.releaseCalls} times`,
      );
    }
  }
  if (reason.kind === 'released') {
    for (const s of [out, incoming]) {
      const delivered = s.deliveredData.length + s.deliveredExpedited.length + s.purged.size;
      if (delivered !== s.sent.length) {
        throw new InvariantViolation(
          'accounted',
          `${who} released but ${s.name} delivered ${delivered} of ${s.sent.length} messages`,
        );
      }
    }
    return;
  }
  if (reason.kind === 'refused') throw new InvariantViolation('accounted', `${who} refused: nobody refuses here`);
  if (reason.by !== 'user' && !EXPLAINED_CODES.has(reason.code)) {
    throw new InvariantViolation(
      'accounted',
      `${who} aborted with code ${reason.code} (${reason.message}), which no fault of an honest network explains`,
    );
  }
  const session = end.session;
  if (!session) return;
  const undelivered = session
    .undeliveredMessages()
    .map((m) => ({ kind: m.kind, index: indexOf(m.data), status: m.status }));
  for (const cls of ['data', 'expedited'] as const) {
    const pick = (k: MessageKind) => (cls === 'data' ? isData(k) : !isData(k));
    const sent = out.sent.filter((m) => pick(m.kind) && !out.purged.has(m.index)).map((m) => m.index);
    const entries = undelivered.filter((m) => pick(m.kind) && !out.purged.has(m.index));
    const reported = entries.map((m) => m.index);
    const delivered = cls === 'data' ? out.deliveredData.length : out.deliveredExpedited.length;
    const from = sent.length - reported.length;
    const suffix = sent.slice(Math.max(0, from));
    if (from < 0 || suffix.some((index, i) => reported[i] !== index)) {
      throw new InvariantViolation(
        'accounted',
        `${who}: undeliveredMessages() ${cls} [${summarize(reported)}] is not a suffix of sent [${summarize(sent)}]`,
      );
    }
    if (from > delivered) {
      throw new InvariantViolation(
        'accounted',
        `${who}: ${cls} #${sent[delivered]}..#${sent[from - 1]} were neither delivered nor reported undelivered ` +
          `(silently lost)`,
      );
    }
    // "undelivered" is a promise that it never arrived; "unconfirmed" only that nobody knows.
    const broken = entries.findIndex((m, i) => m.status === 'undelivered' && from + i < delivered);
    if (broken >= 0) {
      throw new InvariantViolation(
        'accounted',
        `${who}: ${cls} #${reported[broken]} reported undelivered (known lost) but it was delivered`,
      );
    }
    world.stats.ambiguousMessages += delivered - from;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

function describe(reason: CloseReason): string {
  return reason.kind === 'aborted'
    ? `aborted/${reason.origin}/${reason.by} code=${reason.code} userData=${reason.userData.byteLength}B`
    : reason.kind;
}

function indexOf(data: Uint8Array): number {
  return data.byteLength >= 4 ? new DataView(data.buffer, data.byteOffset, 4).getUint32(0) : -1;
}

function summarize(xs: number[], around = 0): string {
  if (xs.length <= 12) return xs.join(',');
  const from = Math.max(0, around - 4);
  return `${from > 0 ? '..,' : ''}${xs.slice(from, from + 10).join(',')},..(${xs.length})`;
}
